"""The cost switches in the program: a stack without its endpoint or its MLflow server declares neither, and
everything else keeps working from the same outputs (the endpoint's name, the tracking URI it uses instead)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.guardrails import check_all
from tests.integration.release.program_support import inputs_of, plan_with, stack_repo

pytestmark = [pytest.mark.pulumi]
SHARED = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/mlops-kit-staging-mlflow"


def test_switched_off_endpoint_and_mlflow_server_are_not_declared(tmp_path: Path) -> None:
    repo = stack_repo(tmp_path / "repo")
    settings = {"endpointEnabled": False, "mlflowTrackingServer": False, "mlflowTrackingUri": SHARED}
    plan = plan_with(repo, "dev", {**settings, "dockerBuild": False})
    types = {r.type for r in plan.resources}
    assert "aws:sagemaker/endpoint:Endpoint" not in types
    assert "aws:appautoscaling/target:Target" not in types
    assert "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer" not in types
    assert {"aws:sagemaker/model:Model", "aws:sagemaker/endpointConfiguration:EndpointConfiguration"} <= types
    assert plan.outputs["endpoint_name"] == "mlops-kit-dev-endpoint"
    assert plan.outputs["mlflow_tracking_uri"] == SHARED
    definition = json.loads(inputs_of(plan)["training-pipeline"]["pipelineDefinition"])
    bound = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert bound["MlflowTrackingUri"] == SHARED
    assert [str(v) for v in check_all(plan.resources)] == []
    default = plan_with(repo, "dev", {"dockerBuild": False})
    assert {"aws:sagemaker/endpoint:Endpoint", "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer"} <= {
        r.type for r in default.resources
    }
