"""The training graph (:mod:`pipelines.training.graph`) rendered as a SageMaker Pipeline definition, offline, with
the SageMaker SDK 3.x; the JSON is committed as ``pipelines/training/pipeline_definition.json``.

The definition is stack-independent: role, images, instance types, locations, the model package group and the
MLflow tracking URI are pipeline parameters (the infra program binds their defaults per stack), and so are the
model spec and the hyperparameters. The SDK wants a literal role, so the jobs are built with a sentinel role whose
``RoleArn`` is then pointed at the ``ExecutionRoleArn`` parameter. The kit's image runs every step: processing
steps and the training job call ``python3 -m <module>`` (the SDK's ``ModelTrainer`` sets a container entry point
only for uploaded source code, so the training step's is set on the rendered JSON).

This module maps graph values to SDK objects and nothing else: a step, an input or a reference is added to the
graph, never here.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mlops.contracts import UNBOUND
from pipelines.training import graph
from pipelines.training.entry_point import METRIC_DEFINITIONS

_ROLE_SENTINEL = "arn:aws:iam::000000000000:role/ExecutionRoleArn"


def _session() -> Any:
    """A ``PipelineSession`` that records requests only: no default-bucket look-up, telemetry off (it would call
    AWS from a background thread). Building a definition makes no AWS call, so no credentials are needed."""
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    return PipelineSession(
        default_bucket=UNBOUND,
        sagemaker_config={"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}},
    )


class _Renderer:
    """Builds the SDK step objects of the graph, in definition order (a step only reads steps built before it)."""

    def __init__(self) -> None:
        from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString

        self.session = _session()
        self.parameters: dict[str, Any] = {
            p.name: (ParameterFloat if p.type == "Float" else ParameterString)(p.name, default_value=p.default)
            for p in graph.PARAMETERS
        }
        self.steps: dict[str, Any] = {}
        self.property_files: dict[tuple[str, str], Any] = {}

    def value(self, value: graph.Value) -> Any:
        """The SDK object (or literal) a graph value renders to."""
        from sagemaker.core.workflow.functions import Join

        if isinstance(value, graph.Join):
            return Join(on=value.on, values=[self.value(v) for v in value.values])
        if isinstance(value, graph.StepProperty):
            found: Any = self.steps[value.step].properties
            for part in value.path.split("."):
                found = getattr(found, part)
            return found
        return self._reference(value)

    def _reference(self, value: graph.Value) -> Any:
        from sagemaker.core.workflow.execution_variables import ExecutionVariable
        from sagemaker.core.workflow.functions import JsonGet

        if isinstance(value, graph.Param):
            return self.parameters[value.name]
        if isinstance(value, graph.ExecutionVariable):
            return ExecutionVariable(value.name)
        if isinstance(value, graph.OutputUri):
            return self.steps[value.step].properties.ProcessingOutputConfig.Outputs[value.output].S3Output.S3Uri
        if isinstance(value, graph.FileValue):
            file = self.property_files[(value.step, value.file)]
            return JsonGet(step_name=value.step, property_file=file, json_path=value.path)
        return value  # a literal

    def environment(self, pairs: tuple[tuple[str, graph.Value], ...]) -> dict[str, Any]:
        return {key: self.value(value) for key, value in pairs}

    def subnets(self) -> list[Any]:
        return [self.value(v) for v in graph.JOB_SECURITY.subnets]

    def security_groups(self) -> list[Any]:
        return [self.value(v) for v in graph.JOB_SECURITY.security_groups]

    def step(self, step: graph.Step) -> Any:
        render: dict[type, Callable[[Any], Any]] = {
            graph.Processing: self.processing,
            graph.Training: self.training,
            graph.Fail: self.fail,
            graph.Gate: self.gate,
        }
        built = render[type(step)](step)
        self.steps[step.name] = built
        return built

    def processing(self, step: graph.Processing) -> Any:
        from sagemaker.core.network import NetworkConfig
        from sagemaker.core.processing import Processor
        from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
        from sagemaker.core.workflow.execution_variables import ExecutionVariables
        from sagemaker.core.workflow.functions import Join
        from sagemaker.core.workflow.properties import PropertyFile
        from sagemaker.mlops.workflow import ProcessingStep

        security = graph.JOB_SECURITY
        processor = Processor(
            role=_ROLE_SENTINEL,
            image_uri=self.parameters["TrainingImage"],
            instance_count=1,
            instance_type=self.parameters["ProcessingInstanceType"],
            entrypoint=["python3", "-m", step.module],
            base_job_name=step.name.lower(),
            env=self.environment(step.environment),
            volume_kms_key=self.value(security.volume_key),
            output_kms_key=self.value(security.output_key),
            network_config=NetworkConfig(
                enable_network_isolation=not step.needs_network,
                security_group_ids=self.security_groups(),
                subnets=self.subnets(),
                encrypt_inter_container_traffic=security.inter_container_encryption,
            ),
            sagemaker_session=self.session,
        )
        inputs = [
            ProcessingInput(
                input_name=i.name,
                s3_input=ProcessingS3Input(
                    s3_uri=self.value(i.source),
                    local_path=f"{graph.PROCESSING_ROOT}/input/{i.name}",
                    s3_data_type="S3Prefix",
                    s3_input_mode="File",
                ),
            )
            for i in step.inputs
        ]
        outputs = [
            ProcessingOutput(
                output_name=o.name,
                s3_output=ProcessingS3Output(
                    s3_uri=Join(
                        on="",
                        values=[
                            self.value(o.prefix),
                            ExecutionVariables.PIPELINE_EXECUTION_ID,
                            "/",
                            *([f"{o.suffix}/"] if o.suffix else []),
                        ],
                    ),
                    local_path=f"{graph.PROCESSING_ROOT}/output/{o.name}",
                    s3_upload_mode="EndOfJob",
                ),
            )
            for o in step.outputs
        ]
        files = [PropertyFile(name=f.name, output_name=f.output, path=f.path) for f in step.property_files]
        for file in files:
            self.property_files[(step.name, file.name)] = file
        arguments = [self.value(a) for a in step.arguments]
        return ProcessingStep(
            name=step.name,
            step_args=processor.run(inputs=inputs, outputs=outputs, arguments=arguments),
            property_files=files or None,
        )

    def training(self, step: graph.Training) -> Any:
        from sagemaker.core.shapes import MetricDefinition
        from sagemaker.mlops.workflow import TrainingStep
        from sagemaker.train.configs import Compute, InputData, Networking, OutputDataConfig, StoppingCondition
        from sagemaker.train.model_trainer import ModelTrainer

        security = graph.JOB_SECURITY
        trainer = ModelTrainer(
            sagemaker_session=self.session,
            role=_ROLE_SENTINEL,
            training_image=self.parameters["TrainingImage"],
            compute=Compute(
                instance_type=self.parameters["TrainingInstanceType"],
                instance_count=1,
                volume_size_in_gb=30,
                volume_kms_key_id=self.value(security.volume_key),
            ),
            networking=Networking(
                subnets=self.subnets(),
                security_group_ids=self.security_groups(),
                enable_network_isolation=not step.needs_network,
                enable_inter_container_traffic_encryption=security.inter_container_encryption,
            ),
            stopping_condition=StoppingCondition(max_runtime_in_seconds=86400),
            output_data_config=OutputDataConfig(
                s3_output_path=self.value(step.output), kms_key_id=self.value(security.output_key)
            ),
            hyperparameters={key: self.value(value) for key, value in step.hyperparameters},
            environment=self.environment(step.environment),
            base_job_name=step.name.lower(),
        ).with_metric_definitions([MetricDefinition(name=d["Name"], regex=d["Regex"]) for d in METRIC_DEFINITIONS])
        step_args = trainer.train(
            input_data_config=[InputData(channel_name=c.name, data_source=self.value(c.source)) for c in step.channels]
        )
        return TrainingStep(name=step.name, step_args=step_args)

    def fail(self, step: graph.Fail) -> Any:
        from sagemaker.mlops.workflow import FailStep

        return FailStep(name=step.name, error_message=self.value(step.message))

    def gate(self, step: graph.Gate) -> Any:
        from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
        from sagemaker.mlops.workflow import ConditionStep

        condition = ConditionGreaterThanOrEqualTo(left=self.value(step.left), right=self.value(step.right))
        return ConditionStep(
            name=step.name,
            conditions=[condition],
            if_steps=[self.step(s) for s in step.if_steps],
            else_steps=[self.step(s) for s in step.else_steps],
        )


def build() -> Any:
    """The ``Pipeline`` object (no AWS call: a ``PipelineSession`` only records the requests)."""
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from sagemaker.mlops.workflow import Pipeline

    graph.check_graph()
    renderer = _Renderer()
    steps = [renderer.step(step) for step in graph.STEPS]
    return Pipeline(
        name="training",
        parameters=list(renderer.parameters.values()),
        steps=steps,
        sagemaker_session=renderer.session,
    )


def _point_roles_at_parameter(node: Any) -> None:
    """Replace the sentinel role wherever the SDK put it (job steps, nested condition branches)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "RoleArn" and value == _ROLE_SENTINEL:
                node[key] = {"Get": "Parameters.ExecutionRoleArn"}
            else:
                _point_roles_at_parameter(value)
    elif isinstance(node, list):
        for item in node:
            _point_roles_at_parameter(item)


