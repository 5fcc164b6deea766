"""Benchmark: start-up of every ``mlops`` command group - ``mlops <group> --help`` and a light real command.

    .venv/bin/python benchmarks/cli.py [--state-dir .mlops] [--repeat 5]

``--help`` measures what every command pays before doing anything (Python, the CLI's imports, help rendering).
The real commands run against a platform: by default a fresh one in a temporary state dir (``mlops local up``,
stopped at the end); with ``--state-dir`` the one there (e.g. after ``scripts/demo.sh``: then ``mlops predict``
scores on the running endpoint). Wall seconds, median of ``--repeat`` runs, next to the issue's targets
(``mlops --help`` <= 0.3 s, ``mlops predict`` <= 0.5 s) and to the bare interpreter start (``python -c pass``), the
floor no command can go under.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MLOPS = str(Path(sys.executable).parent / "mlops")

# group -> a light real command of it (None: every command of the group does heavy work by design).
LIGHT: dict[str, list[str] | None] = {
    "": None,
    "local": ["local", "status", "--json"],
    "infra": None,
    "job": None,
    "data": ["data", "generate", "card_transactions", "--rows", "100", "--out", "{tmp}/rows.csv"],
    "features": None,
    "train": None,
    "model": ["model", "list", "card_transactions"],
    "mlflow": None,
    "endpoint": ["endpoint", "status"],
    "predict": ["predict", "{tmp}/request.json"],
    "monitor": ["monitor", "alarms"],
    "stream": None,
    "release": None,
}
TARGETS = {"": 0.3, "predict": 0.5}


def timed(argv: list[str], env: dict[str, str], repeat: int) -> tuple[float, int]:
    """Median wall seconds of ``argv`` over ``repeat`` runs, and the exit code of the last one."""
    times, code = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        code = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, timeout=300).returncode
        times.append(time.perf_counter() - started)
    return statistics.median(times), code


def request_file(state_dir: Path, tmp: Path) -> None:
    """One entity request for ``mlops predict`` (the first customer of the demo's data when present)."""
    customer = "c0"
    demo_csv = state_dir / "demo" / "transactions-q1.csv"
    if demo_csv.is_file():
        with demo_csv.open() as handle:
            header = handle.readline().strip().split(",")
            customer = handle.readline().strip().split(",")[header.index("customer_id")]
    (tmp / "request.json").write_text(json.dumps({"dataframe_records": [{"customer_id": customer}]}))


def measure(state_dir: Path, tmp: Path, repeat: int) -> list[tuple[str, float, str, float | None, int | None]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "AWS_"))}
    env.update({"MLOPS_STATE_DIR": str(state_dir), "MLOPS_CONFIG_FILE": str(tmp / "absent.yaml")})
    request_file(state_dir, tmp)
    rows = []
    for group, light in LIGHT.items():
        help_argv = [MLOPS, *([group] if group and group != "predict" else []), "--help"]
        if group == "predict":
            help_argv = [MLOPS, "predict", "--help"]
        help_s, _ = timed(help_argv, env, repeat)
        command, real_s, code = "-", None, None
        if light is not None:
            argv = [a.replace("{tmp}", str(tmp)) for a in light]
            real_s, code = timed([MLOPS, *argv], env, repeat)
            command = "mlops " + " ".join(light).replace("{tmp}/", "")
        rows.append((group or "(root)", help_s, command, real_s, code))
    return rows


def table(rows: list[tuple[str, float, str, float | None, int | None]], floor: float) -> str:
    lines = [
        f"mlops start-up, wall seconds (median); `python -c pass` = {floor:.2f}s; "
        f"load 1-min avg {os.getloadavg()[0]:.1f}",
        f"{'group':<10} {'--help':>7} {'target':>7}  {'light real command':<52} {'wall':>6} {'exit':>4}",
    ]
    for group, help_s, command, real_s, code in rows:
        target = TARGETS.get("" if group == "(root)" else group)
        mark = f"{target:>7.1f}" if target is not None and group != "predict" else f"{'':>7}"
        real = f"{real_s:>6.2f}" if real_s is not None else f"{'-':>6}"
        if group == "predict" and target is not None:
            real += f" (target {target})"
        lines.append(f"{group:<10} {help_s:>7.2f} {mark}  {command:<52} {real} {code if code is not None else '-':>4}")
    lines.append("exit: 1 where the platform lacks what the command reads (no endpoint deployed, no model registered)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, help="Use the platform there (default: a fresh temporary one).")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    floor, _ = timed([sys.executable, "-c", "pass"], dict(os.environ), args.repeat)
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as name:
        tmp = Path(name)
        if args.state_dir:
            rows = measure(args.state_dir.resolve(), tmp, args.repeat)
        else:
            state_dir = tmp / "state"
            env = {**os.environ, "MLOPS_STATE_DIR": str(state_dir), "MLOPS_LOCAL_SPARK__ENABLED": "false"}
            subprocess.run([MLOPS, "local", "up"], env=env, cwd=REPO, check=True, capture_output=True, timeout=600)
            try:
                rows = measure(state_dir, tmp, args.repeat)
            finally:
                subprocess.run([MLOPS, "local", "down"], env=env, cwd=REPO, capture_output=True, timeout=120)
    print(table(rows, floor))


if __name__ == "__main__":
    main()
