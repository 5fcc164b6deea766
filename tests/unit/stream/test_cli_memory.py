"""``mlops stream produce`` / ``consume`` with every port on its in-memory fake (one CLI run wires one platform)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.outputs import write_outputs
from pipelines.generate.card_transactions import CardOptions, generate_card_transactions
from pipelines.generate.writers import write_frame
from pipelines.ingest.formats import FileFormat
from tests.unit.test_outputs import complete_outputs


@pytest.fixture
def memory_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    outputs = tmp_path / "outputs.json"
    write_outputs(outputs, complete_outputs())
    monkeypatch.setenv("MLOPS_OUTPUTS_FILE", str(outputs))
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path / "state"))
    for capability in ("object_store", "table_store", "online_store", "events"):
        monkeypatch.setenv(f"MLOPS_SERVICES__{capability.upper()}__TYPE", "memory")
    return CliRunner()


def test_produce_reports_what_it_sent_and_quarantined(memory_cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "cards.csv"
    write_frame(generate_card_transactions(CardOptions(rows=30, seed=3)), path, FileFormat.CSV)
    with path.open("a") as out:
        out.write("bad-1,,merch-1,2024-03-01T00:00:00Z,10.0,grocery,online,US,0\n")
    result = memory_cli.invoke(app, ["stream", "produce", "card_transactions", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["rows_read"], report["sent"], report["quarantined"]) == (31, 30, 1)
    assert report["stream"] == "value-of-stream_name"
    assert report["quarantine_keys"][0].startswith("memory://value-of-quarantine_bucket/card_transactions/stream/")


def test_consume_of_an_empty_stream_reports_each_leased_partition(memory_cli: CliRunner) -> None:
    result = memory_cli.invoke(app, ["stream", "consume", "card_transactions", "--idle-seconds", "0", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["consumer"], report["read"], report["written"]) == ("online-features-card_transactions", 0, 0)
    assert report["leased"] == ["partition-0000", "partition-0001"]
    expected = {"records": 0, "checkpoint": None, "committed_records": 0, "lag_millis": 0}
    assert report["partitions"]["partition-0000"] == expected


def test_consume_prints_each_partitions_checkpoint(memory_cli: CliRunner) -> None:
    result = memory_cli.invoke(app, ["stream", "consume", "card_transactions", "--idle-seconds", "0"])
    assert result.exit_code == 0, result.output
    assert "consumed 0 records of card_transactions" in result.stderr
    assert "partition-0001: 0 records (0 in all), checkpoint None, lag 0 ms" in result.stderr
    assert "no partition was free" not in result.stderr
