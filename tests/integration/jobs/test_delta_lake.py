"""Versioned Delta tables on the emulator's S3: exact time travel, lineage metadata, safe concurrent commits."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pytest

from mlops.adapters.aws.clients import ClientFactory
from mlops.errors import DatasetError
from mlops.local.platform import Platform
from pipelines.lake.curation import CurationCounts
from pipelines.lake.delta import commit_metadata, current_version, delta_options, read_table, table_uri, write_table

pytestmark = pytest.mark.emulator


def test_safe_commit_options_are_set_and_unsafe_rename_is_not(emulated_clients: ClientFactory) -> None:
    options = delta_options(emulated_clients)
    assert options["conditional_put"] == "etag"
    assert "AWS_S3_ALLOW_UNSAFE_RENAME" not in options
    assert options["AWS_ENDPOINT_URL"] == emulated_clients.endpoint_url


def test_every_version_reads_back_exactly_with_its_metadata(platform: Platform) -> None:
    options = delta_options(platform.clients)
    uri = table_uri(platform.outputs.curated_bucket, f"delta_{uuid.uuid4().hex[:8]}")
    assert current_version(uri, options) is None
    v0 = write_table(uri, options, pa.table({"k": [1, 2]}), mode="append", metadata={"batch_ids": ["x"]})
    v1 = write_table(uri, options, pa.table({"k": [3]}), mode="append", metadata={"rows_in": 1})
    assert (v0, v1) == (0, 1)
    assert read_table(uri, options, 0).data.column("k").to_pylist() == [1, 2]
    assert sorted(read_table(uri, options).data.column("k").to_pylist()) == [1, 2, 3]
    assert commit_metadata(uri, options) == {0: {"batch_ids": '["x"]'}, 1: {"rows_in": "1"}}
    with pytest.raises(DatasetError, match=r"has no version 5; its versions are 0\.\.1"):
        read_table(uri, options, 5)


def test_concurrent_appends_lose_no_commit(platform: Platform) -> None:
    options = delta_options(platform.clients)
    uri = table_uri(platform.outputs.curated_bucket, f"concurrent_{uuid.uuid4().hex[:8]}")
    write_table(uri, options, pa.table({"k": [0]}), mode="append", metadata={})

    def append(worker: int) -> None:
        for n in range(4):
            write_table(uri, options, pa.table({"k": [worker * 10 + n]}), mode="append", metadata={})

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(append, [1, 2, 3]))
    assert current_version(uri, options) == 12
    assert read_table(uri, options).data.num_rows == 13


def test_counts_that_do_not_reconcile_are_refused() -> None:
    counts = CurationCounts(rows_in=10, rows_curated=6, duplicates_within_run=1, duplicates_against_table=2)
    with pytest.raises(DatasetError, match=r"10 rows in != 6 curated \+ 3 duplicates removed"):
        counts.reconcile()
    CurationCounts(rows_in=9, rows_curated=6, duplicates_within_run=1, duplicates_against_table=2).reconcile()
