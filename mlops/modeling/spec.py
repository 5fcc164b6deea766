"""What a model is trained on: the task, the label, the features and which of them are categorical.

Built from a dataset definition; training, serving, batch inference and monitoring read the same spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlops.datasets import DatasetDefinition

TASKS = ("classification", "regression")


@dataclass(frozen=True)
class ModelSpec:
    """What the entry point trains: the task, the label, the features and which of them are categorical."""

    task: str
    label: str
    event_time: str
    features: tuple[str, ...]
    categorical: tuple[str, ...]

    @classmethod
    def from_definition(cls, definition: DatasetDefinition) -> ModelSpec:
        string_columns = {c.name for c in definition.columns if c.type in ("string", "bool")}
        categorical = tuple(
            f.name for f in definition.features if f.categorical or (f.kind == "column" and f.source in string_columns)
        )
        return cls(
            task=definition.task,
            label=definition.label.column,
            event_time=definition.event_time,
            features=tuple(definition.feature_names),
            categorical=categorical,
        )


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
    dtype = "int64" if spec.task == "classification" else "float64"
    return np.asarray(frame[spec.label].astype(dtype).to_numpy())
