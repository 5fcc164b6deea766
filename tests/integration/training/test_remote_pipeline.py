"""Training on AWS starts the deployed SageMaker Pipeline with the dataset's parameters (exercised on the emulator,
where the infra program's pipeline resource exists)."""

from __future__ import annotations

import json

import pytest

from mlops.datasets import find_definition
from mlops.local.platform import Platform
from pipelines.training.remote import pipeline_parameters, start_training_pipeline

pytestmark = pytest.mark.emulator


def test_parameters_point_the_pipeline_at_the_dataset(platform: Platform) -> None:
    definition = find_definition("diabetes", platform.settings.datasets_dir)
    outputs = platform.outputs
    parameters = pipeline_parameters(definition, outputs, 3, "drift alarm")
    assert parameters["FeatureTableUri"] == f"s3://{outputs.features_bucket}/tables/diabetes/"
    assert parameters["DatasetDefinitionUri"] == f"s3://{outputs.artifacts_bucket}/datasets/diabetes/"
    assert parameters["DatasetVersion"] == "3"
    assert parameters["ModelTask"] == "regression"
    assert parameters["Label"] == definition.label.column
    assert parameters["Features"] == ",".join(definition.feature_names)
    assert parameters["TriggeredBy"] == "drift alarm"


def test_every_parameter_passed_is_declared_by_the_deployed_pipeline(platform: Platform) -> None:
    definition = find_definition("card_transactions", platform.settings.datasets_dir)
    sagemaker = platform.clients.client("sagemaker")
    deployed = sagemaker.describe_pipeline(PipelineName=platform.outputs.training_pipeline_name)
    declared = {p["Name"] for p in json.loads(deployed["PipelineDefinition"])["Parameters"]}
    run = start_training_pipeline(platform, definition)
    assert set(run.parameters) <= declared
    execution = sagemaker.describe_pipeline_execution(PipelineExecutionArn=run.execution_arn)
    assert execution["PipelineArn"].endswith(f"pipeline/{platform.outputs.training_pipeline_name}")
    definitions = platform.clients.client("s3").list_objects_v2(
        Bucket=platform.outputs.artifacts_bucket, Prefix="datasets/card_transactions/"
    )
    assert [o["Key"] for o in definitions["Contents"]] == ["datasets/card_transactions/card_transactions.yaml"]
