"""curate -> build_features through the platform's job runner (the local Glue runner), on the session's emulator,
each run a session of the warm Spark Connect server as for a user after `mlops local up` (the same checks on runs
that start their own JVM, Glue's classic engine: test_cold_spark)."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from mlops import layout
from mlops.local.clients import clients_of
from mlops.local.glue_runner import LocalGlueRunner
from mlops.platform import Platform
from mlops.ports.jobs import JobRun, JobRunFailedError
from tests.integration.jobs.conftest import declare_glue_jobs

pytestmark = [pytest.mark.emulator, pytest.mark.spark]

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def lake(warm_platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return new_lake(warm_platform, tmp_path_factory)


def new_lake(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A dataset of its own (so other tests' batches never mix in) and Glue jobs declared as the infra would."""
    name = f"jobs_e2e_{uuid.uuid4().hex[:8]}"
    datasets_dir = tmp_path_factory.mktemp("datasets")
    raw = yaml.safe_load((REPO / "pipelines/datasets/card_transactions.yaml").read_text())
    (datasets_dir / f"{name}.yaml").write_text(yaml.safe_dump({**raw, "name": name}))
    test_platform = declare_glue_jobs(platform, name, datasets_dir)
    jobs = {key: test_platform.outputs.glue_job(key) for key in ("curate", "build_features")}
    assert isinstance(test_platform.services.jobs, LocalGlueRunner)  # the wiring's choice for the moto target
    return {"name": name, "platform": test_platform, "jobs": jobs}


def _rows(ids: list[str], start: datetime) -> list[dict[str, Any]]:
    return [
        {
            "transaction_id": tid,
            "customer_id": f"c{n % 4}",
            "merchant_id": "m1",
            "event_time": start + timedelta(minutes=17 * n),
            "amount": 10.0 + n,
            "category": "grocery",
            "channel": "online",
            "country": "FR",
            "is_fraud": n % 2,
        }
        for n, tid in enumerate(ids)
    ]


def _write_batch(platform: Platform, dataset: str, batch_id: str, rows: list[dict[str, Any]]) -> None:
    # As validation writes them: typed per the definition (int32 here, to prove curate casts to int64).
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
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), sink)
    key = layout.validated_key(dataset, batch_id)
    platform.services.object_store.put(platform.layout.bucket("curated"), key, sink.getvalue())


def _run(lake: dict[str, Any], key: str, **arguments: str) -> tuple[JobRun, list[str]]:
    lines: list[str] = []
    try:
        run = lake["platform"].services.jobs.run(key, arguments, on_line=lines.append)
    except JobRunFailedError as failed:
        pytest.fail(f"{failed}\n" + "\n".join(lines[-30:]))
    return run, lines


def _record(platform: Platform, run: JobRun) -> dict[str, Any]:
    assert run.record_uri is not None
    _, bucket, key = layout.split_uri(run.record_uri)
    assert (bucket, key) == (platform.layout.bucket("monitoring"), layout.job_run_key(run.job_name, run.run_id))
    stored: dict[str, Any] = json.loads(platform.services.object_store.get(bucket, key))
    return stored


def test_curate_twice_then_build_features_from_a_recorded_version_then_the_latest(lake: dict[str, Any]) -> None:
    check_curate_twice_then_build_features(lake)
    run, lines = _run(lake, "build_features")
    assert run.state == "SUCCEEDED", "\n".join(lines[-30:])
    assert run.counts["rows_out"] == 40  # both curated versions' rows


