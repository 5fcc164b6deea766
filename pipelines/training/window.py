"""Which labelled rows test and train a model: the dataset definition's ``training`` settings applied to a split.

The plain time split (:func:`pipelines.training.steps.time_split`: the newest fifth of the rows is the holdout)
fails after drift. With the drift in the last fifth of the data, the holdout is all present and the training rows
are all past: the model learns the old pattern and is judged on the new one, and the gate compares two models
that have both never seen the present. :class:`mlops.datasets.TrainingWindow` says instead:

- ``holdout``: the holdout is the newest span of that length, so it holds the present and nothing else;
- ``window``: only rows that recent before the holdout train (older patterns are dropped);
- ``recency_half_life``: every training row gets a weight ``0.5 ** (age / half_life)``, its age measured at the
  holdout's start, scaled so the weights average 1 (the trees' leaf-size and regularisation settings keep their
  meaning). The weights travel in the training channel as column :data:`pipelines.training.steps.WEIGHT_COLUMN`,
  which the training entry point passes to the model's ``fit``.

Unset fields keep the plain split, so a definition without a ``training`` section trains as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlops.datasets import TrainingWindow
from mlops.errors import TrainingDataError
from mlops.modeling.spec import ModelSpec
from pipelines.training import steps


def window_split(frame: pd.DataFrame, spec: ModelSpec, training: TrainingWindow, fraction: float) -> steps.Split:
    """The split ``training`` describes (``fraction`` is the plain split's holdout share when no span is set)."""
    if training.holdout is None:
        split = steps.time_split(frame, spec, fraction)
    else:
        split = _span_split(frame, spec, pd.Timedelta(training.holdout))
    train = split.train
    if training.window is not None:
        start = split.boundary - pd.Timedelta(training.window)
        train = train[train[spec.event_time] >= start].reset_index(drop=True)
        if train.empty:
            raise TrainingDataError(
                f"no labelled row lies in training.window {training.window} before the holdout starting "
                f"{split.boundary.isoformat()}"
            )
    if training.recency_half_life is not None:
        train = train.assign(**{steps.WEIGHT_COLUMN: recency_weights(train[spec.event_time], split.boundary, training)})
    return steps.Split(train=train, validation=split.validation, boundary=split.boundary)


def _span_split(frame: pd.DataFrame, spec: ModelSpec, span: pd.Timedelta) -> steps.Split:
    """The rows of the newest ``span`` are the holdout; every older row trains."""
    if frame.empty:
        raise TrainingDataError("the training set is empty: no labelled rows are known at the cutoff")
    ordered = frame.sort_values(spec.event_time, kind="stable").reset_index(drop=True)
    times = pd.to_datetime(ordered[spec.event_time], utc=True)
    boundary = times.max() - span
    train = ordered[(times < boundary).to_numpy()].reset_index(drop=True)
    validation = ordered[(times >= boundary).to_numpy()].reset_index(drop=True)
    if train.empty:
        raise TrainingDataError(
            f"training.holdout {span} covers every labelled row (the oldest is {times.min().isoformat()}): "
            "nothing is left to train on"
        )
    return steps.Split(train=train, validation=validation, boundary=boundary)


def recency_weights(times: pd.Series, boundary: pd.Timestamp, training: TrainingWindow) -> np.ndarray[Any, Any]:
    """``0.5 ** (age / half_life)`` per row, age at ``boundary``, scaled to average 1."""
    assert training.recency_half_life is not None
    age = (boundary - pd.to_datetime(times, utc=True)) / pd.Timedelta(training.recency_half_life)
    weights = np.power(0.5, age.to_numpy(dtype="float64"))
    result: np.ndarray[Any, Any] = weights / weights.mean()
    return result


def describe(split: steps.Split, spec: ModelSpec, training: TrainingWindow) -> dict[str, Any]:
    """The split's lineage for ``split.json``: the settings applied and what each side holds."""

    train_times = pd.to_datetime(split.train[spec.event_time], utc=True)
    return {
        "holdout_span": str(training.holdout) if training.holdout is not None else None,
        "window": str(training.window) if training.window is not None else None,
        "recency_half_life": str(training.recency_half_life) if training.recency_half_life is not None else None,
        "train_start": train_times.min().isoformat(),
    }
