"""One typed, frozen configuration object per stack.

``infra/Pulumi.<stack>.yaml`` holds only what differs from the defaults below. Keys are written as Pulumi
writes them (``mlops-kit:shardCount``, ``aws:region``); :func:`load_stack_config` turns that mapping into a
:class:`StackConfig`, so the Pulumi program, ``mlops infra plan`` and the local apply all read the same file
the same way. Provider settings other than ``aws:region`` (endpoints, test keys) belong to the provider and
are ignored here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from infra.lifecycle import MIN_LOG_RETENTION_DAYS, Retention
from infra.thresholds import Thresholds
from mlops.errors import ConfigError

PROJECT = "mlops-kit"
"""Pulumi project name: the namespace of the kit's own config keys."""

REPO_ROOT = Path(__file__).resolve().parents[1]

Environment = Literal["local", "dev", "staging", "prod"]


class StackConfig(BaseModel):
    """Everything that may differ between stacks. Field ``shard_count`` is written ``mlops-kit:shardCount``."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    stack: str = Field(min_length=1)
    environment: Environment
    region: str = "us-east-1"
    project: str = PROJECT
    owner: str = "ml-platform"
    repo_root: Path = REPO_ROOT
    cloud: Literal["aws", "gcp"] = "aws"
    """Which cloud the program declares the platform on: the one switch ``infra/platform.py`` branches on."""
    gcp_project: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    """Google Cloud project id (``gcp:project``), required with ``cloud: gcp``; bucket names carry it."""
    gcp_project_number: str | None = Field(default=None, pattern=r"^[1-9][0-9]{5,18}$")
    """The project's number, required with ``cloud: gcp``: Google's service agents (which need the CMEK keys) and
    Workload Identity principals are named by it, and the program derives them instead of asking the API."""

    # data lake
    noncurrent_version_expiration_days: int = Field(default=30, ge=1)
    raw_expiration_days: int = Field(default=365, ge=1)
    quarantine_expiration_days: int = Field(default=30, ge=1)
    access_log_expiration_days: int = Field(default=90, ge=1)
    infrequent_access_after_days: int = Field(default=30, ge=30)

    # streaming
    stream_mode: Literal["ON_DEMAND", "PROVISIONED"] = "ON_DEMAND"
    shard_count: int = Field(default=1, ge=1)
    stream_retention_hours: int = Field(default=24, ge=24, le=8760)
    firehose_buffer_seconds: int = Field(default=300, ge=0, le=900)

    # processing
    glue_version: str = "5.0"
    glue_worker_type: Literal["G.1X", "G.2X", "G.4X", "G.8X", "G.025X"] = "G.1X"
    glue_worker_count: int = Field(default=2, ge=2)
    glue_timeout_minutes: int = Field(default=60, ge=1)
    glue_schedule: str = "cron(0 3 * * ? *)"
    glue_schedules: dict[str, str] = Field(default_factory=dict)

    # feature store
    online_feature_ttl_attribute: str = "expires_at"

    # training and registry
    training_instance_type: str = "ml.m5.xlarge"
    training_dataset: str = "card_transactions"
    # images: the kit's own (docker/, in this stack's ECR repositories, tagged by content) unless a URI is given
    training_image_uri: str | None = None
    docker_build: bool = False
    """Build and push the images from ``pulumi up`` (docker-build provider; needs a Docker engine and a
    ``docker login`` to the stack's registry). Off: CI pushes them (`mlops release context` + docker build)."""
    image_retention_count: int = Field(default=30, ge=1, le=1000)
    mlflow_server_size: Literal["Small", "Medium", "Large"] = "Small"
    mlflow_tracking_server: bool = True
    """Cost switch: ``false`` declares no managed MLflow server; the stack then uses ``mlflowTrackingUri`` (e.g. the
    tracking server of another stack, shared)."""
    mlflow_tracking_uri: str | None = None
    mlflow_image_uri: str | None = None
    """``cloud: gcp``: the image the MLflow tracking server runs (it needs MLflow and a PostgreSQL driver); unset,
    the stack's training image."""
    mlflow_database_deletion_protection: bool = True
    """``cloud: gcp``: deletion protection of the MLflow tracking server's Cloud SQL instance and Cloud Run service
    (``false`` lets a throw-away stack be destroyed)."""
    model_approval_required: bool = True

    # serving
    serving_image_uri: str | None = None
    endpoint_enabled: bool = True
    """Cost switch: ``false`` declares the model and endpoint configuration but no endpoint (no instances run);
    ``mlops deploy`` creates the endpoint when a model is deployed."""
    endpoint_instance_type: str = "ml.m5.large"
    endpoint_instance_count: int = Field(default=1, ge=1)
    autoscaling_min_capacity: int = Field(default=1, ge=1)
    autoscaling_max_capacity: int = Field(default=2, ge=1)
    autoscaling_target_invocations: float = Field(default=100.0, gt=0)
    data_capture_sampling_percent: int = Field(default=100, ge=0, le=100)
    canary_traffic_percent: int = Field(default=10, ge=1, le=100)
    bake_minutes: int = Field(default=10, ge=0)

    # monitoring
    log_retention_days: int = 30
    latency_p99_ms: float = Field(default=500.0, gt=0)
    server_errors_threshold: float = Field(default=5.0, ge=0)
    data_drift_threshold: float = Field(default=0.2, gt=0)
    concept_drift_threshold: float = Field(default=0.2, gt=0)
    model_degradation_threshold: float = Field(default=0.05, gt=0)
    alarm_evaluation_periods: int = Field(default=3, ge=1)
    rollback_on_degradation: bool = False
    """Opt-in: when the model degradation alarm enters ALARM, the champion is rolled back to the version it replaced
    and redeployed (the kit's alarm follow-through), while the retrain rule trains a successor."""

    # usage the cost estimate assumes (`mlops infra cost`): runs a month and their length
    training_runs_per_month: int = Field(default=4, ge=0)
    training_hours_per_run: float = Field(default=1.0, ge=0)
    processing_hours_per_run: float = Field(default=0.5, ge=0)
    glue_minutes_per_run: float = Field(default=10.0, ge=0)

    # network: a VPC per stack (private subnets only, VPC endpoints, no internet path), or an existing one
    vpc_cidr: str = Field(default="10.40.0.0/16", pattern=r"^\d{1,3}(\.\d{1,3}){3}/(1[6-9]|2[0-4])$")
    availability_zones: tuple[str, ...] = Field(default=(), max_length=6)
    existing_vpc_id: str | None = Field(default=None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    existing_subnet_ids: tuple[str, ...] = ()
    existing_route_table_ids: tuple[str, ...] = ()
    existing_prefix_list_ids: tuple[str, ...] = ()
    create_vpc_endpoints: bool = True
    flow_log_traffic: Literal["ALL", "REJECT", "ACCEPT"] = "ALL"

    # encryption: the Glue Data Catalog's settings are per account and region (one stack per account manages them)
    manage_catalog_encryption: bool = True

    # CI/CD identity
    # (trusted by the GitHub environment named like the stack, and <env>-preview for previews; not by branch)
    github_repository: str = Field(default="example-org/mlops-kit", pattern=r"^[\w.-]+/[\w.-]+$")
    create_oidc_provider: bool = True
    pulumi_state_bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    """The DIY backend's bucket (``pulumi login s3://<bucket>``): the CI roles may read and write this stack's
    state there."""
    pulumi_secrets_key_arn: str | None = Field(default=None, pattern=r"^arn:aws[\w-]*:kms:[\w-]+:\d{12}:key/[\w-]+$")
    """The awskms secrets provider's key (``--secrets-provider awskms://...``)."""

    # release: the promotion across stacks (deploy.yml's `mlops release promote`; infra/promotion.py)
    promotion_source: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]*$")
    """The stack whose gate passes the versions this stack receives (staging: ``dev``; prod: ``staging``): this
    stack's deploy role may read such a version there, nothing else of it."""
    promotion_source_account: str | None = Field(default=None, pattern=r"^\d{12}$")
    """``promotionSource``'s AWS account (default: this stack's)."""
    promotion_target: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]*$")
    """The stack receiving this stack's gated versions (dev: ``staging``; staging: ``prod``): this stack's buckets and
    key grant that stack's deploy role the promotion's reads."""
    promotion_target_account: str | None = Field(default=None, pattern=r"^\d{12}$")
    """``promotionTarget``'s AWS account (default: this stack's)."""

    # the follow-through of a successful training pipeline (infra/components/retrain_dispatch.py)
    retrained_dispatch: bool = False
    """Opt-in: when the training pipeline succeeds (an automatic retrain the alarms started, or any run),
    EventBridge dispatches ``.github/workflows/retrained.yml`` of ``githubRepository`` in this stack's GitHub
    environment: gate the challenger, deploy a winner, smoke-test. Needs ``githubDispatchToken``."""
    github_dispatch_token: SecretStr | None = None
    """A GitHub token that may dispatch the repository's workflows (fine-grained: Actions read and write on that
    repository only), set with ``pulumi config set --secret githubDispatchToken``; kept in Pulumi's encrypted state
    and in the EventBridge connection's secret."""
    retrained_dispatch_ref: str = Field(default="main", pattern=r"^[\w./-]+$")
    """The branch whose ``retrained.yml`` runs."""

    @model_validator(mode="after")
    def _consistent(self) -> StackConfig:
        # Contradictions are rejected here, naming the fields, instead of failing half-way through a deploy.
        if self.autoscaling_min_capacity > self.autoscaling_max_capacity:
            raise ValueError(
                f"autoscalingMinCapacity ({self.autoscaling_min_capacity}) exceeds "
                f"autoscalingMaxCapacity ({self.autoscaling_max_capacity})"
            )
        if self.endpoint_instance_count > self.autoscaling_max_capacity:
            raise ValueError(
                f"endpointInstanceCount ({self.endpoint_instance_count}) exceeds "
                f"autoscalingMaxCapacity ({self.autoscaling_max_capacity})"
            )
        if self.stream_mode == "ON_DEMAND" and self.shard_count != 1:
            raise ValueError("shardCount is only used with streamMode PROVISIONED; remove it or set the mode")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(f"logRetentionDays {self.log_retention_days} is not one CloudWatch Logs accepts")
        minimum = MIN_LOG_RETENTION_DAYS.get(self.environment, 1)
        if self.log_retention_days < minimum:
            raise ValueError(
                f"logRetentionDays {self.log_retention_days} is below the {minimum} days {self.environment} requires"
            )
        if self.cloud == "gcp" and (self.gcp_project is None or self.gcp_project_number is None):
            raise ValueError(
                "cloud: gcp needs gcpProject (or gcp:project) and gcpProjectNumber: the Google Cloud project to "
                "declare in"
            )
        for key, peer in (("promotionSource", self.promotion_source), ("promotionTarget", self.promotion_target)):
            if peer is not None and peer in (self.stack, self.environment):
                raise ValueError(f"{key} {peer!r} is this stack: a promotion goes from one stack to another")
        self._check_network()
        if self.retrained_dispatch and self.cloud != "aws":
            raise ValueError("retrainedDispatch is built for cloud aws only (EventBridge to GitHub)")
        if self.retrained_dispatch and not self.github_dispatch_token:
            raise ValueError(
                "retrainedDispatch needs githubDispatchToken: pulumi config set --secret githubDispatchToken <token>"
            )
        if not self.mlflow_tracking_server and not self.mlflow_tracking_uri:
            raise ValueError("mlflowTrackingServer: false needs mlflowTrackingUri (the tracking server the stack uses)")
        return self

    def _check_network(self) -> None:
        if self.existing_vpc_id is None:
            if self.existing_subnet_ids or self.existing_route_table_ids or self.existing_prefix_list_ids:
                raise ValueError(
                    "existingSubnetIds/existingRouteTableIds/existingPrefixListIds need existingVpcId (their VPC)"
                )
            if not self.create_vpc_endpoints:
                raise ValueError("createVpcEndpoints: false is only for an existingVpcId that has its own endpoints")
            if self.availability_zones and len(set(self.availability_zones)) < 2:
                raise ValueError("availabilityZones must name at least two distinct zones")
            return
        if len(set(self.existing_subnet_ids)) < 2:
            raise ValueError("existingVpcId needs existingSubnetIds: at least two private subnets (in two zones)")
        if len(self.availability_zones) != len(self.existing_subnet_ids):
            raise ValueError(
                "existingVpcId needs availabilityZones: the zone of each existingSubnetIds entry, in order"
            )
        bad = [s for s in self.existing_subnet_ids if not s.startswith("subnet-")]
        if bad:
            raise ValueError(f"existingSubnetIds holds ids that are not subnet ids: {', '.join(bad)}")
        if self.create_vpc_endpoints and not self.existing_route_table_ids:
            raise ValueError(
                "existingVpcId with createVpcEndpoints needs existingRouteTableIds (for the S3 and DynamoDB gateway "
                "endpoints); set createVpcEndpoints: false if the VPC has its endpoints already"
            )
        if not self.create_vpc_endpoints and not self.existing_prefix_list_ids:
            raise ValueError(
                "createVpcEndpoints: false needs existingPrefixListIds (the S3 and DynamoDB prefix lists of the VPC's "
                "gateway endpoints): workloads may send HTTPS only there and to vpcCidr"
            )

    @property
    def zones(self) -> tuple[str, ...]:
        """Zones of the private subnets: the two the kit creates subnets in (``<region>a``/``b`` by default), or
        the zone of each existing subnet."""
        if self.existing_vpc_id is not None:
            return self.availability_zones
        chosen = self.availability_zones or (f"{self.region}a", f"{self.region}b")
        return chosen[0], chosen[1]

    def retention(self) -> Retention:
        """How long the lake keeps what (both clouds' data lakes)."""
        return Retention(
            noncurrent_version_expiration_days=self.noncurrent_version_expiration_days,
            raw_expiration_days=self.raw_expiration_days,
            quarantine_expiration_days=self.quarantine_expiration_days,
            access_log_expiration_days=self.access_log_expiration_days,
            infrequent_access_after_days=self.infrequent_access_after_days,
        )

    def thresholds(self) -> Thresholds:
        """The alarms' thresholds (both clouds' monitoring, and the cost estimate's alarm count)."""
        return Thresholds(
            latency_p99_ms=self.latency_p99_ms,
            server_errors=self.server_errors_threshold,
            data_drift=self.data_drift_threshold,
            concept_drift=self.concept_drift_threshold,
            model_degradation=self.model_degradation_threshold,
            evaluation_periods=self.alarm_evaluation_periods,
        )


LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922)
"""Retention values CloudWatch Logs accepts (0 = never expire is deliberately absent)."""


def load_stack_config(stack: str, raw: Mapping[str, Any], *, repo_root: Path | None = None) -> StackConfig:
    """Build the stack's config from its ``config:`` mapping (``mlops-kit:key`` and ``aws:region`` keys).

    The environment defaults to the stack name. Unknown ``mlops-kit:`` keys and bad values raise
    :class:`ConfigError` naming the key and the stack.
    """
    values: dict[str, Any] = {"stack": stack, "environment": stack}
    if repo_root is not None:
        values["repoRoot"] = repo_root
    prefix = f"{PROJECT}:"
    for key, value in raw.items():
        if key == "gcp:region" or (key == "aws:region" and "gcp:region" not in raw):
            # A GCP stack's region is gcp:region even where the project declares an aws:region for AWS stacks.
            values["region"] = value
        elif key == "gcp:project":
            values["gcpProject"] = value
        elif key.startswith(prefix):
            values[key.removeprefix(prefix)] = value
    try:
        return StackConfig.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            key = f"{PROJECT}:{field}" if field else "config"
            problems.append(f"{key}: {error['msg']}")
        raise ConfigError(f"invalid config for stack {stack!r}: " + "; ".join(problems)) from exc


