"""A reused Spark worker runs each task on the kit's modules as they are on disk (mlops.local.fresh_modules)."""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.local.fresh_modules import FreshModules


@pytest.fixture
def package(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A package of its own on the import path (``<name>.steps`` holds ``VALUE = 1``), removed after the test."""
    name = f"freshpkg_{os.getpid()}_{time.monotonic_ns()}"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "steps.py").write_text("VALUE = 1\n")
    old = os.stat(root / "steps.py")
    os.utime(root / "steps.py", ns=(old.st_atime_ns, old.st_mtime_ns - 10**9))  # written before any task
    sys.path.insert(0, str(tmp_path))
    try:
        yield name, root / "steps.py"
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m.split(".")[0] == name]:
            del sys.modules[module]


def _edit(path: Path, text: str) -> None:
    path.write_text(text)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, time.time_ns() + 10**9))  # later than any task start, whatever the clock


def test_a_module_a_task_imported_is_kept_while_its_source_is_unchanged(package: tuple[str, Path]) -> None:
    name, _ = package
    fresh = FreshModules(packages=(name,))
    task = fresh.wrap(lambda: importlib.import_module(f"{name}.steps"))
    first = task()
    assert task() is first
    assert fresh.drop_if_changed() == []


def test_the_next_task_imports_an_edited_module_again_with_every_module_of_the_kit_tasks_imported(
    package: tuple[str, Path],
) -> None:
    name, path = package
    fresh = FreshModules(packages=(name,))
    task = fresh.wrap(lambda: importlib.import_module(f"{name}.steps").VALUE)
    assert task() == 1
    _edit(path, "VALUE = 2\n")
    assert task() == 2  # before the fix: 1, the module the worker imported for an earlier run
    _edit(path, "VALUE = 3\n")
    assert sorted(fresh.drop_if_changed()) == [name, f"{name}.steps"]  # the unchanged package module too
    assert f"{name}.steps" not in sys.modules


def test_an_edit_during_the_task_that_imported_the_module_counts_as_a_change(package: tuple[str, Path]) -> None:
    name, path = package
    fresh = FreshModules(packages=(name,))

    def import_then_edit() -> None:
        importlib.import_module(f"{name}.steps")
        path.write_text("VALUE = 2\n")  # its time is the task's own: before or after the import, nobody knows

    fresh.wrap(import_then_edit)()
    assert f"{name}.steps" in fresh.drop_if_changed()


def test_modules_loaded_before_the_first_task_and_other_packages_are_never_dropped(
    package: tuple[str, Path],
) -> None:
    name, path = package
    preloaded = importlib.import_module(f"{name}.steps")
    fresh = FreshModules(packages=(name,))
    fresh.wrap(lambda: importlib.import_module("json"))()
    _edit(path, "VALUE = 2\n")
    assert fresh.drop_if_changed() == []
    assert sys.modules[f"{name}.steps"] is preloaded


def test_a_deleted_source_counts_as_a_change(package: tuple[str, Path]) -> None:
    name, path = package
    fresh = FreshModules(packages=(name,))
    fresh.wrap(lambda: importlib.import_module(f"{name}.steps"))()
    path.unlink()
    assert f"{name}.steps" in fresh.drop_if_changed()
