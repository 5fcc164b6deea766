"""IAM policy documents as plain dicts (serialised with ``json.dumps`` by the components).

Pure functions of names and ARNs, so least privilege is reviewed and tested without mocks. Every statement
names the actions and resources it needs; none pairs ``*`` actions with ``*`` resources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from infra import naming, promotion
from infra.naming import DATASET_DEFINITIONS_ROOT, s3_arn
from infra.promotion import PromotionPeer

PolicyDocument = dict[str, Any]
VERSION = "2012-10-17"


def _doc(*statements: dict[str, Any]) -> PolicyDocument:
    return {"Version": VERSION, "Statement": list(statements)}


def assume_role_policy(service: str, *, source_account: str | None = None) -> PolicyDocument:
    """Trust policy letting an AWS service (``glue.amazonaws.com``) assume the role; with ``source_account``
    only on behalf of that account (confused-deputy guard for services that send it)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return _doc(statement)


def tls_only_bucket_policy(bucket: str, *, log_delivery_account: str | None = None) -> PolicyDocument:
    """Deny every request not made over TLS; the access-log bucket also lets S3 log delivery write."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [s3_arn(bucket), s3_arn(bucket, "*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    if log_delivery_account is not None:
        statements.append(
            {
                "Sid": "AllowServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": s3_arn(bucket, "*"),
                "Condition": {"StringEquals": {"aws:SourceAccount": log_delivery_account}},
            }
        )
    return _doc(*statements)


def kms_key_policy(account_id: str, region: str) -> PolicyDocument:
    """Key policy: the account administers the key; the services that encrypt with it may use it."""
    services = [f"logs.{region}.amazonaws.com", "sns.amazonaws.com", "cloudwatch.amazonaws.com", "events.amazonaws.com"]
    return _doc(
        {
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "ServicesEncrypt",
            "Effect": "Allow",
            "Principal": {"Service": services},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
    )


def _kms_use(kms_key_arn: str) -> dict[str, Any]:
    return {
        "Sid": "UseStackKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
        "Resource": kms_key_arn,
    }


def _read_write(buckets: list[str], sid: str) -> list[dict[str, Any]]:
    return [
        {"Sid": f"{sid}List", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [s3_arn(b) for b in buckets]},
        {
            "Sid": f"{sid}Objects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": [s3_arn(b, "*") for b in buckets],
        },
    ]


@dataclass(frozen=True)
class NetworkPlacement:
    """Where a workload's network interfaces may go: the stack's private subnets and its security groups."""

    region: str
    account_id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    glue_connection_arns: tuple[str, ...] = ()

    def arns(self, kind: str, ids: tuple[str, ...]) -> list[str]:
        return [f"arn:aws:ec2:{self.region}:{self.account_id}:{kind}/{i}" for i in ids]


VPC_DESCRIBE_ACTIONS: tuple[str, ...] = (
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcs",
)
"""EC2 reads that support no resource-level permission (so ``Resource: *``); services call them to place ENIs."""


def _vpc_access(network: NetworkPlacement, *, tag_interfaces: bool) -> list[dict[str, Any]]:
    interfaces = f"arn:aws:ec2:{network.region}:{network.account_id}:network-interface/*"
    statements: list[dict[str, Any]] = [
        {"Sid": "DescribeNetwork", "Effect": "Allow", "Action": list(VPC_DESCRIBE_ACTIONS), "Resource": "*"},
        {
            "Sid": "AttachToPrivateSubnets",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface"],
            "Resource": [
                interfaces,
                *network.arns("subnet", network.subnet_ids),
                *network.arns("security-group", network.security_group_ids),
            ],
        },
        {
            "Sid": "ManageOwnInterfaces",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            "Resource": interfaces,
        },
    ]
    if tag_interfaces:  # Glue tags the interfaces it creates
        statements.append(
            {
                "Sid": "TagOwnInterfaces",
                "Effect": "Allow",
                "Action": ["ec2:CreateTags", "ec2:DeleteTags"],
                "Resource": interfaces,
                "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["aws-glue-service-resource"]}},
            }
        )
    return statements


def _kms_grants(kms_key_arn: str) -> dict[str, Any]:
    """SageMaker encrypts job and endpoint volumes through grants on the key, for AWS resources only."""
    return {
        "Sid": "GrantForVolumes",
        "Effect": "Allow",
        "Action": ["kms:CreateGrant"],
        "Resource": kms_key_arn,
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    }


def flow_logs_policy(log_group_arn: str) -> PolicyDocument:
    """VPC flow logs deliver into their (KMS-encrypted) log group."""
    return _doc(
        {
            "Sid": "DeliverFlowLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [log_group_arn, f"{log_group_arn}:*"],
        }
    )


def firehose_policy(stream_arn: str, raw_bucket: str, kms_key_arn: str, error_log_group_arn: str) -> PolicyDocument:
    """Firehose reads the Kinesis stream, writes objects into the raw zone and logs delivery errors."""
    return _doc(
        {
            "Sid": "ReadStream",
            "Effect": "Allow",
            "Action": [
                "kinesis:DescribeStream",
                "kinesis:GetShardIterator",
                "kinesis:GetRecords",
                "kinesis:ListShards",
            ],
            "Resource": stream_arn,
        },
        {
            "Sid": "WriteRaw",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:ListBucket", "s3:PutObject"],
            "Resource": [s3_arn(raw_bucket), s3_arn(raw_bucket, "*")],
        },
        {
            "Sid": "LogDeliveryErrors",
            "Effect": "Allow",
            "Action": ["logs:PutLogEvents"],
            "Resource": [f"{error_log_group_arn}:*"],
        },
        _kms_use(kms_key_arn),
    )


def glue_job_policy(
    data_buckets: list[str],
    artifacts_bucket: str,
    kms_key_arn: str,
    database_arns: list[str],
    log_group_arn: str,
    *,
    network: NetworkPlacement,
) -> PolicyDocument:
    """Glue jobs read scripts and the kit wheel, read/write the data zones, the catalog and their log groups
    (KMS-associated: the security configuration encrypts them), and attach to the stack's private subnets."""
    region, account = network.region, network.account_id
    glue_logs = f"arn:aws:logs:{region}:{account}:log-group:/aws-glue/*"
    return _doc(
        *_read_write(data_buckets, "DataZones"),
        {
            "Sid": "ReadArtifacts",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [s3_arn(artifacts_bucket, "glue/*")],
        },
        {
            "Sid": "Catalog",
            "Effect": "Allow",
            "Action": [
                "glue:GetDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:GetPartitions",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:BatchCreatePartition",
            ],
            "Resource": database_arns,
        },
        {
            "Sid": "NetworkConnections",
            "Effect": "Allow",
            "Action": ["glue:GetConnection"],
            "Resource": [f"arn:aws:glue:{region}:{account}:catalog", *network.glue_connection_arns],
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
            "Resource": [log_group_arn, f"{log_group_arn}:*", glue_logs, f"{glue_logs}:*"],
        },
        *_vpc_access(network, tag_interfaces=True),
        _kms_use(kms_key_arn),
    )


