"""A drift run on a feature Delta table in the emulator: report in the monitoring bucket, score published with
and without dimensions (read back through the metrics port)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlops.datasets import find_definition
from mlops.platform import Platform
from monitoring.runs import run_drift
from pipelines.feature_store.offline import feature_table_uri

pytestmark = pytest.mark.emulator


def _rows(definition_features: list[str], start: datetime, n: int, amount_mean: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f: rng.normal(5, 1, n) for f in definition_features})
    frame["amount"] = rng.normal(amount_mean, 5, n)
    frame["category"] = rng.choice(["grocery", "travel"], n)
    frame["channel"] = rng.choice(["online", "card_present"], n)
    frame["country"] = rng.choice(["US", "GB"], n)
    frame["customer_id"] = [f"c{i % 50}" for i in range(n)]
    frame["transaction_id"] = [f"t{seed}-{i}" for i in range(n)]
    frame["event_time"] = pd.to_datetime([start + timedelta(minutes=i) for i in range(n)], utc=True)
    frame["is_fraud"] = rng.integers(0, 2, n)
    return frame


def _write(platform: Platform, uri: str, frame: pd.DataFrame, mode: str) -> int:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return platform.services.table_store.write(uri, table, mode, {"source": "drift test"})  # type: ignore[arg-type]


def test_drift_run_writes_report_and_publishes(platform: Platform) -> None:
    definition = find_definition("card_transactions", platform.settings.datasets_dir)
    uri = feature_table_uri(platform, definition.name)
    numeric = [f for f in definition.feature_names if f not in ("amount", "category", "channel", "country")]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # other tests of the session may have written this table before: take the versions this test writes
    reference = _write(platform, uri, _rows(numeric, start, 2000, 50.0, 1), "overwrite")
    _write(platform, uri, _rows(numeric, start + timedelta(days=5), 2000, 90.0, 2), "append")
    published_from = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

    report = run_drift(platform, definition, reference_version=reference, now=datetime(2026, 2, 1, tzinfo=UTC))

    assert report["drifted_features"] == ["amount"]
    assert report["drift_score"] == pytest.approx(1 / len(definition.feature_names))
    versions = (report["reference"]["version"], report["current"]["version"], report["current"]["rows"])
    assert versions == (reference, reference + 1, 2000)
    bucket = platform.outputs.bucket_for_zone("monitoring")
    key = "reports/card_transactions/drift/20260201T000000Z.json"
    assert report["report_uri"] == platform.layout.uri(bucket, key)
    assert report["report_uri"].startswith("s3://")
    stored = json.loads(platform.services.object_store.get(bucket, key))
    assert stored["drifted_features"] == ["amount"]
    # Other tests of the session publish DataDriftScore too: at least this score was published, in both sets.
    metrics = platform.services.metrics
    for dimensions in ({}, {"Dataset": "card_transactions"}):
        points = metrics.datapoints(
            "DataDriftScore", dimensions, published_from, published_from + timedelta(hours=2), 7200, statistic="Maximum"
        )
        assert points, dimensions
        assert max(p.value for p in points) >= report["drift_score"]


def test_a_window_start_without_a_time_zone_is_read_as_utc(platform: Platform) -> None:
    definition = find_definition("card_transactions", platform.settings.datasets_dir)
    uri = feature_table_uri(platform, definition.name)
    numeric = [f for f in definition.feature_names if f not in ("amount", "category", "channel")]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    reference = _write(platform, uri, _rows(numeric, start, 500, 50.0, 3), "overwrite")
    _write(platform, uri, _rows(numeric, start + timedelta(days=5), 500, 50.0, 4), "append")

    naive = datetime(2026, 3, 3)  # as `--since 2026-03-03` arrives from the command line
    report = run_drift(
        platform, definition, reference_version=reference, since=naive, now=datetime(2026, 4, 1, tzinfo=UTC)
    )

    assert report["current"]["rows"] == 500
