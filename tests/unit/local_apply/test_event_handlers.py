"""The local apply's EventBridge handlers on the session's emulator, with inputs in the shape the program's
recording mocks receive (a secret wrapped by the SDK): a connection, an API destination, a rule and a target with
an input transformer and a retry policy; re-applying reuses what did not change."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from pulumi.runtime import rpc

from mlops.adapters.aws.clients import ClientFactory
from mlops.local.apply.base import HandlerContext, revealed
from mlops.local.apply.handlers import events


def _context(clients: ClientFactory, tmp_path: Path) -> HandlerContext:
    return HandlerContext(clients=clients, account_id="123456789012", region="us-east-1", state_dir=tmp_path)


def _connection_inputs(name: str) -> dict[str, object]:
    auth = {
        "apiKey": {"key": "Authorization", "value": "Bearer t0ken"},
        "invocationHttpParameters": {
            "headers": [{"key": "Accept", "value": "application/vnd.github+json", "isValueSecret": False}]
        },
    }
    secret = {rpc._special_sig_key: rpc._special_secret_sig, "value": auth}
    return {"name": name, "authorizationType": "API_KEY", "authParameters": secret, "description": "GitHub"}


def test_a_rule_calls_an_api_destination_with_a_transformed_body(
    emulated_clients: ClientFactory, tmp_path: Path
) -> None:
    ctx = _context(emulated_clients, tmp_path)
    suffix = uuid.uuid4().hex[:8]
    connection = events.connection(ctx, "c", revealed(_connection_inputs(f"github-{suffix}")))
    destination_inputs = {
        "name": f"workflow-{suffix}",
        "connectionArn": connection.state["arn"],
        "invocationEndpoint": "https://api.github.com/repos/o/r/actions/workflows/retrained.yml/dispatches",
        "httpMethod": "POST",
        "invocationRateLimitPerSecond": 1.0,
    }
    destination = events.api_destination(ctx, "d", destination_inputs)
    pattern = json.dumps({"source": ["aws.sagemaker"], "detail": {"currentPipelineExecutionStatus": ["Succeeded"]}})
    rule = events.rule(ctx, "r", {"name": f"retrained-{suffix}", "eventPattern": pattern})
    target_inputs = {
        "rule": rule.physical_id,
        "targetId": "retrained-workflow",
        "arn": destination.state["arn"],
        "inputTransformer": {
            "inputPaths": {"execution": "$.detail.pipelineExecutionArn"},
            "inputTemplate": '{"ref": "main", "inputs": {"execution": <execution>}}',
        },
        "retryPolicy": {"maximumEventAgeInSeconds": 86400.0, "maximumRetryAttempts": 185.0},
    }
    first = events.target(ctx, "t", target_inputs)

    client = emulated_clients.client("events")
    described = client.describe_connection(Name=f"github-{suffix}")
    assert described["AuthorizationType"] == "API_KEY"
    (target,) = client.list_targets_by_rule(Rule=rule.physical_id)["Targets"]
    assert target["InputTransformer"]["InputPathsMap"] == {"execution": "$.detail.pipelineExecutionArn"}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert client.describe_api_destination(Name=f"workflow-{suffix}")["HttpMethod"] == "POST"
    again = (events.api_destination(ctx, "d", destination_inputs), events.target(ctx, "t", target_inputs))
    assert (first.outcome, again[0].outcome, again[1].outcome) == ("created", "reused", "reused")
    assert events.connection(ctx, "c", revealed(_connection_inputs(f"github-{suffix}"))).outcome == "reused"
    rotated = revealed(_connection_inputs(f"github-{suffix}"))
    rotated["authParameters"]["apiKey"]["value"] = "Bearer rotated"
    assert events.connection(ctx, "c", rotated).outcome == "updated"
    kept = (tmp_path / "events" / "connections" / f"github-{suffix}.sha256").read_text()
    assert "rotated" not in kept and "t0ken" not in kept  # a digest, never the secret
