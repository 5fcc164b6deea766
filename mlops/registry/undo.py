"""Compensations for multi-step registry changes: MLflow and the cloud's package registry have no shared
transaction, so each step that succeeded records how to take it back, and a later failure takes them back newest
first. What could not be taken back is added to the raised error's notes (never silently dropped)."""

from __future__ import annotations

from collections.abc import Callable


class Undo:
    """The compensations of the steps done so far."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self._steps: list[tuple[str, Callable[[], object]]] = []

    def add(self, what: str, compensation: Callable[[], object]) -> None:
        """Record how to take back a step that just succeeded (``what`` names it in notes)."""
        self._steps.append((what, compensation))

    def run(self, cause: BaseException) -> None:
        """Take every recorded step back, newest first; notes on ``cause`` say what was and was not undone."""
        undone: list[str] = []
        failed: list[str] = []
        for what, compensation in reversed(self._steps):
            try:
                compensation()
            except Exception as exc:  # keep undoing the rest; the failure is reported on the cause
                failed.append(f"{what} ({type(exc).__name__}: {exc})")
            else:
                undone.append(what)
        self._steps.clear()
        if undone:
            cause.add_note(f"{self.operation} failed; undone: {'; '.join(undone)}")
        if failed:
            cause.add_note(f"{self.operation} failed; could NOT undo: {'; '.join(failed)}")
