"""Serving: the SageMaker model, an endpoint configuration with data capture, a blue/green endpoint with
auto-rollback alarms, and target-tracking autoscaling of its variant."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.components.base import StackIdentity, child
from infra.guardrails.compute import NETWORK_ACCESS_TAG

COMPONENT = "serving"
# Tag values allow letters, digits, spaces and _.:/=+-@ only.
MODEL_NETWORK_REASON = "online feature store (DynamoDB) and the MLflow tracking server, through VPC endpoints"


@dataclass(frozen=True)
class ServingArgs:
    """Inputs of :class:`Serving`. ``rollback_alarm_names`` roll a deployment back when they fire."""

    identity: StackIdentity
    kms_key_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    models_bucket: pulumi.Output[str]
    monitoring_bucket: pulumi.Output[str]
    endpoint_name: str
    image_uri: pulumi.Input[str]
    instance_type: str
    instance_count: int
    min_capacity: int
    max_capacity: int
    target_invocations_per_instance: float
    capture_sampling_percent: int
    canary_traffic_percent: int
    bake_minutes: int
    rollback_alarm_names: list[pulumi.Output[str]]
    subnet_ids: list[pulumi.Output[str]]
    security_group_id: pulumi.Output[str]
    endpoint_enabled: bool = True
    """Cost switch: ``False`` declares the model and its endpoint configuration but no endpoint nor scaling."""

    def __post_init__(self) -> None:
        if not self.min_capacity <= self.instance_count <= self.max_capacity:
            raise ValueError(
                f"ServingArgs.instance_count ({self.instance_count}) must lie within min_capacity "
                f"({self.min_capacity}) and max_capacity ({self.max_capacity})"
            )


class Serving(pulumi.ComponentResource):
    """The real-time endpoint. The deploy tooling writes the release archive the model points at."""

    endpoint_name: pulumi.Output[str]
    endpoint_config_name: pulumi.Output[str]
    model_name: pulumi.Output[str]
    data_capture_prefix: pulumi.Output[str]

    def __init__(self, name: str, args: ServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:serving:Serving", name, None, opts)
        ident = args.identity
        tags = ident.tags(COMPONENT)
        model = aws.sagemaker.Model(
            f"{name}-model",
            name=naming.sagemaker_name(ident.project, ident.environment, "model"),
            execution_role_arn=args.role_arn,
            primary_container={
                "image": args.image_uri,
                "model_data_url": args.models_bucket.apply(lambda b: naming.release_model_uri(b, ident.environment)),
                "environment": {"MLOPS_ENVIRONMENT": ident.environment},
            },
            # Not isolated: the server completes entity-key requests from the online feature store and loads the
            # model version from the tracking server. It stays in the private subnets (VPC endpoints, no internet).
            enable_network_isolation=False,
            vpc_config={"subnets": args.subnet_ids, "security_group_ids": [args.security_group_id]},
            tags={**tags, NETWORK_ACCESS_TAG: MODEL_NETWORK_REASON},
            opts=child(self),
        )
        self.data_capture_prefix = args.monitoring_bucket.apply(
            lambda b: naming.data_capture_uri(b, args.endpoint_name)
        )
        config = aws.sagemaker.EndpointConfiguration(
            f"{name}-endpoint-config",
            name=naming.sagemaker_name(ident.project, ident.environment, "endpoint-config"),
            kms_key_arn=args.kms_key_arn,
            production_variants=[
                {
                    "variant_name": naming.ENDPOINT_VARIANT,
                    "model_name": model.name,
                    "initial_instance_count": args.instance_count,
                    "instance_type": args.instance_type,
                }
            ],
            data_capture_config={
                "enable_capture": True,
                "initial_sampling_percentage": args.capture_sampling_percent,
                "destination_s3_uri": self.data_capture_prefix,
                "kms_key_id": args.kms_key_arn,
                "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}],
                "capture_content_type_header": {"json_content_types": ["application/json"]},
            },
            tags=tags,
            opts=child(self),
        )
        self.endpoint_name = pulumi.Output.from_input(args.endpoint_name)
        if args.endpoint_enabled:  # cost switch: without it, `mlops deploy` creates the endpoint
            endpoint = aws.sagemaker.Endpoint(
                f"{name}-endpoint",
                name=args.endpoint_name,
                endpoint_config_name=config.name,
                deployment_config={
                    "blue_green_update_policy": {
                        "traffic_routing_configuration": {
                            "type": "CANARY",
                            "canary_size": {"type": "CAPACITY_PERCENT", "value": args.canary_traffic_percent},
                            "wait_interval_in_seconds": max(args.bake_minutes * 60, 60),
                        },
                        "termination_wait_in_seconds": args.bake_minutes * 60,
                    },
                    "auto_rollback_configuration": {
                        "alarms": [{"alarm_name": alarm} for alarm in args.rollback_alarm_names]
                    },
                },
                tags=tags,
                # `mlops deploy` moves the endpoint to each new version's endpoint config (blue/green); a later
                # `pulumi up` must not move it back to the initial one.
                opts=pulumi.ResourceOptions.merge(
                    child(self), pulumi.ResourceOptions(ignore_changes=["endpointConfigName"])
                ),
            )
            target = aws.appautoscaling.Target(
                f"{name}-scaling-target",
                service_namespace="sagemaker",
                scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                resource_id=endpoint.name.apply(lambda n: f"endpoint/{n}/variant/{naming.ENDPOINT_VARIANT}"),
                min_capacity=args.min_capacity,
                max_capacity=args.max_capacity,
                tags=tags,
                opts=child(self),
            )
            aws.appautoscaling.Policy(
                f"{name}-scaling-policy",
                name=naming.resource_name(ident.project, ident.environment, "invocations-tracking"),
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration={
                    "target_value": args.target_invocations_per_instance,
                    "predefined_metric_specification": {
                        "predefined_metric_type": "SageMakerVariantInvocationsPerInstance"
                    },
                    "scale_in_cooldown": 300,
                    "scale_out_cooldown": 60,
                },
                opts=child(self),
            )
            self.endpoint_name = endpoint.name
        self.endpoint_config_name = config.name
        self.model_name = model.name
        self.register_outputs({"endpoint_name": self.endpoint_name, "model_name": self.model_name})
