"""Training and registry: SageMaker execution role, model package group, the training pipeline, MLflow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra import naming, policies
from infra.components.base import StackIdentity, child, policy_json
from infra.pipeline_definition import bind_parameter_defaults, security_parameters
from mlops.datasets import load_definition
from mlops.errors import ConfigError
from mlops.modeling.spec import ModelSpec, spec_parameters

COMPONENT = "training"
PIPELINE_DEFINITION = Path("pipelines/training/pipeline_definition.json")
"""Definition of the SageMaker pipeline, relative to the repository root; produced by the training code."""


def read_pipeline_definition(repo_root: Path) -> str:
    """The pipeline definition JSON; a missing file names itself and the command that writes it."""
    path = repo_root / PIPELINE_DEFINITION
    if not path.is_file():
        raise ConfigError(
            f"SageMaker pipeline definition {path} does not exist: generate it with "
            "`mlops train pipeline-definition` (the training pipeline's builder) and commit it"
        )
    return path.read_text()


@dataclass(frozen=True)
class SageMakerNetwork:
    """The private subnets and security groups of the pipeline's jobs and of the hosted model."""

    subnet_ids: list[pulumi.Output[str]]
    jobs_security_group_id: pulumi.Output[str]
    hosting_security_group_id: pulumi.Output[str]


@dataclass(frozen=True)
class TrainingArgs:
    """Inputs of :class:`Training`. ``data_buckets[0]`` is the features zone the training data comes from."""

    identity: StackIdentity
    kms_key_arn: pulumi.Output[str]
    data_buckets: list[pulumi.Output[str]]
    models_bucket: pulumi.Output[str]
    artifacts_bucket: pulumi.Output[str]
    pipeline_definition: str
    training_image_uri: pulumi.Input[str]
    inference_image_uri: pulumi.Input[str]
    image_repository_arns: list[pulumi.Output[str]]
    """The repositories the images come from (SageMaker may pull from these only)."""
    training_instance_type: str
    mlflow_server_size: str
    approval_required: bool
    dataset_definitions: Mapping[str, Path]
    training_dataset: str
    network: SageMakerNetwork
    mlflow_server: bool = True
    """``False``: no managed MLflow server; ``external_tracking_uri`` is the tracking server the stack uses."""
    external_tracking_uri: str | None = None

    def __post_init__(self) -> None:
        if not self.mlflow_server and not self.external_tracking_uri:
            raise ConfigError("a stack without its MLflow server needs mlflowTrackingUri")
        if self.training_dataset not in self.dataset_definitions:
            raise ConfigError(
                f"trainingDataset {self.training_dataset!r} has no definition; "
                f"defined: {', '.join(sorted(self.dataset_definitions)) or 'none'}"
            )


def training_spec(definition: Path) -> dict[str, str]:
    """The model spec of the stack's training dataset as the pipeline's parameter defaults."""
    return spec_parameters(ModelSpec.from_definition(load_definition(definition)))