def _set_training_entry_points(document: dict[str, Any]) -> None:
    """``AlgorithmSpecification.ContainerEntrypoint`` of each training step: ``python3 -m <its module>``."""
    modules = {s.name: s.module for s in graph.all_steps() if isinstance(s, graph.Training)}

    def visit(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            arguments = step["Arguments"]
            if step["Name"] in modules:
                arguments["AlgorithmSpecification"]["ContainerEntrypoint"] = ["python3", "-m", modules[step["Name"]]]
            visit(arguments.get("IfSteps", []) + arguments.get("ElseSteps", []))

    visit(document["Steps"])


@contextmanager
def config_validated_once() -> Iterator[None]:
    """Within the block, the SDK validates each distinct config once instead of at every look-up.

    The SDK checks its config against its JSON schema on each config look-up, and ``jsonschema.validate`` checks
    the (large) schema itself every time: 11 of a render's 17 CPU-s. The config is :func:`_session`'s constant,
    so the first check says all the others would. A config the SDK has not seen is still checked, and a bad one
    still fails. The class attribute is swapped for the block only: a render is a one-thread, offline build.
    """
    from sagemaker.core.config.config_manager import SageMakerConfig

    original = SageMakerConfig.__dict__["validate_sagemaker_config"]
    checked: list[Any] = []

    def validate_once(sagemaker_config: dict[str, Any] | None = None) -> None:
        if sagemaker_config in checked:
            return
        original.__func__(sagemaker_config)
        checked.append(copy.deepcopy(sagemaker_config))

    SageMakerConfig.validate_sagemaker_config = staticmethod(validate_once)
    try:
        yield
    finally:
        SageMakerConfig.validate_sagemaker_config = original


def render() -> str:
    """The definition JSON, stable (sorted keys, indented) so the committed file can be compared."""
    with config_validated_once():
        definition = build().definition()
    document = json.loads(definition)
    _point_roles_at_parameter(document)
    _set_training_entry_points(document)
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
