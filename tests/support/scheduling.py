"""How the suite's files are shared out among pytest-xdist's workers (``scripts/test.sh``: ``--dist loadfile``).

Each worker builds its own session fixtures. LocalStack, Google's emulators and the warm Spark server cost
10-25 s of start-up each (two JVMs, a Python server of ~15 s of CPU, a JVM), and every worker that runs one of
their tests starts its own. So the files whose tests use one of them form a group that runs on one worker; every
other file is a group of its own, as with xdist's own ``loadfile`` (a module fixture is built once).

A file goes whole to a group, named after everything its tests share (a file that used LocalStack and the warm
Spark server would make a third group, which starts both again).

The controller does not collect: each worker, after collecting, writes the groups of the files it collected to a
file the controller named (every worker collects the same tests, so they write the same groups), before it
reports its collection; the controller's scheduler reads them when it shares the work out. (xdist's own
``loadgroup`` appends a group to a test's id, which pytest 9 no longer lets a plugin change.)
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

# Session fixtures that start a process, and the group name of the files that use them.
SHARED_SESSIONS = {
    "localstack_handle": "emulators",
    "gcp_emulator_set": "emulators",
    "warm_spark": "warm-spark",
}
# The contract suites ask for each backend with ``request.getfixturevalue`` (tests/contract/conftest.py), which no
# fixture closure shows: their files share what their ``aws-localstack`` and ``gcp-emulator`` backends start.
SHARED_DIRECTORIES = {"tests/contract/": "emulators"}
GROUPS_FILE_VARIABLE = "KIT_TEST_GROUPS_FILE"


def group_of(path: str, fixture_names: set[str]) -> str | None:
    """The group of the file at ``path`` (relative to the root) whose tests use ``fixture_names`` (closures
    included), ``None`` when it shares none."""
    shared = {SHARED_SESSIONS[name] for name in fixture_names if name in SHARED_SESSIONS}
    shared.update(group for directory, group in SHARED_DIRECTORIES.items() if path.startswith(directory))
    return "+".join(sorted(shared)) or None


def file_groups(items: list[pytest.Item]) -> dict[str, str]:
    """The group of each collected file that shares a session process, by its path as test ids spell it."""
    used: dict[str, set[str]] = defaultdict(set)
    for item in items:
        used[item.nodeid.split("::", 1)[0]].update(getattr(item, "fixturenames", ()))
    groups = {path: group_of(path, names) for path, names in used.items()}
    return {path: group for path, group in groups.items() if group is not None}


class FileOrGroupScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no types
    """xdist's scope scheduling with a test's scope its file's group, else its file. Scopes go out largest first
    (xdist's default order)."""

    def __init__(self, config: pytest.Config, log: Any, groups_file: Path) -> None:
        super().__init__(config, log)
        self.groups_file = groups_file
        self._groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        return self.groups.get(path, path)

    @property
    def groups(self) -> dict[str, str]:
        """The workers' groups, read when the work is first shared out (after every worker reported its
        collection); none if no worker wrote them."""
        if self._groups is None:
            text = self.groups_file.read_text() if self.groups_file.is_file() else ""
            self._groups = json.loads(text) if text else {}
        return self._groups


def pytest_configure(config: pytest.Config) -> None:
    """On the controller of a ``--dist loadfile`` run: name the file the workers write their groups to (the
    workers start after this and inherit the variable)."""
    if hasattr(config, "workerinput") or config.getoption("dist", "no") != "loadfile":
        return
    handle, name = tempfile.mkstemp(prefix="test-groups-", suffix=".json")
    os.close(handle)
    os.environ[GROUPS_FILE_VARIABLE] = name


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    name = os.environ.pop(GROUPS_FILE_VARIABLE, None)
    if name is not None:
        Path(name).unlink(missing_ok=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a worker: write the groups for the controller (whole, then renamed: a reader never sees half)."""
    name = os.environ.get(GROUPS_FILE_VARIABLE)
    if name is None or not hasattr(config, "workerinput"):
        return
    partial = Path(f"{name}.{config.workerinput['workerid']}")
    partial.write_text(json.dumps(file_groups(items), sort_keys=True))
    partial.replace(name)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> FileOrGroupScheduling | None:
    """With ``--dist loadfile``: a group's files on one worker, any other file's tests on one worker."""
    name = os.environ.get(GROUPS_FILE_VARIABLE)
    if name is None or config.getoption("dist", "no") != "loadfile":
        return None
    return FileOrGroupScheduling(config, log, Path(name))
