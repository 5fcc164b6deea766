"""The definition's ``training`` settings: a holdout that is the present, a training window, recency weights."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from mlops.datasets import TrainingWindow, parse_definition
from mlops.errors import ConfigError, TrainingDataError
from mlops.modeling.spec import ModelSpec, features_of
from pipelines.training import steps
from pipelines.training.hyperparameters import Hyperparameters
from pipelines.training.window import recency_weights, window_split
from tests.unit.training.synthetic import definition, feature_frame

SPEC = ModelSpec.from_definition(definition("window"))


@pytest.fixture
def frame() -> pd.DataFrame:
    return feature_frame(1200, days=120)


def test_without_settings_the_split_is_the_plain_time_split(frame: pd.DataFrame) -> None:
    plain = steps.time_split(frame, SPEC, 0.2)
    split = window_split(frame, SPEC, TrainingWindow(), 0.2)
    assert split.boundary == plain.boundary
    pd.testing.assert_frame_equal(split.train, plain.train)
    pd.testing.assert_frame_equal(split.validation, plain.validation)
    assert steps.WEIGHT_COLUMN not in split.train.columns


def test_the_holdout_is_the_newest_span_and_the_window_limits_training(frame: pd.DataFrame) -> None:
    settings = TrainingWindow(holdout=timedelta(days=14), window=timedelta(days=30))
    split = window_split(frame, SPEC, settings, 0.2)
    newest = frame["event_time"].max()
    assert split.boundary == newest - pd.Timedelta(days=14)
    assert split.validation["event_time"].min() >= split.boundary
    assert len(split.validation) == int((frame["event_time"] >= split.boundary).sum())
    assert split.train["event_time"].max() < split.boundary
    assert split.train["event_time"].min() >= split.boundary - pd.Timedelta(days=30)


def test_recency_weights_halve_every_half_life_and_average_one() -> None:
    boundary = pd.Timestamp("2024-06-01", tz="UTC")
    times = pd.Series(pd.to_datetime([boundary - pd.Timedelta(days=d) for d in (0, 14, 28)], utc=True))
    weights = recency_weights(times, boundary, TrainingWindow(recency_half_life=timedelta(days=14)))
    assert weights.mean() == pytest.approx(1.0)
    assert weights[1] / weights[0] == pytest.approx(0.5)
    assert weights[2] / weights[0] == pytest.approx(0.25)


def test_a_holdout_covering_every_row_is_named(frame: pd.DataFrame) -> None:
    with pytest.raises(TrainingDataError, match=r"training\.holdout 200 days"):
        window_split(frame, SPEC, TrainingWindow(holdout=timedelta(days=200)), 0.2)


def test_the_weights_reach_the_fit() -> None:
    """Two periods with opposite rules: weighted towards the recent one, the model learns the recent rule."""
    rng = np.random.default_rng(0)
    rows = 600
    frame = feature_frame(rows, days=120)
    old = np.arange(rows) < rows // 2
    signal = rng.random(rows) < 0.5
    frame["amount"] = np.where(signal, 500.0, 10.0)
    frame["is_fraud"] = np.where(old, signal, ~signal).astype(int)
    params = Hyperparameters(max_iter=10, max_leaf_nodes=4, min_samples_leaf=5)
    weighted = frame.assign(**{steps.WEIGHT_COLUMN: np.where(old, 0.01, 1.0)})
    probe = frame.iloc[:2].assign(amount=[500.0, 10.0])
    model = steps.fit(steps.build_model(SPEC, params), weighted, SPEC)
    high, low = model.predict_proba(features_of(probe, SPEC))[:, 1]
    assert high < low, "the recent rule (a large amount is legitimate) wins when recent rows weigh more"
    flipped = steps.fit(
        steps.build_model(SPEC, params), weighted.assign(**{steps.WEIGHT_COLUMN: np.where(old, 1.0, 0.01)}), SPEC
    )
    high, low = flipped.predict_proba(features_of(probe, SPEC))[:, 1]
    assert high > low


def test_the_definition_field_is_optional_and_checks_its_spans() -> None:
    raw = definition("window").model_dump(exclude={"training"})
    assert parse_definition(raw, "window.yaml").training == TrainingWindow()
    with pytest.raises(ConfigError, match="training"):
        parse_definition({**raw, "training": {"holdout": "0d"}}, "window.yaml")
    parsed = parse_definition({**raw, "training": {"holdout": "14d", "recency_half_life": "2w"}}, "window.yaml")
    assert (parsed.training.holdout, parsed.training.recency_half_life) == (timedelta(days=14), timedelta(days=14))
