"""The training pipeline as a SageMaker Pipeline, built offline with the SageMaker SDK 3.x and written as JSON.

Steps (the local workflow's stages, as SageMaker jobs):

1. ``Prepare`` (processing, :mod:`pipelines.training.prepare`): feature Delta table at ``DatasetVersion`` ->
   labels known at the cutoff -> time split, written under ``TrainUri``/``ValidationUri`` per execution;
2. ``Train`` (training, :mod:`pipelines.training.entry_point`): grid search, refit, the model artifact;
3. ``Evaluate`` (processing, :mod:`pipelines.training.evaluate`): task metrics and skill on the holdout;
4. ``QualityBar`` (condition): ``quality.skill`` of ``evaluation.json`` >= ``MinQualitySkill``, then
5. ``Register`` (model package, PendingManualApproval, in ``ModelPackageGroup``), else ``QualityBarNotMet`` (fail).

The definition is stack-independent: role, images, instance types, locations and the model package group are
pipeline parameters (the infra program binds their defaults per stack), and so is the model spec. The SDK wants
a literal role, so the jobs are built with a sentinel role whose ``RoleArn`` is then pointed at the
``ExecutionRoleArn`` parameter. The kit's image runs every step: processing steps call ``python3 -m <module>``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from mlops.contracts import UNBOUND
from pipelines.training.entry_point import METRIC_DEFINITIONS
from pipelines.training.hyperparameters import Hyperparameters
from pipelines.training.prepare import EXECUTION_START
from serving.payload import ACCEPTED_CONTENT_TYPES, RESPONSE_TYPES

_ROLE_SENTINEL = "arn:aws:iam::000000000000:role/ExecutionRoleArn"
_PROCESSING_ROOT = "/opt/ml/processing"
APPROVAL_STATUS = "PendingManualApproval"
DEFAULT_MIN_SKILL = 0.1
# Defaults of the model spec parameters: the shipped card_transactions dataset.
SPEC_DEFAULTS = {
    "ModelTask": ("task", "classification"),
    "Label": ("label", "is_fraud"),
    "EventTime": ("event_time", "event_time"),
    "Features": (
        "features",
        "amount,category,channel,hour_of_day,day_of_week,seconds_since_last_txn,txn_count_1h,txn_count_24h,"
        "amount_mean_7d,amount_max_7d,amount_std_30d,amount_sum_24h",
    ),
    "Categorical": ("categorical", "category,channel"),
}
# Parameters whose value only a stack knows: the infra program must set their DefaultValue.
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
)


def _session() -> Any:
    """A ``PipelineSession`` that records requests only: dummy credentials, no default-bucket look-up,
    telemetry off (it would call AWS from a background thread)."""
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    return PipelineSession(
        boto_session=boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"),
        default_bucket=UNBOUND,
        sagemaker_config={"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}},
    )


def _s3_input(name: str, uri: Any) -> Any:
    from sagemaker.core.shapes import ProcessingInput, ProcessingS3Input

    local = f"{_PROCESSING_ROOT}/input/{name}"
    source = ProcessingS3Input(s3_uri=uri, local_path=local, s3_data_type="S3Prefix", s3_input_mode="File")
    return ProcessingInput(input_name=name, s3_input=source)


def _s3_output(name: str, prefix: Any, *suffix: str) -> Any:
    """Output ``name`` under ``<prefix><execution id>/<suffix...>/``: executions never overwrite each other."""
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join

    uri = Join(on="", values=[prefix, ExecutionVariables.PIPELINE_EXECUTION_ID, "/", *(f"{s}/" for s in suffix)])
    target = ProcessingS3Output(s3_uri=uri, local_path=f"{_PROCESSING_ROOT}/output/{name}", s3_upload_mode="EndOfJob")
    return ProcessingOutput(output_name=name, s3_output=target)


def build() -> Any:
    """The ``Pipeline`` object (no AWS call: a ``PipelineSession`` only records the requests)."""
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from sagemaker.core.processing import Processor
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow import Pipeline, ProcessingStep

    def parameter(name: str, default: str = UNBOUND) -> Any:
        return ParameterString(name, default_value=default)

    p = {name: parameter(name) for name in STACK_BOUND}
    p["TriggeredBy"] = parameter("TriggeredBy", "manual")
    p["TrainingInstanceType"] = parameter("TrainingInstanceType", "ml.m5.xlarge")
    p["ProcessingInstanceType"] = parameter("ProcessingInstanceType", "ml.m5.xlarge")
    p["DatasetVersion"] = parameter("DatasetVersion", "latest")
    p["TrainingCutoff"] = parameter("TrainingCutoff", EXECUTION_START)
    p["MinQualitySkill"] = ParameterFloat("MinQualitySkill", default_value=DEFAULT_MIN_SKILL)
    spec = {name: parameter(name, default) for name, (_, default) in SPEC_DEFAULTS.items()}
    spec_arguments = [a for name, (key, _) in SPEC_DEFAULTS.items() for a in (f"--{key.replace('_', '-')}", spec[name])]
    session = _session()

    def processor(module: str, base_job_name: str) -> Any:
        return Processor(
            role=_ROLE_SENTINEL,
            image_uri=p["TrainingImage"],
            instance_count=1,
            instance_type=p["ProcessingInstanceType"],
            entrypoint=["python3", "-m", module],
            base_job_name=base_job_name,
            env={"MLOPS_TRIGGERED_BY": p["TriggeredBy"]},
            sagemaker_session=session,
        )

    split_file = PropertyFile(name="Split", output_name="split", path="split.json")
    prepare = ProcessingStep(
        name="Prepare",
        step_args=processor("pipelines.training.prepare", "prepare").run(
            inputs=[_s3_input("definition", p["DatasetDefinitionUri"]), _s3_input("features", p["FeatureTableUri"])],
            outputs=[
                _s3_output("train", p["TrainUri"]),
                _s3_output("validation", p["ValidationUri"]),
                _s3_output("split", p["EvaluationUri"], "split"),
            ],
            arguments=[
                *("--dataset-version", p["DatasetVersion"], "--cutoff", p["TrainingCutoff"]),
                *("--execution-start", ExecutionVariables.START_DATETIME, *spec_arguments),
            ],
        ),
        property_files=[split_file],
    )
    outputs = prepare.properties.ProcessingOutputConfig.Outputs
    train = _training_step(session, p, spec, outputs["train"].S3Output.S3Uri, outputs["validation"].S3Output.S3Uri)
    evaluation_file = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate",
        step_args=processor("pipelines.training.evaluate", "evaluate").run(
            inputs=[
                _s3_input("model", train.properties.ModelArtifacts.S3ModelArtifacts),
                _s3_input("validation", outputs["validation"].S3Output.S3Uri),
            ],
            outputs=[_s3_output("evaluation", p["EvaluationUri"], "evaluation")],
            arguments=[*spec_arguments, "--target-precision", str(Hyperparameters().target_precision)],
        ),
        property_files=[evaluation_file],
    )
    gate = _quality_gate(
        session,
        p,
        prepare=prepare,
        split_file=split_file,
        train=train,
        evaluate=evaluate,
        evaluation_file=evaluation_file,
    )
    return Pipeline(
        name="training",
        parameters=[*p.values(), *spec.values()],
        steps=[prepare, train, evaluate, gate],
        sagemaker_session=session,
    )


def _training_step(session: Any, p: dict[str, Any], spec: dict[str, Any], train_uri: Any, validation_uri: Any) -> Any:
    """The training job on Prepare's outputs: the kit's entry point, the spec as hyperparameters."""
    from sagemaker.core.shapes import MetricDefinition
    from sagemaker.mlops.workflow import TrainingStep
    from sagemaker.train.configs import Compute, InputData, OutputDataConfig, StoppingCondition
    from sagemaker.train.model_trainer import ModelTrainer

    trainer = ModelTrainer(
        sagemaker_session=session,
        role=_ROLE_SENTINEL,
        training_image=p["TrainingImage"],
        compute=Compute(instance_type=p["TrainingInstanceType"], instance_count=1, volume_size_in_gb=30),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=86400),
        output_data_config=OutputDataConfig(s3_output_path=p["ModelOutputUri"]),
        hyperparameters={key: spec[name] for name, (key, _) in SPEC_DEFAULTS.items()},
        environment={"MLOPS_TRIGGERED_BY": p["TriggeredBy"]},
        base_job_name="train",
    ).with_metric_definitions([MetricDefinition(name=d["Name"], regex=d["Regex"]) for d in METRIC_DEFINITIONS])
    step_args = trainer.train(
        input_data_config=[
            InputData(channel_name="train", data_source=train_uri),
            InputData(channel_name="validation", data_source=validation_uri),
        ]
    )
    return TrainingStep(name="Train", step_args=step_args)


def _quality_gate(
    session: Any,
    p: dict[str, Any],
    *,
    prepare: Any,
    split_file: Any,
    train: Any,
    evaluate: Any,
    evaluation_file: Any,
) -> Any:
    """``QualityBar``: register the model if its skill reaches the bar, otherwise fail the execution."""
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.mlops.workflow import ConditionStep, FailStep, ModelStep
    from sagemaker.serve.model_builder import ModelBuilder

    skill = JsonGet(step_name=evaluate.name, property_file=evaluation_file, json_path="quality.skill")
    report_prefix = evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri
    builder = ModelBuilder(
        s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
        image_uri=p["InferenceImage"],
        role_arn=_ROLE_SENTINEL,
        sagemaker_session=session,
    )
    # ModelBuilder defaults to auto-detected dependencies, which uploads code to the session's bucket at
    # definition time; the kit's serving image already carries its code.
    builder.dependencies = None
    step_args = builder.register(
        model_package_group_name=p["ModelPackageGroup"],
        approval_status=APPROVAL_STATUS,
        content_types=list(ACCEPTED_CONTENT_TYPES),
        response_types=list(RESPONSE_TYPES),
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(
                s3_uri=Join(on="", values=[report_prefix, "evaluation.json"]), content_type="application/json"
            )
        ),
        customer_metadata_properties={
            "dataset": JsonGet(step_name=prepare.name, property_file=split_file, json_path="dataset"),
            "dataset_version": JsonGet(step_name=prepare.name, property_file=split_file, json_path="dataset_version"),
            "training_job": train.properties.TrainingJobName,
            "pipeline_execution": ExecutionVariables.PIPELINE_EXECUTION_ARN,
            "stage": "Staging",
        },
    )
    register = ModelStep(name="Register", step_args=step_args)
    fail = FailStep(
        name="QualityBarNotMet",
        error_message=Join(on=" ", values=["model skill", skill, "is below MinQualitySkill", p["MinQualitySkill"]]),
    )
    return ConditionStep(
        name="QualityBar",
        conditions=[ConditionGreaterThanOrEqualTo(left=skill, right=p["MinQualitySkill"])],
        if_steps=[register],
        else_steps=[fail],
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


def render() -> str:
    """The definition JSON, stable (sorted keys, indented) so the committed file can be compared."""
    document = json.loads(build().definition())
    _point_roles_at_parameter(document)
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
