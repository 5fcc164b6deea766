"""Evidence-sized windows, bootstrap intervals and the degradation verdict; ground-truth files; schedules."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from mlops.errors import MonitoringError
from monitoring.ground_truth import ground_truth_line, merge_ground_truth, parse_ground_truth
from monitoring.quality_windows import bootstrap_metric, evidence_windows, weighted_average_precision, window_quality
from monitoring.schedule import parse_schedule, run_on_schedule

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def scored(rows: int, seed: int, signal: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.05).astype(int)
    return pd.DataFrame(
        {
            "label": y,
            "probability": rng.random(rows) + signal * y,
            "inference_time": [T0 + timedelta(minutes=i) for i in range(rows)],
        }
    )


def test_windows_close_on_labelled_rows_and_positives() -> None:
    y = np.array([0] * 10 + [1] + [0] * 3 + [1, 1] + [0] * 20)
    assert evidence_windows(y, binary=True, min_labelled=5, min_positives=1) == [
        (0, 11),
        (11, 16),
    ]  # no positive after row 15: the rest waits
    assert evidence_windows(y, binary=False, min_labelled=10) == [(0, 10), (10, 20), (20, 30)]


def test_weighted_average_precision_is_sklearns_with_unit_weights() -> None:
    data = scored(2000, 1, 0.6)
    y, s = data["label"].to_numpy(), data["probability"].to_numpy()
    assert weighted_average_precision(y, s, np.ones((1, len(y))))[0] == pytest.approx(average_precision_score(y, s))


def test_the_interval_holds_the_point_and_narrows_with_evidence() -> None:
    small, large = scored(500, 2, 0.6), scored(8000, 2, 0.6)
    p1, lo1, hi1 = bootstrap_metric(small["label"].to_numpy(), small["probability"].to_numpy(), binary=True)
    p2, lo2, hi2 = bootstrap_metric(large["label"].to_numpy(), large["probability"].to_numpy(), binary=True)
    assert lo1 <= p1 <= hi1 and lo2 <= p2 <= hi2
    assert hi2 - lo2 < (hi1 - lo1) / 2


def test_degradation_fires_only_when_the_interval_clears_the_threshold() -> None:
    good = scored(3000, 3, 0.8)
    bad = scored(3000, 4, 0.0).assign(inference_time=lambda f: f["inference_time"] + timedelta(days=10))
    windows = window_quality(
        pd.concat([good, bad]),
        label="label",
        score="probability",
        time="inference_time",
        binary=True,
        validation=0.75,
        threshold=0.05,
        min_labelled=400,
        min_positives=25,
    )
    verdicts = [w.degraded for w in windows]
    assert verdicts[:2] == [False, False] and verdicts[-2:] == [True, True]
    for before, w in itertools.pairwise(windows):
        assert w.low <= w.value <= w.high
        assert w.drop_low == pytest.approx(0.75 - w.high)
        assert w.sustained_drop_low == min(before.drop_low, w.drop_low)
        assert w.degraded == (w.sustained_drop_low > 0.05)  # two windows in a row, both intervals clear it
        assert w.positives >= 25
    first_bad = next(i for i, w in enumerate(windows) if w.drop_low > 0.05)
    assert not windows[first_bad].degraded, "one bad window alone does not fire"


def test_ground_truth_lines_round_trip_and_merge_by_inference_id() -> None:
    data = (ground_truth_line("a", 1) + "\n" + ground_truth_line("b", 0) + "\n").encode()
    assert parse_ground_truth(data, "gt.jsonl") == [("a", "1"), ("b", "0")]
    served = pd.DataFrame({"inference_id": ["a", "b", "c"], "probability": [0.9, 0.1, 0.5]})
    labels = pd.DataFrame({"inference_id": ["a", "b"], "label": ["1", "0"]})
    merged = merge_ground_truth(served, labels)
    assert merged["label"].tolist() == [1, 0]
    with pytest.raises(MonitoringError, match=r"gt\.jsonl line 1: not a ground-truth record"):
        parse_ground_truth(b'{"eventMetadata": {}}\n', "gt.jsonl")


def test_schedules_tick_and_judge_the_period_that_ended() -> None:
    hourly = parse_schedule("cron(0 * ? * * *)")
    at = datetime(2026, 1, 1, 10, 20, tzinfo=UTC)
    assert hourly.next_tick(at) == datetime(2026, 1, 1, 11, tzinfo=UTC)
    assert hourly.period_before(datetime(2026, 1, 1, 11, tzinfo=UTC)) == (
        datetime(2026, 1, 1, 10, tzinfo=UTC),
        datetime(2026, 1, 1, 11, tzinfo=UTC),
    )
    assert hourly.last_tick(at) == datetime(2026, 1, 1, 10, tzinfo=UTC)
    rate = parse_schedule("rate(15 minutes)")
    assert rate.last_tick(at) == datetime(2026, 1, 1, 10, 15, tzinfo=UTC)
    assert rate.next_tick(at) == datetime(2026, 1, 1, 10, 30, tzinfo=UTC)
    with pytest.raises(MonitoringError, match="day/month fields"):
        parse_schedule("cron(0 12 1 * ? *)")
    with pytest.raises(MonitoringError, match="neither rate"):
        parse_schedule("every hour")


def test_the_loop_runs_each_tick_once() -> None:
    now = [datetime(2026, 1, 1, 10, 59, 30, tzinfo=UTC)]
    periods: list[tuple[datetime, datetime]] = []

    def sleep(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    count = run_on_schedule(
        parse_schedule("rate(1 hour)"), lambda s, e: periods.append((s, e)), runs=2, clock=lambda: now[0], sleep=sleep
    )
    assert count == 2
    assert [e.hour for _, e in periods] == [11, 12]
    assert all(e - s == timedelta(hours=1) for s, e in periods)