def sagemaker_policy(
    data_buckets: list[str],
    models_bucket: str,
    kms_key_arn: str,
    *,
    artifacts_bucket: str,
    account_id: str,
    region: str,
    prefix: str,
    image_repositories: list[str],
    network: NetworkPlacement,
) -> PolicyDocument:
    """SageMaker training, pipelines, MLflow and hosting read features, write models and manage their jobs;
    the pipeline's Prepare step reads (only) the dataset definitions from the artifacts bucket. Images come only
    from the configured repositories (``ecr:GetAuthorizationToken`` alone takes ``*``), and jobs and models
    attach network interfaces only in the stack's private subnets and security groups."""
    arn = f"arn:aws:sagemaker:{region}:{account_id}"
    return _doc(
        *_read_write([*data_buckets, models_bucket], "Zones"),
        {
            "Sid": "ReadDatasetDefinitions",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [s3_arn(artifacts_bucket, f"{DATASET_DEFINITIONS_ROOT}*")],
        },
        {
            "Sid": "ListDatasetDefinitions",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [s3_arn(artifacts_bucket)],
            "Condition": {"StringLike": {"s3:prefix": [f"{DATASET_DEFINITIONS_ROOT}*"]}},
        },
        {
            "Sid": "OwnJobs",
            "Effect": "Allow",
            "Action": [
                "sagemaker:CreateTrainingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:CreateProcessingJob",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:CreateModelPackage",
                "sagemaker:DescribeModelPackage",
                "sagemaker:AddTags",
                "sagemaker-mlflow:*",
            ],
            "Resource": [
                f"{arn}:training-job/{prefix}-*",
                # jobs the training pipeline's steps start are named by SageMaker Pipelines
                f"{arn}:training-job/pipelines-*",
                f"{arn}:processing-job/pipelines-*",
                f"{arn}:model-package/{prefix}-*",
                f"{arn}:model-package-group/{prefix}-*",
                f"{arn}:mlflow-tracking-server/{prefix}-*",
            ],
        },
        {
            "Sid": "PassOwnRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": f"arn:aws:iam::{account_id}:role/{prefix}-*",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{region}:{account_id}:log-group:/aws/sagemaker/*",
        },
        {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Sid": "PullImages",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": sorted(set(image_repositories)),
        },
        *_vpc_access(network, tag_interfaces=False),
        _kms_use(kms_key_arn),
        _kms_grants(kms_key_arn),
    )


def start_pipeline_policy(pipeline_arn: str) -> PolicyDocument:
    """EventBridge may start (only) the training pipeline."""
    return _doc({"Effect": "Allow", "Action": "sagemaker:StartPipelineExecution", "Resource": pipeline_arn})


def invoke_api_destination_policy(destination_arn: str) -> PolicyDocument:
    """EventBridge may call (only) the given API destination."""
    return _doc({"Effect": "Allow", "Action": "events:InvokeApiDestination", "Resource": destination_arn})


GITHUB_AUDIENCE = "sts.amazonaws.com"
GITHUB_TOKEN_ISSUER = "token.actions.githubusercontent.com"


def github_trust_policy(provider_arn: str, repository: str, environment: str) -> PolicyDocument:
    """Only GitHub Actions jobs of ``repository`` that run in the GitHub environment ``environment`` may assume
    (subject ``repo:<repository>:environment:<environment>``): the environment's protection rules (required
    reviewers, branches) decide who gets the role, not the branch a workflow happens to run on."""
    return _doc(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{GITHUB_TOKEN_ISSUER}:aud": GITHUB_AUDIENCE,
                    f"{GITHUB_TOKEN_ISSUER}:sub": f"repo:{repository}:environment:{environment}",
                },
            },
        }
    )


WORKLOAD_ROLES: dict[str, str] = {
    "glue": "glue.amazonaws.com",
    "sagemaker": "sagemaker.amazonaws.com",
    "firehose": "firehose.amazonaws.com",
    "retrain-events": "events.amazonaws.com",
    "retrained-events": "events.amazonaws.com",
    "flow-logs": "vpc-flow-logs.amazonaws.com",
}
"""The roles the stack creates for its services (purpose -> the service that assumes it). The deploy role
manages exactly these, each under the stack's permissions boundary, and passes each only to its service."""

IDENTITY_ROLES: tuple[str, ...] = ("deploy", "preview")
"""The CI roles (``<prefix>-deploy-role``, ``<prefix>-preview-role``): created by an administrator's first
``pulumi up``; the deploy role may not change them, nor the boundary."""

NETWORK_ACTIONS: tuple[str, ...] = (
    "ec2:AssociateRouteTable",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateFlowLogs",
    "ec2:CreateRouteTable",
    "ec2:CreateSecurityGroup",
    "ec2:CreateSubnet",
    "ec2:CreateTags",
    "ec2:CreateVpc",
    "ec2:CreateVpcEndpoint",
    "ec2:DeleteFlowLogs",
    "ec2:DeleteRouteTable",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteSubnet",
    "ec2:DeleteVpc",
    "ec2:DeleteVpcEndpoints",
    "ec2:DisassociateRouteTable",
    "ec2:ModifySecurityGroupRules",
    "ec2:ModifyVpcAttribute",
    "ec2:ModifyVpcEndpoint",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
)

ROLE_EDIT_ACTIONS: tuple[str, ...] = (
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:PutRolePermissionsBoundary",
    "iam:TagRole",
    "iam:UntagRole",
)
"""What the deploy role does to a workload role: only while the role carries the stack's boundary."""

ROLE_READ_ACTIONS: tuple[str, ...] = (
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies",
    "iam:ListInstanceProfilesForRole",
    "iam:ListRoleTags",
)

IDENTITY_WRITE_ACTIONS: tuple[str, ...] = (
    *ROLE_EDIT_ACTIONS,
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:DeleteRolePermissionsBoundary",
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:TagPolicy",
    "iam:UntagPolicy",
    "iam:CreateOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "iam:UpdateOpenIDConnectProviderThumbprint",
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider",
)
"""Every IAM write the deploy role is denied on its own identity (itself, the preview role, the boundary, the
OIDC provider), whatever else allows it."""

UNSCOPED_READ_ACTIONS: tuple[str, ...] = (
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
    "application-autoscaling:DescribeScalingActivities",
    "kms:ListAliases",
    "logs:DescribeLogGroups",
)
"""Reads the provider makes that support no resource-level permission (so ``Resource: *``): Application Auto
Scaling's descriptions, KMS's alias list (an alias is read by listing), CloudWatch Logs' group list."""


@dataclass(frozen=True)
class DeployScope:
    """What one stack's CI identity may touch: its names (from :mod:`infra.naming`, as the components name
    their resources), its account and region, and where its Pulumi state and secrets key live."""

    account_id: str
    region: str
    project: str
    environment: str
    state_bucket: str | None = None
    secrets_key_arn: str | None = None
    promotion_source: PromotionPeer | None = None
    """The stack whose gated versions this stack receives: the deploy role reads them there (infra/promotion.py)."""

    @property
    def prefix(self) -> str:
        return naming.prefix(self.project, self.environment)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def role_arn(self, purpose: str) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{naming.role_name(self.project, self.environment, purpose)}"

    @property
    def boundary_name(self) -> str:
        return naming.resource_name(self.project, self.environment, "workload-boundary", 128)

    @property
    def boundary_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:policy/{self.boundary_name}"

    def deploy_policy_name(self, concern: str) -> str:
        return naming.resource_name(self.project, self.environment, f"deploy-{concern}", 128)

    @property
    def deploy_policy_arns(self) -> str:
        """Every customer-managed policy of the deploy role (:func:`deploy_policies`)."""
        return f"arn:aws:iam::{self.account_id}:policy/{self.prefix}-deploy-*"

    @property
    def oidc_provider_arn(self) -> str:
        return naming.oidc_provider_arn(self.account_id)

    @property
    def glue_database(self) -> str:
        return naming.glue_database_name(self.project, self.environment)

    @property
    def log_groups(self) -> list[str]:
        """The stack's log groups: its own (``/<project>/<env>/...``) and its endpoint's (named by SageMaker)."""
        own = naming.log_group_name(self.project, self.environment, "*")
        endpoint = naming.endpoint_log_group(f"{self.prefix}-*")
        return [self.arn("logs", f"log-group:{name}") for name in (own, endpoint)] + [
            self.arn("logs", f"log-group:{name}:*") for name in (own, endpoint)
        ]

    @property
    def repositories(self) -> str:
        return self.arn("ecr", f"repository/{self.prefix}/*")


def _stack_services(scope: DeployScope) -> list[dict[str, Any]]:
    """Each service the stack uses, on the resources its naming functions give this stack only."""
    prefix, database = scope.prefix, scope.glue_database
    return [
        {
            "Sid": "StackBuckets",
            "Effect": "Allow",
            "Action": ["s3:*"],
            "Resource": [s3_arn(f"{prefix}-*"), s3_arn(f"{prefix}-*", "*")],
        },
        {
            "Sid": "StackCatalogAndJobs",
            "Effect": "Allow",
            "Action": ["glue:*"],
            "Resource": [
                scope.arn("glue", "catalog"),
                scope.arn("glue", f"database/{database}"),
                scope.arn("glue", f"table/{database}/*"),
                scope.arn("glue", f"job/{prefix}-*"),
                scope.arn("glue", f"trigger/{prefix}-*"),
                scope.arn("glue", f"connection/{prefix}-*"),
            ],
        },
        {
            "Sid": "GlueSecurityConfigurations",
            "Effect": "Allow",
            "Action": [
                "glue:CreateSecurityConfiguration",
                "glue:DeleteSecurityConfiguration",
                "glue:GetSecurityConfiguration",
                "glue:GetSecurityConfigurations",
            ],
            "Resource": "*",
        },
        {
            "Sid": "StackStreams",
            "Effect": "Allow",
            "Action": ["kinesis:*", "firehose:*"],
            "Resource": [
                scope.arn("kinesis", f"stream/{prefix}-*"),
                scope.arn("firehose", f"deliverystream/{prefix}-*"),
            ],
        },
        {
            "Sid": "StackTables",
            "Effect": "Allow",
            "Action": ["dynamodb:*"],
            "Resource": [scope.arn("dynamodb", f"table/{prefix}-*")],
        },
        {
            "Sid": "StackSageMaker",
            "Effect": "Allow",
            "Action": ["sagemaker:*", "sagemaker-mlflow:*"],
            "Resource": [scope.arn("sagemaker", f"*/{prefix}-*")],
        },
        {
            "Sid": "StackMonitoring",
            "Effect": "Allow",
            "Action": ["cloudwatch:*", "events:*", "sns:*"],
            "Resource": [
                scope.arn("cloudwatch", f"alarm:{prefix}-*"),
                f"arn:aws:cloudwatch::{scope.account_id}:dashboard/{prefix}-*",
                scope.arn("events", f"rule/{prefix}-*"),
                scope.arn("events", f"connection/{prefix}-*"),
                scope.arn("events", f"api-destination/{prefix}-*"),
                scope.arn("sns", f"{prefix}-*"),
            ],
        },
        {
            # EventBridge keeps a connection's credentials in a secret it creates with the caller's rights
            # (retrainedDispatch's GitHub token): only those secrets, named after the stack's connections.
            "Sid": "StackConnectionSecrets",
            "Effect": "Allow",
            "Action": [
                "secretsmanager:CreateSecret",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:DeleteSecret",
                "secretsmanager:TagResource",
            ],
            "Resource": [scope.arn("secretsmanager", f"secret:events!connection/{prefix}-*")],
        },
        {"Sid": "StackLogs", "Effect": "Allow", "Action": ["logs:*"], "Resource": scope.log_groups},
        {
            "Sid": "StackScaling",
            "Effect": "Allow",
            "Action": ["application-autoscaling:*"],
            "Resource": [scope.arn("application-autoscaling", "scalable-target/*")],
        },
        {"Sid": "UnscopedReads", "Effect": "Allow", "Action": list(UNSCOPED_READ_ACTIONS), "Resource": "*"},
        {
            "Sid": "ScalingServiceRole",
            "Effect": "Allow",
            "Action": ["iam:CreateServiceLinkedRole"],
            "Resource": [
                f"arn:aws:iam::{scope.account_id}:role/aws-service-role/"
                "sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
            ],
            "Condition": {"StringEquals": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}},
        },
        {
            "Sid": "StackImages",
            "Effect": "Allow",
            "Action": ["ecr:*"],
            "Resource": [scope.repositories],
        },
        {"Sid": "RegistryLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
    ]


