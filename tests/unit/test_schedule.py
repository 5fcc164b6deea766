"""The suite's longest files go to the workers first (tests/support/schedule.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.support.schedule import LONGEST_FIRST, longest_first

REPO = Path(__file__).resolve().parents[2]


def test_every_file_of_the_list_exists() -> None:
    """A file renamed or removed would silently lose its place at the front."""
    assert [path for path in LONGEST_FIRST if not (REPO / path).is_file()] == []


def test_the_listed_files_come_first_in_the_list_s_order_and_the_rest_as_collected() -> None:
    collected = [
        "tests/contract/test_a.py::one",
        f"{LONGEST_FIRST[1]}::first",
        "tests/unit/test_b.py::two",
        f"{LONGEST_FIRST[0]}::only",
        f"{LONGEST_FIRST[1]}::second",
        "tests/contract/test_a.py::three",
    ]
    items: list[Any] = [SimpleNamespace(nodeid=nodeid) for nodeid in collected]
    longest_first(items)
    assert [item.nodeid for item in items] == [
        f"{LONGEST_FIRST[0]}::only",
        f"{LONGEST_FIRST[1]}::first",
        f"{LONGEST_FIRST[1]}::second",
        "tests/contract/test_a.py::one",
        "tests/unit/test_b.py::two",
        "tests/contract/test_a.py::three",
    ]
