"""Benchmark: the training job's model fits with OpenMP's defaults vs passive waits vs one thread per process.

    .venv/bin/python benchmarks/omp_wait.py [--rows 12000] [--repeat 1]

The local runtime runs its commands and entry points with ``OMP_NUM_THREADS=1`` (mlops.contracts.
LOCAL_THREAD_ENV; before: ``OMP_WAIT_POLICY=PASSIVE``). This runs the training entry point's grid search (the
default grid: four gradient-boosting fits, ``max_iter`` 200, sample weights, three categorical columns) on ``--rows``
synthetic rows in a fresh process per setting, on a quiet machine and next to one busy process (the emulator or a
Spark JVM working), and prints wall and CPU seconds side by side: baseline = OpenMP's defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

FITS = """
import json, sys, time
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
rows = int(sys.argv[1])
rng = np.random.default_rng(0)
x = rng.normal(size=(rows, 13))
x[:, :3] = rng.integers(0, 8, size=(rows, 3))
y = (x[:, 5] + rng.normal(size=rows) > 2.3).astype(int)
weights = rng.uniform(0.5, 1.5, rows)
wall, cpu = time.perf_counter(), time.process_time()
for rate in (0.05, 0.1):
    for leaves in (15, 31):
        HistGradientBoostingClassifier(
            categorical_features=[True] * 3 + [False] * 10, learning_rate=rate, max_leaf_nodes=leaves,
            max_iter=200, random_state=42,
        ).fit(x, y, sample_weight=weights)
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}))
"""
SETTINGS: dict[str, dict[str, str]] = {
    "default (baseline)": {},
    "PASSIVE waits": {"OMP_WAIT_POLICY": "PASSIVE"},
    "1 thread (local runtime)": {"OMP_NUM_THREADS": "1"},
}
BUSY = "while True: pass"


def run(rows: int, setting: dict[str, str]) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")} | setting
    done = subprocess.run([sys.executable, "-c", FITS, str(rows)], env=env, capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return figures


def measure(rows: int, repeat: int, busy: bool) -> dict[str, list[dict[str, float]]]:
    """Every setting ``repeat`` times, alternating; next to one spinning process when ``busy``."""
    hog = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
    try:
        results: dict[str, list[dict[str, float]]] = {name: [] for name in SETTINGS}
        for _ in range(repeat):
            for name, setting in SETTINGS.items():
                results[name].append(run(rows, setting))
        return results
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=12000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    quiet = measure(args.rows, args.repeat, busy=False)
    busy = measure(args.rows, args.repeat, busy=True)
    print(f"4 gradient-boosting fits on {args.rows} rows, {os.cpu_count()} cores (best of {args.repeat})")
    print(f"{'OpenMP':<26}{'quiet wall s':>13}{'CPU s':>8}{'busy wall s':>13}{'CPU s':>8}")
    for name in SETTINGS:
        q, b = quiet[name], busy[name]
        print(
            f"{name:<26}{min(r['wall'] for r in q):>13.2f}{min(r['cpu'] for r in q):>8.2f}"
            f"{min(r['wall'] for r in b):>13.2f}{min(r['cpu'] for r in b):>8.2f}"
        )


if __name__ == "__main__":
    main()
