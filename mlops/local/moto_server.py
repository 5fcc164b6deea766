"""The embedded emulator's process: moto's server, run after :mod:`mlops.local.moto_fixes` made the costs that
grow with the stored data proportional to each request. ``python -m mlops.local.moto_server -H HOST -p PORT``
takes moto's own arguments (``python -m moto.server --help``)."""

from __future__ import annotations

import importlib
import sys
import threading

from mlops.local import moto_fixes

# moto imports a service on its first request. EC2's is the largest (1.5-2 s of CPU): every stack's apply starts
# with its network, so it is imported while the server starts and its first client gets going.
PRELOADED = ("moto.ec2.urls",)


def preload(modules: tuple[str, ...] = PRELOADED) -> threading.Thread:
    """Import ``modules`` on a thread of their own; a request that needs one meanwhile waits for its import."""
    thread = threading.Thread(target=_import_all, args=(modules,), name="moto-preload", daemon=True)
    thread.start()
    return thread


def _import_all(modules: tuple[str, ...]) -> None:
    for module in modules:
        importlib.import_module(module)


def main(argv: list[str]) -> None:
    moto_fixes.apply()
    from moto.server import main as serve

    preload()
    serve(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
