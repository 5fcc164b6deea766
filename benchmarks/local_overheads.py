"""Benchmark: four per-call costs of the local platform, each beside what it replaced, in one run (CPU seconds of
this process, or of a forked child where the cost is the child's).

    .venv/bin/python -m benchmarks.local_overheads [--repeat 20]

1. Loopback HTTP (a health poll): ``httpx.get`` (a new client, the CA bundle loaded, per call) vs
   :mod:`mlops.local.loopback` (one client per process), against a refused port, as a poll of a starting server;
2. a new MLflow sqlite store: MLflow's own initialisation (tables, then every migration) vs a copy of the migrated
   template (:mod:`mlops.registry.sqlite_store`), each opened by an ``MlflowClient`` that lists its experiments;
3. the full garbage collection a forked process runs (every model server at start) after the warm command server's
   imports: without vs with ``gc.freeze`` in the server before the fork (``warm_python.preload``);
4. the module listing moto's server makes on every request (``list_of_moto_modules``) vs the listing kept once
   (``mlops.local.moto_fixes``).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def per_call(function: Callable[[], object], repeat: int) -> float:
    """Mean CPU milliseconds of ``function`` over ``repeat`` calls (one call first, not counted)."""
    function()
    started = cpu()
    for _ in range(repeat):
        function()
    return (cpu() - started) / repeat * 1000


def loopback_polls(repeat: int) -> tuple[float, float]:
    import httpx

    from mlops.local import loopback

    def poll(get: Callable[..., object]) -> Callable[[], object]:
        def once() -> object:
            try:
                return get("http://127.0.0.1:9/ping", timeout=0.5)
            except httpx.HTTPError:
                return None

        return once

    return per_call(poll(httpx.get), repeat), per_call(poll(loopback.get), repeat)


def new_stores(repeat: int) -> tuple[float, float]:
    from mlflow import MlflowClient

    from mlops.registry import sqlite_store

    sqlite_store.template()  # made once per MLflow version (in the cache when it can be written)
    directory = Path(tempfile.mkdtemp(prefix="mlops-bench-"))
    count = iter(range(10**6))

    def open_store(prepare: Callable[[Path], None]) -> Callable[[], object]:
        def once() -> object:
            database = directory / f"{next(count)}.db"
            prepare(database)
            return MlflowClient(tracking_uri=f"sqlite:///{database}").search_experiments()

        return once

    runs = max(3, repeat // 4)
    return per_call(open_store(lambda _: None), runs), per_call(open_store(sqlite_store.create_store), runs)


def forked_collection(frozen: bool) -> float:
    """CPU ms of one full collection in a child forked after the command server's imports."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        started = cpu()
        gc.collect()
        os.write(write, f"{(cpu() - started) * 1000:.1f}".encode())
        os._exit(0)
    os.close(write)
    answer = os.read(read, 32)
    os.close(read)
    os.waitpid(pid, 0)
    if frozen:
        gc.unfreeze()
    return float(answer)


def collections_after_imports() -> tuple[float, float, int]:
    from mlops.local.warm_cli import PRELOAD_EXTRA
    from mlops.local.warm_python import PRELOAD, preload

    preload([*PRELOAD, *PRELOAD_EXTRA])  # imports, then collects and freezes (the server's way)
    objects = gc.get_freeze_count()
    gc.unfreeze()
    unfrozen = forked_collection(frozen=False)
    gc.freeze()
    return unfrozen, forked_collection(frozen=True), objects


def moto_listing(repeat: int) -> tuple[float, float]:
    from moto import backends

    from mlops.local import moto_fixes

    motos = moto_fixes.original(backends, "list_of_moto_modules")
    return (
        per_call(lambda: "127.0.0.1:5000" in motos(), repeat * 10),
        per_call(lambda: "127.0.0.1:5000" in moto_fixes.moto_modules(), repeat * 10),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    repeat = parser.parse_args().repeat
    rows = [
        ("health poll (CPU ms per call)", "httpx.get", "loopback.get", *loopback_polls(repeat)),
        ("new MLflow sqlite store (CPU ms)", "MLflow migrates", "template copy", *new_stores(repeat)),
    ]
    unfrozen, frozen, objects = collections_after_imports()
    rows.append((f"forked full gc, {objects:,} preloaded objects (ms)", "not frozen", "gc.freeze", unfrozen, frozen))
    rows.append(("moto module listing per request (CPU ms)", "moto", "listed once", *moto_listing(repeat)))
    print(f"{'cost':<50} {'baseline':>16} {'':>9} {'kit':>14} {'':>9} {'ratio':>8}")
    for name, base_name, kit_name, base, kit in rows:
        ratio = f"{base / kit:,.0f}x" if kit > 0 else "inf"
        print(f"{name:<50} {base_name:>16} {base:9.2f} {kit_name:>14} {kit:9.2f} {ratio:>8}")
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"(measured {started}, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
