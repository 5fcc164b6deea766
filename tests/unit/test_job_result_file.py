"""A job's result file is whole or absent: the local runner may stop the job as soon as it sees the result line
(an interrupt), and a file cut short used to fail the runner's read (JSONDecodeError) instead of the interrupt."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from jobs import _runtime
from mlops.contracts import JOB_RESULT_FILE_ENV


def test_a_report_stopped_before_it_completes_leaves_no_result_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = tmp_path / "result.json"
    monkeypatch.setenv(JOB_RESULT_FILE_ENV, str(result))

    def stopped(*_args: object) -> None:
        raise KeyboardInterrupt  # the runner's stop lands before the file is complete

    monkeypatch.setattr(os, "replace", stopped)
    with pytest.raises(KeyboardInterrupt):
        _runtime.report({"rows": 3})
    assert not result.exists()


def test_a_completed_report_is_the_whole_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = tmp_path / "result.json"
    monkeypatch.setenv(JOB_RESULT_FILE_ENV, str(result))
    _runtime.report({"rows": 3, "table": "t"})
    assert json.loads(result.read_text()) == {"rows": 3, "table": "t"}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]
