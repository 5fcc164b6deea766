"""The kit's one settings object.

Values come from, in order of precedence: explicit keyword arguments (the CLI's flags), ``MLOPS_*``
environment variables, then an optional YAML file (``MLOPS_CONFIG_FILE``, default ``mlops.yaml`` in the
working directory when it exists). An invalid value raises :class:`~mlops.errors.ConfigError` naming the
field, the environment variable that sets it and the allowed values.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from mlops.errors import ConfigError

Target = Literal["moto", "localstack", "aws", "gcp-emulators", "gcp"]
Cloud = Literal["aws", "gcp"]
Environment = Literal["local", "dev", "staging", "prod"]

TARGETS: tuple[str, ...] = ("moto", "localstack", "aws", "gcp-emulators", "gcp")
# Which targets belong to which cloud: ``cloud: gcp`` runs on Google's emulators (``gcp-emulators``) or on GCP.
CLOUD_TARGETS: dict[str, tuple[str, ...]] = {"aws": ("moto", "localstack", "aws"), "gcp": ("gcp-emulators", "gcp")}
ENVIRONMENTS: tuple[str, ...] = ("local", "dev", "staging", "prod")
ENV_PREFIX = "MLOPS_"
DEFAULT_CONFIG_FILE = "mlops.yaml"


class _Choice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectStoreChoice(_Choice):
    type: Literal["auto", "s3", "gcs", "memory"] = "auto"


class TableStoreChoice(_Choice):
    type: Literal["auto", "delta", "memory"] = "auto"


class EventsChoice(_Choice):
    type: Literal["auto", "kinesis", "pubsub", "memory"] = "auto"


class OnlineStoreChoice(_Choice):
    type: Literal["auto", "dynamodb", "firestore", "memory"] = "auto"


class ModelRegistryChoice(_Choice):
    # mlflow-vertex: MLflow + Vertex AI Model Registry (cloud gcp); mlflow-local: MLflow + packages in the Firestore
    # emulator (gcp-emulators: Vertex has no emulator)
    type: Literal["auto", "mlflow-sagemaker", "mlflow-vertex", "mlflow-local", "memory"] = "auto"


class EndpointChoice(_Choice):
    # vertex: Vertex AI endpoints (cloud gcp); local: the kit's endpoint runner (SageMaker's contract on the AWS
    # emulators, Vertex AI's custom-container contract on gcp-emulators)
    type: Literal["auto", "sagemaker", "vertex", "local", "memory"] = "auto"
    local_max_wait_seconds: float | None = Field(
        default=10.0,
        ge=0,
        description="Local endpoints only: every DeploymentConfig wait (canary/linear bake, termination wait) "
        "longer than this is cut to it, so a 5-minute canary bakes 10 s on the laptop; null waits as configured.",
    )
    response_format: Literal["kit", "mlflow"] = Field(
        default="kit",
        description="What the deployed endpoint answers: `kit` (predictions, probabilities, model version) or "
        "`mlflow` (exactly what `mlflow models serve` answers, for clients written against it); a request may "
        "still ask for either with the X-Mlops-Response-Format header. Batch predictions always read the kit's.",
    )
    model_engine: Literal["auto", "plain"] = Field(
        default="auto",
        description="What the deployed model runs on: `auto` the compiled (ONNX) model registered with the version "
        "when there is one, else the estimator; `plain` always the estimator.",
    )


class TrainingChoice(_Choice):
    # vertex: the kit's executor of the definition with its training jobs as Vertex AI custom jobs (cloud gcp)
    type: Literal["auto", "sagemaker", "vertex", "local", "memory"] = "auto"


class JobsChoice(_Choice):
    """``glue``: AWS Glue job runs; ``dataproc``: Dataproc Serverless batches (cloud gcp); ``local``: the kit's
    local runner of the cloud's contract (Glue on moto, Dataproc on Google's emulators)."""

    type: Literal["auto", "glue", "dataproc", "local"] = "auto"


class MetricsChoice(_Choice):
    """``cloud-monitoring``: Cloud Monitoring custom metrics (cloud gcp); ``local``: the kit's store in the Firestore
    emulator, for ``cloud: gcp`` on its emulators (Cloud Monitoring has none)."""

    type: Literal["auto", "cloudwatch", "cloud-monitoring", "local", "memory"] = "auto"


class CatalogChoice(_Choice):
    """``glue``: the Glue Data Catalog; ``bigquery``: BigLake tables in BigQuery (cloud gcp); ``local``: the kit's
    catalog in the Firestore emulator (BigQuery has no emulator); ``memory``: in-process fake."""

    type: Literal["auto", "glue", "bigquery", "local", "memory"] = "auto"


class AlarmsChoice(_Choice):
    """``cloudwatch``: CloudWatch evaluates (AWS, LocalStack); ``cloud-monitoring``: Cloud Monitoring's alert
    policies (cloud gcp); ``local``: the kit's runner evaluates the stored alarms (moto never does) or, on cloud gcp,
    the alert policies kept in the Firestore emulator (Cloud Monitoring has no emulator); ``memory``: in-process
    fake."""

    type: Literal["auto", "cloudwatch", "cloud-monitoring", "local", "memory"] = "auto"


class ServiceChoices(_Choice):
    """Which implementation each capability gets (``type:``, as feast chooses its stores). ``auto`` follows the
    target: the cloud's service on ``aws``; on an emulator, the emulated service where the emulator runs it and
    the kit's local runner where it only stores it (hosting, training, jobs). ``memory`` is the in-process fake.
    Set one with ``MLOPS_SERVICES__<CAPABILITY>__TYPE`` or ``services: {<capability>: {type: ...}}`` in mlops.yaml.
    """

    object_store: ObjectStoreChoice = ObjectStoreChoice()
    table_store: TableStoreChoice = TableStoreChoice()
    events: EventsChoice = EventsChoice()
    online_store: OnlineStoreChoice = OnlineStoreChoice()
    model_registry: ModelRegistryChoice = ModelRegistryChoice()
    endpoint: EndpointChoice = EndpointChoice()
    training: TrainingChoice = TrainingChoice()
    jobs: JobsChoice = JobsChoice()
    metrics: MetricsChoice = MetricsChoice()
    catalog: CatalogChoice = CatalogChoice()
    alarms: AlarmsChoice = AlarmsChoice()


# An AWS region name: partition prefix, optional gov/iso part, direction, number (us-east-1, us-gov-west-1).
REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$"


class GcpSettings(_Choice):
    """Google Cloud: the project and, for ``target: gcp-emulators``, where the emulators answer (default: the ones
    ``mlops/local/gcp_emulators.py`` recorded under ``<state_dir>/gcp-emulators``)."""

    project: str = Field(
        default="mlops-local", pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", description="Google Cloud project id."
    )
    location: str = Field(default="us-central1", pattern=r"^[a-z]+-[a-z]+[0-9]{1,2}$", description="GCP region.")
    storage_emulator_host: str | None = Field(default=None, description="GCS emulator URL (http://host:port).")
    pubsub_emulator_host: str | None = Field(default=None, description="Pub/Sub emulator host:port.")
    firestore_emulator_host: str | None = Field(default=None, description="Firestore emulator host:port.")


class LocalSparkSettings(_Choice):
    """The warm Spark Connect server ``mlops local up`` starts for local Glue job runs (off: each run starts its
    own JVM, 6-10 s more per run). ``MLOPS_LOCAL_SPARK__ENABLED=false`` or ``local_spark: {enabled: false}``."""

    enabled: bool = True
    driver_memory: str = Field(default="1g", pattern=r"^[1-9][0-9]*[mg]$", description="The server JVM's heap.")
    cores: int = Field(default=2, ge=1, description="Task slots (local[N]); capped by the machine's cores.")
    class_archive: bool = Field(
        default=True,
        description="Local Spark JVMs (the server's, cold job runs') map the Spark class archive, made once per Spark "
        "and Java installation in the user's cache (~45% less CPU per JVM start); off: every class from the jars.",
    )
    quick_compiler: bool = Field(
        default=True,
        description="The server's JVM compiles with its quick compiler only: a third to a half less CPU over a "
        "session of small local runs; off: the optimising compiler too, faster on long runs over large data.",
    )
    idle_daemon_seconds: float = Field(
        default=120,
        ge=1,
        description="A session's Python worker daemon is stopped once it has had no worker this long (Spark keeps "
        "one per session, ~26 MB and two processes, until the server stops); a session that runs Python again gets "
        "a new one.",
    )


class LocalCliSettings(_Choice):
    """The warm command server ``mlops local up`` starts: commands fork from a process that has imported their
    libraries (1-3 s less per command). ``MLOPS_LOCAL_CLI__ENABLED=false`` or ``local_cli: {enabled: false}``."""

    enabled: bool = True


def _config_file() -> Path:
    return Path(os.environ.get(f"{ENV_PREFIX}CONFIG_FILE", DEFAULT_CONFIG_FILE))


class Settings(BaseSettings):
    """Where the kit runs and where it finds the stack it works on."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True)

    target: Target = Field(
        default="moto",
        description="Where the kit runs: the embedded moto server, a LocalStack you run, or real AWS (cloud aws); "
        "Google's emulators or real GCP (cloud gcp).",
    )
    cloud: Cloud = Field(default="aws", description="Which cloud's services `auto` picks: aws or gcp.")
    gcp: GcpSettings = Field(default=GcpSettings(), description="Google Cloud project and emulator hosts.")
    region: str = Field(
        default="us-east-1", pattern=REGION_PATTERN, description="AWS region of every client (like us-east-1)."
    )
    endpoint_url: str | None = Field(
        default=None,
        description="Override the AWS endpoint for every service (e.g. an emulator you started yourself).",
    )
    environment: Environment = Field(
        default="local", description="Deployment environment; selects the default Pulumi stack."
    )
    stack: str | None = Field(
        default=None, description="Pulumi stack whose outputs the code reads (default: the environment)."
    )
    state_dir: Path = Field(
        default=Path(".mlops"),
        description="Project-local directory for the emulator's pidfile, logs and local stack outputs.",
    )
    outputs_file: Path | None = Field(
        default=None,
        description=("JSON printed by `pulumi stack output --json` (default: <state_dir>/outputs/<stack>.json)."),
    )
    aws_profile: str | None = Field(default=None, description="Named AWS profile for the aws target.")
    datasets_dir: Path = Field(
        default=Path("pipelines/datasets"), description="Directory of dataset definition files (<name>.yaml)."
    )
    local_spark: LocalSparkSettings = Field(
        default=LocalSparkSettings(), description="The warm Spark Connect server of `mlops local up`."
    )
    local_cli: LocalCliSettings = Field(
        default=LocalCliSettings(), description="The warm command server of `mlops local up`."
    )
    services: ServiceChoices = Field(
        default=ServiceChoices(),
        description="Implementation per capability (`type:`); `auto` follows the target. See mlops/wiring.py.",
    )

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("cloud")
    @classmethod
    def _target_of_cloud(cls, cloud: str, info: ValidationInfo) -> str:
        target = info.data.get("target")  # validated before: declared first
        if target is not None and target not in CLOUD_TARGETS[cloud]:
            raise ValueError(
                f"target {target!r} is not a target of cloud {cloud!r} (its targets: {', '.join(CLOUD_TARGETS[cloud])})"
            )
        return cloud

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file()
        if config_file.is_file():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    @cached_property
    def stack_name(self) -> str:
        """The Pulumi stack name: explicit ``stack`` or the environment's name."""
        return self.stack or self.environment

    @cached_property
    def resolved_outputs_file(self) -> Path:
        """Where the stack outputs are read from and, for local applies, written to."""
        return self.outputs_file or self.state_dir / "outputs" / f"{self.stack_name}.json"

    @cached_property
    def gcp_emulator_dir(self) -> Path:
        """Directory holding the Google emulators' state file and logs (``mlops/local/gcp_emulators.py``)."""
        return self.state_dir / "gcp-emulators"

    @cached_property
    def emulator_dir(self) -> Path:
        """Directory holding the embedded emulator's pidfile, state file and log."""
        return self.state_dir / "emulator"


def _describe(error: dict[str, Any]) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "settings"
    env_var = f"{ENV_PREFIX}{field.upper().replace('.', '__')}"
    message = str(error["msg"])
    if field == "target":
        message = f"{message} (allowed targets: {', '.join(TARGETS)})"
    elif field == "environment":
        message = f"{message} (allowed environments: {', '.join(ENVIRONMENTS)})"
    elif field == "region":
        message = "not an AWS region name (a region is named like us-east-1, eu-central-1 or us-gov-west-1)"
    return f"invalid setting {field!r} (env {env_var}): {message}; got {error.get('input')!r}"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning pydantic's errors into a :class:`ConfigError` naming each bad field.

    ``overrides`` whose value is ``None`` are ignored, so CLI options left unset fall back to the
    environment and the config file.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(dict(err)) for err in exc.errors())) from exc
