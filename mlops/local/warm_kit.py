"""The kit's own modules in the warm command server: imported once, kept by a forked command (or entry point, or
job driver) while they are what a cold one would import.

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
# What commands import before their own work: the root command, settings, outputs, wiring, and the AWS adapters
# and registry most of them reach; with every command's module (named by the root command). A warm command's
# wall time on this core vs the first six alone: `mlops predict` 0.37 -> 0.30 s, `mlops endpoint status` 0.33 ->
# 0.27 s, `mlops monitor alarms` 0.68 -> 0.60 s (quiet 2-core host).
CORE = (
    "mlops.cli.main",
    "mlops.cli.context",
    "mlops.settings",
    "mlops.outputs",
    "mlops.platform",
    "mlops.wiring",
    "mlops.datasets",
    "mlops.local.hosting",
    "mlops.registry.service",
    "mlops.registry.session",
    "mlops.registry.mlflow_models",
    *(
        f"mlops.adapters.aws.{name}"
        for name in (
            "s3",
            "cloudwatch",
            "cloudwatch_alarms",
            "dynamodb_online",
            "glue_catalog",
            "glue_jobs",
            "kinesis",
            "sagemaker_hosting",
            "sagemaker_runtime",
            "sagemaker_packages",
        )
    ),
)


def command_modules() -> tuple[str, ...]:
    """Every command's module, as the root command names them."""
    from mlops.cli.main import Root

    return tuple(dict.fromkeys(entry.module for entry in Root.entries.values()))


@dataclass(frozen=True)
class KitImports:
    """The kit modules a process holds: each one's source file with its (mtime_ns, size)."""

    files: dict[str, tuple[int, int]] = field(default_factory=dict)


def is_kit(name: str, packages: Sequence[str]) -> bool:
    """The module ``name`` belongs to one of the kit's ``packages``."""
    return name.partition(".")[0] in packages


def stamp(path: str) -> tuple[int, int] | None:
    """A source file's (mtime_ns, size); ``None`` when it cannot be read."""
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
        stamped = stamp(path) if is_kit(name, packages) and path else None
        if path and stamped is not None:
            files[path] = stamped
    return KitImports(files)


def import_core(modules: Sequence[str] | None = None, packages: Sequence[str] = PACKAGES) -> KitImports:
    """Import ``modules`` (default: :data:`CORE` and :func:`command_modules`) at the server's start; what is held
    then. A module that fails to import is left to the commands, which then report it as a cold command would.
    No modules: nothing held (every command imports the kit from disk)."""
    if modules is not None and not modules:
        return KitImports()
    module = "mlops.cli.main"
    try:
        for module in (*CORE, *command_modules()) if modules is None else modules:
            importlib.import_module(module)
    except Exception as exc:
        print(f"warm command server: {module} not imported ahead ({exc!r})", file=sys.stderr, flush=True)
        forget(packages)
        return KitImports()
    return held(packages)


def current(
    imported: KitImports, path: Sequence[str], packages: Sequence[str] = PACKAGES, *, main: str | None = None
) -> bool:
    """The kit modules held are what a cold interpreter on ``path`` would import now: each one recorded at import
    with its file unchanged since, every top-level package found where it was; and ``main``, the module this
    process is to run as ``__main__`` (``python -m``), not among them (runpy imports it afresh)."""
    if main is not None and main in sys.modules:
        return False
    held_any = False
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not is_kit(name, packages) or not file:
            continue
        held_any = True
        if file not in imported.files or stamp(file) != imported.files[file]:
            return False
        if "." not in name:
            found = PathFinder.find_spec(name, list(path))
            if found is None or found.origin != file:
                return False
    return held_any


def forget(packages: Sequence[str] = PACKAGES) -> None:
    """Drop every kit module held: the next import reads the kit from disk."""
    for name in [n for n in sys.modules if is_kit(n, packages)]:
        del sys.modules[name]
