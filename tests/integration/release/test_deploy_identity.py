"""The deploy identity, evaluated against the program: for every resource a stack declares (under the recording
mocks of infra/plan.py), the API calls its lifecycle needs (create, read, update, tag, delete, pass its role)
are allowed by that stack's deploy policy; the identity's own resources are explicitly denied; escalation
paths and other stacks' resources are not allowed; every workload role carries the boundary and stays within it.

The calls per resource type are the provider's lifecycle calls, not an exhaustive trace of it; a resource type
without an entry fails the test, so a new type must say what deploying it takes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from infra import policies
from infra.plan import MOCK_ACCOUNT_ID, Plan, PlannedResource
from infra.resource_types import RESOURCE_TYPES
from tests.integration.release.program_support import plan_with, stack_repo
from tests.unit.cicd.iam_eval import Request, evaluate

pytestmark = [pytest.mark.pulumi]

REGION = "us-east-1"
STACKS = ("dev", "staging", "prod")
DISPATCHING = ("dev", "prod")  # stacks planned with retrainedDispatch: its resources are the deploy role's too
IDENTITY_COMPONENTS = ("cicd", "boundary")
SECRETS_KEY = f"arn:aws:kms:{REGION}:{MOCK_ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
"""Resources an administrator applies (the deploy identity): the deploy role must be denied changing them."""


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Plan]:
    repo = stack_repo(tmp_path_factory.mktemp("repo"))
    settings = {"pulumiStateBucket": "acme-pulumi-state", "pulumiSecretsKeyArn": SECRETS_KEY, "dockerBuild": True}
    dispatch = {"retrainedDispatch": True, "githubDispatchToken": "t0ken"}
    return {
        stack: plan_with(repo, stack, {**settings, **(dispatch if stack in DISPATCHING else {})}) for stack in STACKS
    }


def _scope(stack: str) -> policies.DeployScope:
    return policies.DeployScope(
        account_id=MOCK_ACCOUNT_ID,
        region=REGION,
        project="mlops-kit",
        environment=stack,
        state_bucket="acme-pulumi-state",
        secrets_key_arn=SECRETS_KEY,
    )


def _role_documents(plan: Plan, role_name: str) -> dict[str, list[dict[str, Any]]]:
    """Every policy document of a role as the plan declares it: inline ones and attached managed ones."""
    managed = {r.arn: r for r in plan.resources if r.type == "aws:iam/policy:Policy"}
    inline = [r for r in plan.resources if r.type == "aws:iam/rolePolicy:RolePolicy" and r.inputs["role"] == role_name]
    attached = [
        managed[r.inputs["policyArn"]]
        for r in plan.resources
        if r.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment" and r.inputs["role"] == role_name
    ]
    return {
        "inline": [json.loads(r.inputs["policy"]) for r in inline],
        "managed": [json.loads(r.inputs["policy"]) for r in attached],
    }


def _deploy_document(plan: Plan) -> dict[str, Any]:
    """The union of the deploy role's policies (what IAM evaluates for it), as one document."""
    role = next(r for r in plan.resources if r.name == "cicd-deploy-role").inputs["name"]
    documents = _role_documents(plan, role)
    return {
        "Version": "2012-10-17",
        "Statement": [s for doc in (*documents["inline"], *documents["managed"]) for s in doc["Statement"]],
    }


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{MOCK_ACCOUNT_ID}:{resource}"


def _tags(resource: PlannedResource) -> dict[str, str]:
    tags = resource.inputs.get("tags")
    return dict(tags) if isinstance(tags, dict) else {}


def _create(resource: PlannedResource) -> dict[str, str]:
    return {f"aws:RequestTag/{k}": v for k, v in _tags(resource).items()}


def _existing(resource: PlannedResource, environment: str) -> dict[str, str]:
    return {f"aws:ResourceTag/{k}": v for k, v in {"environment": environment, **_tags(resource)}.items()}


def _calls(arn: str, *actions: str, context: dict[str, str] | None = None) -> list[Request]:
    return [Request(action, arn, context or {}) for action in actions]


def _key_use(arn: str, env: str, *actions: str) -> list[Request]:
    return _calls(arn, *actions, context={"aws:ResourceTag/environment": env})


