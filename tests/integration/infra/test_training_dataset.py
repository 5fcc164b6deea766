"""The stack's training dataset decides what an execution that names no spec trains: EventBridge's retrain passes
only ``TriggeredBy``, so the pipeline's spec parameters default to the training dataset's definition, on AWS and
Google Cloud (before, always the shipped card_transactions spec, whatever ``trainingDataset`` said)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.plan import Plan
from mlops.datasets import load_definition
from mlops.modeling.spec import ModelSpec, spec_parameters
from tests.integration.release.program_support import plan_with, stack_repo

pytestmark = pytest.mark.pulumi


def _defaults(plan: Plan, name: str) -> dict[str, str]:
    pipeline = next(r for r in plan.resources if r.name == name)
    source = pipeline.inputs.get("source")  # Google Cloud: the definition as an object in the artifacts bucket
    document = pipeline.inputs.get("pipelineDefinition") or (source.text if source is not None else "")
    parameters = json.loads(document)["Parameters"]
    return {p["Name"]: p.get("DefaultValue") for p in parameters}


@pytest.mark.parametrize(
    ("stack", "pipeline"), [("dev", "training-pipeline"), ("gcp-dev", "training-pipeline-definition")]
)
def test_the_pipeline_defaults_to_the_training_datasets_spec(tmp_path: Path, stack: str, pipeline: str) -> None:
    repo = stack_repo(tmp_path)
    expected = spec_parameters(ModelSpec.from_definition(load_definition(repo / "pipelines/datasets/diabetes.yaml")))
    defaults = _defaults(plan_with(repo, stack, {"trainingDataset": "diabetes"}), pipeline)
    assert {name: defaults[name] for name in expected} == expected
    assert defaults["FeatureTableUri"].endswith("/tables/diabetes/")
    shipped = _defaults(plan_with(repo, stack, {}), pipeline)
    assert (shipped["Label"], shipped["ModelTask"]) == ("is_fraud", "binary")
    assert expected["Label"] != "is_fraud"
