"""The local Glue runner's child-process handling: no emulator needed."""

from __future__ import annotations

import sys
from pathlib import Path

from mlops.layout import job_run_key
from mlops.local.glue_runner import _state_of
from mlops.local.job_process import error_of as _error_of
from mlops.local.job_process import run_script as _run_script


def _env(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}


def test_a_script_past_its_timeout_is_killed_and_reported_as_timed_out(tmp_path: Path) -> None:
    script = "import time; print('working', flush=True); time.sleep(30)"
    lines: list[str] = []
    outcome = _run_script([sys.executable, "-c", script], _env(tmp_path), 0.5, lines.append)
    assert lines == ["working"]
    assert outcome.tail == ["working"]
    assert outcome.timed_out
    assert outcome.exit_code != 0
    assert _error_of(outcome, 0.5) == "the job ran past its Timeout of 0.5 s and was stopped (last line: 'working')"
    assert _state_of(outcome) == "TIMEOUT"  # Glue's state for a run its Timeout stopped


def test_a_failing_script_reports_its_last_line(tmp_path: Path) -> None:
    script = "import sys; print('step 1'); print('ValueError: bad row 7'); sys.exit(3)"
    outcome = _run_script([sys.executable, "-c", script], _env(tmp_path), 30, lambda _line: None)
    assert (outcome.exit_code, outcome.timed_out) == (3, False)
    assert _error_of(outcome, 30) == "ValueError: bad row 7"
    assert _state_of(outcome) == "FAILED"


def test_a_silent_failure_names_the_exit_status(tmp_path: Path) -> None:
    outcome = _run_script([sys.executable, "-c", "raise SystemExit(4)"], _env(tmp_path), None, lambda _line: None)
    assert _error_of(outcome, None) == "the script exited with status 4 without output"


def test_run_records_are_kept_per_job_and_run() -> None:
    assert job_run_key("kit-local-curate", "jr_abc") == "glue-runs/kit-local-curate/jr_abc.json"