def _pass(plan: Plan, role_name: str, service: str) -> list[Request]:
    return [
        Request("iam:PassRole", f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/{role_name}", {"iam:PassedToService": service})
    ]


def _role_boundary(plan: Plan, role_name: str) -> dict[str, str]:
    role = next(r for r in plan.resources if r.type == "aws:iam/role:Role" and r.inputs.get("name") == role_name)
    boundary = role.inputs.get("permissionsBoundary")
    return {"iam:PermissionsBoundary": boundary} if boundary else {}


Lifecycle = Callable[[PlannedResource, Plan, str], list[Request]]


def _bucket_child(*actions: str) -> Lifecycle:
    return lambda r, _p, _e: _calls(f"arn:aws:s3:::{r.inputs['bucket']}", *actions)


def _ec2(create: str, *changes: str) -> Lifecycle:
    def calls(r: PlannedResource, _p: Plan, env: str) -> list[Request]:
        return [
            Request(create, r.arn, _create(r) or {"aws:RequestTag/environment": env}),
            *_calls(r.arn, *changes, "ec2:CreateTags", context=_existing(r, env)),
            Request("ec2:DescribeVpcs", "*"),
        ]

    return calls


def _role(r: PlannedResource, plan: Plan, _env: str) -> list[Request]:
    boundary = _role_boundary(plan, r.inputs["name"])
    return [
        *_calls(
            r.arn, "iam:CreateRole", "iam:TagRole", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole", context=boundary
        ),
        *_calls(r.arn, "iam:GetRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"),
    ]


def _role_policy(r: PlannedResource, plan: Plan, _env: str) -> list[Request]:
    role = f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/{r.inputs['role']}"
    boundary = _role_boundary(plan, r.inputs["role"])
    return [
        *_calls(role, "iam:PutRolePolicy", "iam:DeleteRolePolicy", context=boundary),
        Request("iam:GetRolePolicy", role),
    ]


def _scalable_target(r: PlannedResource, _p: Plan, _env: str) -> list[Request]:
    endpoint = _arn("sagemaker", f"endpoint/{r.inputs['resourceId'].split('/')[1]}")
    link = "sagemaker.application-autoscaling.amazonaws.com"
    return [
        *_calls(
            _arn("application-autoscaling", "scalable-target/0123456789abcdef"),
            "application-autoscaling:RegisterScalableTarget",
            "application-autoscaling:DeregisterScalableTarget",
            "application-autoscaling:TagResource",
        ),
        Request("application-autoscaling:DescribeScalableTargets", "*"),
        *_calls(endpoint, "sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"),
        Request(
            "iam:CreateServiceLinkedRole",
            f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/aws-service-role/{link}/"
            "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
            {"iam:AWSServiceName": link},
        ),
    ]


def _prefix(env: str) -> str:
    return f"mlops-kit-{env}"


LIFECYCLES: dict[str, Lifecycle] = {
    "aws:kms/key:Key": lambda r, _p, env: [
        *_calls("*", "kms:CreateKey", "kms:TagResource", context=_create(r)),
        *_key_use(r.arn, env, "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:EnableKeyRotation"),
        *_key_use(r.arn, env, "kms:GetKeyRotationStatus", "kms:ListResourceTags", "kms:ScheduleKeyDeletion"),
    ],
    "aws:kms/alias:Alias": lambda r, p, env: [
        *_calls(r.arn, "kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"),
        Request("kms:ListAliases", "*"),
        *_key_use(_arn("kms", f"key/{r.inputs['targetKeyId']}"), env, "kms:CreateAlias", "kms:DeleteAlias"),
    ],
    "aws:s3/bucket:Bucket": lambda r, _p, _e: _calls(
        r.arn, "s3:CreateBucket", "s3:ListBucket", "s3:PutBucketTagging", "s3:GetBucketTagging", "s3:DeleteBucket"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": _bucket_child("s3:PutBucketVersioning", "s3:GetBucketVersioning"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _bucket_child(
        "s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration"
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _bucket_child(
        "s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock"
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _bucket_child(
        "s3:PutBucketOwnershipControls", "s3:GetBucketOwnershipControls"
    ),
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_child(
        "s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _bucket_child(
        "s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration"
    ),
    "aws:s3/bucketLogging:BucketLogging": _bucket_child("s3:PutBucketLogging", "s3:GetBucketLogging"),
    "aws:s3/bucketObjectv2:BucketObjectv2": lambda r, _p, env: [
        *_calls(r.arn, "s3:PutObject", "s3:GetObject", "s3:PutObjectTagging", "s3:DeleteObject"),
        *_key_use(r.inputs["kmsKeyId"], env, "kms:GenerateDataKey", "kms:Decrypt"),
    ],
    "aws:glue/catalogDatabase:CatalogDatabase": lambda r, _p, _e: [
        *_calls(r.arn, "glue:CreateDatabase", "glue:GetDatabase", "glue:UpdateDatabase", "glue:DeleteDatabase"),
        *_calls(_arn("glue", "catalog"), "glue:CreateDatabase", "glue:GetDatabase", "glue:TagResource"),
    ],
    "aws:glue/catalogTable:CatalogTable": lambda r, _p, _e: _calls(
        r.arn, "glue:CreateTable", "glue:GetTable", "glue:UpdateTable", "glue:DeleteTable"
    ),
    "aws:glue/job:Job": lambda r, p, env: [
        *_calls(r.arn, "glue:CreateJob", "glue:GetJob", "glue:UpdateJob", "glue:DeleteJob", "glue:TagResource"),
        *_pass(p, f"{_prefix(env)}-glue-role", "glue.amazonaws.com"),
    ],
    "aws:glue/trigger:Trigger": lambda r, _p, _e: _calls(
        r.arn, "glue:CreateTrigger", "glue:GetTrigger", "glue:UpdateTrigger", "glue:DeleteTrigger", "glue:TagResource"
    ),
    "aws:glue/securityConfiguration:SecurityConfiguration": lambda _r, _p, _e: _calls(
        "*", "glue:CreateSecurityConfiguration", "glue:GetSecurityConfiguration", "glue:DeleteSecurityConfiguration"
    ),
    "aws:glue/dataCatalogEncryptionSettings:DataCatalogEncryptionSettings": lambda _r, _p, _e: _calls(
        _arn("glue", "catalog"), "glue:PutDataCatalogEncryptionSettings", "glue:GetDataCatalogEncryptionSettings"
    ),
    "aws:glue/connection:Connection": lambda r, _p, _e: _calls(
        r.arn, "glue:CreateConnection", "glue:GetConnection", "glue:UpdateConnection", "glue:DeleteConnection"
    ),
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": lambda r, _p, _e: _calls(
        _arn("sagemaker", f"model-package-group/{r.inputs['modelPackageGroupName']}"),
        "sagemaker:PutModelPackageGroupPolicy",
        "sagemaker:GetModelPackageGroupPolicy",
        "sagemaker:DeleteModelPackageGroupPolicy",
    ),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": lambda r, p, _e: [
        *_calls(
            f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/{r.inputs['role']}",
            "iam:AttachRolePolicy",
            "iam:DetachRolePolicy",
            context={"iam:PolicyARN": r.inputs["policyArn"], **_role_boundary(p, r.inputs["role"])},
        ),
        Request("iam:ListAttachedRolePolicies", f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/{r.inputs['role']}"),
    ],
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": lambda r, _p, _e: _calls(
        r.arn, "iam:CreateOpenIDConnectProvider", "iam:TagOpenIDConnectProvider"
    ),
    "aws:iam/policy:Policy": lambda r, _p, _e: _calls(r.arn, "iam:CreatePolicy", "iam:CreatePolicyVersion"),
    "aws:kinesis/stream:Stream": lambda r, _p, env: [
        *_calls(r.arn, "kinesis:CreateStream", "kinesis:DescribeStreamSummary", "kinesis:AddTagsToStream"),
        *_calls(
            r.arn, "kinesis:StartStreamEncryption", "kinesis:IncreaseStreamRetentionPeriod", "kinesis:DeleteStream"
        ),
        *_key_use(r.inputs["kmsKeyId"], env, "kms:GenerateDataKey", "kms:DescribeKey"),
    ],
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": lambda r, p, env: [
        *_calls(r.arn, "firehose:CreateDeliveryStream", "firehose:DescribeDeliveryStream"),
        *_calls(r.arn, "firehose:TagDeliveryStream", "firehose:DeleteDeliveryStream"),
        *_pass(p, f"{_prefix(env)}-firehose-role", "firehose.amazonaws.com"),
    ],
    "aws:dynamodb/table:Table": lambda r, _p, _e: _calls(
        r.arn,
        "dynamodb:CreateTable",
        "dynamodb:DescribeTable",
        "dynamodb:TagResource",
        "dynamodb:UpdateContinuousBackups",
        "dynamodb:UpdateTimeToLive",
        "dynamodb:DeleteTable",
    ),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": lambda r, _p, _e: _calls(
        r.arn, "sagemaker:CreateModelPackageGroup", "sagemaker:DescribeModelPackageGroup", "sagemaker:AddTags"
    ),
    "aws:sagemaker/pipeline:Pipeline": lambda r, p, env: [
        *_calls(r.arn, "sagemaker:CreatePipeline", "sagemaker:UpdatePipeline", "sagemaker:DescribePipeline"),
        *_calls(r.arn, "sagemaker:StartPipelineExecution", "sagemaker:DeletePipeline"),
        *_pass(p, f"{_prefix(env)}-sagemaker-role", "sagemaker.amazonaws.com"),
    ],
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": lambda r, p, env: [
        *_calls(r.arn, "sagemaker:CreateMlflowTrackingServer", "sagemaker:DescribeMlflowTrackingServer"),
        *_calls(r.arn, "sagemaker:CreatePresignedMlflowTrackingServerUrl", "sagemaker-mlflow:SearchModelVersions"),
        *_pass(p, f"{_prefix(env)}-sagemaker-role", "sagemaker.amazonaws.com"),
    ],
    "aws:sagemaker/model:Model": lambda r, p, env: [
        *_calls(r.arn, "sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:DeleteModel"),
        *_pass(p, f"{_prefix(env)}-sagemaker-role", "sagemaker.amazonaws.com"),
    ],
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": lambda r, _p, env: [
        *_calls(r.arn, "sagemaker:CreateEndpointConfig", "sagemaker:DescribeEndpointConfig"),
        *_key_use(r.inputs["kmsKeyArn"], env, "kms:CreateGrant", "kms:DescribeKey"),
    ],
    "aws:sagemaker/endpoint:Endpoint": lambda r, _p, _e: _calls(
        r.arn,
        "sagemaker:CreateEndpoint",
        "sagemaker:UpdateEndpoint",
        "sagemaker:DescribeEndpoint",
        "sagemaker:InvokeEndpoint",
    ),
    "aws:appautoscaling/target:Target": _scalable_target,
    "aws:appautoscaling/policy:Policy": lambda _r, _p, _e: [
        *_calls(
            _arn("application-autoscaling", "scalable-target/0123456789abcdef"),
            "application-autoscaling:PutScalingPolicy",
            "application-autoscaling:DeleteScalingPolicy",
        ),
        Request("application-autoscaling:DescribeScalingPolicies", "*"),
    ],
    "aws:cloudwatch/metricAlarm:MetricAlarm": lambda r, _p, _e: _calls(
        r.arn,
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:TagResource",
        "cloudwatch:DeleteAlarms",
    ),
    "aws:cloudwatch/dashboard:Dashboard": lambda r, _p, _e: _calls(
        r.arn, "cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"
    ),
    "aws:cloudwatch/logGroup:LogGroup": lambda r, _p, _e: (
        _calls(r.arn, "logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:AssociateKmsKey", "logs:TagResource")
        + _calls(f"{r.arn}:*", "logs:DeleteLogGroup", "logs:ListTagsForResource")
        + [Request("logs:DescribeLogGroups", "*")]
    ),
    "aws:cloudwatch/logStream:LogStream": lambda r, _p, _e: _calls(
        r.arn, "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:DeleteLogStream"
    ),
    "aws:cloudwatch/eventRule:EventRule": lambda r, _p, _e: _calls(
        r.arn, "events:PutRule", "events:DescribeRule", "events:TagResource", "events:DeleteRule"
    ),
    "aws:cloudwatch/eventTarget:EventTarget": lambda r, p, _e: [
        *_calls(_arn("events", f"rule/{r.inputs['rule']}"), "events:PutTargets", "events:ListTargetsByRule"),
        *_pass(p, str(r.inputs["roleArn"]).rsplit("/", 1)[-1], "events.amazonaws.com"),
    ],
    "aws:cloudwatch/eventConnection:EventConnection": lambda r, _p, _e: [
        *_calls(r.arn, "events:CreateConnection", "events:DescribeConnection", "events:UpdateConnection"),
        *_calls(r.arn, "events:DeleteConnection"),
        *_calls(
            _arn("secretsmanager", f"secret:events!connection/{r.inputs['name']}/0123abcd"),
            "secretsmanager:CreateSecret",
            "secretsmanager:PutSecretValue",
            "secretsmanager:DescribeSecret",
            "secretsmanager:DeleteSecret",
        ),
    ],
    "aws:cloudwatch/eventApiDestination:EventApiDestination": lambda r, _p, _e: _calls(
        r.arn,
        "events:CreateApiDestination",
        "events:DescribeApiDestination",
        "events:UpdateApiDestination",
        "events:DeleteApiDestination",
    ),
    "aws:sns/topic:Topic": lambda r, _p, env: [
        *_calls(r.arn, "sns:CreateTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:TagResource"),
        *_calls(r.arn, "sns:DeleteTopic"),
    ],
    "aws:ec2/vpc:Vpc": _ec2("ec2:CreateVpc", "ec2:ModifyVpcAttribute", "ec2:DeleteVpc"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": lambda r, _p, env: _calls(
        r.arn, "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", context=_existing(r, env)
    ),
    "aws:ec2/subnet:Subnet": _ec2("ec2:CreateSubnet", "ec2:DeleteSubnet"),
    "aws:ec2/routeTable:RouteTable": _ec2("ec2:CreateRouteTable", "ec2:DeleteRouteTable"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": lambda r, _p, env: _calls(
        r.arn, "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", context={"aws:ResourceTag/environment": env}
    ),
    "aws:ec2/securityGroup:SecurityGroup": _ec2("ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _ec2(
        "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:ModifySecurityGroupRules"
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _ec2(
        "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress"
    ),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _ec2("ec2:CreateVpcEndpoint", "ec2:ModifyVpcEndpoint", "ec2:DeleteVpcEndpoints"),
    "aws:ec2/flowLog:FlowLog": lambda r, p, env: [
        *_ec2("ec2:CreateFlowLogs", "ec2:DeleteFlowLogs")(r, p, env),
        *_pass(p, f"{_prefix(env)}-flow-logs-role", "vpc-flow-logs.amazonaws.com"),
    ],
    "aws:ecr/repository:Repository": lambda r, _p, env: [
        *_calls(r.arn, "ecr:CreateRepository", "ecr:DescribeRepositories", "ecr:TagResource"),
        *_calls(r.arn, "ecr:PutImageScanningConfiguration", "ecr:PutImageTagMutability", "ecr:DeleteRepository"),
        *_key_use(r.inputs["encryptionConfigurations"][0]["kmsKey"], env, "kms:CreateGrant", "kms:DescribeKey"),
    ],
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": lambda r, _p, _e: _calls(
        _arn("ecr", f"repository/{r.inputs['repository']}"), "ecr:PutLifecyclePolicy", "ecr:GetLifecyclePolicy"
    ),
    "docker-build:index:Image": lambda r, _p, _e: [
        Request("ecr:GetAuthorizationToken", "*"),
        *_calls(
            _arn("ecr", f"repository/{r.inputs['tags'][0].split('/', 1)[1].rsplit(':', 1)[0]}"),
            "ecr:BatchCheckLayerAvailability",
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:PutImage",
            "ecr:BatchGetImage",
        ),
    ],
}


