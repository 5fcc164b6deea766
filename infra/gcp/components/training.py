"""Training on Google Cloud: the Vertex AI contract the training pipeline runs under (a service account with
access to the data and model buckets only, a staging location, a CMEK metadata store) and the Model Registry
entry name the registry adapter registers versions under (Vertex creates it with the first upload).

The training pipeline is the same rendered definition the AWS program deploys as a SageMaker pipeline, bound with
this stack's ``gs://`` locations, accounts and images and stored in the artifacts bucket
(:func:`mlops.layout.pipeline_definition_key`), where the kit's executor of the definition reads it
(``mlops/local/vertex_training.py``: its Training step runs as a Vertex custom job). The datasets' definition
files go beside it, where the pipeline's Prepare step reads them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.base import child
from infra.components.training import training_spec
from infra.gcp import naming as gcp_naming
from infra.gcp.components.base import GcpIdentity, member
from infra.pipeline_definition import bind_parameter_defaults
from mlops.layout import pipeline_definition_key

COMPONENT = "training"
STAGING_PREFIX = "vertex-staging/"


@dataclass(frozen=True)
class GcpTrainingArgs:
    """Inputs of :class:`GcpTraining`."""

    identity: GcpIdentity
    vertex_key: pulumi.Output[str]
    data_buckets: dict[str, pulumi.Output[str]]
    models_bucket: pulumi.Output[str]
    artifacts_bucket: pulumi.Output[str]
    repositories: dict[str, pulumi.Output[str]]
    pipeline_definition: str = ""
    """The rendered training pipeline (``pipelines/training/pipeline_definition.json``); empty: none deployed."""
    storage_key: pulumi.Input[str] = ""
    images: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    dataset_definitions: Mapping[str, Path] = field(default_factory=dict)
    training_dataset: str = "card_transactions"


class GcpTraining(pulumi.ComponentResource):
    """Vertex's service account, its grants and the metadata store."""

    service_account: pulumi.Output[str]
    model_name: str
    pipeline_name: str
    staging_uri: pulumi.Output[str]

    def __init__(self, name: str, args: GcpTrainingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:training:Training", name, None, opts)
        ident = args.identity
        account = gcp.serviceaccount.Account(
            f"{name}-vertex-account",
            account_id=ident.account_id("vertex"),
            display_name=f"{ident.environment} Vertex AI training, pipelines and serving",
            project=ident.gcp_project,
            opts=child(self),
        )
        runner = member(account.email)
        for zone, bucket in args.data_buckets.items():
            gcp.storage.BucketIAMMember(
                f"{name}-reads-{zone}",
                bucket=bucket,
                role="roles/storage.objectViewer",
                member=runner,
                opts=child(self),
            )
        for zone, bucket in (("models", args.models_bucket), ("artifacts", args.artifacts_bucket)):
            gcp.storage.BucketIAMMember(
                f"{name}-writes-{zone}", bucket=bucket, role="roles/storage.objectUser", member=runner, opts=child(self)
            )
        for image, repository in args.repositories.items():
            gcp.artifactregistry.RepositoryIamMember(
                f"{name}-pulls-{image}",
                repository=repository,
                location=ident.region,
                project=ident.gcp_project,
                role="roles/artifactregistry.reader",
                member=runner,
                opts=child(self),
            )
        gcp.projects.IAMMember(
            f"{name}-vertex-user",
            project=ident.gcp_project,
            role="roles/aiplatform.user",
            member=runner,
            opts=child(self),
        )
        # Pipeline steps run as this same account: it may act as itself, and as no other account.
        gcp.serviceaccount.IAMMember(
            f"{name}-acts-as-itself",
            service_account_id=account.name,
            role="roles/iam.serviceAccountUser",
            member=runner,
            opts=child(self),
        )
        gcp.vertex.AiMetadataStore(
            f"{name}-metadata",
            name="default",
            project=ident.gcp_project,
            region=ident.region,
            description="Vertex ML Metadata of the stack's pipeline runs",
            encryption_spec={"kms_key_name": args.vertex_key},
            opts=child(self),
        )
        self.service_account = account.email
        self.model_name = naming.sagemaker_name(ident.project, ident.environment, "model")
        self.pipeline_name = naming.sagemaker_name(ident.project, ident.environment, "training")
        self.staging_uri = args.artifacts_bucket.apply(lambda b: gcp_naming.gcs_uri(b, STAGING_PREFIX))
        self._deploy_definitions(name, args)
        self.register_outputs({"service_account": self.service_account})

    def _deploy_definitions(self, name: str, args: GcpTrainingArgs) -> None:
        """The datasets' definition files and the stack-bound pipeline definition, in the artifacts bucket."""
        for dataset, path in sorted(args.dataset_definitions.items()):
            gcp.storage.BucketObject(
                f"{name}-definition-{dataset}",
                bucket=args.artifacts_bucket,
                name=naming.dataset_definition_key(dataset),
                source=pulumi.FileAsset(str(path)),
                kms_key_name=args.storage_key,
                opts=child(self),
            )
        if not args.pipeline_definition:
            return
        bound = pulumi.Output.all(
            self.service_account,
            args.data_buckets["features"],
            args.models_bucket,
            args.artifacts_bucket,
            args.images.get("training", ""),
            args.images.get("serving", ""),
            args.vertex_key,
        ).apply(lambda v: _bind(args, self.model_name, v))
        gcp.storage.BucketObject(
            f"{name}-pipeline-definition",
            bucket=args.artifacts_bucket,
            name=pipeline_definition_key(self.pipeline_name),
            # an asset, not ``content``: the provider keeps ``content`` secret, and the definition holds none
            source=bound.apply(pulumi.StringAsset),
            content_type="application/json",
            kms_key_name=args.storage_key,
            opts=child(self),
        )


def _training_spec(args: GcpTrainingArgs) -> dict[str, str]:
    """The training dataset's spec as parameter defaults, when the stack deploys its definition (as on AWS)."""
    definitions = dict(args.dataset_definitions)
    if args.training_dataset not in definitions:
        return {}
    return training_spec(definitions[args.training_dataset])


def _bind(args: GcpTrainingArgs, model_name: str, values: list[str]) -> str:
    """The definition with this stack's values as the parameters' defaults (as the AWS program binds them)."""
    account, features, models, artifacts, training_image, serving_image, vertex_key = values
    dataset = args.training_dataset
    return bind_parameter_defaults(
        args.pipeline_definition,
        {
            "ExecutionRoleArn": account,
            "TrainingImage": training_image,
            "InferenceImage": serving_image,
            "TrainUri": gcp_naming.gcs_uri(features, "training/train/"),
            "ValidationUri": gcp_naming.gcs_uri(features, naming.HOLDOUT_PREFIX),
            "ModelOutputUri": gcp_naming.gcs_uri(models, naming.TRAINING_OUTPUT_PREFIX),
            "EvaluationUri": gcp_naming.gcs_uri(models, "training/reports/"),
            "FeatureTableUri": gcp_naming.gcs_uri(features, f"tables/{dataset}/"),
            "DatasetDefinitionUri": gcp_naming.gcs_uri(artifacts, naming.dataset_definition_prefix(dataset)),
            "ModelPackageGroup": model_name,
            # the stack's mlflow_tracking_uri output (platform.py); locally the apply plays it with sqlite
            "MlflowTrackingUri": gcp_naming.gcs_uri(models, "mlflow"),
            "ModelsBucket": models,
            "Region": args.identity.region,
            **_training_spec(args),
        },
        source="pipelines/training/pipeline_definition.json",
        # the jobs' key is Vertex's CMEK; a custom job is placed by the stack's Vertex network, not subnet lists
        extra={
            "VolumeKmsKeyId": vertex_key,
            "OutputKmsKeyId": vertex_key,
            "SubnetIdA": "",
            "SubnetIdB": "",
            "SecurityGroupId": "",
        },
    )