def check_curate_twice_then_build_features(lake: dict[str, Any]) -> None:
    """Two curate runs (duplicates within a batch, within the run and against the table), build_features from
    the first version; the tables, catalog, run records and logs they leave."""
    platform, dataset = lake["platform"], lake["name"]
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    first_ids = [f"a{n:02d}" for n in range(27)] + ["a00", "a01", "a02"]  # 3 duplicates within the batch
    second_ids = [f"b{n:02d}" for n in range(13)] + ["b00", "b01"] + ["a03", "a04", "a05", "a06", "a07"]
    _write_batch(platform, dataset, "batch0001", _rows(first_ids, start))
    _write_batch(platform, dataset, "batch0002", _rows(second_ids, start + timedelta(days=1)))

    first, lines = _run(lake, "curate", batch_ids="batch0001")
    assert first.state == "SUCCEEDED", "\n".join(lines[-30:])
    assert any(line.startswith(_engine_line(platform)) for line in lines), lines
    assert {k: first.counts[k] for k in ("rows_in", "rows_curated", "duplicates_removed", "table_version")} == {
        "rows_in": 30,
        "rows_curated": 27,
        "duplicates_removed": 3,
        "table_version": 0,
    }
    second, lines = _run(lake, "curate")
    assert second.state == "SUCCEEDED", "\n".join(lines[-30:])
    assert second.counts["batch_ids"] == ["batch0002"]
    counts = {k: second.counts[k] for k in ("rows_in", "rows_curated", "duplicates_within_run")}
    assert counts == {"rows_in": 20, "rows_curated": 13, "duplicates_within_run": 2}
    assert second.counts["duplicates_against_table"] == 5
    for record in (first, second):  # counts reconcile in every run record
        c = record.counts
        assert c["rows_in"] == c["rows_curated"] + c["duplicates_removed"]

    features, lines = _run(lake, "build_features", source_version="0")
    assert features.state == "SUCCEEDED", "\n".join(lines[-30:])
    assert (features.counts["rows_out"], features.counts["source_version"]) == (27, 0)

    tables = platform.services.table_store
    curated_uri = platform.layout.table_uri("curated", dataset)
    version0 = tables.read(curated_uri, 0).data
    assert version0.num_rows == 27
    # The first occurrence wins: a00 first came with amount 10.0, its duplicate (row 27) with 37.0.
    kept = {r["transaction_id"]: r["amount"] for r in version0.to_pylist()}
    assert (kept["a00"], kept["a02"]) == (10.0, 12.0)
    latest = tables.read(curated_uri)
    assert (latest.version, latest.data.num_rows) == (1, 40)
    assert latest.data.schema.field("is_fraud").type == pa.int64()
    features_uri = platform.layout.feature_table_uri(dataset)  # the offline feature store
    lineage = tables.commit_metadata(features_uri)[0]
    assert (lineage["source_table"], lineage["source_version"]) == (curated_uri, "0")
    table = tables.read(features_uri, 0).data
    assert table.column_names[:3] == ["customer_id", "event_time", "transaction_id"]
    assert "txn_count_24h" in table.column_names and table.column_names[-1] == "is_fraud"

    catalog, database = platform.services.catalog, platform.outputs.glue_database
    curated_table = catalog.get_table(database, f"{dataset}_curated")
    assert (curated_table.version, curated_table.location) == (1, curated_uri)
    feature_table = catalog.get_table(database, f"{dataset}_features")
    assert (feature_table.version, feature_table.parameters["source_version"]) == (0, "0")
    assert feature_table.location == features_uri
    assert [name for name, _ in feature_table.columns] == table.column_names

    _check_record_and_logs(platform, first)


def _check_record_and_logs(platform: Platform, first: JobRun) -> None:
    """The first curate run's record in the monitoring bucket and its result line in its log stream."""
    stored = _record(platform, first)
    assert (stored["state"], stored["counts"]["rows_curated"], stored["exit_code"]) == ("SUCCEEDED", 27, 0)
    assert stored["arguments"]["--batch_ids"] == "batch0001"
    assert first.logs == f"{platform.outputs.log_groups['glue']}/{first.run_id}"
    logs = clients_of(platform).client("logs")
    events = logs.get_log_events(logGroupName=first.log_group, logStreamName=first.run_id)["events"]
    assert any(e["message"].startswith("mlops-job-result ") for e in events)


def _engine_line(platform: Platform) -> str:
    """What the job logs about its Spark: a session of the warm server, or a JVM of its own."""
    from mlops.local import spark_connect

    state = spark_connect.running_state(spark_connect.spark_dir(platform.settings.state_dir))
    if platform.settings.local_spark.enabled and state is not None:
        return f"spark: a session of the Spark Connect server at {state.remote_url}"
    return "spark: its own JVM, local["


def test_a_failing_run_through_the_cli_exits_1_and_is_recorded_failed(
    lake: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from mlops.cli.main import app
    from mlops.outputs import write_outputs

    platform: Platform = lake["platform"]
    outputs_file = tmp_path / "outputs.json"
    write_outputs(outputs_file, platform.outputs.model_dump())
    monkeypatch.setenv("MLOPS_STATE_DIR", str(platform.settings.state_dir))
    monkeypatch.setenv("MLOPS_OUTPUTS_FILE", str(outputs_file))
    monkeypatch.setenv("MLOPS_STACK", platform.settings.stack_name)
    result = CliRunner().invoke(app, ["job", "run", "build_features", "--arg", "dataset=no_such_dataset", "--json"])
    assert result.exit_code == 1, result.output
    record = json.loads(result.stdout)
    assert (record["state"], record["job_key"]) == ("FAILED", "build_features")
    assert "unknown dataset 'no_such_dataset'" in record["error"]
    stored = _record(platform, JobRun(**record))
    assert (stored["state"], stored["error"], stored["exit_code"] != 0) == ("FAILED", record["error"], True)


def test_a_failed_run_raises_naming_the_job_and_the_reason(lake: dict[str, Any]) -> None:
    with pytest.raises(JobRunFailedError) as failed:
        lake["platform"].services.jobs.run("curate", {"batch_ids": "nope"}, on_line=lambda _line: None)
    run = failed.value.run
    assert (run.state, run.job_key, run.job_name) == ("FAILED", "curate", lake["jobs"]["curate"])
    assert str(failed.value).startswith(f"job 'curate' ({run.job_name}) run {run.run_id} ended FAILED: ")
    assert "curate: no validated batch nope of" in str(failed.value)
