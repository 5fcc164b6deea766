"""Training ports: the pipeline runner (``platform.services.training``) and the training job runner it uses.

:class:`PipelineRunner` starts and describes executions of a deployed pipeline definition: SageMaker Pipelines on
AWS (``mlops/adapters/aws/sagemaker_pipeline.py``), the kit's local pipeline executor against an emulator
(``mlops/local/pipeline_executor.py``, which runs the same definition JSON step by step; on ``cloud: gcp`` with the
definition stored in the object store, ``mlops/local/vertex_training.py``), an in-memory fake in unit tests. The
training flow itself is data (``pipelines/training/graph.py``); callers pass only parameter values.

:class:`TrainingJobRunner` runs one training job under a cloud's training contract: SageMaker's (``/opt/ml``,
``mlops/local/training_runner.py``) or Vertex AI's custom-job contract (``AIP_MODEL_DIR`` and the data URIs:
``mlops/adapters/gcp/vertex_training.py``, played locally by ``mlops/local/vertex_training.py``). The kit's
executor runs its Training steps through one (SageMaker runs them itself).

Statuses are SageMaker's: an execution is ``Executing``, ``Succeeded``, ``Failed``, ``Stopping`` or ``Stopped``; a
step ``Starting``, ``Executing``, ``Succeeded``, ``Failed`` or ``Stopped``. A runner may finish the execution
before :meth:`PipelineRunner.start` returns (the local executor does) or return while it runs (SageMaker).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mlops.errors import TrainingError
from mlops.ports.errors import NotFoundError, PortError

FINISHED = ("Succeeded", "Failed", "Stopped")


class PipelineError(PortError, TrainingError):
    """A pipeline operation failed; the message names the pipeline or the execution."""


class PipelineNotFoundError(PipelineError, NotFoundError):
    """No pipeline of that name is deployed."""


class ExecutionNotFoundError(PipelineError, NotFoundError):
    """No execution has that ARN."""


class PipelineParameterError(PipelineError):
    """A parameter value names no parameter of the definition, or does not parse as the parameter's type."""


class TrainingJobError(PortError, TrainingError):
    """A training job could not be run or described; the message names the job."""


class TrainingJobNotFoundError(TrainingJobError, NotFoundError):
    """No record of a training job of that name."""


class PipelineDefinitionError(PipelineError):
    """The definition cannot be executed (invalid JSON, an unknown reference, a cycle, an unsupported step)."""


@dataclass(frozen=True)
class StepExecution:
    """One step of an execution as ``ListPipelineExecutionSteps`` reports it; ``metadata`` is its ``Metadata``
    (``{"TrainingJob": {"Arn": ...}}``, ``{"Condition": {"Outcome": "True"}}``, ``{"Fail": {...}}``...)."""

    name: str
    status: str
    failure_reason: str = ""
    started_at: str = ""
    ended_at: str = ""
    metadata: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineExecution:
    """An execution of a pipeline; ``steps`` lists the steps that started, in the order they started."""

    arn: str
    pipeline: str
    status: str
    parameters: Mapping[str, str]
    display_name: str = ""
    failure_reason: str = ""
    started_at: str = ""
    ended_at: str = ""
    steps: tuple[StepExecution, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def step(self, name: str) -> StepExecution | None:
        """The step ``name`` if it started."""
        return next((s for s in self.steps if s.name == name), None)


class PipelineRunner(Protocol):
    """Start and describe executions of deployed pipelines."""

    def start(self, pipeline: str, parameters: Mapping[str, str], *, display_name: str = "") -> PipelineExecution:
        """Start an execution with ``parameters`` overriding the definition's defaults.

        Raises :class:`PipelineNotFoundError` for an unknown pipeline and :class:`PipelineParameterError` for a
        parameter the definition does not declare (before anything runs).
        """
        ...

    def describe(self, execution_arn: str) -> PipelineExecution:
        """The execution's current state; :class:`ExecutionNotFoundError` for an unknown ARN."""
        ...


@dataclass(frozen=True)
class TrainingJobRequest:
    """A training job: the fields of SageMaker's ``CreateTrainingJob`` the kit uses, onto which a Vertex custom job
    maps too.

    ``entry_point`` is the container's command (``python3 -m <module>``); ``channels`` maps a channel name to its
    object-store prefix (on Vertex, ``train``/``validation``/``test`` become ``AIP_*_DATA_URI``); the model goes to
    ``<output_path><job_name>/output/model.tar.gz`` (SageMaker) or ``<output_path><job_name>/model/`` with its
    ``model.tar.gz`` (Vertex's ``AIP_MODEL_DIR``); the record names the archive either way.
    """

    job_name: str
    entry_point: Sequence[str]
    channels: Mapping[str, str]
    hyperparameters: Mapping[str, str]
    output_path: str
    image: str = ""
    role_arn: str = ""
    environment: Mapping[str, str] = field(default_factory=dict)
    metric_definitions: Sequence[Mapping[str, str]] = ()
    max_runtime_seconds: int = 86400


@dataclass(frozen=True)
class TrainingJobRecord:
    """A training job's real outcome (an emulator's status is meaningless: moto completes every job at once)."""

    job_name: str
    job_arn: str
    status: str  # Completed | Failed
    failure_reason: str
    channels: dict[str, str]
    hyperparameters: dict[str, str]
    metrics: dict[str, float]
    model_artifact: str
    started_at: str
    ended_at: str
    seconds: float
    log_tail: list[str] = field(default_factory=list)


class TrainingJobRunner(Protocol):
    """Run training jobs under a cloud's training contract and report their outcome."""

    def run(self, request: TrainingJobRequest) -> TrainingJobRecord:
        """Run the job to its end; a failing entry point gives a ``Failed`` record (not an exception)."""
        ...

    def describe(self, job_name: str) -> TrainingJobRecord:
        """The record of a job that ran; :class:`TrainingJobNotFoundError` when none exists."""
        ...
