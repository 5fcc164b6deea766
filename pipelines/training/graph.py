"""THE training flow, as data: the steps, their entry modules, inputs, outputs and the references between them.

Both runners execute this one graph. :mod:`pipelines.training.pipeline_definition` renders it into the SageMaker
Pipeline definition JSON (with the SageMaker SDK); SageMaker runs that JSON on AWS and the kit's local pipeline
executor (``mlops/local/pipeline_executor.py``) runs the same JSON against the emulator. Nothing else describes the
flow, so the two cannot drift apart.

::

    Prepare (processing) -> Train (training) -> Evaluate (processing) -> QualityBar (condition)
        QualityBar true  -> Register (processing: the model registry service)
        QualityBar false -> QualityBarNotMet (fail: nothing is registered)

A step depends on another exactly when one of its values refers to it (:func:`upstream`); there is no separate
dependency list to keep in step. Values are literals, pipeline parameters (:class:`Param`), execution variables,
a processing output's location (:class:`OutputUri`), a property of a finished step (:class:`StepProperty`), a
value of a step's JSON property file (:class:`FileValue`) or a :class:`Join` of those.

Every job step (processing and training) runs under :data:`JOB_SECURITY`: volumes and outputs encrypted with the
stack's key, placed in the stack's private subnets with the jobs' security group, traffic between its instances
encrypted. A job is also network-isolated unless it declares ``needs_network`` (it makes calls of its own, beyond
the inputs and outputs SageMaker stages for it): a new step is isolated unless it says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, fields

from mlops.contracts import SPEC_PARAMETERS, UNBOUND
from pipelines.training.hyperparameters import Hyperparameters, as_strings

# ---------------------------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class Param:
    """A pipeline parameter (declared in :data:`PARAMETERS`)."""

    name: str


@dataclass(frozen=True)
class ExecutionVariable:
    """A value of the running execution: ``PipelineExecutionId``, ``PipelineExecutionArn``, ``StartDateTime``."""

    name: str


@dataclass(frozen=True)
class OutputUri:
    """Where processing step ``step`` uploaded its output ``output`` (a prefix ending in ``/``)."""

    step: str
    output: str


@dataclass(frozen=True)
class StepProperty:
    """A property of a finished step, as its Describe* call names it (``TrainingJobName``,
    ``ModelArtifacts.S3ModelArtifacts``)."""

    step: str
    path: str


@dataclass(frozen=True)
class FileValue:
    """The value at ``path`` (dotted) of the JSON property file ``file`` that step ``step`` wrote."""

    step: str
    file: str
    path: str


@dataclass(frozen=True)
class Join:
    """The values as text, joined by ``on``."""

    values: tuple[Value, ...]
    on: str = ""


Value = str | Param | ExecutionVariable | OutputUri | StepProperty | FileValue | Join


def model_artifact(step: str) -> StepProperty:
    """The ``model.tar.gz`` a training step wrote."""
    return StepProperty(step, "ModelArtifacts.S3ModelArtifacts")


# ---------------------------------------------------------------------------------------------------------------
# Steps


@dataclass(frozen=True)
class Input:
    """Data a step reads: a processing input (staged to ``/opt/ml/processing/input/<name>``) or a training
    channel (``/opt/ml/input/data/<name>``)."""

    name: str
    source: Value


@dataclass(frozen=True)
class Output:
    """A processing output, uploaded to ``<prefix><execution id>/<suffix>/``: executions never overwrite each
    other (the prefix parameters must end with ``/``)."""

    name: str
    prefix: Param
    suffix: str = ""


@dataclass(frozen=True)
class PropertyFile:
    """A JSON file in a processing output whose values later steps read (:class:`FileValue`)."""

    name: str
    output: str
    path: str


@dataclass(frozen=True)
class Processing:
    """A processing job running ``python3 -m <module> <arguments>`` in the kit's image."""

    name: str
    module: str
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    arguments: tuple[Value, ...]
    property_files: tuple[PropertyFile, ...] = ()
    environment: tuple[tuple[str, Value], ...] = ()
    needs_network: bool = False
    """The container makes network calls of its own; ``False`` runs it network-isolated (``EnableNetworkIsolation``),
    so it reaches nothing but the inputs staged into and the outputs uploaded from ``/opt/ml/processing``."""


