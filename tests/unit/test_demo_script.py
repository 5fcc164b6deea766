"""scripts/demo.sh's order and its background parts, run with a stand-in ``mlops`` that records each command.

The batch inference runs in the background beside the deploy, and ends before monitoring reads its predictions;
the stream step, beside the second quarter's batch step, its consumer seeded from the curated version the first
quarter's curate recorded; the diabetes pipeline, beside the card steps that follow the card's last Glue job run.
No two job runs may overlap (the stack's Glue jobs take one run at a time), a failure of either side fails the
demo, and a demo that fails first stops the background part and its running command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]

# The stand-in: logs "start|end <pid> <args>", writes the file an `--out` names (a CSV with a customer), prints a
# curate run's record for `--json`; fails, hangs or takes a second when its arguments begin with $FAKE_FAIL,
# $FAKE_HANG or $FAKE_SLOW. A failing command first waits for a hanging one to have started, so the "demo fails
# while the background pipeline runs" case does not depend on timing.
FAKE_MLOPS = """#!/usr/bin/env bash
args="$*"
echo "start $$ $args" >> "$FAKE_LOG"
previous=""
for arg in "$@"; do
    if [ "$previous" = "--out" ]; then printf 'customer_id\\nc-1\\n' > "$arg"; fi
    previous="$arg"
done
if [ -n "${FAKE_HANG:-}" ] && [[ "$args" == "$FAKE_HANG"* ]]; then
    echo $$ > "$FAKE_HANG_PID"
    exec sleep 60
fi
if [ -n "${FAKE_FAIL:-}" ] && [[ "$args" == "$FAKE_FAIL"* ]]; then
    for _ in $(seq 200); do [ -n "${FAKE_HANG:-}" ] && [ ! -s "$FAKE_HANG_PID" ] && sleep 0.05; done
    echo "stand-in failure of: $args" >&2
    exit 3
