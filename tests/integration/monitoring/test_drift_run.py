"""A drift run on a feature Delta table in the emulator: report in the monitoring bucket, score published."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from mlops.datasets import find_definition
from mlops.local.platform import Platform
from monitoring.runs import run_drift
from pipelines.feature_store.offline import feature_table_uri

pytestmark = pytest.mark.emulator


def _rows(definition_features: list[str], start: datetime, n: int, amount_mean: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f: rng.normal(5, 1, n) for f in definition_features})
    frame["amount"] = rng.normal(amount_mean, 5, n)
    frame["category"] = rng.choice(["grocery", "travel"], n)
    frame["channel"] = rng.choice(["online", "card_present"], n)
    frame["customer_id"] = [f"c{i % 50}" for i in range(n)]
    frame["transaction_id"] = [f"t{seed}-{i}" for i in range(n)]
    frame["event_time"] = pd.to_datetime([start + timedelta(minutes=i) for i in range(n)], utc=True)
    frame["is_fraud"] = rng.integers(0, 2, n)
    return frame


def test_drift_run_writes_report_and_publishes(platform: Platform) -> None:
    from deltalake import DeltaTable, write_deltalake

    definition = find_definition("card_transactions", platform.settings.datasets_dir)
    uri = feature_table_uri(platform, definition.name)
    options = platform.clients.storage_options()
    numeric = [f for f in definition.feature_names if f not in ("amount", "category", "channel")]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # other tests of the session may have written this table before: take the versions this test writes
    write_deltalake(
        uri, _rows(numeric, start, 2000, 50.0, 1), mode="overwrite", schema_mode="overwrite", storage_options=options
    )
    reference = DeltaTable(uri, storage_options=options).version()
    write_deltalake(
        uri, _rows(numeric, start + timedelta(days=5), 2000, 90.0, 2), mode="append", storage_options=options
    )

    report = run_drift(platform, definition, reference_version=reference, now=datetime(2026, 2, 1, tzinfo=UTC))

    assert report["drifted_features"] == ["amount"]
    assert report["drift_score"] == pytest.approx(1 / len(definition.feature_names))
    versions = (report["reference"]["version"], report["current"]["version"], report["current"]["rows"])
    assert versions == (reference, reference + 1, 2000)
    bucket = platform.outputs.bucket_for_zone("monitoring")
    key = "reports/card_transactions/drift/20260201T000000Z.json"
    assert report["report_uri"] == f"s3://{bucket}/{key}"
    stored = json.loads(platform.clients.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert stored["drifted_features"] == ["amount"]
    metrics = platform.clients.client("cloudwatch").list_metrics(
        Namespace=platform.outputs.metrics_namespace, MetricName="DataDriftScore"
    )["Metrics"]
    # Other tests of the session publish DataDriftScore too: check both dimension sets exist.
    dimension_sets = {tuple((d["Name"], d["Value"]) for d in m.get("Dimensions", [])) for m in metrics}
    assert {(), (("Dataset", "card_transactions"),)} <= dimension_sets


def test_a_window_start_without_a_time_zone_is_read_as_utc(platform: Platform) -> None:
    from deltalake import write_deltalake

    definition = find_definition("card_transactions", platform.settings.datasets_dir)
    uri = feature_table_uri(platform, definition.name)
    options = platform.clients.storage_options()
    numeric = [f for f in definition.feature_names if f not in ("amount", "category", "channel")]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    write_deltalake(
        uri, _rows(numeric, start, 500, 50.0, 3), mode="overwrite", schema_mode="overwrite", storage_options=options
    )
    reference = delta_version(uri, options)
    write_deltalake(
        uri, _rows(numeric, start + timedelta(days=5), 500, 50.0, 4), mode="append", storage_options=options
    )

    naive = datetime(2026, 3, 3)  # as `--since 2026-03-03` arrives from the command line
    report = run_drift(
        platform, definition, reference_version=reference, since=naive, now=datetime(2026, 4, 1, tzinfo=UTC)
    )

    assert report["current"]["rows"] == 500


def delta_version(uri: str, options: dict[str, str]) -> int:
    from deltalake import DeltaTable

    return int(DeltaTable(uri, storage_options=options).version())