@dataclass(frozen=True)
class Training:
    """A training job running ``python3 -m <module>`` under the SageMaker training contract."""

    name: str
    module: str
    channels: tuple[Input, ...]
    hyperparameters: tuple[tuple[str, Value], ...]
    output: Param
    environment: tuple[tuple[str, Value], ...] = ()
    needs_network: bool = False
    """As :attr:`Processing.needs_network`: ``False`` isolates the container (channels in, ``model/`` out)."""


@dataclass(frozen=True)
class JobSecurity:
    """How every job step is encrypted and placed (SageMaker's ``VolumeKmsKeyId``, ``KmsKeyId`` of the outputs,
    ``VpcConfig`` and ``EnableInterContainerTrafficEncryption``). One value for the whole pipeline, so no job can be
    left out; the policy pack's ``sagemaker-pipeline-*`` rules check the rendered definition against it."""

    volume_key: Value
    output_key: Value
    subnets: tuple[Value, ...]
    security_groups: tuple[Value, ...]
    inter_container_encryption: bool = True

    def values(self) -> Iterator[Value]:
        yield self.volume_key
        yield self.output_key
        yield from self.subnets
        yield from self.security_groups


@dataclass(frozen=True)
class Fail:
    """Ends the execution as Failed with ``message``."""

    name: str
    message: Value


@dataclass(frozen=True)
class Gate:
    """A condition: ``left >= right`` runs ``if_steps``, otherwise ``else_steps``."""

    name: str
    left: Value
    right: Value
    if_steps: tuple[Step, ...]
    else_steps: tuple[Step, ...]


Step = Processing | Training | Fail | Gate


@dataclass(frozen=True)
class Parameter:
    """A pipeline parameter: ``String`` or ``Float``; ``default`` UNBOUND means the stack must bind it."""

    name: str
    default: str | float = UNBOUND
    type: str = "String"


# ---------------------------------------------------------------------------------------------------------------
# The training pipeline

PROCESSING_ROOT = "/opt/ml/processing"
EXECUTION_START = "execution-start"
"""``TrainingCutoff`` value (its default) meaning: the execution's start time."""
DEFAULT_MIN_SKILL = 0.1
TRIGGERED_BY_ENV = "MLOPS_TRIGGERED_BY"

# Model spec parameters (name -> spec field, default): the definition's defaults are the shipped card_transactions
# dataset's; a stack binds its training dataset's (infra/components/training.py).
_SHIPPED_SPEC = {
    "task": "binary",
    "label": "is_fraud",
    "event_time": "event_time",
    "features": "amount,category,channel,country,hour_of_day,day_of_week,seconds_since_last_txn,txn_count_1h,"
    "txn_count_24h,amount_mean_7d,amount_max_7d,amount_std_30d,amount_sum_24h",
    "categorical": "category,channel,country",
    "positive_class": "1",
}
SPEC_DEFAULTS = {name: (field, _SHIPPED_SPEC[field]) for name, field in SPEC_PARAMETERS.items()}


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


# Training hyperparameters (parameter name -> hyperparameter key): every tunable value, so an execution can
# override any of them (``mlops train D --hp max_iter=50``); the defaults are the entry point's own.
HYPERPARAMETERS = {_camel(f.name): f.name for f in fields(Hyperparameters)}

# Parameters only a stack knows: the infra program sets their DefaultValue (infra/components/training.py).
STACK_BOUND = (
    "ExecutionRoleArn",
    "TrainingImage",
    "InferenceImage",
    "TrainUri",
    "ValidationUri",
    "ModelOutputUri",
    "EvaluationUri",
    "FeatureTableUri",
    "DatasetDefinitionUri",
    "ModelPackageGroup",
    "MlflowTrackingUri",
    "ModelsBucket",
    "Region",
    # the stack's key and the jobs' network placement (JOB_SECURITY; infra.pipeline_definition.SECURITY_PARAMETERS)
    "VolumeKmsKeyId",
    "OutputKmsKeyId",
    "SubnetIdA",
    "SubnetIdB",
    "SecurityGroupId",
)

JOB_SECURITY = JobSecurity(
    volume_key=Param("VolumeKmsKeyId"),
    output_key=Param("OutputKmsKeyId"),
    subnets=(Param("SubnetIdA"), Param("SubnetIdB")),
    security_groups=(Param("SecurityGroupId"),),
)
"""Every job step's encryption and placement: the stack binds the key, two private subnets and the jobs' group."""

