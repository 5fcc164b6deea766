"""A consumer that dies mid-stream and a fresh one that resumes leave the online store as one uninterrupted run
does (issue 10: the resumed run computed rolling features over partial history), and the checkpoints' record
counts go on from where they were."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops.datasets import DatasetDefinition, find_definition
from mlops.outputs import StackOutputs
from mlops.platform import Platform
from mlops.ports.online_store import OnlineStore
from mlops.wiring import memory_platform
from pipelines.generate.card_transactions import CardOptions, generate_card_transactions
from pipelines.generate.writers import write_frame
from pipelines.ingest.formats import FileFormat
from pipelines.stream import consume as consume_module
from pipelines.stream.consume import consume, consumer_name
from pipelines.stream.produce import produce
from tests.conftest import REPO_ROOT
from tests.unit.test_outputs import complete_outputs

ROWS = 400


class Killed(BaseException):
    """The process dies here (a ``kill -9`` stand-in: nothing after this point runs, no handler catches it)."""


class _DiesOnWrite:
    """An online store whose process dies on its ``n``-th write (after the earlier polls were committed)."""

    def __init__(self, real: OnlineStore, n: int) -> None:
        self.real, self.left = real, n

    def write(self, *args: Any, **kwargs: Any) -> int:
        self.left -= 1
        if self.left == 0:
            raise Killed
        return self.real.write(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture(scope="module")
def definition() -> DatasetDefinition:
    return find_definition("card_transactions", REPO_ROOT / "pipelines" / "datasets")


def _platform(tmp_path: Path, definition: DatasetDefinition) -> Platform:
    platform = memory_platform(StackOutputs.model_validate(complete_outputs()))
    frame: pd.DataFrame = generate_card_transactions(CardOptions(rows=ROWS, seed=11))
    path = tmp_path / "cards.csv"
    write_frame(frame.sort_values(definition.event_time, kind="stable"), path, FileFormat.CSV)
    produce(platform, definition, path)
    return platform


def _store(platform: Platform, definition: DatasetDefinition) -> dict[str, dict[str, Any]]:
    entities = [str(e) for e in generate_card_transactions(CardOptions(rows=ROWS, seed=11))["customer_id"].unique()]
    return platform.services.online_store.read(definition.name, sorted(entities))


def test_a_consumer_killed_mid_stream_then_resumed_equals_an_uninterrupted_run(
    definition: DatasetDefinition, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _platform(tmp_path, definition)
    consume(whole, definition, idle_seconds=0.0)

    crashed = _platform(tmp_path, definition)
    monkeypatch.setattr(consume_module, "POLL_LIMIT", 7)  # several polls, so some commit before the death
    real = crashed.services.online_store
    monkeypatch.setattr(type(crashed.services), "online_store", property(lambda _self: _DiesOnWrite(real, 30)))
    with pytest.raises(Killed):
        consume(crashed, definition, idle_seconds=0.0)
    monkeypatch.undo()
    resumed = consume(crashed, definition, idle_seconds=0.0)

    assert 0 < resumed.read < ROWS  # it resumed from the checkpoints, not from the start
    assert _store(crashed, definition) == _store(whole, definition)
    with crashed.services.events.subscribe(consumer_name(definition.name), "probe") as probe:
        assert sum(checkpoint.records for checkpoint in probe.committed.values()) == ROWS
    assert sum(counts.records for counts in resumed.partitions.values()) == resumed.read  # this run's
    assert sum(counts.committed_records for counts in resumed.partitions.values()) == ROWS  # the checkpoints'
