"""The performance run's window on small datasets (issue 10): with no window given it widens a week until a
window holds enough labelled rows, and when none does it says so in words (it printed a Python timedelta)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from mlops.errors import MonitoringError
from mlops.layout import filesystem_path
from mlops.outputs import StackOutputs
from mlops.platform import Platform
from monitoring.runs import in_words, run_performance
from tests.support.registry import JobModel, job_model, registration
from tests.unit.monitoring import test_runs
from tests.unit.training.synthetic import end_time, feature_frame

outputs, platform = test_runs.outputs, test_runs.platform  # the fixtures: a memory platform with alarms


def _champion_with_newer_rows(
    platform: Platform, outputs: StackOutputs, tmp_path: Path, rows: int
) -> tuple[JobModel, pd.DataFrame]:
    """A champion and ``rows`` labelled rows after its holdout (returned) in the feature table."""
    job = job_model(tmp_path / "job", "perf_window")
    models = outputs.bucket_for_zone("models")
    holdout_uri = platform.layout.uri(models, "training-jobs/perf-w/input/validation/part-0.parquet")
    job.holdout.to_parquet(filesystem_path(holdout_uri), filesystem=platform.services.object_store.filesystem())
    registry = platform.services.model_registry
    registered = registry.register(registration(job, "perf-w", holdout_uri=holdout_uri))
    registry.set_champion("perf_window", registered.model_version, note="unit test")
    newer = feature_frame(rows, seed=5).assign(
        event_time=lambda f: (
            f["event_time"] + (job.holdout["event_time"].max() - f["event_time"].min()) + pd.Timedelta(hours=1)
        ),
        transaction_id=lambda f: "new-" + f["transaction_id"],
    )
    frame = pd.concat([job.train, job.holdout, newer], ignore_index=True)
    test_runs._write_features(platform, "perf_window", frame)
    return job, newer


def test_with_no_window_given_a_small_dataset_gets_a_wider_window_named_in_words(
    platform: Platform, outputs: StackOutputs, tmp_path: Path
) -> None:
    job, newer = _champion_with_newer_rows(platform, outputs, tmp_path, 900)
    report = run_performance(platform, job.definition, now=end_time(newer))
    assert report["windows"]
    assert report["window"] in ("7 days", "14 days", "30 days", "90 days")


def test_when_no_window_holds_enough_rows_the_error_speaks_in_words(
    platform: Platform, outputs: StackOutputs, tmp_path: Path
) -> None:
    job, newer = _champion_with_newer_rows(platform, outputs, tmp_path, 20)
    with pytest.raises(MonitoringError) as caught:
        run_performance(platform, job.definition, window=timedelta(days=7), now=end_time(newer))
    message = str(caught.value)
    assert "no window of 7 days holds 30 labelled rows" in message and "0:00:00" not in message


def test_spans_are_said_in_words() -> None:
    assert in_words(timedelta(days=7)) == "7 days"
    assert in_words(timedelta(hours=36)) == "1 day 12 hours"
    assert in_words(timedelta(minutes=1)) == "1 minute"
