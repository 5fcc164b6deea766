"""The opt-in follow-through of a successful training pipeline on AWS (stack setting ``retrainedDispatch``): the
rule, GitHub's connection and API destination, the role EventBridge calls it with, under the recording mocks; what
the plan prints keeps the token out; the policy pack holds; a setting without its token is refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.guardrails import check_all
from infra.plan import Plan, PlannedResource, is_secret
from mlops.errors import ConfigError
from tests.integration.release.program_support import plan_with, stack_repo

pytestmark = pytest.mark.pulumi

TOKEN = "github_pat_not-a-real-token-0123456789"


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    settings = {"retrainedDispatch": True, "githubDispatchToken": TOKEN}
    return plan_with(stack_repo(tmp_path_factory.mktemp("repo")), "dev", settings)


def _one(plan: Plan, type_token: str, name: str) -> PlannedResource:
    return next(r for r in plan.resources if r.type == type_token and r.name == name)


def test_the_pipelines_success_dispatches_the_retrained_workflow_in_the_stacks_environment(plan: Plan) -> None:
    rule = _one(plan, "aws:cloudwatch/eventRule:EventRule", "retrain-dispatch-succeeded")
    pipeline = _one(plan, "aws:sagemaker/pipeline:Pipeline", "training-pipeline")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["detail"] == {"currentPipelineExecutionStatus": ["Succeeded"], "pipelineArn": [pipeline.arn]}
    assert pattern["detail-type"] == ["SageMaker Model Building Pipeline Execution Status Change"]
    destination = _one(plan, "aws:cloudwatch/eventApiDestination:EventApiDestination", "retrain-dispatch-workflow")
    assert destination.inputs["invocationEndpoint"] == (
        "https://api.github.com/repos/example-org/mlops-kit/actions/workflows/retrained.yml/dispatches"
    )
    assert destination.inputs["httpMethod"] == "POST"
    connection = _one(plan, "aws:cloudwatch/eventConnection:EventConnection", "retrain-dispatch-github")
    assert destination.inputs["connectionArn"] == connection.arn
    target = _one(plan, "aws:cloudwatch/eventTarget:EventTarget", "retrain-dispatch-target")
    assert (target.inputs["rule"], target.inputs["arn"]) == (rule.inputs["name"], destination.arn)
    transformer = target.inputs["inputTransformer"]
    assert transformer["inputPaths"] == {"execution": "$.detail.pipelineExecutionArn"}
    body = json.loads(transformer["inputTemplate"].replace("<execution>", '"arn:execution"'))
    assert body == {
        "ref": "main",
        "inputs": {"environment": "dev", "dataset": "card_transactions", "execution": "arn:execution"},
    }
    role_policy = _one(plan, "aws:iam/rolePolicy:RolePolicy", "retrain-dispatch-policy")
    (statement,) = json.loads(role_policy.inputs["policy"])["Statement"]
    assert (statement["Action"], statement["Resource"]) == ("events:InvokeApiDestination", destination.arn)


def test_the_token_is_sent_as_a_bearer_header_and_never_printed_by_the_plan(plan: Plan) -> None:
    connection = _one(plan, "aws:cloudwatch/eventConnection:EventConnection", "retrain-dispatch-github")
    auth = connection.inputs["authParameters"]
    assert is_secret(auth), "the block holding the token travels as a Pulumi secret (encrypted in the state)"
    api_key = auth["value"]["apiKey"]
    assert (api_key["key"], api_key["value"]) == ("Authorization", f"Bearer {TOKEN}")
    printed = json.dumps(plan.to_json(full=True)) + json.dumps(plan.to_json())
    assert TOKEN not in printed


def test_the_policy_pack_holds_with_the_dispatch(plan: Plan) -> None:
    assert [str(v) for v in check_all(plan.resources)] == []


def test_the_setting_without_its_token_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"retrainedDispatch needs githubDispatchToken.*--secret"):
        plan_with(stack_repo(tmp_path), "dev", {"retrainedDispatch": True})
