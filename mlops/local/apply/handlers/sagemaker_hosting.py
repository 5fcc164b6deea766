"""SageMaker models, endpoint configurations and endpoints (moto records them; the kit serves locally)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlops.local.apply.base import (
    Applied,
    Handler,
    HandlerContext,
    Outcome,
    applied,
    is_not_found,
    require,
    tags_list,
    to_boto,
)

MODEL = "aws:sagemaker/model:Model"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"


def _container(container: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = to_boto({k: v for k, v in container.items() if k != "environment"})
    if container.get("environment"):
        converted["Environment"] = dict(container["environment"])  # variable names are not boto3 fields
    return converted


def model(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Models are immutable in SageMaker: an existing model of the same name is reused as is."""
    sagemaker = ctx.clients.client("sagemaker")
    model_name = str(require(inputs, "name", MODEL, name))
    outcome: Outcome = "reused"
    try:
        arn = sagemaker.describe_model(ModelName=model_name)["ModelArn"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        request: dict[str, Any] = {
            "ModelName": model_name,
            "ExecutionRoleArn": str(require(inputs, "executionRoleArn", MODEL, name)),
            "Tags": tags_list(inputs.get("tags")),
        }
        if inputs.get("primaryContainer"):
            request["PrimaryContainer"] = _container(inputs["primaryContainer"])
        if inputs.get("containers"):
            request["Containers"] = [_container(c) for c in inputs["containers"]]
        vpc = inputs.get("vpcConfig")
        if vpc:
            request["VpcConfig"] = {"Subnets": list(vpc["subnets"]), "SecurityGroupIds": list(vpc["securityGroupIds"])}
        if inputs.get("enableNetworkIsolation"):
            request["EnableNetworkIsolation"] = True
        arn = sagemaker.create_model(**request)["ModelArn"]
        outcome = "created"
    return applied(model_name, inputs, outcome, name=model_name, arn=arn)


def endpoint_configuration(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Endpoint configurations are immutable too: the program names a new one when it changes."""
    sagemaker = ctx.clients.client("sagemaker")
    config_name = str(require(inputs, "name", ENDPOINT_CONFIG, name))
    outcome: Outcome = "reused"
    try:
        arn = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["EndpointConfigArn"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        request: dict[str, Any] = {
            "EndpointConfigName": config_name,
            "ProductionVariants": to_boto(require(inputs, "productionVariants", ENDPOINT_CONFIG, name)),
            "Tags": tags_list(inputs.get("tags")),
        }
        capture = inputs.get("dataCaptureConfig")
        if capture:
            request["DataCaptureConfig"] = to_boto(capture, {"destinationS3Uri": "DestinationS3Uri"})
        if inputs.get("kmsKeyArn"):
            request["KmsKeyId"] = inputs["kmsKeyArn"]
        arn = sagemaker.create_endpoint_config(**request)["EndpointConfigArn"]
        outcome = "created"
    return applied(config_name, inputs, outcome, name=config_name, arn=arn)


def endpoint(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Create the endpoint, or reuse it whatever configuration it serves now.

    The program declares the endpoint with ``ignore_changes=["endpointConfigName"]``: after creation the deploy
    tooling (`mlops deploy`) owns which configuration it serves, and an apply must not move it back. Mocks do not
    see resource options, so the handler applies that rule itself.
    """
    sagemaker = ctx.clients.client("sagemaker")
    endpoint_name = str(require(inputs, "name", ENDPOINT, name))
    config_name = str(require(inputs, "endpointConfigName", ENDPOINT, name))
    outcome: Outcome = "created"
    try:
        current = sagemaker.describe_endpoint(EndpointName=endpoint_name)
        outcome = "reused"
        arn = current["EndpointArn"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    if outcome != "reused":
        arn = sagemaker.create_endpoint(
            EndpointName=endpoint_name, EndpointConfigName=config_name, Tags=tags_list(inputs.get("tags"))
        )["EndpointArn"]
    return applied(endpoint_name, inputs, outcome, name=endpoint_name, arn=arn)


HANDLERS: dict[str, Handler] = {MODEL: model, ENDPOINT_CONFIG: endpoint_configuration, ENDPOINT: endpoint}
