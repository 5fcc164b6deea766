"""SageMaker model package groups and their resource policies, pipelines, and the MLflow tracking server (played
locally)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import LocalApplyError
from mlops.local.apply.base import (
    Applied,
    Handler,
    HandlerContext,
    Outcome,
    applied,
    is_not_found,
    require,
    same_json,
    tags_list,
)
from mlops.local.tracking_stores import store_path
from mlops.registry.sqlite_store import create_store


def model_package_group(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    typ = "aws:sagemaker/modelPackageGroup:ModelPackageGroup"
    sagemaker = ctx.clients.client("sagemaker")
    group = str(require(inputs, "modelPackageGroupName", typ, name))
    outcome: Outcome = "reused"
    try:
        arn = sagemaker.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupArn"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        arn = sagemaker.create_model_package_group(
            ModelPackageGroupName=group,
            ModelPackageGroupDescription=inputs.get("modelPackageGroupDescription", ""),
            Tags=tags_list(inputs.get("tags")),
        )["ModelPackageGroupArn"]
        outcome = "created"
    return applied(group, inputs, outcome, arn=arn)


def pipeline(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Store the pipeline definition; a changed definition is updated in place."""
    typ = "aws:sagemaker/pipeline:Pipeline"
    sagemaker = ctx.clients.client("sagemaker")
    pipeline_name = str(require(inputs, "pipelineName", typ, name))
    definition = str(require(inputs, "pipelineDefinition", typ, name))
    common: dict[str, Any] = {
        "PipelineName": pipeline_name,
        "PipelineDisplayName": inputs.get("pipelineDisplayName", pipeline_name),
        "PipelineDefinition": definition,
        "RoleArn": str(require(inputs, "roleArn", typ, name)),
    }
    if inputs.get("pipelineDescription"):
        common["PipelineDescription"] = inputs["pipelineDescription"]
    outcome: Outcome = "reused"
    try:
        current = sagemaker.describe_pipeline(PipelineName=pipeline_name)
        arn = current["PipelineArn"]
        if not same_json(current["PipelineDefinition"], definition) or current["RoleArn"] != common["RoleArn"]:
            sagemaker.update_pipeline(**common)
            outcome = "updated"
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        arn = sagemaker.create_pipeline(**common, Tags=tags_list(inputs.get("tags")))["PipelineArn"]
        outcome = "created"
    return applied(pipeline_name, inputs, outcome, arn=arn)


def mlflow_tracking_server(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """moto has no managed MLflow: the local stand-in is a sqlite tracking store under the state dir
    (``<state_dir>/mlflow/<server name>/mlflow.db``).

    The URI is returned as ``arn`` and ``trackingServerUrl`` so the program's ``mlflow_tracking_uri``
    export (the ARN on AWS, which the sagemaker-mlflow plugin accepts) works with plain MLflow locally.
    """
    typ = "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer"
    server = str(require(inputs, "trackingServerName", typ, name))
    # One tracking store per server (its name carries the stack): stacks applied side by side to one emulator
    # keep separate registries, as separate accounts do.
    database = store_path(ctx.state_dir, server)
    outcome: Outcome = "reused" if database.parent.is_dir() else "created"
    create_store(database)  # the migrated empty store (nothing when it exists)
    uri = f"sqlite:///{database}"
    return applied(server, inputs, outcome, arn=uri, trackingServerUrl=uri)


def model_package_group_policy(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy``: the group must exist; moto has no
    ``PutModelPackageGroupPolicy``, so the document is kept under the state dir
    (``<state_dir>/sagemaker/model-package-group-policies/<group>.json``), where a re-apply compares it."""
    typ = "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"
    group = str(require(inputs, "modelPackageGroupName", typ, name))
    document = str(require(inputs, "resourcePolicy", typ, name))
    json.loads(document)  # a malformed document fails here, as PutModelPackageGroupPolicy would
    try:
        ctx.clients.client("sagemaker").describe_model_package_group(ModelPackageGroupName=group)
    except ClientError as exc:
        if is_not_found(exc):
            raise LocalApplyError(f"{typ} {name!r}: model package group {group!r} does not exist") from exc
        raise
    path = ctx.state_dir / "sagemaker" / "model-package-group-policies" / f"{group}.json"
    outcome: Outcome = "created"
    if path.is_file():
        outcome = "reused" if same_json(path.read_text(), document) else "updated"
    if outcome != "reused":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document)
    return applied(group, inputs, outcome, modelPackageGroupName=group)


HANDLERS: dict[str, Handler] = {
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": model_package_group_policy,
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": model_package_group,
    "aws:sagemaker/pipeline:Pipeline": pipeline,
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": mlflow_tracking_server,
}
