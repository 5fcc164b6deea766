"""Typed errors of the kit. Each message names the field, output, record or resource at fault."""

from __future__ import annotations


class MlopsError(Exception):
    """Base class of every error the kit raises on purpose; the CLI prints these without a traceback."""


class ConfigError(MlopsError):
    """A setting or definition file holds an invalid value."""


class StackOutputError(MlopsError):
    """A stack output the code needs is missing or malformed."""

    def __init__(self, output: str, stack: str, detail: str = "") -> None:
        self.output = output
        self.stack = stack
        message = f"stack output {output!r} is missing from stack {stack!r}"
        if detail:
            message = f"{message}: {detail}"
        super().__init__(message)


class StackOutputsNotFoundError(MlopsError):
    """No stack outputs exist for the stack at all (not applied, or the file is elsewhere)."""


class EmulatorError(MlopsError):
    """The embedded emulator could not be started, reached or stopped."""


class StalePidfileError(EmulatorError):
    """A pidfile points at a process that is gone, or the recorded port answers as something else."""


class DatasetError(MlopsError):
    """Reading or writing a dataset failed; the message names the dataset and location."""
