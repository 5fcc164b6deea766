"""The one place that says what the embedded emulator (moto 5.2) cannot honour, and what the local apply does.

Every entry is a setting the infra program declares for AWS that moto either cannot represent or would turn
into something harmful locally. The handlers consult these functions; ``docs/local.md`` repeats the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlops.errors import LocalApplyError


@dataclass(frozen=True)
class Limit:
    """A setting moto cannot honour: which resource type, what the program asks, what happens locally."""

    type_token: str
    setting: str
    local_behaviour: str


LIMITS: tuple[Limit, ...] = (
    Limit(
        "aws:s3/bucketPolicy:BucketPolicy",
        "Deny statements with a Condition (e.g. deny aws:SecureTransport=false)",
        "moto ignores the condition and denies EVERY request on the bucket, so such statements are recorded "
        "in the ledger's state but not sent to moto; Allow statements are applied as written",
    ),
    Limit(
        "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer",
        "a managed MLflow tracking server (moto has none)",
        "the handler plays the server: its arn and trackingServerUrl are "
        "sqlite:///<state_dir>/mlflow/<server name>/mlflow.db (one store per stack), so the exported "
        "mlflow_tracking_uri works with plain MLflow",
    ),
    Limit(
        "aws:glue/job:Job",
        "changing a job (moto has no UpdateJob)",
        "a job whose definition changed is deleted and created again under the same name",
    ),
    Limit(
        "aws:glue/trigger:Trigger",
        "changing a trigger (moto has no UpdateTrigger)",
        "a trigger whose definition changed is deleted and created again under the same name",
    ),
    Limit(
        "aws:sagemaker/endpoint:Endpoint",
        "ignore_changes on endpointConfigName (the deploy tooling owns the served configuration); mocks see no options",
        "an existing endpoint is reused whatever configuration it serves; `mlops deploy` re-points it by delete and "
        "create, since moto's UpdateEndpoint returns HTTP 500",
    ),
    Limit(
        "aws:kms/key:Key",
        "finding a key again (keys have no name)",
        "the key is tagged mlops:logical-name=<logical name> and found by that tag and the stack's environment "
        "tag on the next apply",
    ),
    Limit(
        "aws:sagemaker/pipeline:Pipeline",
        "running the pipeline",
        "moto stores the definition and runs nothing; locally `mlops train` runs the same steps in-process",
    ),
    Limit(
        "aws:sagemaker/pipeline:Pipeline",
        "every job's VolumeKmsKeyId and output KmsKeyId (OutputKmsKeyId), VpcConfig (SubnetIdA/B, SecurityGroupId), "
        "EnableNetworkIsolation and EnableInterContainerTrafficEncryption",
        "the local pipeline executor evaluates them like every parameter and sends processing jobs' NetworkConfig and "
        "keys to moto, but enforces none: entry points run as host processes (no volume, no VPC, no isolation, one "
        "instance), and outputs are uploaded through the object store port, which takes no per-object key, so they "
        "get the bucket's default encryption (SSE-KMS with the stack's key, the key the stack binds to "
        "OutputKmsKeyId) rather than an SSE-KMS request naming OutputKmsKeyId",
    ),
    Limit(
        "aws:ec2/vpc:Vpc",
        "private networking: workloads placed in private subnets with no internet path",
        "moto records the VPC, subnets, route tables and their associations; nothing runs in them: the kit's "
        "local runners (Glue jobs, training, the endpoint) run as host processes that call the emulator directly",
    ),
    Limit(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "reaching AWS services privately (gateway endpoints for S3/DynamoDB, interface endpoints with private DNS)",
        "moto records each endpoint (gateway ones report the service's prefix list id, which the security group "
        "rules refer to); no request goes through them: local clients call the emulator's endpoint URL",
    ),
    Limit(
        "aws:ec2/securityGroup:SecurityGroup",
        "filtering traffic (the group's rules are aws:vpc/securityGroup{Ingress,Egress}Rule resources)",
        "moto records the groups and their rules (the default allow-all egress rule is revoked, as the provider "
        "does); no traffic is filtered, since no local process runs in the VPC",
    ),
    Limit(
        "aws:ec2/flowLog:FlowLog",
        "VPC flow logs delivered to an encrypted CloudWatch Logs group",
        "moto records the flow log; with no traffic in the VPC, no log event is ever delivered",
    ),
    Limit(
        "aws:sagemaker/model:Model",
        "EnableNetworkIsolation and VpcConfig of the hosted model",
        "both are sent; moto keeps VpcConfig but answers EnableNetworkIsolation=False on DescribeModel. The local "
        "endpoint runner serves the model in a host process (not isolated, not in the VPC)",
    ),
    Limit(
        "aws:glue/securityConfiguration:SecurityConfiguration",
        "encrypting job output (SSE-KMS), logs and bookmarks with the stack's key",
        "moto stores the configuration and the jobs name it; the kit's local Glue runner writes to moto S3 without "
        "applying it (moto's buckets still carry their default SSE-KMS setting)",
    ),
    Limit(
        "aws:glue/connection:Connection",
        "running Glue jobs in the private subnets (NETWORK connections); changing a connection",
        "moto stores the connections and the jobs list them; the local Glue runner runs jobs in-process. moto has "
        "no UpdateConnection or DeleteConnection: a changed connection fails the apply, naming `mlops local reset`",
    ),
    Limit(
        "aws:ecr/repository:Repository",
        "scan on push, KMS encryption and immutable tags",
        "all three are stored; moto scans nothing and encrypts nothing (immutability is enforced)",
    ),
    Limit(
        "docker-build:index:Image",
        "build the image from its context and push it (dockerBuild: true)",
        "no Docker engine: the handler pushes a manifest standing for the context (its digest names the context's "
        "files) under the declared tag, so the repository lists the tag and dependents get repo@sha256 URIs",
    ),
    Limit(
        "aws:glue/dataCatalogEncryptionSettings:DataCatalogEncryptionSettings",
        "encrypting the Data Catalog's metadata and connection passwords with the stack's key",
        "moto stores the settings (GetDataCatalogEncryptionSettings returns them); its catalog encrypts nothing",
    ),
)


def _is_conditional_deny(statement: Any) -> bool:
    return isinstance(statement, dict) and statement.get("Effect") == "Deny" and bool(statement.get("Condition"))


def applicable_bucket_policy(document: str, bucket: str) -> str | None:
    """The bucket policy to send to moto: the document without conditional Deny statements.

    Returns ``None`` when nothing is left (the handler then leaves the bucket without a policy).
    """
    try:
        parsed = json.loads(document)
    except json.JSONDecodeError as exc:
        raise LocalApplyError(f"bucket policy of {bucket!r} is not valid JSON: {exc}") from exc
    statements = parsed.get("Statement") if isinstance(parsed, dict) else None
    if not isinstance(statements, list):
        raise LocalApplyError(f"bucket policy of {bucket!r} has no Statement list")
    kept = [statement for statement in statements if not _is_conditional_deny(statement)]
    if not kept:
        return None
    return json.dumps({**parsed, "Statement": kept})


def dropped_statements(document: str) -> list[dict[str, Any]]:
    """The statements :func:`applicable_bucket_policy` leaves out (for reports and tests)."""
    statements = json.loads(document).get("Statement", [])
    return [statement for statement in statements if _is_conditional_deny(statement)]
