"""The jobs' outputs are identical to the driver-side path's (the jobs before issue #17) on the same input.

The jobs run for real through the local Glue runner on the session's emulator, each in a session of the warm
Spark Connect server (executors read and write the Delta files on its S3, the driver commits). The reference runs
the path the jobs used to take, from this process (a session of the same server):
batches and keys read into the driver, :func:`pipelines.lake.curation.deduplicate`, ``createDataFrame`` /
``toArrow``, and the table store's ``write`` (``write_deltalake`` from the driver), into tables of their own.
Every version is compared as delta-rs reads it back: same schema, same rows, same order; same commit counts;
same catalog columns.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from mlops import layout
from mlops.datasets import find_definition
from mlops.features.spark import spark_features
from mlops.lake.columns import hive_type
from mlops.lake.delta_files import transaction_versions
from mlops.platform import Platform
from mlops.ports.jobs import JobRunFailedError
from pipelines.lake.curation import batch_transaction_id, deduplicate, read_validated_batch
from tests.integration.jobs.conftest import REPO, declare_glue_jobs

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = [pytest.mark.emulator, pytest.mark.spark]

COUNTS = ("rows_in", "rows_curated", "duplicates_within_run", "duplicates_against_table", "duplicates_removed")


def _batch(ids: list[str], first: int) -> pa.Table:
    """Rows as validation writes them (``is_fraud`` int32, some null): customer ``n % 5``, no two events of one
    customer at the same time (so every rolling sum adds the same values in the same order on any engine)."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = [
        {
            "transaction_id": tid,
            "customer_id": f"c{(first + n) % 5}",
            "merchant_id": f"m{(first + n) % 3}",
            "event_time": start + timedelta(minutes=23 * (first + n), seconds=(first + n) % 7),
            "amount": round(3.5 + ((first + n) * 7.31) % 400, 2),
            "category": ["grocery", "travel", "fuel"][(first + n) % 3],
            "channel": ["online", "contactless"][(first + n) % 2],
            "country": "FR",
            "is_fraud": None if (first + n) % 11 == 0 else (first + n) % 2,
        }
        for n, tid in enumerate(ids)
    ]
    schema = pa.schema(
        [
            ("transaction_id", pa.string()),
            ("customer_id", pa.string()),
            ("merchant_id", pa.string()),
            ("event_time", pa.timestamp("us", tz="UTC")),
            ("amount", pa.float64()),
            ("category", pa.string()),
            ("channel", pa.string()),
            ("country", pa.string()),
            ("is_fraud", pa.int32()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


BATCHES = {
    # 3 duplicates within the batch (the first occurrence wins: the copies come later with other values)
    "batch0001": ([f"a{n:03d}" for n in range(120)] + ["a000", "a005", "a119"], 0),
    # duplicates within the run across batches 2 and 3, and against batch 1 already in the table
    "batch0002": ([f"b{n:03d}" for n in range(90)] + ["a010", "a011", "b001"], 400),
    "batch0003": ([f"c{n:03d}" for n in range(60)] + ["b002", "b003", "a012", "c000"], 800),
}


@pytest.fixture(scope="module")
def lake(warm_platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    platform = warm_platform
    name = f"identity_{uuid.uuid4().hex[:8]}"
    datasets_dir = tmp_path_factory.mktemp("datasets")
    raw = yaml.safe_load((REPO / "pipelines/datasets/card_transactions.yaml").read_text())
    (datasets_dir / f"{name}.yaml").write_text(yaml.safe_dump({**raw, "name": name}))
    for batch_id, (ids, first) in BATCHES.items():
        sink = io.BytesIO()
        pq.write_table(_batch(ids, first), sink)
        key = layout.validated_key(name, batch_id)
        platform.services.object_store.put(platform.layout.bucket("curated"), key, sink.getvalue())
    return {"name": name, "datasets_dir": datasets_dir, "platform": declare_glue_jobs(platform, name, datasets_dir)}


def _run(lake: dict[str, Any], key: str, **arguments: str) -> dict[str, Any]:
    lines: list[str] = []
    try:
        run = lake["platform"].services.jobs.run(key, arguments, on_line=lines.append)
    except JobRunFailedError as failed:
        pytest.fail(f"{failed}\n" + "\n".join(lines[-30:]))
    assert run.state == "SUCCEEDED", "\n".join(lines[-30:])
    counts: dict[str, Any] = run.counts
    return counts


def _reference_curate(spark: SparkSession, platform: Platform, definition: Any, uri: str, batch_ids: list[str]) -> int:
    """The curate job before issue #17: every batch and the table's keys in the driver."""
    tables = platform.services.table_store
    batches = [read_validated_batch(platform.services.object_store, platform.layout, definition, b) for b in batch_ids]
    version = tables.version(uri)
    existing = None if version is None else tables.read(uri, version, columns=definition.primary_key).data
    curated, counts = deduplicate(spark, definition, batches, existing)
    return tables.write(uri, curated, mode="append", metadata={"batch_ids": batch_ids, **counts.as_dict()})


def _reference_features(spark: SparkSession, platform: Platform, definition: Any, source: str, target: str) -> pa.Table:
    """The build_features job before issue #17: the curated version in the driver, toArrow() back."""
    tables = platform.services.table_store
    data = tables.read(source, 1)
    events = spark.createDataFrame(data.data)
    table = spark_features(definition, events).orderBy(definition.entity_key, definition.event_time).toArrow()
    tables.write(target, table, mode="overwrite", metadata={"source_version": str(data.version)})
    return table


def test_curate_and_build_features_write_what_the_driver_side_path_wrote(
    lake: dict[str, Any], spark: SparkSession
) -> None:
    platform: Platform = lake["platform"]
    name = lake["name"]
    tables = platform.services.table_store
    definition = find_definition(name, Path(lake["datasets_dir"]))
    job_uri = platform.layout.table_uri("curated", name)
    reference_uri = platform.layout.table_uri("curated", f"{name}_reference")

    first = _run(lake, "curate", batch_ids="batch0001")
    second = _run(lake, "curate")  # batches 2 and 3 in one run: their order decides which duplicate wins
    assert second["batch_ids"] == ["batch0002", "batch0003"]
    assert _reference_curate(spark, platform, definition, reference_uri, ["batch0001"]) == 0
    assert _reference_curate(spark, platform, definition, reference_uri, ["batch0002", "batch0003"]) == 1

    reference_metadata = tables.commit_metadata(reference_uri)
    for version, run in ((0, first), (1, second)):
        assert run["table_version"] == version
        job_rows, reference_rows = tables.read(job_uri, version).data, tables.read(reference_uri, version).data
        assert job_rows.schema == reference_rows.schema
        assert job_rows.to_pylist() == reference_rows.to_pylist(), f"curated version {version}"
        assert {k: run[k] for k in COUNTS} == {k: int(reference_metadata[version][k]) for k in COUNTS}
        assert tables.commit_metadata(job_uri)[version]["rows_curated"] == reference_metadata[version]["rows_curated"]
    assert (first["duplicates_within_run"], second["duplicates_within_run"], second["duplicates_against_table"]) == (
        3,
        4,
        3,
    )
    kept = {r["transaction_id"]: r["amount"] for r in tables.read(job_uri, 0).data.to_pylist()}
    assert kept["a005"] == _batch(["a005"], 5).column("amount")[0].as_py()  # the first occurrence, not the copy

    built = _run(lake, "build_features", source_version="1")
    assert (built["rows_in"], built["rows_out"], built["source_version"]) == (270, 270, 1)
    reference_target = platform.layout.feature_table_uri(f"{name}_reference")
    _reference_features(spark, platform, definition, reference_uri, reference_target)
    job_features = tables.read(platform.layout.feature_table_uri(name)).data
    reference_features = tables.read(reference_target).data
    assert job_features.schema == reference_features.schema
    assert job_features.to_pylist() == reference_features.to_pylist()

    catalog = platform.services.catalog
    table = catalog.get_table(platform.outputs.glue_database, layout.catalog_table(name, "features"))
    assert list(table.columns) == [(f.name, hive_type(f.type)) for f in reference_features.schema]
    curated = catalog.get_table(platform.outputs.glue_database, layout.catalog_table(name, "curated"))
    assert list(curated.columns) == [(f.name, hive_type(f.type)) for f in reference_rows.schema]

    rerun = _run(lake, "curate")  # every batch is in the table: nothing to do, and the log says so too
    assert (rerun["batch_ids"], rerun["rows_curated"]) == ([], 0)
    ids = [batch_transaction_id(b) for b in BATCHES]
    assert transaction_versions(job_uri, tables.storage_options(), ids) == dict(zip(ids, [0, 1, 1], strict=True))
