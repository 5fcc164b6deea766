"""The kit's modules in a long-lived Python worker of the local Spark Connect server, kept as they are on disk.

Why: the server's Python workers are reused from one job run to the next (:mod:`mlops.local.spark_connect`), and a
worker keeps the modules its tasks imported. A developer who edits ``pipelines/lake/curation.py`` while the local
platform runs expects the next run to use the edit, as it does on a fresh worker. :class:`FreshModules` wraps the
function a worker runs per task: before a task, if the source of any kit module an earlier task imported has
changed, every kit module imported by tasks is dropped from ``sys.modules``, so the task's functions (pickled by
module and name) import them again from disk. All of them, not only the changed one: an unchanged module may hold
names bound from the changed one.

A module counts as changed when its file's size or modification time differs from what they were when it was first
seen (the stamp :mod:`mlops.local.warm_kit` keeps for the warm command server's own imports), or when the file was
modified after the task that imported it started (an edit during that task could have come before or after the
import). Modules loaded before the worker's first task (the interpreter's own) are never dropped.
"""

from __future__ import annotations

import functools
import importlib
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from mlops.local import warm_kit

# The kit's packages as the warm command server knows them, and the jobs' scripts
KIT_PACKAGES = (*warm_kit.PACKAGES, "jobs")

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class _Seen:
    path: str
    stamp: tuple[int, int] | None  # (mtime_ns, size) when first seen (warm_kit.stamp); None: unreadable
    task_started_ns: int


class FreshModules:
    """Tracks the kit modules tasks import; drops them all before a task once one's source changed."""

    def __init__(self, packages: Iterable[str] = KIT_PACKAGES) -> None:
        self._packages = tuple(packages)
        self._baseline = set(sys.modules)
        self._seen: dict[str, _Seen] = {}

    def wrap(self, task: Callable[P, R], arrived: Callable[P, object] | None = None) -> Callable[P, R]:
        """``task`` run with the kit's modules fresh: stale ones dropped before, new ones noted after. With
        ``arrived`` (called with the task's arguments, it returns once the task's input has come) the look happens
        then, not when a reused worker starts to wait for its next task."""

        @functools.wraps(task)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            if arrived is not None:
                arrived(*args, **kwargs)
            self.drop_if_changed()
            started = time.time_ns()
            try:
                return task(*args, **kwargs)
            finally:
                self.note_imported(started)

        return run

    def drop_if_changed(self) -> list[str]:
        """Drop every tracked module when one's source changed; the names dropped (none when all are current)."""
        if not any(self._changed(seen) for seen in self._seen.values()):
            return []
        dropped = sorted(self._seen)
        for name in dropped:
            sys.modules.pop(name, None)
        self._seen.clear()
        importlib.invalidate_caches()
        return dropped

    def note_imported(self, task_started_ns: int) -> None:
        """Track the kit modules imported since the last look (by a task that started at ``task_started_ns``)."""
        for name, module in list(sys.modules.items()):
            if name in self._baseline or name in self._seen or not warm_kit.is_kit(name, self._packages):
                continue
            path = getattr(module, "__file__", None)
            if isinstance(path, str):
                self._seen[name] = _Seen(path, warm_kit.stamp(path), task_started_ns)

    @staticmethod
    def _changed(seen: _Seen) -> bool:
        now = warm_kit.stamp(seen.path)
        return now is None or now != seen.stamp or now[0] > seen.task_started_ns
