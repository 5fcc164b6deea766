"""A batch is committed to a Delta table once, whichever writer gets there first (issue 10: two ``curate`` runs,
or an abandoned one and its re-run, both appended the same batches). The batch's Delta ``txn`` decides."""

from __future__ import annotations

from pathlib import Path

import pytest
from deltalake import DeltaTable

from mlops.lake.delta_files import commit_files
from mlops.ports.table_store import TableCommitConflictError
from tests.unit.lake.test_delta_files import SCHEMA, _files


def test_a_second_writer_of_an_already_committed_batch_is_refused_whatever_version_it_read(tmp_path: Path) -> None:
    uri = str(tmp_path / "cards")
    commit_files(uri, {}, _files(tmp_path / "cards", 0, 3), SCHEMA, "append", metadata={}, based_on=None)
    first = _files(tmp_path / "cards", 3, 3)
    commit_files(uri, {}, first, SCHEMA, "append", metadata={}, based_on=0, transactions=["curate.b7"])
    again = _files(tmp_path / "cards", 100, 3)
    with pytest.raises(TableCommitConflictError, match=r"batch transaction curate\.b7 is already in version 1"):
        commit_files(uri, {}, again, SCHEMA, "append", metadata={}, based_on="latest", transactions=["curate.b7"])
    assert DeltaTable(uri).version() == 1
    assert DeltaTable(uri).to_pyarrow_table().num_rows == 6
    assert not any((tmp_path / "cards" / f.path).exists() for f in again)