def _is_identity(resource: PlannedResource) -> bool:
    return resource.parent in IDENTITY_COMPONENTS


def _lifecycle(plan: Plan, environment: str) -> Iterator[tuple[PlannedResource, Request]]:
    for resource in plan.resources:
        if resource.custom and not _is_identity(resource):
            for request in LIFECYCLES[resource.type](resource, plan, environment):
                yield resource, request


def test_every_resource_type_says_what_deploying_it_takes() -> None:
    assert sorted(set(RESOURCE_TYPES) - set(LIFECYCLES)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_deploy_role_may_apply_every_resource_of_its_stack(plans: dict[str, Plan], stack: str) -> None:
    document = _deploy_document(plans[stack])
    checked = list(_lifecycle(plans[stack], stack))
    denied = [f"{r.name} ({r.type}): {req}" for r, req in checked if evaluate([document], req) != "allow"]
    assert denied == []
    assert len({r.type for r, _ in checked}) >= 45  # the stack's types, not a vacuous pass


@pytest.mark.parametrize("stack", STACKS)
def test_every_role_s_policies_fit_iam_s_size_limits(plans: dict[str, Plan], stack: str) -> None:
    """IAM refuses a role whose inline policies exceed 10,240 characters together, a managed policy over 6,144
    and an 11th attached policy (default quotas), counting the JSON without whitespace."""
    plan = plans[stack]
    over = []
    roles = [r.inputs["name"] for r in plan.resources if r.type == "aws:iam/role:Role"]
    for role in roles:
        documents = _role_documents(plan, role)
        inline = sum(policies.policy_size(d) for d in documents["inline"])
        if inline > policies.INLINE_POLICIES_MAX_CHARS:
            over.append(f"{role}: inline policies of {inline} characters")
        over += [
            f"{role}: a managed policy of {policies.policy_size(d)} characters"
            for d in documents["managed"]
            if policies.policy_size(d) > policies.MANAGED_POLICY_MAX_CHARS
        ]
        if len(documents["managed"]) > policies.ATTACHED_POLICIES_MAX:
            over.append(f"{role}: {len(documents['managed'])} attached policies")
    assert over == []
    deploy = _role_documents(plan, _scope(stack).role_arn("deploy").rsplit("/", 1)[1])
    assert sum(policies.policy_size(d) for d in deploy["managed"]) > policies.INLINE_POLICIES_MAX_CHARS  # measured
    assert policies.policy_size(policies.workload_boundary_policy(_scope(stack))) <= policies.MANAGED_POLICY_MAX_CHARS


@pytest.mark.parametrize("stack", STACKS)
def test_the_deploy_role_may_not_change_its_own_identity(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    document = _deploy_document(plan)
    identity = [r for r in plan.resources if r.custom and _is_identity(r)]
    assert {r.type for r in identity} >= {
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    }
    for resource in identity:
        for request in LIFECYCLES[resource.type](resource, plan, stack):
            if request.action.startswith("iam:") and not request.action.startswith(("iam:Get", "iam:List")):
                assert evaluate([document], request) == "explicit-deny", f"{resource.name}: {request}"


@pytest.mark.parametrize("stack", STACKS)
def test_no_escalation_path_and_nothing_of_another_stack(plans: dict[str, Plan], stack: str) -> None:
    document = _deploy_document(plans[stack])
    scope = _scope(stack)
    other = "prod" if stack != "prod" else "dev"
    sagemaker_role = scope.role_arn("sagemaker")
    attempts = [
        Request("iam:PutRolePolicy", scope.role_arn("deploy"), {"iam:PermissionsBoundary": scope.boundary_arn}),
        Request(
            "iam:AttachRolePolicy", sagemaker_role, {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}
        ),
        Request("iam:UpdateAssumeRolePolicy", scope.role_arn("preview")),
        Request("iam:DeleteRolePermissionsBoundary", sagemaker_role),
        Request("iam:PutRolePermissionsBoundary", sagemaker_role, {"iam:PermissionsBoundary": "arn:aws:iam::aws:x"}),
        Request("iam:CreatePolicyVersion", scope.boundary_arn),
        Request("iam:SetDefaultPolicyVersion", scope.boundary_arn),
        Request("iam:CreateRole", sagemaker_role),
        Request("iam:CreateRole", scope.role_arn("admin"), {"iam:PermissionsBoundary": scope.boundary_arn}),
        Request("iam:CreatePolicy", f"arn:aws:iam::{MOCK_ACCOUNT_ID}:policy/{scope.prefix}-extra"),
        Request("iam:CreateUser", f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/ci"),
        Request("iam:CreateAccessKey", f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/ci"),
        Request("iam:PassRole", sagemaker_role, {"iam:PassedToService": "ec2.amazonaws.com"}),
        Request("iam:PassRole", scope.role_arn("glue"), {"iam:PassedToService": "sagemaker.amazonaws.com"}),
        Request("iam:PassRole", scope.role_arn("deploy"), {"iam:PassedToService": "sagemaker.amazonaws.com"}),
        Request(
            "iam:CreateServiceLinkedRole",
            f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/aws-service-role/x",
            {"iam:AWSServiceName": "ec2.amazonaws.com"},
        ),
        Request("sts:AssumeRole", f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/OrganizationAccountAccessRole"),
        Request("kms:CreateKey", "*", {"aws:RequestTag/environment": other}),
        Request("kms:ScheduleKeyDeletion", _arn("kms", "key/other"), {"aws:ResourceTag/environment": other}),
        Request("ec2:CreateVpc", _arn("ec2", "vpc/*"), {"aws:RequestTag/environment": other}),
        Request("lambda:CreateFunction", _arn("lambda", f"function:{scope.prefix}-x")),
        Request("s3:GetObject", f"arn:aws:s3:::mlops-kit-{other}-raw-{MOCK_ACCOUNT_ID}/k"),
        Request("s3:GetObject", "arn:aws:s3:::acme-pulumi-state/.pulumi/stacks/mlops-kit/other.json"),
        Request("s3:PutObject", f"arn:aws:s3:::acme-pulumi-state/.pulumi/stacks/mlops-kit/{other}.json"),
        Request("sagemaker:DeleteEndpoint", _arn("sagemaker", f"endpoint/mlops-kit-{other}-endpoint")),
        Request("glue:DeleteTable", _arn("glue", f"table/mlops_kit_{other}/x")),
        Request("logs:DeleteLogGroup", _arn("logs", f"log-group:/mlops-kit/{other}/glue")),
        Request("ecr:PutImage", _arn("ecr", f"repository/mlops-kit-{other}/serving")),
        Request("dynamodb:DeleteTable", _arn("dynamodb", f"table/mlops-kit-{other}-online-features")),
    ]
    allowed = [str(a) for a in attempts if evaluate([document], a) == "allow"]
    assert allowed == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_deploy_role_updates_its_stack_state_and_the_preview_role_only_reads_it(
    plans: dict[str, Plan], stack: str
) -> None:
    plan = plans[stack]
    state = f"arn:aws:s3:::acme-pulumi-state/.pulumi/stacks/mlops-kit/{stack}.json"
    preview = json.loads(next(r for r in plan.resources if r.name == "cicd-preview-policy").inputs["policy"])
    assert evaluate([_deploy_document(plan)], Request("s3:PutObject", state)) == "allow"
    assert evaluate([preview], Request("s3:GetObject", state)) == "allow"
    assert evaluate([preview], Request("s3:PutObject", state)) == "implicit-deny"
    for resource, request in _lifecycle(plan, stack):
        if not request.action.startswith(("s3:Get", "s3:List")):
            assert evaluate([preview], request) != "allow", f"the preview role may {request} ({resource.name})"


@pytest.mark.parametrize("stack", STACKS)
def test_ci_roles_are_trusted_by_their_github_environment_only(plans: dict[str, Plan], stack: str) -> None:
    roles = {r.name: r for r in plans[stack].resources if r.type == "aws:iam/role:Role"}
    for purpose, environment in (("deploy", stack), ("preview", f"{stack}-preview")):
        trust = json.loads(roles[f"cicd-{purpose}-role"].inputs["assumeRolePolicy"])["Statement"]
        assert len(trust) == 1
        assert trust[0]["Condition"] == {
            "StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": f"repo:example-org/mlops-kit:environment:{environment}",
            }
        }


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_role_carries_the_boundary_and_stays_within_it(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    scope = _scope(stack)
    boundary = json.loads(next(r for r in plan.resources if r.arn == scope.boundary_arn).inputs["policy"])
    roles = {r.inputs["name"]: r for r in plan.resources if r.type == "aws:iam/role:Role" and not _is_identity(r)}
    readers = ["promotion-reader"] if stack != "prod" else []  # dev and staging hand their versions on
    workloads = [p for p in policies.WORKLOAD_ROLES if p != "retrained-events" or stack in DISPATCHING]
    assert sorted(roles) == sorted(f"{scope.prefix}-{p}-role" for p in (*workloads, *readers))
    assert {r.inputs.get("permissionsBoundary") for r in roles.values()} == {scope.boundary_arn}
    outside = []
    for policy in (r for r in plan.resources if r.type == "aws:iam/rolePolicy:RolePolicy" and not _is_identity(r)):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            passed = (statement.get("Condition") or {}).get("StringEquals", {}).get("iam:PassedToService")
            context = {"aws:ResourceTag/environment": stack, **({"iam:PassedToService": passed} if passed else {})}
            for action in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
                resources = (
                    statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                )
                for resource in resources:
                    if evaluate([boundary], Request(action, resource, context)) != "allow":
                        outside.append(f"{policy.name}: {action} on {resource}")
    assert outside == []


# -- the promotion across stacks (deploy.yml: `mlops release promote D --from-stack S`; infra/promotion.py) ----------

PROMOTIONS = (("dev", "staging"), ("staging", "prod"))
PACKAGE_POLICY = "promotion-package-group-policy"
READER_ROLE = "promotion-reader-role"
JOB = "pipelines-abc123-Train-XyZ"
SOURCE_ACCOUNT, TARGET_ACCOUNT = "111111111111", "222222222222"


def _bucket_of(plan: Plan, zone: str) -> str:
    """The bucket the plan declares for ``zone`` (its real name, so both sides are checked against the program)."""
    return str(next(r for r in plan.resources if r.name == f"datalake-{zone}").inputs["bucket"])


def _reads(source: Plan, source_env: str, account: str = MOCK_ACCOUNT_ID) -> list[Request]:
    """What the promotion reads of the source stack: listing under the read prefixes, the artifact, the holdout's
    parts, the baseline and the evaluation report; the key through S3; the package; the registry."""
    models, features = _bucket_of(source, "models"), _bucket_of(source, "features")
    server = f"arn:aws:sagemaker:{REGION}:{account}:mlflow-tracking-server/mlops-kit-{source_env}-mlflow"
    group = f"mlops-kit-{source_env}-models"
    return [
        Request("s3:ListBucket", f"arn:aws:s3:::{features}", {"s3:prefix": "training/validation/exec-1/"}),
        Request("s3:ListBucket", f"arn:aws:s3:::{models}", {"s3:prefix": f"training-jobs/{JOB}/output/"}),
        Request("s3:GetObject", f"arn:aws:s3:::{models}/training/output/{JOB}/output/model.tar.gz"),
        Request("s3:GetObject", f"arn:aws:s3:::{features}/training/validation/exec-1/part-0.parquet"),
        Request("s3:GetObject", f"arn:aws:s3:::{models}/training-jobs/{JOB}/output/baseline/statistics.json"),
        Request("s3:GetObject", f"arn:aws:s3:::{models}/training-jobs/{JOB}/output/evaluation.json"),
        Request(
            "kms:Decrypt",
            f"arn:aws:kms:{REGION}:{account}:key/1234abcd",
            {"kms:ViaService": f"s3.{REGION}.amazonaws.com", "aws:ResourceTag/environment": source_env},
        ),
        Request("sagemaker:DescribeModelPackage", f"arn:aws:sagemaker:{REGION}:{account}:model-package/{group}/3"),
        *(Request(action, server) for action in ("sagemaker-mlflow:GetModelVersionByAlias", "sagemaker-mlflow:GetRun")),
    ]


def _writes_own(target: Plan, target_env: str) -> list[Request]:
    """The copy into the target's own buckets and its registration in the target's registry."""
    models, features = _bucket_of(target, "models"), _bucket_of(target, "features")
    group = f"mlops-kit-{target_env}-models"
    return [
        Request("s3:PutObject", f"arn:aws:s3:::{models}/training/output/{JOB}/output/model.tar.gz"),
        Request("s3:PutObject", f"arn:aws:s3:::{features}/training/validation/exec-1/part-0.parquet"),
        Request("s3:PutObject", f"arn:aws:s3:::{models}/training-jobs/{JOB}/output/baseline/statistics.json"),
        Request("sagemaker:CreateModelPackage", _arn("sagemaker", f"model-package/{group}")),
        Request(
            "sagemaker-mlflow:CreateModelVersion", _arn("sagemaker", f"mlflow-tracking-server/mlops-kit-{target_env}-x")
        ),
        Request("kms:GenerateDataKey", _arn("kms", "key/5678efgh"), {"aws:ResourceTag/environment": target_env}),
    ]


def _beyond(source: Plan, source_env: str, account: str = MOCK_ACCOUNT_ID) -> list[Request]:
    """What the promotion must not do to the source stack: write, read elsewhere, use the key directly."""
    models, features = _bucket_of(source, "models"), _bucket_of(source, "features")
    raw, artifacts = _bucket_of(source, "raw"), _bucket_of(source, "artifacts")
    server = f"arn:aws:sagemaker:{REGION}:{account}:mlflow-tracking-server/mlops-kit-{source_env}-mlflow"
    group = f"mlops-kit-{source_env}-models"
    return [
        Request("s3:PutObject", f"arn:aws:s3:::{models}/training/output/{JOB}/output/model.tar.gz"),
        Request("s3:DeleteObject", f"arn:aws:s3:::{features}/training/validation/exec-1/part-0.parquet"),
        Request("s3:GetObject", f"arn:aws:s3:::{models}/mlflow/d/model.pkl"),
        Request("s3:GetObject", f"arn:aws:s3:::{features}/tables/d/part-0.parquet"),
        Request("s3:GetObject", f"arn:aws:s3:::{raw}/d/batch.csv"),
        Request("s3:GetObject", f"arn:aws:s3:::{artifacts}/glue/wheel.whl"),
        Request("s3:ListBucket", f"arn:aws:s3:::{models}", {"s3:prefix": ""}),
        Request("s3:ListBucket", f"arn:aws:s3:::{features}", {"s3:prefix": "tables/"}),
        Request(
            "kms:Decrypt", f"arn:aws:kms:{REGION}:{account}:key/1234abcd", {"aws:ResourceTag/environment": source_env}
        ),
        Request(
            "kms:Encrypt",
            f"arn:aws:kms:{REGION}:{account}:key/1234abcd",
            {"kms:ViaService": f"s3.{REGION}.amazonaws.com", "aws:ResourceTag/environment": source_env},
        ),
        Request("sagemaker:UpdateModelPackage", f"arn:aws:sagemaker:{REGION}:{account}:model-package/{group}/3"),
        Request(
            "sagemaker:DeleteModelPackageGroup", f"arn:aws:sagemaker:{REGION}:{account}:model-package-group/{group}"
        ),
        Request("sagemaker-mlflow:SetRegisteredModelAlias", server),
        Request("sagemaker-mlflow:DeleteModelVersion", server),
        Request(
            "sagemaker:InvokeEndpoint", f"arn:aws:sagemaker:{REGION}:{account}:endpoint/mlops-kit-{source_env}-endpoint"
        ),
    ]


@pytest.mark.parametrize(("source", "target"), PROMOTIONS)
def test_the_promotion_reads_the_previous_stack_and_writes_its_own_and_nothing_more(
    plans: dict[str, Plan], source: str, target: str
) -> None:
    document = _deploy_document(plans[target])
    denied = [
        str(r)
        for r in (*_reads(plans[source], source), *_writes_own(plans[target], target))
        if evaluate([document], r) != "allow"
    ]
    assert denied == []
    allowed = [str(r) for r in _beyond(plans[source], source) if evaluate([document], r) == "allow"]
    assert allowed == []


def test_only_the_next_stack_reads_a_stack_s_versions_never_one_further(plans: dict[str, Plan]) -> None:
    prod_reads_dev = [
        str(r) for r in _reads(plans["dev"], "dev") if evaluate([_deploy_document(plans["prod"])], r) == "allow"
    ]
    assert prod_reads_dev == []
    assert not [r.name for r in plans["prod"].resources if r.name == PACKAGE_POLICY]  # prod promotes nowhere
    dev = _deploy_document(plans["dev"])
    assert not [s for s in dev["Statement"] if str(s.get("Sid", "")).startswith("Promotion")]
    assert [str(r) for r in _reads(plans["staging"], "staging") if evaluate([dev], r) == "allow"] == []


def _grants(plan: Plan, resource_name: str, reader: str, key: str = "policy") -> list[dict[str, Any]]:
    """The statements of a resource policy granting another principal than the stack's own account, checked to
    name ``reader`` alone, without their principal (the evaluator reads identity documents; the principal is
    asserted here)."""
    document = json.loads(next(r for r in plan.resources if r.name == resource_name).inputs[key])
    own = {"AWS": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:root"}  # the key's administrators: the stack's own account
    named = [s for s in document["Statement"] if isinstance(s.get("Principal"), dict) and "AWS" in s["Principal"]]
    named = [s for s in named if s["Principal"] != own]
    assert all(s["Principal"] == {"AWS": reader} for s in named), named
    return [{k: v for k, v in s.items() if k != "Principal"} for s in named]


@pytest.mark.parametrize(("source", "target"), PROMOTIONS)
def test_the_previous_stack_grants_the_next_deploy_role_exactly_the_promotion_s_reads(
    plans: dict[str, Plan], source: str, target: str
) -> None:
    plan = plans[source]
    reader = deploy = f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/mlops-kit-{target}-deploy-role"
    granted = [
        {"Version": "2012-10-17", "Statement": _grants(plan, name, reader)}
        for name in ("datalake-models-policy", "datalake-features-policy", "security-key")
    ]
    reads = [r for r in _reads(plan, source) if r.action.startswith(("s3:", "kms:"))]
    assert [str(r) for r in reads if evaluate(granted, r) != "allow"] == []
    assert [str(r) for r in _beyond(plan, source) if evaluate(granted, r) == "allow"] == []
    packages = [{"Version": "2012-10-17", "Statement": _grants(plan, PACKAGE_POLICY, reader, "resourcePolicy")}]
    package_reads = [r for r in _reads(plan, source) if r.action.startswith("sagemaker:")]
    assert package_reads and [str(r) for r in package_reads if evaluate(packages, r) != "allow"] == []
    assert [str(r) for r in _beyond(plan, source) if evaluate(packages, r) == "allow"] == []
    reader_role = next(r for r in plan.resources if r.name == READER_ROLE)
    assert _grants(plan, READER_ROLE, deploy, "assumeRolePolicy") == [
        {"Sid": f"PromotionTo{target.title()}Assumes", "Effect": "Allow", "Action": "sts:AssumeRole"}
    ]
    assert evaluate([_deploy_document(plans[target])], Request("sts:AssumeRole", reader_role.arn)) == "allow"
    read = [json.loads(next(r for r in plan.resources if r.name == "promotion-reader-policy").inputs["policy"])]
    mlflow = f"arn:aws:sagemaker:{REGION}:{MOCK_ACCOUNT_ID}:mlflow-tracking-server/mlops-kit-{source}-mlflow"
    reads = [
        *_reads(plan, source),
        Request("s3:GetObject", f"arn:aws:s3:::{_bucket_of(plan, 'models')}/mlflow/1/abc/artifacts/model/MLmodel"),
    ]
    assert [str(r) for r in reads if evaluate(read, r) != "allow"] == []
    beyond = [r for r in _beyond(plan, source) if r.action != "s3:GetObject" or "/mlflow/" not in r.resource]
    assert [str(r) for r in beyond if evaluate(read, r) == "allow"] == []
    assert evaluate(read, Request("sagemaker-mlflow:GetRun", mlflow.replace(source, "other"))) != "allow"
    others = [r.name for r in plan.resources if r.type == "aws:s3/bucketPolicy:BucketPolicy"]
    for name in set(others) - {"datalake-models-policy", "datalake-features-policy"}:
        assert _grants(plan, name, reader) == [], f"{name} grants the promotion"


def test_across_accounts_each_side_names_the_other_account(tmp_path_factory: pytest.TempPathFactory) -> None:
    repo = stack_repo(tmp_path_factory.mktemp("accounts"))
    staging = plan_with(repo, "staging", {"promotionSourceAccount": SOURCE_ACCOUNT})
    dev = plan_with(repo, "dev", {"promotionTargetAccount": TARGET_ACCOUNT})
    reader = f"arn:aws:iam::{TARGET_ACCOUNT}:role/mlops-kit-staging-deploy-role"
    assert _grants(dev, "datalake-models-policy", reader) and _grants(dev, "security-key", reader)
    assert _grants(dev, PACKAGE_POLICY, reader, "resourcePolicy")
    source_buckets = {zone: f"mlops-kit-dev-{zone}-{SOURCE_ACCOUNT}" for zone in ("models", "features")}
    document = _deploy_document(staging)
    key = f"arn:aws:kms:{REGION}:{SOURCE_ACCOUNT}:key/1234abcd"
    via = {"kms:ViaService": f"s3.{REGION}.amazonaws.com", "aws:ResourceTag/environment": "dev"}
    package = f"arn:aws:sagemaker:{REGION}:{SOURCE_ACCOUNT}:model-package/mlops-kit-dev-models/3"
    for request in (
        Request("s3:GetObject", f"arn:aws:s3:::{source_buckets['models']}/training/output/{JOB}/output/model.tar.gz"),
        Request("s3:GetObject", f"arn:aws:s3:::{source_buckets['features']}/training/validation/e/part-0.parquet"),
        Request("kms:Decrypt", key, via),
        Request("sagemaker:DescribeModelPackage", package),
    ):
        assert evaluate([document], request) == "allow", str(request)
    same_account = f"arn:aws:s3:::mlops-kit-dev-models-{MOCK_ACCOUNT_ID}/training/output/{JOB}/output/model.tar.gz"
    assert evaluate([document], Request("s3:GetObject", same_account)) != "allow"