def _stack_keys(scope: DeployScope) -> list[dict[str, Any]]:
    """The stack's KMS key has no name before it exists: created only with, and managed only under, this
    stack's ``environment`` tag; its alias is the stack's (:func:`infra.naming.kms_alias`)."""
    keys = scope.arn("kms", "key/*")
    return [
        {
            "Sid": "CreateStackKey",
            "Effect": "Allow",
            "Action": ["kms:CreateKey", "kms:TagResource"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestTag/environment": scope.environment}},
        },
        {
            "Sid": "ManageStackKey",
            "Effect": "Allow",
            "Action": ["kms:*"],
            "Resource": [keys],
            "Condition": {"StringEquals": {"aws:ResourceTag/environment": scope.environment}},
        },
        {
            "Sid": "StackKeyAlias",
            "Effect": "Allow",
            "Action": ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
            "Resource": [scope.arn("kms", naming.kms_alias(scope.project, scope.environment)), keys],
        },
    ]


def _stack_network(scope: DeployScope) -> list[dict[str, Any]]:
    """EC2 resources carry no name: created only with, and changed only under, this stack's environment tag."""
    ec2 = scope.arn("ec2", "*")
    return [
        {
            "Sid": "CreateStackNetwork",
            "Effect": "Allow",
            "Action": list(NETWORK_ACTIONS),
            "Resource": ec2,
            "Condition": {"StringEquals": {"aws:RequestTag/environment": scope.environment}},
        },
        {
            "Sid": "ChangeStackNetwork",
            "Effect": "Allow",
            "Action": list(NETWORK_ACTIONS),
            "Resource": ec2,
            "Condition": {"StringEquals": {"aws:ResourceTag/environment": scope.environment}},
        },
        {"Sid": "ReadNetwork", "Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"},
    ]


def _workload_roles(scope: DeployScope) -> list[dict[str, Any]]:
    """Workload roles (and the promotion reader, which no service is passed): created and changed only with the
    stack's boundary; each passed only to its service."""
    roles = [scope.role_arn(purpose) for purpose in (*WORKLOAD_ROLES, promotion.PROMOTION_READER)]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "EditWorkloadRolesWithinTheBoundary",
            "Effect": "Allow",
            "Action": list(ROLE_EDIT_ACTIONS),
            "Resource": roles,
            "Condition": {"StringEquals": {"iam:PermissionsBoundary": scope.boundary_arn}},
        },
        {
            "Sid": "ReadStackIdentity",
            "Effect": "Allow",
            "Action": list(ROLE_READ_ACTIONS),
            "Resource": [*roles, *(scope.role_arn(purpose) for purpose in IDENTITY_ROLES)],
        },
        {
            "Sid": "ReadBoundaryAndProvider",
            "Effect": "Allow",
            "Action": [
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
                "iam:ListPolicyVersions",
                "iam:ListPolicyTags",
                "iam:GetOpenIDConnectProvider",
            ],
            "Resource": [scope.boundary_arn, scope.oidc_provider_arn],
        },
    ]
    for purpose, service in WORKLOAD_ROLES.items():
        statements.append(
            {
                "Sid": "Pass" + "".join(part.title() for part in purpose.split("-")) + "Role",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": scope.role_arn(purpose),
                "Condition": {"StringEquals": {"iam:PassedToService": service}},
            }
        )
    return statements


