"""The committed SageMaker Pipeline definition is what the code renders, and is parameterised."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.training.pipeline_definition import render

COMMITTED = Path(__file__).resolve().parents[3] / "pipelines" / "training" / "pipeline_definition.json"


def test_committed_definition_equals_a_fresh_render() -> None:
    assert COMMITTED.read_text() == render(), "run `mlops train pipeline-definition` and commit the file"


def test_role_image_and_locations_are_parameters_not_values() -> None:
    document = json.loads(render())
    arguments = document["Steps"][0]["Arguments"]
    assert arguments["RoleArn"] == {"Get": "Parameters.ExecutionRoleArn"}
    assert arguments["AlgorithmSpecification"]["TrainingImage"] == {"Get": "Parameters.TrainingImage"}
    assert arguments["OutputDataConfig"]["S3OutputPath"] == {"Get": "Parameters.ModelOutputUri"}
    uris = [c["DataSource"]["S3DataSource"]["S3Uri"] for c in arguments["InputDataConfig"]]
    assert uris == [{"Get": "Parameters.TrainUri"}, {"Get": "Parameters.ValidationUri"}]
    assert "arn:aws" not in json.dumps(document)
