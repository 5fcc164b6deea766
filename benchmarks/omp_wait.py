"""Benchmark: the training job's model fits with OpenMP's default (spinning) waits vs passive waits.

    .venv/bin/python benchmarks/omp_wait.py [--rows 12000] [--repeat 1]

The local runtime sets ``OMP_WAIT_POLICY=PASSIVE`` for its commands and entry points (mlops.contracts.
LOCAL_THREAD_ENV). This runs the training entry point's grid search (the default grid: four gradient-boosting
fits, ``max_iter`` 200, sample weights, three categorical columns) on ``--rows`` synthetic rows in a fresh
process per policy, alternating, and prints wall and CPU seconds side by side: baseline = OpenMP's default.
On a 2-core machine shared with the emulator and a Spark JVM, spinning threads take the cores the others need.
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
POLICIES = {"default (baseline)": None, "PASSIVE (local runtime)": "PASSIVE"}


def run(rows: int, policy: str | None) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    done = subprocess.run([sys.executable, "-c", FITS, str(rows)], env=env, capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=12000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in POLICIES}
    for _ in range(args.repeat):
        for name, policy in POLICIES.items():
            results[name].append(run(args.rows, policy))
    print(f"4 gradient-boosting fits on {args.rows} rows, {os.cpu_count()} cores (best of {args.repeat})")
    print(f"{'OpenMP waits':<26}{'wall s':>9}{'CPU s':>9}")
    for name, runs in results.items():
        print(f"{name:<26}{min(r['wall'] for r in runs):>9.1f}{min(r['cpu'] for r in runs):>9.1f}")


if __name__ == "__main__":
    main()
