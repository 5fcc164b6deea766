"""Hyperparameters of the training entry point, parsed from the strings SageMaker writes.

SageMaker passes every hyperparameter as a string (``/opt/ml/input/config/hyperparameters.json``). The model
spec (task, label, features) travels the same way, so the container needs no other input than its channels.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from mlops.errors import InvalidHyperparameterError
from mlops.modeling.spec import TASKS, ModelSpec


@dataclass(frozen=True)
class Hyperparameters:
    """Tunable values; ``search_*`` list the candidates of the small grid search (comma-separated)."""

    learning_rate: float = 0.1
    max_iter: int = 200
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    search_learning_rate: tuple[float, ...] = (0.05, 0.1)
    search_max_leaf_nodes: tuple[int, ...] = (15, 31)
    target_precision: float = 0.9
    min_train_rows: int = 50
    seed: int = 42

    def grid(self) -> list[dict[str, Any]]:
        """Every candidate of the search (the base values when a search list is empty)."""
        rates = self.search_learning_rate or (self.learning_rate,)
        leaves = self.search_max_leaf_nodes or (self.max_leaf_nodes,)
        return [{"learning_rate": r, "max_leaf_nodes": n} for r in rates for n in leaves]


_RANGES: dict[str, tuple[float, float]] = {
    "learning_rate": (1e-6, 1.0),
    "max_iter": (1, 10_000),
    "max_leaf_nodes": (2, 4096),
    "min_samples_leaf": (1, 100_000),
    "l2_regularization": (0.0, 1e6),
    "search_learning_rate": (1e-6, 1.0),
    "search_max_leaf_nodes": (2, 4096),
    "target_precision": (0.01, 0.999),
    "min_train_rows": (1, 10**9),
    "seed": (0, 2**31 - 1),
}
SPEC_KEYS = ("task", "label", "event_time", "features", "categorical", "positive_class")


def _number(name: str, text: str, kind: type) -> float | int:
    try:
        value: float | int = kind(text.strip())
    except ValueError:
        raise InvalidHyperparameterError(name, text, f"not a valid {kind.__name__}") from None
    low, high = _RANGES[name]
    if not low <= value <= high:
        raise InvalidHyperparameterError(name, text, f"must be between {low:g} and {high:g}")
    return value


def parse_hyperparameters(raw: Mapping[str, str]) -> Hyperparameters:
    """Parse string values; an unknown key or bad value raises an error naming it."""
    known = {f.name: f for f in fields(Hyperparameters)}
    values: dict[str, Any] = {}
    for name, text in raw.items():
        if name in SPEC_KEYS:
            continue
        if name not in known:
            raise InvalidHyperparameterError(name, str(text), f"unknown; known: {', '.join(sorted(known))}")
        default = getattr(Hyperparameters(), name)
        if isinstance(default, tuple):
            kind = type(default[0]) if default else float
            items = [part for part in str(text).split(",") if part.strip()]
            values[name] = tuple(_number(name, part, kind) for part in items)
        else:
            values[name] = _number(name, str(text), type(default))
    return Hyperparameters(**values)


def parse_spec(raw: Mapping[str, str]) -> ModelSpec:
    """The model spec from its hyperparameters (``features``/``categorical`` are comma-separated)."""
    missing = [key for key in SPEC_KEYS[:4] if not str(raw.get(key, "")).strip()]
    if missing:
        raise InvalidHyperparameterError(missing[0], "", "required (the model spec travels as hyperparameters)")
    task = raw["task"]
    if task not in TASKS:
        raise InvalidHyperparameterError("task", task, f"must be one of {', '.join(TASKS)}")
    features = tuple(p.strip() for p in raw["features"].split(",") if p.strip())
    categorical = tuple(p.strip() for p in raw.get("categorical", "").split(",") if p.strip())
    unknown = [c for c in categorical if c not in features]
    if unknown:
        raise InvalidHyperparameterError("categorical", raw["categorical"], f"{unknown[0]!r} is not a feature")
    positive = str(raw.get("positive_class", "")).strip()
    if task == "binary" and not positive:
        raise InvalidHyperparameterError("positive_class", "", "required for a binary task")
    if task != "binary" and positive:
        raise InvalidHyperparameterError("positive_class", positive, f"only a binary task has one, not {task}")
    return ModelSpec(task, raw["label"], raw["event_time"], features, categorical, positive)


def to_strings(spec: ModelSpec, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The hyperparameters a job is created with: the spec plus user overrides, all as strings."""
    out = {
        "task": spec.task,
        "label": spec.label,
        "event_time": spec.event_time,
        "features": ",".join(spec.features),
        "categorical": ",".join(spec.categorical),
        "positive_class": spec.positive_class,
    }
    for key, value in (overrides or {}).items():
        out[key] = str(value)
    parse_hyperparameters(out)  # fail before a job is created
    return out


def as_strings(params: Hyperparameters) -> dict[str, str]:
    """Every hyperparameter as the string :func:`parse_hyperparameters` reads back (lists comma-separated)."""
    return {
        key: ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value)
        for key, value in asdict(params).items()
    }


def as_dict(params: Hyperparameters) -> dict[str, Any]:
    return {k: (json.dumps(list(v)) if isinstance(v, tuple) else v) for k, v in asdict(params).items()}