PARAMETERS: tuple[Parameter, ...] = (
    *(Parameter(name) for name in STACK_BOUND),
    Parameter("TriggeredBy", "manual"),
    Parameter("CodeVersion", "unknown"),
    Parameter("TrainingInstanceType", "ml.m5.xlarge"),
    Parameter("ProcessingInstanceType", "ml.m5.xlarge"),
    Parameter("DatasetVersion", "latest"),
    Parameter("TrainingCutoff", EXECUTION_START),
    Parameter("MinQualitySkill", DEFAULT_MIN_SKILL, "Float"),
    *(Parameter(name, default) for name, (_, default) in SPEC_DEFAULTS.items()),
    *(Parameter(name, as_strings(Hyperparameters())[key]) for name, key in HYPERPARAMETERS.items()),
)

_TRIGGER = ((TRIGGERED_BY_ENV, Param("TriggeredBy")),)
_SPEC_ARGUMENTS: tuple[Value, ...] = tuple(
    value for name, (key, _) in SPEC_DEFAULTS.items() for value in (f"--{key.replace('_', '-')}", Param(name))
)

PREPARE = Processing(
    name="Prepare",
    module="pipelines.training.prepare",
    inputs=(Input("definition", Param("DatasetDefinitionUri")), Input("features", Param("FeatureTableUri"))),
    outputs=(
        Output("train", Param("TrainUri")),
        Output("validation", Param("ValidationUri")),
        Output("split", Param("EvaluationUri"), "split"),
    ),
    arguments=(
        *("--dataset-version", Param("DatasetVersion"), "--cutoff", Param("TrainingCutoff")),
        *("--execution-start", ExecutionVariable("StartDateTime"), *_SPEC_ARGUMENTS),
    ),
    property_files=(PropertyFile("Split", "split", "split.json"),),
    environment=_TRIGGER,
)

TRAIN = Training(
    name="Train",
    module="pipelines.training.entry_point",
    channels=(Input("train", OutputUri("Prepare", "train")), Input("validation", OutputUri("Prepare", "validation"))),
    hyperparameters=(
        *((key, Param(name)) for name, (key, _) in SPEC_DEFAULTS.items()),
        *((key, Param(name)) for name, key in HYPERPARAMETERS.items()),
    ),
    output=Param("ModelOutputUri"),
    environment=_TRIGGER,
)

EVALUATE = Processing(
    name="Evaluate",
    module="pipelines.training.evaluate",
    inputs=(Input("model", model_artifact("Train")), Input("validation", OutputUri("Prepare", "validation"))),
    outputs=(Output("evaluation", Param("EvaluationUri"), "evaluation"),),
    arguments=(*_SPEC_ARGUMENTS, "--target-precision", Param("TargetPrecision")),
    property_files=(PropertyFile("Evaluation", "evaluation", "evaluation.json"),),
    environment=_TRIGGER,
)

REGISTER = Processing(
    name="Register",
    module="pipelines.training.register_step",
    inputs=(
        Input("model", model_artifact("Train")),
        Input("split", OutputUri("Prepare", "split")),
        Input("evaluation", OutputUri("Evaluate", "evaluation")),
    ),
    outputs=(Output("registration", Param("EvaluationUri"), "registration"),),
    arguments=(
        *("--training-job", StepProperty("Train", "TrainingJobName")),
        *("--training-job-arn", StepProperty("Train", "TrainingJobArn")),
        *("--model-artifact", model_artifact("Train"), "--holdout-uri", OutputUri("Prepare", "validation")),
        *("--image", Param("InferenceImage"), "--code-version", Param("CodeVersion")),
        *("--pipeline-execution", ExecutionVariable("PipelineExecutionArn")),
        *("--model-package-group", Param("ModelPackageGroup"), "--mlflow-tracking-uri", Param("MlflowTrackingUri")),
        *("--models-bucket", Param("ModelsBucket")),
    ),
    # The register step builds its platform from the environment: on SageMaker that is AWS itself (the local
    # executor points the same variables at the emulator).
    environment=(*_TRIGGER, ("MLOPS_TARGET", "aws"), ("MLOPS_REGION", Param("Region"))),
    # It calls the MLflow tracking server and the SageMaker API (through the VPC's endpoints): not isolated.
    needs_network=True,
)

