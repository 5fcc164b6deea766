"""Pure training steps: split, check, build, search, fit and evaluate. No I/O; the wiring lives elsewhere (the
search's processes: :mod:`pipelines.training.search_pool`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlops.errors import TrainingDataError
from mlops.modeling import binning
from mlops.modeling.metrics import primary_metric, task_metrics
from mlops.modeling.scoring import metric_scores, score
from mlops.modeling.spec import ModelSpec, features_of, target_of
from pipelines.training import search_pool
from pipelines.training.hyperparameters import Hyperparameters

MIN_VALIDATION_ROWS = 10
WEIGHT_COLUMN = "sample_weight"
"""Optional column of the train channel: each row's weight in ``fit`` (Prepare writes it from the definition's
``training.recency_half_life``)."""


@dataclass(frozen=True)
class Split:
    """A time-based split: every training row is older than every validation row."""

    train: pd.DataFrame
    validation: pd.DataFrame
    boundary: pd.Timestamp


def time_split(frame: pd.DataFrame, spec: ModelSpec, validation_fraction: float = 0.2) -> Split:
    """Oldest ``1 - validation_fraction`` of the rows for training, the newest for validation.

    Rows sharing the boundary timestamp all go to validation, so no event time appears on both sides.
    """
    if not 0.0 < validation_fraction < 1.0:
        raise TrainingDataError(f"validation_fraction must be between 0 and 1, got {validation_fraction}")
    if frame.empty:
        raise TrainingDataError("the training set is empty: no labelled rows are known at the cutoff")
    ordered = frame.sort_values(spec.event_time, kind="stable").reset_index(drop=True)
    boundary = ordered[spec.event_time].iloc[int(len(ordered) * (1.0 - validation_fraction))]
    train = ordered[ordered[spec.event_time] < boundary].reset_index(drop=True)
    validation = ordered[ordered[spec.event_time] >= boundary].reset_index(drop=True)
    return Split(train=train, validation=validation, boundary=boundary)


def check_frame(frame: pd.DataFrame, spec: ModelSpec, channel: str, min_rows: int) -> None:
    """Raise a :class:`TrainingDataError` naming the channel if it cannot train or evaluate a model."""
    missing = [c for c in (*spec.features, spec.label) if c not in frame.columns]
    if missing:
        raise TrainingDataError(f"channel {channel!r} lacks column(s) {', '.join(missing)}")
    labelled = int(frame[spec.label].notna().sum())
    if labelled == 0:
        raise TrainingDataError(f"channel {channel!r} is empty: no labelled rows")
    if labelled < min_rows:
        raise TrainingDataError(f"channel {channel!r} has {labelled} labelled rows; at least {min_rows} are needed")
    if spec.is_classification:
        classes = sorted({str(v) for v in frame[spec.label].dropna().tolist()})
        needed = 3 if spec.task == "multiclass" else 2
        if len(classes) < needed:
            raise TrainingDataError(
                f"channel {channel!r} holds {len(classes)} class(es) ({', '.join(classes)}) of label "
                f"{spec.label!r}; a {spec.task} task needs at least {needed}"
            )


def build_model(spec: ModelSpec, params: Hyperparameters, overrides: dict[str, Any] | None = None) -> Any:
    """A sklearn pipeline: categorical features ordinal-encoded, then a HistGradientBoosting model."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    categorical = [f for f in spec.features if f in spec.categorical]
    numeric = [f for f in spec.features if f not in spec.categorical]
    # Unknown and missing categories both map to NaN, which the trees treat as "missing" rather than failing.
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan)
    columns = ColumnTransformer(
        [("categorical", encoder, categorical), ("numeric", "passthrough", numeric)],
        verbose_feature_names_out=False,
    )
    chosen = {
        "learning_rate": params.learning_rate,
        "max_iter": params.max_iter,
        "max_leaf_nodes": params.max_leaf_nodes,
        "min_samples_leaf": params.min_samples_leaf,
        "l2_regularization": params.l2_regularization,
        **(overrides or {}),
    }
    mask = [True] * len(categorical) + [False] * len(numeric)
    estimator_cls = HistGradientBoostingClassifier if spec.is_classification else HistGradientBoostingRegressor
    estimator = estimator_cls(categorical_features=mask if categorical else None, random_state=params.seed, **chosen)
    return Pipeline([("columns", columns), ("model", estimator)])


def fit(model: Any, frame: pd.DataFrame, spec: ModelSpec) -> Any:
    """Fit on ``frame``, each row weighted by its :data:`WEIGHT_COLUMN` when the frame has one (the weighted
    binning sorts each feature once: :mod:`mlops.modeling.binning`)."""
    binning.install()
    weights = {"model__sample_weight": frame[WEIGHT_COLUMN].to_numpy()} if WEIGHT_COLUMN in frame.columns else {}
    model.fit(features_of(frame, spec), target_of(frame, spec), **weights)
    return model


def evaluate(model: Any, frame: pd.DataFrame, spec: ModelSpec, target_precision: float = 0.9) -> dict[str, float]:
    """Task metrics on ``frame``, scored by the kit's one scoring function (:mod:`mlops.modeling.scoring`)."""
    x, y = features_of(frame, spec), target_of(frame, spec)
    if spec.is_classification and len({str(v) for v in y.tolist()}) < 2:
        raise TrainingDataError(f"evaluation set holds a single class of label {spec.label!r}")
    return task_metrics(spec.task, y, metric_scores(score(model, x, spec.positive_class)), target_precision)


@dataclass(frozen=True)
class SearchResult:
    """The chosen candidate and every candidate's score on the inner validation slice."""

    best: dict[str, Any]
    scores: list[tuple[dict[str, Any], float]]
    metric: str


def search(train: pd.DataFrame, spec: ModelSpec, params: Hyperparameters, workers: int | None = None) -> SearchResult:
    """Grid search on a time split of the training set (the holdout is never used for selection).

    The candidates are fitted by ``workers`` processes (default: :func:`search_pool.search_workers`).
    """
    inner = time_split(train, spec, validation_fraction=0.2)
    check_frame(inner.train, spec, "train (inner search split)", 2)
    metric, greater = primary_metric(spec.task)
    candidates = params.grid()

    def score_of(index: int) -> float:
        model = fit(build_model(spec, params, candidates[index]), inner.train, spec)
        return evaluate(model, inner.validation, spec, params.target_precision)[metric]

    chosen = search_pool.search_workers(len(candidates)) if workers is None else workers
    scores = list(zip(candidates, search_pool.fit_each(score_of, len(candidates), chosen), strict=True))
    pick = max if greater else min
    best = pick(scores, key=lambda pair: pair[1])[0]
    return SearchResult(best=best, scores=scores, metric=metric)
