"""Application Auto Scaling targets and policies (endpoint variant scaling)."""

from __future__ import annotations

from typing import Any

from mlops.local.apply.base import Applied, Handler, HandlerContext, Outcome, applied, as_int, require, to_boto

TARGET = "aws:appautoscaling/target:Target"
POLICY = "aws:appautoscaling/policy:Policy"


def _key(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, str]:
    return {
        "ServiceNamespace": str(require(inputs, "serviceNamespace", typ, name)),
        "ResourceId": str(require(inputs, "resourceId", typ, name)),
        "ScalableDimension": str(require(inputs, "scalableDimension", typ, name)),
    }


def target(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Register the scalable target; its id is the resource id, as the provider reports it."""
    client = ctx.clients.client("application-autoscaling")
    key = _key(TARGET, name, inputs)
    capacity = {
        "MinCapacity": as_int(require(inputs, "minCapacity", TARGET, name)),
        "MaxCapacity": as_int(require(inputs, "maxCapacity", TARGET, name)),
    }
    found = client.describe_scalable_targets(
        ServiceNamespace=key["ServiceNamespace"],
        ResourceIds=[key["ResourceId"]],
        ScalableDimension=key["ScalableDimension"],
    )["ScalableTargets"]
    outcome: Outcome = "created"
    if found:
        same = all(found[0].get(k) == v for k, v in capacity.items())
        outcome = "reused" if same else "updated"
    if outcome != "reused":
        request = {**key, **capacity}
        if inputs.get("roleArn"):
            request["RoleARN"] = inputs["roleArn"]
        client.register_scalable_target(**request)
        found = client.describe_scalable_targets(
            ServiceNamespace=key["ServiceNamespace"],
            ResourceIds=[key["ResourceId"]],
            ScalableDimension=key["ScalableDimension"],
        )["ScalableTargets"]
    arn = found[0].get("ScalableTargetARN", "") if found else ""
    return applied(key["ResourceId"], inputs, outcome, arn=arn)


def policy(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Put the scaling policy (target tracking or step), reused when the same configuration exists."""
    client = ctx.clients.client("application-autoscaling")
    policy_name = str(require(inputs, "name", POLICY, name))
    key = _key(POLICY, name, inputs)
    desired: dict[str, Any] = {
        "PolicyName": policy_name,
        "PolicyType": inputs.get("policyType", "TargetTrackingScaling"),
    }
    if inputs.get("targetTrackingScalingPolicyConfiguration"):
        desired["TargetTrackingScalingPolicyConfiguration"] = to_boto(
            inputs["targetTrackingScalingPolicyConfiguration"]
        )
    if inputs.get("stepScalingPolicyConfiguration"):
        desired["StepScalingPolicyConfiguration"] = to_boto(inputs["stepScalingPolicyConfiguration"])
    found = client.describe_scaling_policies(
        PolicyNames=[policy_name], ServiceNamespace=key["ServiceNamespace"], ResourceId=key["ResourceId"]
    )["ScalingPolicies"]
    outcome: Outcome = "created"
    arn = ""
    if found:
        same = all(found[0].get(k) == v for k, v in desired.items())
        outcome = "reused" if same else "updated"
        arn = found[0]["PolicyARN"]
    if outcome != "reused":
        arn = client.put_scaling_policy(**key, **desired)["PolicyARN"]
    return applied(arn, inputs, outcome, name=policy_name, arn=arn)


HANDLERS: dict[str, Handler] = {TARGET: target, POLICY: policy}
