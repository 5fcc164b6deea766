"""After the training pipeline succeeds, GitHub gates and deploys what it registered (opt-in per stack).

On the emulator the kit's alarm runner follows an automatic retrain through by itself (gate, then deploy a winner).
On AWS this component does it through the release's own path: EventBridge matches the pipeline execution's
``Succeeded`` status change and calls GitHub's workflow-dispatch API (an API destination; the token is the stack's
secret config ``githubDispatchToken``, kept by EventBridge in Secrets Manager) with the stack's environment, the
dataset and the execution. ``.github/workflows/retrained.yml`` then runs in that GitHub environment, so its
protection rules (prod's reviewers) decide, gates the challenger against the champion, deploys a winner blue/green
and smoke-tests the endpoint. Executions the release itself started are dispatched too: the gate finds no new
challenger there and deploys nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming, policies
from infra.components.base import StackIdentity, child, policy_json
from infra.components.monitoring import COMPONENT, events_role

WORKFLOW = "retrained.yml"
GITHUB_API = "https://api.github.com"
EXECUTION_PATH = "$.detail.pipelineExecutionArn"
STATUS_CHANGE = "SageMaker Model Building Pipeline Execution Status Change"
API_VERSION = ("X-GitHub-Api-Version", "2022-11-28")


@dataclass(frozen=True)
class RetrainDispatchArgs:
    """Inputs of :class:`RetrainDispatch`."""

    identity: StackIdentity
    pipeline_arn: pulumi.Output[str]
    repository: str
    dataset: str
    token: pulumi.Output[str]
    ref: str = "main"


def dispatch_url(repository: str) -> str:
    """GitHub's workflow-dispatch endpoint of the ``retrained`` workflow."""
    return f"{GITHUB_API}/repos/{repository}/actions/workflows/{WORKFLOW}/dispatches"


def dispatch_template(environment: str, dataset: str, ref: str) -> str:
    """The request body EventBridge sends: ``<execution>`` becomes the execution's ARN (a JSON string)."""
    body = {"ref": ref, "inputs": {"environment": environment, "dataset": dataset, "execution": "EXECUTION"}}
    return json.dumps(body, sort_keys=True).replace('"EXECUTION"', "<execution>")


def succeeded_pattern(pipeline_arn: str) -> str:
    """The stack's training pipeline reached ``Succeeded``."""
    return json.dumps(
        {
            "source": ["aws.sagemaker"],
            "detail-type": [STATUS_CHANGE],
            "detail": {"currentPipelineExecutionStatus": ["Succeeded"], "pipelineArn": [pipeline_arn]},
        },
        sort_keys=True,
    )


class RetrainDispatch(pulumi.ComponentResource):
    """The rule, the GitHub connection and API destination, and the role EventBridge calls it with."""

    def __init__(self, name: str, args: RetrainDispatchArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:monitoring:RetrainDispatch", name, None, opts)
        ident = args.identity
        tags = ident.tags(COMPONENT)
        connection = aws.cloudwatch.EventConnection(
            f"{name}-github",
            name=naming.resource_name(ident.project, ident.environment, "github-dispatch"),
            description="GitHub's API with the stack's dispatch token",
            authorization_type="API_KEY",
            auth_parameters=aws.cloudwatch.EventConnectionAuthParametersArgs(
                api_key=aws.cloudwatch.EventConnectionAuthParametersApiKeyArgs(
                    key="Authorization", value=args.token.apply(_bearer)
                ),
                invocation_http_parameters=aws.cloudwatch.EventConnectionAuthParametersInvocationHttpParametersArgs(
                    headers=[_header("Accept", "application/vnd.github+json"), _header(*API_VERSION)]
                ),
            ),
            opts=child(self),
        )
        destination = aws.cloudwatch.EventApiDestination(
            f"{name}-workflow",
            name=naming.resource_name(ident.project, ident.environment, "retrained-workflow"),
            description=f"Dispatch {WORKFLOW} of {args.repository}",
            connection_arn=connection.arn,
            invocation_endpoint=dispatch_url(args.repository),
            http_method="POST",
            invocation_rate_limit_per_second=1,
            opts=child(self),
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-succeeded",
            name=naming.resource_name(ident.project, ident.environment, "retrained"),
            description="Gate and deploy what a successful training pipeline registered (GitHub workflow)",
            event_pattern=args.pipeline_arn.apply(succeeded_pattern),
            tags=tags,
            opts=child(self),
        )
        policy = policy_json(policies.invoke_api_destination_policy, destination.arn)
        role = events_role(self, name, ident, "retrained-events", policy)
        aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=rule.name,
            target_id="retrained-workflow",
            arn=destination.arn,
            role_arn=role.arn,
            input_transformer={
                "input_paths": {"execution": EXECUTION_PATH},
                "input_template": dispatch_template(ident.environment, args.dataset, args.ref),
            },
            # GitHub unreachable or rate limiting: EventBridge retries for up to a day
            retry_policy={"maximum_event_age_in_seconds": 86400, "maximum_retry_attempts": 185},
            opts=child(self),
        )
        self.rule_name = rule.name
        self.register_outputs({"rule_name": rule.name})


def _header(key: str, value: str) -> aws.cloudwatch.EventConnectionAuthParametersInvocationHttpParametersHeaderArgs:
    return aws.cloudwatch.EventConnectionAuthParametersInvocationHttpParametersHeaderArgs(
        key=key, value=value, is_value_secret=False
    )


def _bearer(token: str) -> str:
    return f"Bearer {token}"
