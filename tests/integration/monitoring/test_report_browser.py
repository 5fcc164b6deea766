"""The monitoring run's HTML report in a real headless browser (Debian's chromium): it loads with no console
error, every feature has its plot with bars drawn, and a screenshot is saved (kept in pytest's tmp directory and,
when ``TEST_ARTIFACTS_DIR`` names a directory, copied there).

Locally the test skips when chromium is not installed; in CI (``CI`` set) chromium is required
(``scripts/bootstrap.sh`` installs it) and its absence fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from monitoring.modelmonitor.checks import check
from monitoring.modelmonitor.constraints import suggest_constraints
from monitoring.modelmonitor.job import drift_document
from monitoring.modelmonitor.statistics import dataset_statistics
from monitoring.report_html import render_run_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FEATURES = ("amount", "count", "category", "hour_of_day")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
)
CONSOLE = re.compile(r"CONSOLE\(\d+\)|Uncaught|ERROR:.*(console|javascript)", re.IGNORECASE)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium is not installed here (apt-get install -y chromium; scripts/bootstrap.sh installs it)",
)


def _frame(rows: int, seed: int, scale: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3.0, 0.5, rows) * scale,
            "count": rng.integers(0, 10, rows),
            "category": rng.choice(["a", "b", "c"], rows),
            "hour_of_day": rng.integers(0, 24, rows),
        }
    )


def _report() -> str:
    statistics = dataset_statistics(_frame(3000, 1, 1.0), FEATURES, ("category",))
    constraints = suggest_constraints(statistics)
    result = check(_frame(600, 2, 1.8), statistics, constraints, exclude_from_drift=("hour_of_day",))
    meta = {
        "dataset": "browser_unit",
        "source": "endpoint",
        "rows": 600,
        "input": "memory://monitoring/data-capture/endpoint",
        "model_version": 3,
        "generated_at": datetime(2026, 3, 1, 12, tzinfo=UTC).isoformat(),
    }
    windows = [
        {"end": f"2026-03-0{i}T00:00:00", "value": v, "low": v - 0.05, "high": v + 0.05}
        for i, v in enumerate((0.62, 0.6, 0.58, 0.41), start=1)
    ]
    history: list[dict[str, Any]] = [
        {"kind": "drift", "generated_at": f"2026-02-2{i}T00:00:00", "drift_score": s}
        for i, s in enumerate((0.0, 0.0, 0.25))
    ]
    history.append(
        {"kind": "quality", "windows": windows, "validation_metric": 0.62, "threshold": 0.05, "metric": "pr_auc"}
    )
    return render_run_report(
        drift_document(result, meta), result.violations_json(), statistics, result.statistics, history
    )


def _chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None, "chromium is required in CI: scripts/bootstrap.sh installs it"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


def test_the_report_loads_clean_plots_every_feature_and_is_screenshotted(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(_report())
    assert "<script" not in page.read_text() and "http://" not in page.read_text().replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    ), "the page must be self-contained"

    dom = _chromium(page, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert _console_errors(dom.stderr) == []
    for feature in FEATURES:
        figure = re.search(rf'<figure class="feature-plot" id="plot-{feature}".*?</figure>', dom.stdout, re.DOTALL)
        assert figure is not None, f"no plot of {feature} in the rendered page"
        assert figure.group(0).count("<rect") >= 4, f"the plot of {feature} draws no bars"
    assert 'id="drift-table"' in dom.stdout and 'id="violations"' in dom.stdout
    assert dom.stdout.count('class="series"') == 2  # drift over runs, quality with its interval

    shot = tmp_path / "report.png"
    taken = _chromium(page, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,2400")
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert _console_errors(taken.stderr) == []
    with Image.open(shot) as image:
        assert image.size == (1280, 2400)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 20, "the screenshot is blank"
    keep = os.environ.get("TEST_ARTIFACTS_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "monitoring-report.png")


def test_a_console_error_is_seen(tmp_path: Path) -> None:
    """The console check catches a failing script: without this, a page that errors could pass."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>")
    result = _chromium(page, tmp_path / "profile", "--dump-dom")
    assert _console_errors(result.stderr), result.stderr[-2000:]
