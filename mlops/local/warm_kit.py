"""The kit's own modules in the warm command server: imported once, kept by a forked command while they are what
a cold command would import.

Every command imports the same core before its work: the CLI, the settings and stack-outputs models, the wiring
(~0.2 s of a forked ``mlops predict``, most of it pydantic building its models). The server imports them after the
third-party libraries and records the source file of every kit module it then holds. A forked command keeps them
only while each of those files is unchanged (modification time and size) and each top-level package still
resolves, on the command's own import path, to the file the server imported it from (a command run from another
checkout imports that checkout); otherwise it drops them all and imports the kit from disk, as a cold command
does. So an edited module runs as edited; it only costs the forked commands their head start until the server
restarts (``mlops local down`` then ``up``).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.machinery import PathFinder

PACKAGES = ("mlops", "serving", "monitoring", "pipelines")
# What every command imports before it reaches its own work (the root command, settings, outputs, wiring).
CORE = ("mlops.cli.main", "mlops.cli.context", "mlops.settings", "mlops.outputs", "mlops.platform", "mlops.wiring")


@dataclass(frozen=True)
class KitImports:
    """The kit modules a process holds: each one's source file with its (mtime_ns, size)."""

    files: dict[str, tuple[int, int]] = field(default_factory=dict)


def _is_kit(name: str, packages: Sequence[str]) -> bool:
    return name.partition(".")[0] in packages


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def held(packages: Sequence[str] = PACKAGES) -> KitImports:
    """What this process holds of ``packages`` now."""
    files: dict[str, tuple[int, int]] = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        stamp = _stamp(path) if _is_kit(name, packages) and path else None
        if path and stamp is not None:
            files[path] = stamp
    return KitImports(files)


def import_core(modules: Sequence[str] = CORE, packages: Sequence[str] = PACKAGES) -> KitImports:
    """Import ``modules`` (the server's start); what is held then. A module that fails to import is left to the
    commands, which then report it as a cold command would. No modules: nothing held (every command imports
    the kit from disk)."""
    if not modules:
        return KitImports()
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:
            print(f"warm command server: {module} not imported ahead ({exc!r})", file=sys.stderr, flush=True)
            forget(packages)
            return KitImports()
    return held(packages)


def current(imported: KitImports, path: Sequence[str], packages: Sequence[str] = PACKAGES) -> bool:
    """The kit modules held are what a cold interpreter on ``path`` would import now: each one recorded at import
    with its file unchanged since, every top-level package found where it was."""
    held_any = False
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not _is_kit(name, packages) or not file:
            continue
        held_any = True
        if file not in imported.files or _stamp(file) != imported.files[file]:
            return False
        if "." not in name:
            found = PathFinder.find_spec(name, list(path))
            if found is None or found.origin != file:
                return False
    return held_any


def forget(packages: Sequence[str] = PACKAGES) -> None:
    """Drop every kit module held: the next import reads the kit from disk."""
    for name in [n for n in sys.modules if _is_kit(n, packages)]:
        del sys.modules[name]
