"""The code version a training run records (its git commit): the launcher passes it as the pipeline's
``CodeVersion`` parameter, because the container that registers the model has no checkout to ask."""

from __future__ import annotations

import subprocess
from pathlib import Path


def code_version(repo: Path | None = None) -> str:
    """The git commit of the code that trains (``unknown`` outside a git checkout)."""
    where = repo or Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha or "unknown"
