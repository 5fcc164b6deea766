"""The demo's timing table: each step's wall time, the slowest ``mlops`` commands, the total (scripts/demo.sh).

    python scripts/demo_timings.py TIMINGS_TSV DEMO_START DEMO_END EXIT_STATUS JSON(true|false) JSON_FILE

``TIMINGS_TSV`` holds one line per step and per command: ``kind<TAB>start<TAB>end<TAB>name`` (epoch seconds).
The table goes to stderr; with JSON ``true`` the same figures go to stdout as one JSON object (last line), and
always to ``JSON_FILE``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SLOWEST = 10


def read(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_text().splitlines():
        kind, start, end, name = line.split("\t", 3)
        rows.append({"kind": kind, "name": name, "seconds": round(float(end) - float(start), 2)})
    return rows


def figures(rows: list[dict[str, Any]], total: float, status: int) -> dict[str, Any]:
    steps = [{"step": r["name"], "seconds": r["seconds"]} for r in rows if r["kind"] == "step"]
    commands = [{"command": r["name"], "seconds": r["seconds"]} for r in rows if r["kind"] == "command"]
    return {
        "total_seconds": round(total, 2),
        "exit_status": status,
        "steps": steps,
        "commands": len(commands),
        "commands_seconds": round(sum(c["seconds"] for c in commands), 2),
        "slowest_commands": sorted(commands, key=lambda c: -c["seconds"])[:SLOWEST],
    }


def table(result: dict[str, Any]) -> str:
    width = max([len(s["step"][:70]) for s in result["steps"]] + [20])
    lines = ["", f"{'step':<{width}} {'seconds':>8}"]
    lines += [f"{s['step'][:70]:<{width}} {s['seconds']:>8.1f}" for s in result["steps"]]
    lines.append(
        f"{'total' + ('' if result['exit_status'] == 0 else ' (FAILED)'):<{width}} {result['total_seconds']:>8.1f}"
    )
    lines.append(f"\n{result['commands']} mlops commands, {result['commands_seconds']:.1f}s; the slowest:")
    lines += [f"  {c['seconds']:>6.1f}  {c['command'][:110]}" for c in result["slowest_commands"]]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    tsv, start, end, status, as_json, json_file = argv[1:7]
    result = figures(read(Path(tsv)), float(end) - float(start), int(status))
    print(table(result), file=sys.stderr)
    Path(json_file).write_text(json.dumps(result, indent=2) + "\n")
    if as_json == "true":
        print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv)
