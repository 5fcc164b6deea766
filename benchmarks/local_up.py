"""Benchmark ``mlops local up``: from no emulator running to every resource applied and outputs written, then a
re-run against the same emulator. Target: the first ``up`` in 15 s or less on a 2-core machine.

Runs the real CLI in a subprocess (so import costs count, as they do for a user) against a fresh state dir,
then stops the emulator it started by PID (``mlops local down``).

    .venv/bin/python benchmarks/local_up.py [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 15.0


def _mlops(state_dir: Path, *args: str) -> tuple[float, dict[str, Any]]:
    env = {**os.environ, "MLOPS_STATE_DIR": str(state_dir), "MLOPS_TARGET": "moto", "MLOPS_STACK": "local"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "mlops.cli", "local", *args, "--json"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"mlops local {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


def run_once(label: str) -> list[dict[str, Any]]:
    """First ``up`` (emulator start + apply) then a second ``up`` in one fresh state dir."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        state_dir = Path(tmp) / ".mlops"
        try:
            for phase in ("first up", "second up"):
                seconds, payload = _mlops(state_dir, "up")
                apply = payload["apply"]
                rows.append(
                    {
                        "run": label,
                        "phase": phase,
                        "emulator": payload["emulator"],
                        "resources": apply["resources"],
                        "created": apply["counts"]["created"],
                        "reused": apply["counts"]["reused"],
                        "updated": apply["counts"]["updated"],
                        "apply_s": apply["seconds"],
                        "wall_s": round(seconds, 2),
                    }
                )
        finally:
            _mlops(state_dir, "down")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=1, help="How many fresh first/second pairs to measure.")
    args = parser.parse_args()
    rows = [row for run in range(args.runs) for row in run_once(str(run + 1))]
    print(
        f"{'run':>3} {'phase':<10} {'emulator':<8} {'resources':>9} {'created':>7} {'reused':>6} "
        f"{'apply s':>7} {'wall s':>6}"
    )
    for row in rows:
        print(
            f"{row['run']:>3} {row['phase']:<10} {row['emulator']:<8} {row['resources']:>9} {row['created']:>7} "
            f"{row['reused']:>6} {row['apply_s']:>7.2f} {row['wall_s']:>6.2f}"
        )
    worst_first = max(row["wall_s"] for row in rows if row["phase"] == "first up")
    verdict = "within" if worst_first <= TARGET_S else "OVER"
    print(f"slowest first up: {worst_first:.2f}s ({verdict} the {TARGET_S:.0f}s target); cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
