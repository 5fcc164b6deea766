"""What a model is trained on: the task, the label, the features and which of them are categorical.

Built from a dataset definition; training, serving, batch inference and monitoring read the same spec. Labels keep
their declared type: a string class stays a string, an int class an int (``target_of``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlops.contracts import SPEC_PARAMETERS
from mlops.datasets import TASKS, DatasetDefinition
from mlops.errors import TrainingDataError

__all__ = ["SPEC_PARAMETERS", "TASKS", "ModelSpec", "features_of", "is_classification", "spec_parameters", "target_of"]


def is_classification(task: str) -> bool:
    return task in ("binary", "multiclass")


@dataclass(frozen=True)
class ModelSpec:
    """What the entry point trains: the task, the label, the features and which of them are categorical.

    ``positive_class`` is the binary task's positive class as text (``str(value)``: it travels as a pipeline
    parameter and is matched against the model's classes by its text); empty for other tasks.
    """

    task: str
    label: str
    event_time: str
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    positive_class: str = ""

    @classmethod
    def from_definition(cls, definition: DatasetDefinition) -> ModelSpec:
        string_columns = {c.name for c in definition.columns if c.type in ("string", "bool")}
        categorical = tuple(
            f.name for f in definition.features if f.categorical or (f.kind == "column" and f.source in string_columns)
        )
        positive = definition.label.positive_class
        return cls(
            task=definition.task,
            label=definition.label.column,
            event_time=definition.event_time,
            features=tuple(definition.feature_names),
            categorical=categorical,
            positive_class="" if positive is None else str(positive),
        )

    @property
    def is_classification(self) -> bool:
        return is_classification(self.task)


def spec_parameters(spec: ModelSpec) -> dict[str, str]:
    """``spec`` as the training pipeline's parameter values (lists comma-joined): what ``mlops train run`` starts an
    execution with, and the defaults a stack binds for its training dataset (an execution EventBridge starts
    passes none)."""
    values = {name: getattr(spec, field) for name, field in SPEC_PARAMETERS.items()}
    return {name: ",".join(v) if isinstance(v, tuple) else str(v) for name, v in values.items()}


def features_of(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """The model's input columns, categoricals as strings (missing stays missing) and numbers as floats."""
    out = pd.DataFrame(index=frame.index)
    for name in spec.features:
        column = frame[name]
        if name in spec.categorical:
            out[name] = column.map(lambda v: None if pd.isna(v) else str(v)).astype("object")
        else:
            out[name] = pd.to_numeric(column, errors="coerce").astype("float64")
    return out


def target_of(frame: pd.DataFrame, spec: ModelSpec) -> np.ndarray[Any, Any]:
    """The label of labelled rows: floats for regression; for classification the classes in their declared type
    (strings stay strings, bools bools; integers stored as floats by a nullable Parquet column become ints)."""
    column = frame[spec.label]
    if not spec.is_classification:
        return np.asarray(column.astype("float64").to_numpy())
    if pd.api.types.is_bool_dtype(column):
        return np.asarray(column.astype(bool).to_numpy())
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype="float64")
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            bad = next(v for v in values if not np.isfinite(v) or v != round(v))
            raise TrainingDataError(f"label {spec.label!r} holds {bad!r}, which is not an integer class")
        return np.asarray(values.astype("int64"))
    values = column.to_numpy(dtype=object)
    missing = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and np.isnan(v))]
    if missing:
        raise TrainingDataError(f"label {spec.label!r} is missing in row {missing[0]}: score labelled rows only")
    return np.asarray([v if isinstance(v, str | bool) else str(v) for v in values], dtype=object)