SKILL = FileValue("Evaluate", "Evaluation", "quality.skill")

QUALITY_BAR_NOT_MET = Fail(
    name="QualityBarNotMet",
    message=Join(("model skill", SKILL, "is below MinQualitySkill", Param("MinQualitySkill")), on=" "),
)

QUALITY_BAR = Gate(
    name="QualityBar",
    left=SKILL,
    right=Param("MinQualitySkill"),
    if_steps=(REGISTER,),
    else_steps=(QUALITY_BAR_NOT_MET,),
)

STEPS: tuple[Step, ...] = (PREPARE, TRAIN, EVALUATE, QUALITY_BAR)
"""The top-level steps in definition order (the gate's branches are inside it)."""


# ---------------------------------------------------------------------------------------------------------------
# Queries over the graph


def all_steps(steps: tuple[Step, ...] = STEPS) -> Iterator[Step]:
    """Every step, the gates' branches included, in definition order."""
    for step in steps:
        yield step
        if isinstance(step, Gate):
            yield from all_steps(step.if_steps)
            yield from all_steps(step.else_steps)


def step_named(name: str) -> Step:
    for step in all_steps():
        if step.name == name:
            return step
    raise KeyError(f"the training graph has no step {name!r}")


def values_of(step: Step) -> Iterator[Value]:
    """Every value a step reads (not its branches': those are steps of their own); a job reads
    :data:`JOB_SECURITY` too."""
    if isinstance(step, Processing | Training):
        yield from JOB_SECURITY.values()
    if isinstance(step, Processing):
        yield from (i.source for i in step.inputs)
        yield from (o.prefix for o in step.outputs)
        yield from step.arguments
        yield from (value for _, value in step.environment)
    elif isinstance(step, Training):
        yield from (c.source for c in step.channels)
        yield from (value for _, value in step.hyperparameters)
        yield step.output
        yield from (value for _, value in step.environment)
    elif isinstance(step, Fail):
        yield step.message
    else:
        yield step.left
        yield step.right


def _flatten(value: Value) -> Iterator[Value]:
    if isinstance(value, Join):
        for inner in value.values:
            yield from _flatten(inner)
    else:
        yield value


def upstream(step: Step) -> set[str]:
    """The steps ``step`` reads from: its data dependencies, hence its only dependencies."""
    found: set[str] = set()
    for value in values_of(step):
        for leaf in _flatten(value):
            if isinstance(leaf, OutputUri | StepProperty | FileValue):
                found.add(leaf.step)
    return found


def parameters_used() -> set[str]:
    """Every parameter some step reads."""
    return {leaf.name for s in all_steps() for v in values_of(s) for leaf in _flatten(v) if isinstance(leaf, Param)}


def check_graph(steps: tuple[Step, ...] = STEPS, parameters: tuple[Parameter, ...] = PARAMETERS) -> None:
    """Raise ``ValueError`` naming the first dangling reference: an undeclared parameter, an unknown step or
    output, a property file no step declares, or a step that reads a step defined after it."""
    declared = {p.name for p in parameters}
    seen: dict[str, Step] = {}
    for step in all_steps(steps):
        for value in values_of(step):
            for leaf in _flatten(value):
                _check_leaf(step.name, leaf, declared, seen)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", step.name):
            raise ValueError(f"step name {step.name!r} must be letters and digits")
        seen[step.name] = step


def _check_leaf(where: str, leaf: Value, declared: set[str], seen: dict[str, Step]) -> None:
    if isinstance(leaf, Param) and leaf.name not in declared:
        raise ValueError(f"step {where!r} reads undeclared parameter {leaf.name!r}")
    if not isinstance(leaf, OutputUri | StepProperty | FileValue):
        return
    source = seen.get(leaf.step)
    if source is None:
        raise ValueError(f"step {where!r} reads step {leaf.step!r}, which is not defined before it")
    if isinstance(leaf, OutputUri) and not (
        isinstance(source, Processing) and leaf.output in {o.name for o in source.outputs}
    ):
        raise ValueError(f"step {where!r} reads output {leaf.output!r} that step {leaf.step!r} does not write")
    if isinstance(leaf, FileValue) and not (
        isinstance(source, Processing) and leaf.file in {f.name for f in source.property_files}
    ):
        raise ValueError(f"step {where!r} reads property file {leaf.file!r} that step {leaf.step!r} does not declare")
