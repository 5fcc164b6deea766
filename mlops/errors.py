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


class StackOutputTypeError(StackOutputError):
    """A stack output is present but not of the type the code needs (a string where a mapping belongs, ...)."""

    def __init__(self, output: str, stack: str, detail: str, value: object) -> None:
        MlopsError.__init__(
            self, f"stack output {output!r} of stack {stack!r} has the wrong type: {detail}; got {value!r}"[:500]
        )
        self.output = output
        self.stack = stack


class StackOutputsNotFoundError(MlopsError):
    """No stack outputs exist for the stack at all (not applied, or the file is elsewhere)."""


class CredentialsError(MlopsError):
    """No AWS credentials were found for the aws target."""


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


class FeatureStoreError(MlopsError):
    """Reading the offline feature table or writing/reading the online store failed; names table and key."""


class TrainingError(MlopsError):
    """Training could not produce a model; the message names the dataset, job, channel or field at fault."""


class TrainingDataError(TrainingError):
    """The training or validation set is missing, empty, too small or holds a single class."""


class InvalidHyperparameterError(TrainingError):
    """A hyperparameter is unknown or its value cannot be parsed or is out of range."""

    def __init__(self, name: str, value: str, detail: str) -> None:
        self.name = name
        self.value = value
        super().__init__(f"hyperparameter {name!r}={value!r}: {detail}")


class TrainingJobFailedError(TrainingError):
    """A training job ended Failed; carries the job name and the reason its script reported."""

    def __init__(self, job_name: str, reason: str) -> None:
        self.job_name = job_name
        self.reason = reason
        super().__init__(f"training job {job_name!r} failed: {reason}")


class RegistryError(MlopsError):
    """A model registry operation failed; the message names the model, version, alias or package."""


class PromotionRejectedError(RegistryError):
    """The challenger did not beat the champion by the required margin (nothing was changed)."""


class MonitoringError(MlopsError):
    """A drift or performance run could not be computed; the message names the dataset, window or model."""


class DeploymentError(MlopsError):
    """A deployment did not take traffic (failed health check, AWS error); names the endpoint and version."""


class StreamError(MlopsError):
    """Writing to or reading from the event stream failed; the message names the stream, shard or record."""
