"""The suite hands out its slowest files first: every file named exists, and the order keeps each file's tests."""

from __future__ import annotations

from dataclasses import dataclass

from tests.conftest import REPO_ROOT, SLOWEST_FIRST, pytest_collection_modifyitems


@dataclass
class _Item:
    nodeid: str


def test_every_file_of_the_slowest_first_list_exists_once() -> None:
    assert [path for path in SLOWEST_FIRST if not (REPO_ROOT / path).is_file()] == []
    assert len(set(SLOWEST_FIRST)) == len(SLOWEST_FIRST)


def test_listed_files_come_first_in_the_lists_order_and_the_rest_keep_theirs() -> None:
    first, second = SLOWEST_FIRST[0], SLOWEST_FIRST[1]
    items = [
        _Item("tests/unit/test_a.py::t1"),
        _Item(f"{second}::t1"),
        _Item("tests/unit/test_b.py::t1"),
        _Item(f"{first}::t2"),
        _Item(f"{first}::t1"),
        _Item("tests/unit/test_a.py::t2"),
    ]
    pytest_collection_modifyitems(items)  # type: ignore[arg-type]  # the hook reads nodeid only
    assert [item.nodeid for item in items] == [
        f"{first}::t2",
        f"{first}::t1",
        f"{second}::t1",
        "tests/unit/test_a.py::t1",
        "tests/unit/test_b.py::t1",
        "tests/unit/test_a.py::t2",
    ]
