"""Errors of the release tooling; each names the image, stack, tool or file at fault."""

from __future__ import annotations

from mlops.errors import MlopsError


class ReleaseError(MlopsError):
    """A release step (image context, wheel, preview, smoke test, promotion) could not be done."""


class ToolNotFoundError(ReleaseError):
    """An external tool the step runs (uv, docker, pulumi) is not installed."""

    def __init__(self, tool: str, hint: str) -> None:
        self.tool = tool
        super().__init__(f"{tool!r} is not on PATH: {hint}")
