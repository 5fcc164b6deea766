"""The compiled inference path: a model compiled to ONNX (:mod:`mlops.modeling.onnx_trees`), run by onnxruntime.

:class:`CompiledModel` looks like the estimator it replaces (``predict``, ``predict_proba``, ``classes_``), so
:class:`mlops.modeling.scoring.Scorer` scores it like any model: there is one scoring function, and this is an
implementation behind it. Around the graph runs a small :class:`Plan` stored in the ONNX file's metadata: the
columns the trees read (numbers as float64, categorical text as its ordinal code), the baseline added to the trees'
sums and the link function applied after them, with the formulas sklearn's losses use. :func:`parity` is the bar a
compiled model must pass before registration stores it (:mod:`mlops.registry.compiled`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

FORMAT = "onnx"
PARITY_TOLERANCE = 1e-6
PLAN_KEY = "mlops_plan"  # the ONNX metadata entry holding the plan


class NotCompilableError(ValueError):
    """The model has no compiled form; the message says which step or option and why."""


@dataclass(frozen=True)
class ColumnPlan:
    """One input column of the trees, read from ``source``: a number, or for a categorical column the code of its
    text in ``codes`` (``unknown_value`` for text not in ``codes``, ``None`` making that an error as sklearn's
    ``handle_unknown="error"`` does; ``missing_value`` for a null)."""

    source: str
    codes: dict[str, float] | None = None
    unknown_value: float | None = math.nan
    missing_value: float = math.nan


@dataclass(frozen=True)
class Plan:
    """What runs around the graph: the columns it reads, the baseline added to its sums and the link applied."""

    columns: list[ColumnPlan]
    baseline: list[float]
    link: str
    classes: list[Any] | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), allow_nan=True)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        raw = json.loads(text)
        return cls([ColumnPlan(**column) for column in raw["columns"]], raw["baseline"], raw["link"], raw["classes"])


def is_missing(value: Any) -> bool:
    """``None`` or a float NaN: what an encoder treats as a missing value."""
    return value is None or (isinstance(value, float) and math.isnan(value))


# -- inference ----------------------------------------------------------------------------------------------------


class CompiledModel:
    """A compiled model that answers like the estimator it was compiled from: ``predict`` and, for a classifier,
    ``predict_proba`` and ``classes_`` (see :func:`load`)."""

    def __init__(self, session: Any, plan: Plan) -> None:
        self._session = session
        self._plan = plan
        self._baseline = np.asarray(plan.baseline, dtype=np.float64)
        self._codes = [column.codes for column in plan.columns]

    @property
    def plan(self) -> Plan:
        return self._plan

    def inputs(self, frame: Any) -> np.ndarray[Any, Any]:
        """The trees' input matrix: numeric columns as float64, categorical ones as their ordinal codes.

        ``frame`` is a DataFrame or, cheaper for a few rows (no DataFrame to build: the server's path), a mapping
        of each column name to a list of its values."""
        first = frame[self._plan.columns[0].source] if self._plan.columns else []
        matrix = np.empty((len(first), len(self._plan.columns)), dtype=np.float64)
        for index, (column, codes) in enumerate(zip(self._plan.columns, self._codes, strict=True)):
            values = frame[column.source]
            if codes is None:
                matrix[:, index] = (
                    values.to_numpy(dtype=np.float64, na_value=np.nan)
                    if isinstance(values, pd.Series)
                    else np.asarray(values, dtype=np.float64)  # None is NaN
                )
            else:
                texts = values.tolist() if isinstance(values, pd.Series) else values
                matrix[:, index] = [self._code(column, codes, value) for value in texts]
        return matrix

    @staticmethod
    def _code(column: ColumnPlan, codes: dict[str, float], value: Any) -> float:
        if is_missing(value) or value is pd.NA:
            return column.missing_value
        code = codes.get(value if isinstance(value, str) else str(value))
        if code is not None:
            return code
        if column.unknown_value is None:
            raise ValueError(f"column {column.source!r}: category {value!r} was not seen in training")
        return column.unknown_value

    def raw(self, frame: Any) -> np.ndarray[Any, Any]:
        """The trees' sums plus the baseline: sklearn's ``_raw_predict``."""
        (sums,) = self._session.run(None, {"X": self.inputs(frame)})
        result: np.ndarray[Any, Any] = sums + self._baseline
        return result

    def predict(self, frame: Any) -> np.ndarray[Any, Any]:
        return _inverse_link(self._plan.link, self.raw(frame)[:, 0])


class CompiledClassifier(CompiledModel):
    """A compiled classifier: ``predict_proba`` as sklearn's loss computes it from the raw sums."""

    @property
    def classes_(self) -> np.ndarray[Any, Any]:
        return np.asarray(self._plan.classes)

    def predict(self, frame: Any) -> np.ndarray[Any, Any]:
        """The most probable class, as sklearn's classifiers answer."""
        result: np.ndarray[Any, Any] = self.classes_[self.predict_proba(frame).argmax(axis=1)]
        return result

    def predict_proba(self, frame: Any) -> np.ndarray[Any, Any]:
        raw = self.raw(frame)
        if self._plan.link == "logistic":
            from scipy.special import expit

            proba = np.empty((len(raw), 2), dtype=np.float64)
            proba[:, 1] = expit(raw[:, 0])
            proba[:, 0] = 1 - proba[:, 1]
            return proba
        from scipy.special import softmax

        result: np.ndarray[Any, Any] = softmax(raw, axis=1)
        return result


def _inverse_link(link: str, raw: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if link == "exp":
        result: np.ndarray[Any, Any] = np.exp(raw)
        return result
    return raw


def load(onnx_bytes: bytes) -> CompiledModel:
    """A :class:`CompiledModel` (a :class:`CompiledClassifier` for a classifier) from :func:`compile_model`'s bytes.

    One intra-op thread without spinning: a one-row tree walk takes microseconds, and spinning worker threads
    would take a core from the server's event loop on a small host."""
    import onnxruntime  # the serving image has the runtime only, not the onnx package

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    props = session.get_modelmeta().custom_metadata_map
    if PLAN_KEY not in props:
        raise NotCompilableError(f"the ONNX model has no {PLAN_KEY} metadata: it was not compiled by the kit")
    plan = Plan.from_json(props[PLAN_KEY])
    return CompiledClassifier(session, plan) if plan.classes is not None else CompiledModel(session, plan)


# -- parity -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parity:
    """How far the compiled model's outputs are from the plain model's on the same rows."""

    rows: int
    max_difference: float
    labels_equal: bool

    @property
    def passed(self) -> bool:
        return self.rows > 0 and self.labels_equal and self.max_difference <= PARITY_TOLERANCE

    def describe(self) -> str:
        labels = "" if self.labels_equal else ", labels differ"
        return f"max |difference| {self.max_difference:.3g} on {self.rows} rows (bar {PARITY_TOLERANCE:g}){labels}"


def parity(plain: Any, compiled: CompiledModel, frame: pd.DataFrame) -> Parity:
    """Compare probabilities (a classifier) or predictions (a regressor) and labels on ``frame``."""
    if isinstance(compiled, CompiledClassifier):
        expected, got = np.asarray(plain.predict_proba(frame)), compiled.predict_proba(frame)
        labels_equal = bool(np.array_equal(np.asarray(plain.predict(frame)), compiled.predict(frame)))
    else:
        expected, got = np.asarray(plain.predict(frame), dtype=np.float64), compiled.predict(frame)
        labels_equal = True
    if expected.shape != got.shape:
        return Parity(len(frame), math.inf, labels_equal)
    difference = float(np.max(np.abs(expected - got))) if expected.size else 0.0
    return Parity(len(frame), difference if not math.isnan(difference) else math.inf, labels_equal)