def _state(scope: DeployScope, *, write: bool) -> list[dict[str, Any]]:
    """The stack's Pulumi state in a DIY S3 backend (``.pulumi/`` files of this project and stack only) and
    the secrets provider's key. ``write``: the deploy role updates state; the preview role only locks it."""
    statements: list[dict[str, Any]] = []
    if scope.state_bucket:
        stack = f"{scope.project}/{scope.environment}"
        own = [
            f".pulumi/stacks/{stack}.json*",
            f".pulumi/history/{stack}/*",
            f".pulumi/backups/{stack}/*",
        ]
        statements += [
            {
                "Sid": "StateList",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning"],
                "Resource": s3_arn(scope.state_bucket),
            },
            {
                "Sid": "StateRead",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [s3_arn(scope.state_bucket, key) for key in (".pulumi/meta.yaml", *own)],
            },
            {
                "Sid": "StateLock",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": [s3_arn(scope.state_bucket, f".pulumi/locks/{stack}/*")],
            },
        ]
        if write:
            statements.append(
                {
                    "Sid": "StateWrite",
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:DeleteObject"],
                    "Resource": [s3_arn(scope.state_bucket, key) for key in own],
                }
            )
    if scope.secrets_key_arn:
        statements.append(
            {
                "Sid": "StateSecrets",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
                if write
                else ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": scope.secrets_key_arn,
            }
        )
    return statements


def _promotion_reads(scope: DeployScope) -> list[dict[str, Any]]:
    """With a promotion source: read the version its gate passed (the copy writes into this stack's own
    buckets and registry, which the stack's statements allow already)."""
    if scope.promotion_source is None:
        return []
    here = PromotionPeer(scope.environment, scope.account_id)
    return promotion.source_reads(
        promotion.link(
            scope.project, scope.region, source=scope.promotion_source, target=here, account_id=scope.account_id
        )
    )


def _guards(scope: DeployScope) -> list[dict[str, Any]]:
    """The explicit denies: they hold whichever of the deploy policies allows the action."""
    identity = [scope.role_arn(purpose) for purpose in IDENTITY_ROLES]
    return [
        {
            "Sid": "DenyChangingTheDeployIdentity",
            "Effect": "Deny",
            "Action": list(IDENTITY_WRITE_ACTIONS),
            "Resource": [*identity, scope.boundary_arn, scope.deploy_policy_arns, scope.oidc_provider_arn],
        },
        {
            "Sid": "DenyRolesWithoutTheBoundary",
            "Effect": "Deny",
            "Action": ["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
            "Resource": f"arn:aws:iam::{scope.account_id}:role/*",
            "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": scope.boundary_arn}},
        },
        {
            "Sid": "DenyRemovingBoundaries",
            "Effect": "Deny",
            "Action": ["iam:DeleteRolePermissionsBoundary"],
            "Resource": f"arn:aws:iam::{scope.account_id}:role/*",
        },
    ]


DEPLOY_POLICY_CONCERNS: tuple[str, ...] = ("services", "keys-and-network", "identity", "state", "promotion")
"""The deploy role's customer-managed policies, one per concern (``<prefix>-deploy-<concern>``). IAM caps a
role's inline policies at 10,240 characters together, one managed policy at 6,144 and a role at 10 attached
policies: a stack's deploy permissions exceed the first, so they are split so that each concern stays under
the second (tests/integration/release/test_deploy_identity.py measures every stack)."""

MANAGED_POLICY_MAX_CHARS = 6144
INLINE_POLICIES_MAX_CHARS = 10240
ATTACHED_POLICIES_MAX = 10


def policy_size(document: PolicyDocument) -> int:
    """The size IAM counts against its quotas: the document's JSON without whitespace."""
    return len(json.dumps(document, separators=(",", ":")))


def deploy_policies(scope: DeployScope) -> dict[str, PolicyDocument]:
    """What the CI deploy role of one stack may do, by concern (:data:`DEPLOY_POLICY_CONCERNS`; a concern with
    nothing to grant is left out): apply exactly that stack (its services on the resources its naming functions
    give it, its network and key under its environment tag, its workload roles within the boundary, its images,
    its state), and nothing else. Explicitly denied whatever else might allow it (in ``identity``): any change to
    the deploy identity itself (the deploy and preview roles, their policies, the boundary, the OIDC provider), a
    role without the stack's boundary, and removing a boundary. With a promotion source, it also reads the
    version that stack's gate passed (:func:`infra.promotion.source_reads`)."""
    documents = {
        "services": _stack_services(scope),
        "keys-and-network": [*_stack_keys(scope), *_stack_network(scope)],
        "identity": [*_workload_roles(scope), *_guards(scope)],
        "state": [
            *_state(scope, write=True),
            {"Sid": "WhoAmI", "Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
        ],
        "promotion": _promotion_reads(scope),
    }
    return {concern: _doc(*statements) for concern, statements in documents.items() if statements}


def deploy_policy(scope: DeployScope) -> PolicyDocument:
    """The union of :func:`deploy_policies`: everything the deploy role may do, as one document to evaluate
    (never attached as such: it exceeds IAM's size limits)."""
    return _doc(*(s for document in deploy_policies(scope).values() for s in document["Statement"]))


def preview_policy(scope: DeployScope) -> PolicyDocument:
    """What a pull request's ``pulumi preview`` needs: who it is, the stack's state (read, and its lock) and
    the secrets key to decrypt config. It changes no resource."""
    return _doc(
        {"Sid": "WhoAmI", "Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
        *_state(scope, write=False),
    )


def workload_boundary_policy(scope: DeployScope) -> PolicyDocument:
    """The permissions boundary of every role the stack creates: the most any workload role can ever do, so a
    deploy identity that writes role policies still cannot mint a role beyond it. It covers what the
    workloads need (data, catalog, jobs, streams, tables, SageMaker, logs, images, placing their network
    interfaces) on this stack's resources, and nothing of IAM but passing the stack's roles to SageMaker."""
    prefix, database = scope.prefix, scope.glue_database
    return _doc(
        {
            "Sid": "StackData",
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:ListBucket",
                "s3:GetBucketLocation",
                "s3:AbortMultipartUpload",
            ],
            "Resource": [s3_arn(f"{prefix}-*"), s3_arn(f"{prefix}-*", "*")],
        },
        {
            "Sid": "StackKeyUse",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"],
            "Resource": [scope.arn("kms", "key/*")],
            "Condition": {"StringEquals": {"aws:ResourceTag/environment": scope.environment}},
        },
        {
            "Sid": "StackCatalog",
            "Effect": "Allow",
            "Action": ["glue:Get*", "glue:CreateTable", "glue:UpdateTable", "glue:BatchCreatePartition"],
            "Resource": [
                scope.arn("glue", "catalog"),
                scope.arn("glue", f"database/{database}"),
                scope.arn("glue", f"table/{database}/*"),
                scope.arn("glue", f"connection/{prefix}-*"),
            ],
        },
        {
            "Sid": "StackStreams",
            "Effect": "Allow",
            "Action": [
                "kinesis:DescribeStream",
                "kinesis:GetShardIterator",
                "kinesis:GetRecords",
                "kinesis:ListShards",
            ],
            "Resource": [scope.arn("kinesis", f"stream/{prefix}-*")],
        },
        {
            "Sid": "StackSageMaker",
            "Effect": "Allow",
            "Action": [
                "sagemaker:CreateTrainingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:CreateProcessingJob",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:CreateModelPackage",
                "sagemaker:DescribeModelPackage",
                "sagemaker:AddTags",
                "sagemaker:StartPipelineExecution",
                "sagemaker-mlflow:*",
            ],
            "Resource": [
                scope.arn("sagemaker", f"*/{prefix}-*"),
                scope.arn("sagemaker", "training-job/pipelines-*"),
                scope.arn("sagemaker", "processing-job/pipelines-*"),
            ],
        },
        {
            "Sid": "StackApiDestinations",
            "Effect": "Allow",
            "Action": "events:InvokeApiDestination",
            "Resource": [scope.arn("events", f"api-destination/{prefix}-*")],
        },
        {
            "Sid": "PassStackRolesToSageMaker",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": f"arn:aws:iam::{scope.account_id}:role/{prefix}-*",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
                "logs:AssociateKmsKey",
            ],
            "Resource": [
                *scope.log_groups,
                scope.arn("logs", "log-group:/aws/sagemaker/*"),
                scope.arn("logs", "log-group:/aws-glue/*"),
            ],
        },
        {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Sid": "PullImages",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": "arn:aws:ecr:*:*:repository/*",
        },
        {"Sid": "DescribeNetwork", "Effect": "Allow", "Action": list(VPC_DESCRIBE_ACTIONS), "Resource": "*"},
        {
            "Sid": "NetworkInterfaces",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
                "ec2:CreateTags",
                "ec2:DeleteTags",
            ],
            "Resource": [scope.arn("ec2", "*")],
        },
        {"Sid": "Metrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"},
    )


def to_json(document: PolicyDocument) -> str:
    """The document as the JSON string IAM, S3 and KMS take (keys sorted, so diffs stay stable)."""
    return json.dumps(document, sort_keys=True)
