"""The only resource types the Google Cloud program may declare, by type token (a test fails on any other).

``infra/RESOURCE_TYPES.md`` lists the same types for people; the AWS program's table is
:mod:`infra.resource_types`.
"""

from __future__ import annotations

import pulumi
import pulumi_docker_build as docker_build
import pulumi_gcp as gcp

GCP_RESOURCE_TYPES: dict[str, type[pulumi.CustomResource]] = {
    "gcp:kms/keyRing:KeyRing": gcp.kms.KeyRing,
    "gcp:kms/cryptoKey:CryptoKey": gcp.kms.CryptoKey,
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": gcp.kms.CryptoKeyIAMMember,
    "gcp:compute/network:Network": gcp.compute.Network,
    "gcp:compute/subnetwork:Subnetwork": gcp.compute.Subnetwork,
    "gcp:compute/firewall:Firewall": gcp.compute.Firewall,
    "gcp:compute/globalAddress:GlobalAddress": gcp.compute.GlobalAddress,
    "gcp:servicenetworking/connection:Connection": gcp.servicenetworking.Connection,
    "gcp:storage/bucket:Bucket": gcp.storage.Bucket,
    "gcp:storage/bucketIAMMember:BucketIAMMember": gcp.storage.BucketIAMMember,
    "gcp:storage/bucketObject:BucketObject": gcp.storage.BucketObject,
    "gcp:bigquery/dataset:Dataset": gcp.bigquery.Dataset,
    "gcp:bigquery/datasetIamMember:DatasetIamMember": gcp.bigquery.DatasetIamMember,
    "gcp:bigquery/connection:Connection": gcp.bigquery.Connection,
    "gcp:bigquery/table:Table": gcp.bigquery.Table,
    "gcp:pubsub/topic:Topic": gcp.pubsub.Topic,
    "gcp:pubsub/topicIAMMember:TopicIAMMember": gcp.pubsub.TopicIAMMember,
    "gcp:pubsub/subscription:Subscription": gcp.pubsub.Subscription,
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": gcp.pubsub.SubscriptionIAMMember,
    "gcp:cloudscheduler/job:Job": gcp.cloudscheduler.Job,
    "gcp:serviceaccount/account:Account": gcp.serviceaccount.Account,
    "gcp:serviceaccount/iAMMember:IAMMember": gcp.serviceaccount.IAMMember,
    "gcp:projects/iAMMember:IAMMember": gcp.projects.IAMMember,
    "gcp:firestore/database:Database": gcp.firestore.Database,
    "gcp:artifactregistry/repository:Repository": gcp.artifactregistry.Repository,
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": gcp.artifactregistry.RepositoryIamMember,
    "gcp:vertex/aiMetadataStore:AiMetadataStore": gcp.vertex.AiMetadataStore,
    "gcp:vertex/aiEndpoint:AiEndpoint": gcp.vertex.AiEndpoint,
    "gcp:monitoring/notificationChannel:NotificationChannel": gcp.monitoring.NotificationChannel,
    "gcp:monitoring/alertPolicy:AlertPolicy": gcp.monitoring.AlertPolicy,
    "gcp:monitoring/dashboard:Dashboard": gcp.monitoring.Dashboard,
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": gcp.iam.WorkloadIdentityPool,
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": gcp.iam.WorkloadIdentityPoolProvider,
    "gcp:sql/databaseInstance:DatabaseInstance": gcp.sql.DatabaseInstance,
    "gcp:sql/database:Database": gcp.sql.Database,
    "gcp:sql/user:User": gcp.sql.User,
    "gcp:secretmanager/secret:Secret": gcp.secretmanager.Secret,
    "gcp:secretmanager/secretIamMember:SecretIamMember": gcp.secretmanager.SecretIamMember,
    "gcp:cloudrunv2/service:Service": gcp.cloudrunv2.Service,
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": gcp.cloudrunv2.ServiceIamMember,
    "docker-build:index:Image": docker_build.Image,
}
