"""The training pipeline as a SageMaker Pipeline, built offline with the SageMaker SDK 3.x and written as JSON.

The definition is stack-independent: role, image, instance type, channel locations and output location are
pipeline parameters (the infra program binds their defaults per stack), and so is the model spec. The SDK's
``ModelTrainer`` only accepts a literal role, so the step is built with a sentinel role and its ``RoleArn``
is then pointed at the ``ExecutionRoleArn`` parameter.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pipelines.training.entry_point import METRIC_DEFINITIONS

UNBOUND = "bound-by-infra"
_ROLE_SENTINEL = "arn:aws:iam::000000000000:role/ExecutionRoleArn"
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


def build() -> Any:
    """The ``Pipeline`` object (no AWS call: a ``PipelineSession`` only records the requests)."""
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    import boto3
    from sagemaker.core.shapes import MetricDefinition
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow import Pipeline, TrainingStep
    from sagemaker.train.configs import Compute, InputData, OutputDataConfig, StoppingCondition
    from sagemaker.train.model_trainer import ModelTrainer

    def parameter(name: str, default: str = UNBOUND) -> Any:
        return ParameterString(name, default_value=default)

    triggered_by = parameter("TriggeredBy", "manual")
    role, image = parameter("ExecutionRoleArn"), parameter("TrainingImage")
    instance_type = parameter("TrainingInstanceType", "ml.m5.xlarge")
    train_uri, validation_uri, output_uri = (
        parameter("TrainUri"),
        parameter("ValidationUri"),
        parameter("ModelOutputUri"),
    )
    spec = {name: parameter(name, default) for name, (_, default) in SPEC_DEFAULTS.items()}
    # Offline: dummy credentials, and the session never calls AWS.
    session = PipelineSession(
        boto_session=boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"),
        default_bucket=UNBOUND,
    )
    trainer = ModelTrainer(
        sagemaker_session=session,
        role=_ROLE_SENTINEL,
        training_image=image,
        compute=Compute(instance_type=instance_type, instance_count=1, volume_size_in_gb=30),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=86400),
        output_data_config=OutputDataConfig(s3_output_path=output_uri),
        hyperparameters={key: spec[name] for name, (key, _) in SPEC_DEFAULTS.items()},
        environment={"MLOPS_TRIGGERED_BY": triggered_by},
        base_job_name="train",
    ).with_metric_definitions([MetricDefinition(name=d["Name"], regex=d["Regex"]) for d in METRIC_DEFINITIONS])
    step_args = trainer.train(
        input_data_config=[
            InputData(channel_name="train", data_source=train_uri),
            InputData(channel_name="validation", data_source=validation_uri),
        ]
    )
    return Pipeline(
        name="training",
        parameters=[triggered_by, role, image, instance_type, train_uri, validation_uri, output_uri, *spec.values()],
        steps=[TrainingStep(name="Train", step_args=step_args)],
        sagemaker_session=session,
    )


def render() -> str:
    """The definition JSON, stable (sorted keys, indented) so the committed file can be compared."""
    document = json.loads(build().definition())
    for step in document["Steps"]:
        if step["Arguments"].get("RoleArn") == _ROLE_SENTINEL:
            step["Arguments"]["RoleArn"] = {"Get": "Parameters.ExecutionRoleArn"}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