def decode_config_env(raw: Mapping[str, str]) -> dict[str, Any]:
    """Config as the Pulumi engine hands it to a program (``pulumi.runtime.get_config_env()``): every value
    is a string and objects/lists are JSON text. Decode those so :func:`load_stack_config` sees YAML's shapes."""
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                decoded[key] = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"config key {key} holds invalid JSON: {exc}") from exc
        else:
            decoded[key] = value
    return decoded


def stack_file(stack: str, repo_root: Path) -> Path:
    """Path of ``infra/Pulumi.<stack>.yaml``."""
    return repo_root / "infra" / f"Pulumi.{stack}.yaml"


def read_stack_file(stack: str, repo_root: Path) -> StackConfig:
    """Load ``infra/Pulumi.<stack>.yaml`` as :func:`load_stack_config` would see it from ``pulumi.Config``."""
    path = stack_file(stack, repo_root)
    if not path.is_file():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in path.parent.glob("Pulumi.*.yaml"))
        raise ConfigError(f"no stack file {path} for stack {stack!r}; known stacks: {', '.join(known) or 'none'}")
    document = yaml.safe_load(path.read_text()) or {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path} must hold a mapping with a 'config:' key")
    raw = document.get("config") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: 'config' must be a mapping of keys to values")
    return load_stack_config(stack, {**project_config_defaults(repo_root), **raw}, repo_root=repo_root)


def project_config_defaults(repo_root: Path) -> dict[str, Any]:
    """Config values declared in ``infra/Pulumi.yaml`` (``key: {value: ...}``), which every stack inherits."""
    path = repo_root / "infra" / "Pulumi.yaml"
    document = yaml.safe_load(path.read_text()) if path.is_file() else None
    declared = document.get("config") if isinstance(document, dict) else None
    if not isinstance(declared, dict):
        return {}
    defaults: dict[str, Any] = {}
    for key, spec in declared.items():
        if isinstance(spec, dict) and "value" in spec:
            defaults[key] = spec["value"]
        elif isinstance(spec, dict) and "default" in spec:
            defaults[key] = spec["default"]
        elif not isinstance(spec, dict):
            defaults[key] = spec
    return defaults
