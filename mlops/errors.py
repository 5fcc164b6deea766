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


class LocalApplyError(MlopsError):
    """Applying the infra program to the embedded emulator failed; the message names the resource and type."""


class UnsupportedResourceError(LocalApplyError):
    """The program declares a resource type the local apply has no handler for (never skipped silently)."""

    def __init__(self, type_token: str, logical_name: str) -> None:
        self.type_token = type_token
        self.logical_name = logical_name
        super().__init__(
            f"no local-apply handler for resource type {type_token!r} (resource {logical_name!r}); "
            "add one under mlops/local/apply/handlers/ and list the type in infra/RESOURCE_TYPES.md"
        )