fi
if [[ "$args" == "job run curate"*"--json"* ]]; then echo '{"counts": {"table_version": 4}}'; fi
if [ -n "${FAKE_SLOW:-}" ] && [[ "$args" == "$FAKE_SLOW"* ]]; then sleep 1; fi
sleep 0.02
echo "end $$ $args" >> "$FAKE_LOG"
"""


def _demo(tmp_path: Path, **fake: str) -> tuple[subprocess.CompletedProcess[str], list[tuple[str, str]]]:
    """Run a copy of scripts/demo.sh whose set-up does nothing and whose ``mlops`` is the stand-in."""
    scripts, bin_dir = tmp_path / "scripts", tmp_path / "bin"
    scripts.mkdir()
    bin_dir.mkdir()
    for name in ("demo.sh", "demo_timings.py"):
        shutil.copy(ROOT / "scripts" / name, scripts / name)
    (scripts / "bootstrap.sh").write_text("# the tools are in place\n")
    (bin_dir / "mlops").write_text(FAKE_MLOPS)
    (bin_dir / "mlops").chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    log = tmp_path / "commands.log"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "MLOPS_STATE_DIR": str(tmp_path / "state"),
        "FAKE_LOG": str(log),
        "FAKE_HANG_PID": str(tmp_path / "hanging.pid"),
        **{f"FAKE_{key.upper()}": value for key, value in fake.items()},
    }
    done = subprocess.run(
        ["bash", str(scripts / "demo.sh")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    lines = (line.split(" ", 2) for line in log.read_text().splitlines())
    return done, [(kind, args) for kind, _pid, args in lines]


def _of(dataset: str, args: str) -> bool:
    """The command works on ``dataset`` (a word of its arguments; paths may hold the name too)."""
    return any(token in (dataset, f"dataset={dataset}") for token in args.split())


def test_the_diabetes_pipeline_starts_after_the_last_card_job_run_and_no_job_runs_overlap(tmp_path: Path) -> None:
    done, events = _demo(tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    started = [args for kind, args in events if kind == "start"]
    assert "batch-predict diabetes" in started and "monitor alarms --evaluate" in started
    running: set[str] = set()
    for kind, args in events:  # in the order they happened
        if args.startswith("job run"):
            assert kind == "end" or not running, f"{args} started while {running} ran"
            (running.add if kind == "start" else running.discard)(args)
    last_card_job = max(
        i
        for i, (kind, args) in enumerate(events)
        if kind == "end" and _of("card_transactions", args) and args.startswith("job run")
    )
    first_diabetes = min(i for i, (_, args) in enumerate(events) if _of("diabetes", args))
    assert first_diabetes > last_card_job
    out = done.stdout
    assert out.index("==> Diabetes") < out.index("==> Done"), "its output is shown before the demo ends"


def test_a_failed_background_pipeline_fails_the_demo_and_shows_its_output(tmp_path: Path) -> None:
    done, events = _demo(tmp_path, fail="train run diabetes")
    assert done.returncode != 0
    assert "the diabetes pipeline failed (exit 3)" in done.stderr
    assert "stand-in failure of: train run diabetes" in done.stdout  # its log, shown
    started = [args for kind, args in events if kind == "start"]
    assert "batch-predict diabetes" not in started, "the pipeline stopped at its failed command"
    assert "monitor alarms --evaluate" in started, "the card steps went on meanwhile"
    assert "==> Done" not in done.stdout


def test_a_demo_failing_first_stops_the_background_pipeline_and_its_command(tmp_path: Path) -> None:
    started = time.monotonic()
    done, events = _demo(tmp_path, hang="data generate diabetes", fail="monitor drift")
    assert done.returncode != 0
    assert time.monotonic() - started < 60, "the demo did not wait for the hanging command"
    assert "the diabetes pipeline was stopped" in done.stderr
    hanging = int((tmp_path / "hanging.pid").read_text())
    with pytest.raises(psutil.NoSuchProcess):
        process = psutil.Process(hanging)
        if process.status() == psutil.STATUS_ZOMBIE:  # killed, not yet reaped by whoever adopted it
            raise psutil.NoSuchProcess(hanging)
    assert not any(_of("diabetes", args) for kind, args in events if kind == "start" and "generate" not in args)


def test_the_stream_runs_beside_the_second_batch_seeded_from_the_first_quarters_curated_version(
    tmp_path: Path,
) -> None:
    done, order = _demo(tmp_path, slow="stream consume")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    consume = "stream consume card_transactions --seed-from-curated --seed-version 4 --idle-seconds 2"
    second_quarter = str(tmp_path / "state" / "demo" / "transactions-q2.parquet")
    batch_started = order.index(("start", f"data ingest card_transactions {second_quarter}"))
    assert batch_started < order.index(("end", consume)), "the batch runs while the stream is consumed"
    first_diabetes = min(i for i, (_, args) in enumerate(order) if _of("diabetes", args))
    assert first_diabetes > order.index(("end", consume)), "one background part at a time"
    out = done.stdout
    assert out.index("==> The same quarter as events on Kinesis") < out.index("==> Monitoring")


def test_a_failed_stream_step_fails_the_demo(tmp_path: Path) -> None:
    done, events = _demo(tmp_path, fail="stream consume")
    assert done.returncode != 0
    assert "the stream step failed (exit 3)" in done.stderr
    assert "stand-in failure of: stream consume" in done.stdout
    assert not any(_of("diabetes", args) for _, args in events)


def test_the_batch_inference_runs_beside_the_deploy_and_ends_before_monitoring_reads_its_predictions(
    tmp_path: Path,
) -> None:
    done, order = _demo(tmp_path, slow="batch-predict card_transactions")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    scored = order.index(("end", "batch-predict card_transactions"))
    assert order.index(("start", "deploy card_transactions")) < scored, "the deploy runs while the batch is scored"
    assert order.index(("start", "monitor performance card_transactions")) > scored
    first_stream = min(i for i, (_, args) in enumerate(order) if args.startswith("stream "))
    assert first_stream > scored, "one background part at a time"
    out = done.stdout
    assert out.index("==> Batch inference") < out.index("==> The same quarter as a batch")


def test_each_step_has_one_row_in_the_timings_with_the_background_parts_own(tmp_path: Path) -> None:
    """A step the main shell ends before a background part starts is not ended again by the next step."""
    done, _order = _demo(tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    timings = (tmp_path / "state" / "demo" / "timings.tsv").read_text().splitlines()
    steps = [line.split("\t")[3] for line in timings if line.startswith("step\t")]
    assert len(steps) == len(set(steps)), sorted(step for step in steps if steps.count(step) > 1)
    assert any(step.startswith("Batch inference") for step in steps)  # a background part's own row


def test_a_platform_an_earlier_run_left_up_is_stopped_before_the_demo_provisions_its_own(tmp_path: Path) -> None:
    done, events = _demo(tmp_path)
    first = [args for kind, args in events if kind == "start"][:1]
    assert first == ["local up"], "nothing earlier: the demo provisions first"

    again = tmp_path / "again"
    (again / "state" / "emulator").mkdir(parents=True)
    (again / "state" / "emulator" / "state.json").write_text("{}")  # what `mlops local up` leaves while it runs
    done, events = _demo(again, fail="endpoint stop")  # that run ended before its deploy: nothing to stop
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    started = [args for kind, args in events if kind == "start"]
    assert started[:3] == ["endpoint stop", "local down", "local up"]
    assert "==> An earlier run's platform is up" in done.stdout
