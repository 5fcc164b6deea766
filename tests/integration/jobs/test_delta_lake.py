"""The platform's Delta table store on the emulator's S3 commits safely; curation counts must reconcile.

Versions, time travel, commit metadata and concurrent commits of every table store are covered by
tests/contract/test_table_store.py.
"""

from __future__ import annotations

import pytest

from mlops.adapters.aws.clients import ClientFactory
from mlops.errors import DatasetError
from mlops.lake.delta import DeltaTableStore
from pipelines.lake.curation import CurationCounts

pytestmark = pytest.mark.emulator


def test_safe_commit_options_are_set_and_unsafe_rename_is_not(emulated_clients: ClientFactory) -> None:
    options = DeltaTableStore(emulated_clients.storage_options).storage_options()
    assert options["conditional_put"] == "etag"
    assert "AWS_S3_ALLOW_UNSAFE_RENAME" not in options
    assert options["AWS_ENDPOINT_URL"] == emulated_clients.endpoint_url


def test_counts_that_do_not_reconcile_are_refused() -> None:
    counts = CurationCounts(rows_in=10, rows_curated=6, duplicates_within_run=1, duplicates_against_table=2)
    with pytest.raises(DatasetError, match=r"10 rows in != 6 curated \+ 3 duplicates removed"):
        counts.reconcile()
    CurationCounts(rows_in=9, rows_curated=6, duplicates_within_run=1, duplicates_against_table=2).reconcile()
