"""The only pulumi_aws resource types the program may declare, by type token.

The local apply implements one handler per type in this table; ``infra/RESOURCE_TYPES.md`` lists the same
types for people. Adding a resource type means adding it here (a test fails on any other type).
"""

from __future__ import annotations

import inspect
from functools import cache

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

RESOURCE_TYPES: dict[str, type[pulumi.CustomResource]] = {
    "aws:kms/key:Key": aws.kms.Key,
    "aws:kms/alias:Alias": aws.kms.Alias,
    "aws:s3/bucket:Bucket": aws.s3.Bucket,
    "aws:s3/bucketVersioning:BucketVersioning": aws.s3.BucketVersioning,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        aws.s3.BucketServerSideEncryptionConfiguration
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": aws.s3.BucketPublicAccessBlock,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": aws.s3.BucketOwnershipControls,
    "aws:s3/bucketPolicy:BucketPolicy": aws.s3.BucketPolicy,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": aws.s3.BucketLifecycleConfiguration,
    "aws:s3/bucketLogging:BucketLogging": aws.s3.BucketLogging,
    "aws:s3/bucketObjectv2:BucketObjectv2": aws.s3.BucketObjectv2,
    "aws:glue/catalogDatabase:CatalogDatabase": aws.glue.CatalogDatabase,
    "aws:glue/catalogTable:CatalogTable": aws.glue.CatalogTable,
    "aws:glue/job:Job": aws.glue.Job,
    "aws:glue/trigger:Trigger": aws.glue.Trigger,
    "aws:iam/role:Role": aws.iam.Role,
    "aws:iam/rolePolicy:RolePolicy": aws.iam.RolePolicy,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": aws.iam.OpenIdConnectProvider,
    "aws:iam/policy:Policy": aws.iam.Policy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": aws.iam.RolePolicyAttachment,
    "aws:kinesis/stream:Stream": aws.kinesis.Stream,
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": aws.kinesis.FirehoseDeliveryStream,
    "aws:dynamodb/table:Table": aws.dynamodb.Table,
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": aws.sagemaker.ModelPackageGroup,
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": aws.sagemaker.ModelPackageGroupPolicy,
    "aws:sagemaker/pipeline:Pipeline": aws.sagemaker.Pipeline,
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": aws.sagemaker.MlflowTrackingServer,
    "aws:sagemaker/model:Model": aws.sagemaker.Model,
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": aws.sagemaker.EndpointConfiguration,
    "aws:sagemaker/endpoint:Endpoint": aws.sagemaker.Endpoint,
    "aws:appautoscaling/target:Target": aws.appautoscaling.Target,
    "aws:appautoscaling/policy:Policy": aws.appautoscaling.Policy,
    "aws:cloudwatch/metricAlarm:MetricAlarm": aws.cloudwatch.MetricAlarm,
    "aws:cloudwatch/dashboard:Dashboard": aws.cloudwatch.Dashboard,
    "aws:cloudwatch/logGroup:LogGroup": aws.cloudwatch.LogGroup,
    "aws:cloudwatch/eventRule:EventRule": aws.cloudwatch.EventRule,
    "aws:cloudwatch/eventTarget:EventTarget": aws.cloudwatch.EventTarget,
    "aws:cloudwatch/eventConnection:EventConnection": aws.cloudwatch.EventConnection,
    "aws:cloudwatch/eventApiDestination:EventApiDestination": aws.cloudwatch.EventApiDestination,
    "aws:sns/topic:Topic": aws.sns.Topic,
    "aws:cloudwatch/logStream:LogStream": aws.cloudwatch.LogStream,
    "aws:glue/securityConfiguration:SecurityConfiguration": aws.glue.SecurityConfiguration,
    "aws:glue/dataCatalogEncryptionSettings:DataCatalogEncryptionSettings": aws.glue.DataCatalogEncryptionSettings,
    "aws:glue/connection:Connection": aws.glue.Connection,
    "aws:ec2/vpc:Vpc": aws.ec2.Vpc,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": aws.ec2.DefaultSecurityGroup,
    "aws:ec2/subnet:Subnet": aws.ec2.Subnet,
    "aws:ec2/routeTable:RouteTable": aws.ec2.RouteTable,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": aws.ec2.RouteTableAssociation,
    "aws:ec2/securityGroup:SecurityGroup": aws.ec2.SecurityGroup,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": aws.vpc.SecurityGroupIngressRule,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": aws.vpc.SecurityGroupEgressRule,
    "aws:ec2/vpcEndpoint:VpcEndpoint": aws.ec2.VpcEndpoint,
    "aws:ec2/flowLog:FlowLog": aws.ec2.FlowLog,
    "aws:ecr/repository:Repository": aws.ecr.Repository,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": aws.ecr.LifecyclePolicy,
    "docker-build:index:Image": docker_build.Image,
}

IMAGE_TAG_TYPES = frozenset({"docker-build:index:Image"})
"""Types whose ``tags`` input names image tags (``repo:tag``), not resource tags."""


@cache
def is_taggable(type_token: str) -> bool:
    """Whether resources of this type take a ``tags`` input (so they must carry the required tags)."""
    resource_class = RESOURCE_TYPES.get(type_token)
    if resource_class is None or type_token in IMAGE_TAG_TYPES:
        return False
    init = resource_class._internal_init  # type: ignore[attr-defined]
    return "tags" in inspect.signature(init).parameters
