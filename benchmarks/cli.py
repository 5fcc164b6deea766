"""Benchmark: start-up of every ``mlops`` command group - ``mlops <group> --help`` and a light real command.

    .venv/bin/python benchmarks/cli.py [--state-dir .mlops] [--repeat 5] [--groups root predict] [--payload FILE]

``--help`` measures what every command pays before doing anything (Python, the CLI's imports, help rendering).
The real commands run against a platform: by default a fresh one in a temporary state dir (``mlops local up``,
stopped at the end); with ``--state-dir`` the one there (e.g. after ``scripts/demo.sh``: then ``mlops predict``
scores on the running endpoint). Wall seconds, median of ``--repeat`` runs, next to the issue's targets
(``mlops --help`` <= 0.3 s, ``mlops predict`` <= 0.5 s) and to the bare interpreter start (``python -c pass``), the
floor no command can go under. ``--groups`` measures only the named groups (``root`` for ``mlops --help``), e.g. to
compare ``mlops predict`` before and after a change in a few seconds; ``--payload`` is the file ``mlops predict``
sends (default: one entity request of the demo's data, which needs the demo's features in the online store).
``--warm`` also runs each light command through the platform's warm command server (mlops/local/warm_cli.py) and
prints its wall time next to the cold run (the cold column is the baseline; a warm command's CPU is spent in the
server's forked child, so only wall time is comparable).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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


CPU: dict[str, float] = {}  # median CPU seconds (user + system) per command line, the figure load cannot inflate


def timed(argv: list[str], env: dict[str, str], repeat: int) -> tuple[float, int]:
    """Median wall seconds of ``argv`` over ``repeat`` runs, and the exit code of the last one (its median CPU
    seconds go to ``CPU``: on a shared machine the wall time is mostly waiting for a core)."""
    times, cpu, code = [], [], 0
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        code = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, timeout=300).returncode
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    CPU[" ".join(argv)] = statistics.median(cpu)
    return statistics.median(times), code


def request_file(state_dir: Path, tmp: Path) -> None:
    """One entity request for ``mlops predict`` (the first customer of the demo's data when present)."""
    customer = "c0"
    demo_csv = state_dir / "demo" / "transactions-q1.csv"
    if demo_csv.is_file():
        with demo_csv.open(newline="") as handle:  # the demo writes quoted fields
            customer = next(csv.DictReader(handle))["customer_id"]
    (tmp / "request.json").write_text(json.dumps({"dataframe_records": [{"customer_id": customer}]}))


@dataclass(frozen=True)
class Row:
    group: str
    help_s: float
    help_cpu: float
    command: str = "-"
    real_s: float | None = None
    real_cpu: float | None = None
    code: int | None = None
    warm_s: float | None = None


def wait_for_warm_server(state_dir: Path, timeout: float = 120.0) -> None:
    from mlops.local import warm_cli

    deadline = time.monotonic() + timeout
    while not warm_cli.answers(state_dir):
        if time.monotonic() > deadline:
            raise SystemExit(f"no warm command server answers for {state_dir}: was it started by `mlops local up`?")
        time.sleep(0.2)


def measure(
    state_dir: Path, tmp: Path, repeat: int, groups: list[str], payload: Path | None = None, *, warm: bool = False
) -> list[Row]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "AWS_"))}
    env.update({"MLOPS_STATE_DIR": str(state_dir), "MLOPS_CONFIG_FILE": str(tmp / "absent.yaml")})
    env["MLOPS_LOCAL_CLI__ENABLED"] = "false"  # the cold figures: each command imports its own libraries
    if warm:
        wait_for_warm_server(state_dir)
    request_file(state_dir, tmp)
    rows = []
    for group, default in LIGHT.items():
        if (group or "root") not in groups:
            continue
        light = ["predict", str(payload)] if group == "predict" and payload is not None else default
        help_argv = [MLOPS, *([group] if group else []), "--help"]
        help_s, _ = timed(help_argv, env, repeat)
        row = Row(group or "(root)", help_s, CPU[" ".join(help_argv)])
        if light is not None:
            argv = [MLOPS, *(a.replace("{tmp}", str(tmp)) for a in light)]
            real_s, code = timed(argv, env, repeat)
            cold_cpu = CPU[" ".join(argv)]
            warm_s = timed(argv, {**env, "MLOPS_LOCAL_CLI__ENABLED": "true"}, repeat)[0] if warm else None
            command = "mlops " + " ".join(light).replace("{tmp}/", "")
            row = Row(row.group, help_s, row.help_cpu, command, real_s, cold_cpu, code, warm_s)
        rows.append(row)
    return rows


def table(rows: list[Row], floor: float, floor_cpu: float) -> str:
    lines = [
        f"mlops start-up, seconds (median): wall and CPU (user+system, what load cannot inflate); "
        f"`python -c pass` = {floor:.2f}s wall, {floor_cpu:.2f}s CPU; load 1-min avg {os.getloadavg()[0]:.1f}",
        f"{'group':<10} {'--help':>7} {'cpu':>5} {'target':>7}  {'light real command':<52} {'wall':>6} {'cpu':>5} "
        f"{'exit':>4} {'warm wall':>9}",
    ]
    for r in rows:
        target = TARGETS.get("" if r.group == "(root)" else r.group)
        mark = f"{target:>7.1f}" if target is not None and r.group != "predict" else f"{'':>7}"
        real = (
            f"{r.real_s:>6.2f} {r.real_cpu:>5.2f}"
            if r.real_s is not None and r.real_cpu is not None
            else "     -     -"
        )
        if r.group == "predict" and target is not None:
            real += f" (target {target})"
        code = "-" if r.code is None else str(r.code)
        warm = f"{r.warm_s:>9.2f}" if r.warm_s is not None else f"{'-':>9}"
        lines.append(
            f"{r.group:<10} {r.help_s:>7.2f} {r.help_cpu:>5.2f} {mark}  {r.command:<52} {real} {code:>4} {warm}"
        )
    lines.append("exit: 1 where the platform lacks what the command reads (no endpoint deployed, no model registered)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, help="Use the platform there (default: a fresh temporary one).")
    parser.add_argument("--repeat", type=int, default=5)
    names = [group or "root" for group in LIGHT]
    parser.add_argument("--groups", nargs="+", choices=names, default=names, help="Measure only these groups.")
    parser.add_argument("--payload", type=Path, help="The file `mlops predict` sends (its suffix names its type).")
    parser.add_argument("--warm", action="store_true", help="Also time each light command warm (see above).")
    args = parser.parse_args()
    payload = args.payload.resolve() if args.payload else None
    floor_argv = [sys.executable, "-c", "pass"]
    floor, _ = timed(floor_argv, dict(os.environ), args.repeat)
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as name:
        tmp = Path(name)
        if args.state_dir:
            rows = measure(args.state_dir.resolve(), tmp, args.repeat, args.groups, payload, warm=args.warm)
        else:
            state_dir = tmp / "state"
            env = {**os.environ, "MLOPS_STATE_DIR": str(state_dir), "MLOPS_LOCAL_SPARK__ENABLED": "false"}
            subprocess.run([MLOPS, "local", "up"], env=env, cwd=REPO, check=True, capture_output=True, timeout=600)
            try:
                rows = measure(state_dir, tmp, args.repeat, args.groups, payload, warm=args.warm)
            finally:
                subprocess.run([MLOPS, "local", "down"], env=env, cwd=REPO, capture_output=True, timeout=120)
    print(table(rows, floor, CPU[" ".join(floor_argv)]))


if __name__ == "__main__":
    main()
