"""The order the suite's files are handed to the test workers: the longest first.

``scripts/test.sh`` runs ``pytest -n auto --dist loadfile --no-loadscope-reorder``: each file goes to one worker,
in collection order. pytest-xdist's own order (most tests first) put the files of one long end-to-end test last,
so one worker ran the main job's two minutes while the other had nothing left. Longest first, the other worker
takes the many short files meanwhile.
"""

from __future__ import annotations

import pytest

# The longest files, longest first (their set-up included; `--durations` of a CI run on 2 cores, in seconds).
# The rest keep their collection order (contract, integration, then unit tests: longer ones first already).
LONGEST_FIRST = (
    "tests/integration/test_demo.py",  # 135
    "tests/integration/release/test_rehearsal.py",  # 102
    "tests/integration/test_every_task.py",  # 85
    "tests/integration/gcp/test_local_gcp_pipeline.py",  # 61
    "tests/integration/jobs/test_cold_spark.py",  # 39
    "tests/integration/release/test_images.py",  # 36
    "tests/integration/jobs/test_output_identity.py",  # 21
    "tests/integration/training/test_train_and_promote.py",  # 19
    "tests/integration/monitoring/test_retraining_loop.py",  # 18
    "tests/integration/gcp/test_dataproc_jobs.py",  # 17
    "tests/integration/gcp/test_vertex_endpoint.py",  # 15
    "tests/integration/training/test_pipeline_definition.py",  # 15
)


def longest_first(items: list[pytest.Item]) -> None:
    """Reorder ``items`` in place: the files of :data:`LONGEST_FIRST` in that order, then the others as collected
    (a stable sort: each file's tests keep their order)."""
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