class Training(pulumi.ComponentResource):
    """Where models are trained (pipeline), tracked (managed MLflow) and registered (model package group)."""

    role_arn: pulumi.Output[str]
    model_package_group: pulumi.Output[str]
    pipeline_name: pulumi.Output[str]
    pipeline_arn: pulumi.Output[str]
    mlflow_tracking_uri: pulumi.Output[str]

    def __init__(self, name: str, args: TrainingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:training:Training", name, None, opts)
        ident = args.identity
        tags = ident.tags(COMPONENT)
        stack_prefix = naming.prefix(ident.project, ident.environment)
        role = aws.iam.Role(
            f"{name}-sagemaker-role",
            name=naming.role_name(ident.project, ident.environment, "sagemaker"),
            permissions_boundary=ident.permissions_boundary,
            assume_role_policy=policy_json(lambda: policies.assume_role_policy("sagemaker.amazonaws.com")),
            tags=tags,
            opts=child(self),
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-sagemaker-policy",
            role=role.id,
            policy=pulumi.Output.all(
                pulumi.Output.all(*args.data_buckets),
                args.models_bucket,
                args.kms_key_arn,
                ident.account_id,
                args.artifacts_bucket,
                pulumi.Output.all(*args.network.subnet_ids),
                pulumi.Output.all(args.network.jobs_security_group_id, args.network.hosting_security_group_id),
                pulumi.Output.all(*args.image_repository_arns),
            ).apply(
                lambda v: policies.to_json(
                    policies.sagemaker_policy(
                        list(v[0]),
                        v[1],
                        v[2],
                        artifacts_bucket=v[4],
                        account_id=v[3],
                        region=ident.region,
                        prefix=stack_prefix,
                        image_repositories=list(v[7]),
                        network=policies.NetworkPlacement(
                            region=ident.region,
                            account_id=v[3],
                            subnet_ids=tuple(v[5]),
                            security_group_ids=tuple(v[6]),
                        ),
                    )
                )
            ),
            opts=child(self),
        )
        group = aws.sagemaker.ModelPackageGroup(
            f"{name}-model-group",
            model_package_group_name=naming.sagemaker_name(ident.project, ident.environment, "models"),
            model_package_group_description=(
                "Candidate models; approval is manual" if args.approval_required else "Candidate models"
            ),
            tags={**tags, "approval": "manual" if args.approval_required else "automatic"},
            opts=child(self),
        )
        # The pipeline's Prepare step reads the dataset definition from here (Processing input).
        definitions = [
            aws.s3.BucketObjectv2(
                f"{name}-dataset-{dataset}",
                bucket=args.artifacts_bucket,
                key=naming.dataset_definition_key(dataset),
                source=pulumi.FileAsset(str(path)),
                server_side_encryption="aws:kms",
                kms_key_id=args.kms_key_arn,
                tags=tags,
                opts=child(self),
            )
            for dataset, path in sorted(args.dataset_definitions.items())
        ]
        # The pipeline's Register step records the model in this tracking server's registry.
        tracking_uri: pulumi.Output[str]
        if args.mlflow_server:
            tracking = aws.sagemaker.MlflowTrackingServer(
                f"{name}-mlflow",
                tracking_server_name=naming.sagemaker_name(ident.project, ident.environment, "mlflow"),
                artifact_store_uri=args.models_bucket.apply(naming.mlflow_artifact_uri),
                role_arn=role.arn,
                tracking_server_size=args.mlflow_server_size,
                automatic_model_registration=True,
                tags=tags,
                opts=child(self, depends_on=[role_policy]),
            )
            tracking_uri = tracking.arn
        else:  # cost switch: the stack uses another tracking server (mlflowTrackingUri)
            tracking_uri = pulumi.Output.from_input(str(args.external_tracking_uri))
        # Volume/output keys and the jobs' subnets and security group, bound into the definition's parameters.
        job_security = pulumi.Output.all(
            args.kms_key_arn, pulumi.Output.all(*args.network.subnet_ids), args.network.jobs_security_group_id
        ).apply(lambda v: security_parameters(kms_key_arn=v[0], subnet_ids=list(v[1]), security_group_id=v[2]))
        pipeline_name = naming.sagemaker_name(ident.project, ident.environment, "training")
        pipeline = aws.sagemaker.Pipeline(
            f"{name}-pipeline",
            pipeline_name=pipeline_name,
            pipeline_display_name=pipeline_name,
            pipeline_description="Train, evaluate and register a model candidate",
            pipeline_definition=pulumi.Output.all(
                role.arn,
                args.data_buckets[0],
                args.models_bucket,
                args.artifacts_bucket,
                group.model_package_group_name,
                tracking_uri,
                pulumi.Output.all(args.training_image_uri, args.inference_image_uri),
                job_security,
            ).apply(
                lambda v: bind_parameter_defaults(
                    args.pipeline_definition,
                    {
                        "ExecutionRoleArn": v[0],
                        "TrainingImage": v[6][0],
                        "InferenceImage": v[6][1],
                        "TrainingInstanceType": args.training_instance_type,
                        "TrainUri": f"s3://{v[1]}/training/train/",
                        "ValidationUri": f"s3://{v[1]}/{naming.HOLDOUT_PREFIX}",
                        "ModelOutputUri": f"s3://{v[2]}/{naming.TRAINING_OUTPUT_PREFIX}",
                        "EvaluationUri": f"s3://{v[2]}/training/reports/",
                        "FeatureTableUri": f"s3://{v[1]}/tables/{args.training_dataset}/",
                        "DatasetDefinitionUri": f"s3://{v[3]}/{naming.dataset_definition_prefix(args.training_dataset)}",
                        "ModelPackageGroup": v[4],
                        "MlflowTrackingUri": v[5],
                        "ModelsBucket": v[2],
                        "Region": ident.region,
                        # an execution that names no spec (EventBridge's retrain) trains the stack's dataset
                        **training_spec(args.dataset_definitions[args.training_dataset]),
                    },
                    source=str(PIPELINE_DEFINITION),
                    extra=v[-1],
                )
            ),
            role_arn=role.arn,
            tags=tags,
            opts=child(self, depends_on=[role_policy, *definitions]),
        )
        self.role_arn = role.arn
        self.model_package_group = group.model_package_group_name
        self.pipeline_name = pipeline.pipeline_name
        self.pipeline_arn = pipeline.arn
        # The sagemaker-mlflow plugin takes the tracking server's ARN as the tracking URI; the local apply
        # returns a local MLflow URI as this resource's ARN, so the same output works in both places.
        self.mlflow_tracking_uri = tracking_uri
        self.register_outputs({"role_arn": self.role_arn, "pipeline_arn": self.pipeline_arn})
