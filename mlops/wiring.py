"""THE wiring: the one module that chooses an implementation for each port.

``build_platform(settings, outputs)`` returns a :class:`~mlops.platform.Platform` whose ``services`` builds each
port on first use from ``settings.services.<capability>.type``:

===============  ============================  ===================================  ==================
capability       aws target (``auto``)         emulator target (``auto``)           ``memory``
===============  ============================  ===================================  ==================
object_store     S3                            the emulator's S3                    in-process fake
table_store      Delta (delta-rs) on S3        Delta on the emulator's S3           Delta on a tmp dir
online_store     DynamoDB                      the emulator's DynamoDB              in-process fake
events           Kinesis (+ DynamoDB leases)   the emulator's Kinesis and DynamoDB  in-process fake
metrics          CloudWatch                    the emulator's CloudWatch            in-process fake
catalog          Glue Data Catalog             the emulator's Glue catalog          in-process fake
jobs             Glue job runs                 the kit's local Glue runner          (none)
alarms           CloudWatch evaluates          the kit's alarm runner (moto)        in-process fake
model_registry   MLflow + SageMaker packages   MLflow + the emulator's packages     sqlite MLflow + fake
endpoint         SageMaker runtime             the local endpoint process           in-process fake
hosting          SageMaker endpoints           the local endpoint runner            in-process fake
batch_transform  SageMaker transform jobs      the local serving container          in-process fake
training         SageMaker Pipelines           the local pipeline executor          in-process fake
===============  ============================  ===================================  ==================

With ``cloud: gcp`` (targets ``gcp-emulators`` and ``gcp``), ``auto`` picks GCS, Delta on ``gs://``, Firestore and
Pub/Sub (leases in Firestore), Cloud Monitoring's metrics and alert policies, and on the emulators the kit's metrics
store and alert-policy runner (Cloud Monitoring has no emulator); a capability with no GCP implementation yet is
refused by name (docs/gcp.md).

Where an emulator stores a service but does not run it (SageMaker hosting and training, Glue job runs, alarm
evaluation on moto; LocalStack evaluates alarms itself), ``auto`` picks the kit's local runner from
:mod:`mlops.local`. This module and the CLI are the only importers of the local runtime; capability code never sees
which implementation it got. A new backend is one adapter module plus one branch in the ``_<capability>`` function
here (see docs/architecture.md).
"""

from __future__ import annotations

import threading
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from mlops.errors import ConfigError
from mlops.outputs import StackOutputs
from mlops.platform import Platform
from mlops.settings import Settings

if TYPE_CHECKING:
    from mlops.adapters.aws.clients import ClientFactory
    from mlops.adapters.gcp.clients import GcpClients
    from mlops.ports.alarms import Alarms
    from mlops.ports.batch_transform import BatchTransform
    from mlops.ports.catalog import Catalog
    from mlops.ports.endpoint import Endpoint
    from mlops.ports.events import EventStream
    from mlops.ports.hosting import Hosting
    from mlops.ports.jobs import JobRunner
    from mlops.ports.metrics import MetricsPublisher
    from mlops.ports.model_registry import ModelRegistry
    from mlops.ports.object_store import ObjectStore
    from mlops.ports.online_store import OnlineStore
    from mlops.ports.table_store import TableStore
    from mlops.ports.training import PipelineRunner


def emulator_endpoint(settings: Settings) -> str | None:
    """The endpoint URL of the embedded emulator ``mlops local up`` recorded (its front door: the SageMaker runtime
    API on the local endpoints, everything else to moto), ``None`` when none is recorded."""
    from mlops.local.state import read_state

    state = read_state(settings.emulator_dir)
    return state.public_url if state is not None else None


def client_factory(settings: Settings) -> ClientFactory:
    """AWS clients for ``settings``: the emulator's endpoint for the moto target, AWS's (or LocalStack's) else."""
    from mlops.adapters.aws.clients import ClientFactory

    endpoint = None
    if settings.target == "moto" and not settings.endpoint_url:
        endpoint = emulator_endpoint(settings)
    return ClientFactory(settings, endpoint)


def gcp_client_factory(settings: Settings, firestore_database: str | None = None) -> GcpClients:
    """Google Cloud clients for ``settings``: Google's endpoints on ``target: gcp``, Firestore on the stack's
    ``firestore_database``; on ``gcp-emulators`` the hosts set in ``settings.gcp``, else those of the emulators
    ``mlops/local/gcp_emulators.py`` recorded, and the emulator's ``(default)`` database, which the local runners
    (they open clients from the settings alone) share."""
    from mlops.adapters.gcp.clients import DEFAULT_DATABASE, EmulatorHosts, GcpClients

    if settings.target == "gcp":
        return GcpClients(settings, firestore_database=firestore_database or DEFAULT_DATABASE)
    from mlops.local.gcp_emulators import read_state

    recorded = read_state(settings.gcp_emulator_dir)
    found = recorded.hosts() if recorded is not None else {}
    gcp = settings.gcp
    storage = gcp.storage_emulator_host or (f"http://{found['gcs']}" if "gcs" in found else None)
    hosts = EmulatorHosts(
        storage=storage,
        pubsub=gcp.pubsub_emulator_host or found.get("pubsub"),
        firestore=gcp.firestore_emulator_host or found.get("firestore"),
    )
    return GcpClients(settings, hosts)


# What ``auto`` means on cloud gcp; a capability absent here has no GCP implementation yet (issue 16).
GCP_DEFAULTS = {"object_store": "gcs", "table_store": "delta", "events": "pubsub", "online_store": "firestore"}
# capability -> (on target gcp, on gcp-emulators)
GCP_VERTEX_DEFAULTS = {"training": ("vertex", "local"), "model_registry": ("mlflow-vertex", "mlflow-local")}


# Batch jobs and the catalog on cloud gcp: (on target gcp, on gcp-emulators); neither service has an emulator, so
# locally the kit's Dataproc runner and its catalog in the Firestore emulator play them.
GCP_PROCESSING_DEFAULTS = {"jobs": ("dataproc", "local"), "catalog": ("bigquery", "local")}


def _gcp_default(settings: Settings, capability: str) -> str:
    if capability in GCP_PROCESSING_DEFAULTS:
        return GCP_PROCESSING_DEFAULTS[capability][settings.target == "gcp-emulators"]
    if capability == "endpoint":  # Vertex AI endpoints; locally the kit's runner on Vertex's container contract
        return "local" if settings.target == "gcp-emulators" else "vertex"
    if capability in ("metrics", "alarms"):  # Cloud Monitoring has no emulator: the kit's store and alert runner
        return "local" if settings.target == "gcp-emulators" else "cloud-monitoring"
    if capability in GCP_VERTEX_DEFAULTS:  # Vertex AI has no emulator: the kit's runners and Firestore locally
        return GCP_VERTEX_DEFAULTS[capability][settings.target == "gcp-emulators"]
    if capability not in GCP_DEFAULTS:
        raise ConfigError(
            f"settings.services.{capability}.type 'auto' has no Google Cloud implementation yet (cloud: gcp): "
            f"choose one explicitly, e.g. MLOPS_SERVICES__{capability.upper()}__TYPE=memory (see docs/gcp.md)"
        )
    return GCP_DEFAULTS[capability]


def resolve(settings: Settings, capability: str) -> str:
    """The implementation ``type`` of ``capability``: the explicit choice, or what ``auto`` means for the target."""
    choice: str = getattr(settings.services, capability).type
    if choice != "auto":
        return choice
    if settings.cloud == "gcp":
        return _gcp_default(settings, capability)
    runs_locally = settings.target != "aws"
    defaults = {
        "object_store": "s3",
        "table_store": "delta",
        "events": "kinesis",
        "online_store": "dynamodb",
        "model_registry": "mlflow-sagemaker",
        "endpoint": "local" if runs_locally else "sagemaker",
        "training": "local" if runs_locally else "sagemaker",
        "jobs": "local" if runs_locally else "glue",
        "metrics": "cloudwatch",
        "catalog": "glue",
        # moto stores alarms but never evaluates them; LocalStack and AWS evaluate their own
        "alarms": "local" if settings.target == "moto" else "cloudwatch",
    }
    if capability not in defaults:
        raise ConfigError(f"no capability {capability!r} in settings.services; known: {', '.join(defaults)}")
    return defaults[capability]


def _unknown(capability: str, kind: str) -> ConfigError:
    return ConfigError(f"settings.services.{capability}.type {kind!r} has no implementation in mlops/wiring.py")


class WiredServices:
    """The ports of one platform, each built on first use (a command pays only for what it touches)."""

    def __init__(self, settings: Settings, outputs: StackOutputs, clients: ClientFactory | None = None) -> None:
        self.settings = settings
        self.outputs = outputs
        self._lock = threading.Lock()
        self._other_metrics: dict[str, MetricsPublisher] = {}
        self._given_clients = clients

    @cached_property
    def clients(self) -> ClientFactory:
        return self._given_clients or client_factory(self.settings)

    @cached_property
    def gcp_clients(self) -> GcpClients:
        database = (self.outputs.model_extra or {}).get("firestore_database")
        return gcp_client_factory(self.settings, str(database) if database else None)

    def _type(self, capability: str) -> str:
        return resolve(self.settings, capability)

    @cached_property
    def object_store(self) -> ObjectStore:
        kind = self._type("object_store")
        if kind == "s3":
            from mlops.adapters.aws.s3 import S3ObjectStore

            return S3ObjectStore(self.clients)
        if kind == "gcs":
            from mlops.adapters.gcp.gcs import GcsObjectStore

            return GcsObjectStore(self.gcp_clients)
        if kind == "memory":
            from mlops.adapters.memory.object_store import MemoryObjectStore

            # the stack's buckets exist from the start, as the infra program's buckets do
            buckets = [v for k, v in self.outputs.model_dump().items() if k.endswith("_bucket") and isinstance(v, str)]
            return MemoryObjectStore(buckets=tuple(buckets))
        raise _unknown("object_store", kind)

    @cached_property
    def table_store(self) -> TableStore:
        kind = self._type("table_store")
        if kind == "delta":
            from mlops.lake.delta import DeltaTableStore

            if self.settings.cloud == "gcp":
                from mlops.adapters.gcp.gcs_delta import gcs_storage_options

                return DeltaTableStore(lambda: gcs_storage_options(self.gcp_clients))
            return DeltaTableStore(self.clients.storage_options)
        if kind == "memory":
            from mlops.adapters.memory.table_store import MemoryTableStore

            return MemoryTableStore()
        raise _unknown("table_store", kind)

    @cached_property
    def online_store(self) -> OnlineStore:
        kind = self._type("online_store")
        if kind == "dynamodb":
            from mlops.adapters.aws.dynamodb_online import DynamoDBOnlineStore

            return DynamoDBOnlineStore(self.clients, self.outputs.online_feature_table)
        if kind == "firestore":
            from mlops.adapters.gcp.firestore_online import FirestoreOnlineStore

            return FirestoreOnlineStore(self.gcp_clients, self.outputs.online_feature_table)
        if kind == "memory":
            from mlops.adapters.memory.online_store import MemoryOnlineStore

            return MemoryOnlineStore()
        raise _unknown("online_store", kind)

    @cached_property
    def events(self) -> EventStream:
        kind = self._type("events")
        if kind == "kinesis":
            from mlops.adapters.aws.dynamodb_checkpoints import DynamoDBCheckpoints
            from mlops.adapters.aws.kinesis import KinesisStream

            checkpoints = DynamoDBCheckpoints(self.clients, self.outputs.checkpoint_table)
            return KinesisStream(self.clients, self.outputs.stream_name, checkpoints)
        if kind == "pubsub":
            from mlops.adapters.gcp.firestore_checkpoints import FirestoreCheckpoints
            from mlops.adapters.gcp.pubsub import PubSubStream

            leases = FirestoreCheckpoints(self.gcp_clients, self.outputs.checkpoint_table)
            return PubSubStream(self.gcp_clients, self.outputs.stream_name, leases)
        if kind == "memory":
            from mlops.adapters.memory.events import MemoryEventStreams

            service = MemoryEventStreams()
            service.create(self.outputs.stream_name)
            return service.stream(self.outputs.stream_name)
        raise _unknown("events", kind)

    @cached_property
    def metrics(self) -> MetricsPublisher:
        kind = self._type("metrics")
        if kind == "cloudwatch":
            from mlops.adapters.aws.cloudwatch import CloudWatchMetrics

            return CloudWatchMetrics(self.clients, self.outputs.metrics_namespace)
        if kind == "cloud-monitoring":
            from mlops.adapters.gcp.cloud_monitoring import CloudMonitoringMetrics

            return CloudMonitoringMetrics(self.gcp_clients, self.outputs.metrics_namespace)
        if kind == "local":
            from mlops.local.gcp_metrics import FirestoreEmulatorMetrics

            return FirestoreEmulatorMetrics(self.gcp_clients, self.outputs.metrics_namespace)
        if kind == "memory":
            from mlops.adapters.memory.metrics import MemoryMetrics

            return MemoryMetrics(self.outputs.metrics_namespace)
        raise _unknown("metrics", kind)

    def metrics_in(self, namespace: str) -> MetricsPublisher:
        if namespace == self.outputs.metrics_namespace:
            return self.metrics
        with self._lock:
            others = self._other_metrics
            if namespace not in others:
                kind = self._type("metrics")
                if kind == "cloudwatch":
                    from mlops.adapters.aws.cloudwatch import CloudWatchMetrics

                    others[namespace] = CloudWatchMetrics(self.clients, namespace)
                elif kind == "cloud-monitoring":
                    from mlops.adapters.gcp.cloud_monitoring import CloudMonitoringMetrics

                    others[namespace] = CloudMonitoringMetrics(self.gcp_clients, namespace)
                elif kind == "local":
                    from mlops.local.gcp_metrics import FirestoreEmulatorMetrics

                    others[namespace] = FirestoreEmulatorMetrics(self.gcp_clients, namespace)
                elif kind == "memory":
                    from mlops.adapters.memory.metrics import MemoryMetrics

                    others[namespace] = MemoryMetrics(namespace)
                else:
                    raise _unknown("metrics", kind)
            return others[namespace]

    @cached_property
    def catalog(self) -> Catalog:
        kind = self._type("catalog")
        if kind == "glue":
            from mlops.adapters.aws.glue_catalog import GlueCatalog

            return GlueCatalog(self.clients)
        if kind == "bigquery":
            from mlops.adapters.gcp.bigquery_catalog import BigQueryCatalog

            return BigQueryCatalog(self.gcp_clients, getattr(self.outputs, "biglake_connection", None))
        if kind == "local":
            from mlops.local.gcp_catalog import FirestoreEmulatorCatalog

            return FirestoreEmulatorCatalog(self.gcp_clients)
        if kind == "memory":
            from mlops.adapters.memory.catalog import MemoryCatalog

            return MemoryCatalog()
        raise _unknown("catalog", kind)

    @cached_property
    def jobs(self) -> JobRunner:
        kind = self._type("jobs")
        if kind == "glue":
            from mlops.adapters.aws.glue_jobs import GlueJobs

            return GlueJobs(self.clients, self.outputs)
        if kind == "dataproc":
            from mlops.adapters.gcp.dataproc_jobs import dataproc_jobs

            return dataproc_jobs(self.gcp_clients, self.outputs, self.object_store)
        if kind == "local" and self.settings.cloud == "gcp":
            from mlops.local.dataproc_runner import local_dataproc_jobs

            return local_dataproc_jobs(self.gcp_clients, self.outputs, self.object_store)
        if kind == "local":
            from mlops.local.glue_runner import LocalGlueRunner

            return LocalGlueRunner(self.clients, self.outputs, self.object_store)
        raise _unknown("jobs", kind)

    @cached_property
    def alarms(self) -> Alarms:
        kind = self._type("alarms")
        if kind == "cloudwatch":
            from mlops.adapters.aws.cloudwatch_alarms import CloudWatchAlarms

            return CloudWatchAlarms(self.clients)
        if kind == "cloud-monitoring":
            from mlops.adapters.gcp.cloud_monitoring import CloudMonitoringMetrics
            from mlops.adapters.gcp.cloud_monitoring_alerts import CloudMonitoringAlarms

            metrics = self.metrics
            if not isinstance(metrics, CloudMonitoringMetrics):
                raise ConfigError("settings.services.alarms.type 'cloud-monitoring' needs metrics 'cloud-monitoring'")
            return CloudMonitoringAlarms(self.gcp_clients, metrics)
        if kind == "local" and self.settings.cloud == "gcp":
            return self._gcp_local_alarms()
        if kind == "local":
            from mlops.local.alarm_actions import TargetDelivery
            from mlops.local.alarm_runner import LocalAlarms
            from mlops.local.frontdoor.client import endpoint_metrics_sources

            return LocalAlarms(
                self.clients,
                self.metrics,
                history_log_group=self.outputs.log_groups["monitoring"],
                delivery=TargetDelivery(
                    lambda: self.training, self.object_store, self.outputs.bucket_for_zone("monitoring")
                ),
                sources=endpoint_metrics_sources(self.settings, self.clients),
            )
        if kind == "memory":
            from mlops.adapters.memory.alarms import MemoryAlarms

            return MemoryAlarms(self.metrics)
        raise _unknown("alarms", kind)

    def _gcp_local_alarms(self) -> Alarms:
        """Cloud Monitoring's alert-policy evaluation played on the emulators, with the retrain route to training."""
        from mlops.alarm_actions import RETRAIN_ALARM_KEYS
        from mlops.local.alarm_actions import TargetDelivery
        from mlops.local.gcp_alert_runner import LocalAlertPolicies, RetrainRoute
        from mlops.local.gcp_metrics import FirestoreEmulatorMetrics

        metrics = self.metrics
        if not isinstance(metrics, FirestoreEmulatorMetrics):
            raise ConfigError("settings.services.alarms.type 'local' on cloud gcp needs metrics type 'local'")
        names = self.outputs.alarm_names
        route = RetrainRoute(
            self.outputs.retrain_rule_name,
            self.outputs.training_pipeline_name,
            frozenset(names[key] for key in RETRAIN_ALARM_KEYS if key in names),
        )
        delivery = TargetDelivery(lambda: self.training, self.object_store, self.outputs.bucket_for_zone("monitoring"))
        return LocalAlertPolicies(self.gcp_clients, metrics, delivery=delivery, retrain=route)

    @cached_property
    def model_registry(self) -> ModelRegistry:
        kind = self._type("model_registry")
        from mlops.layout import Layout, mlflow_artifacts_prefix
        from mlops.registry.service import MlflowModelRegistry

        layout = Layout(self.outputs, self.object_store.scheme)
        if kind == "mlflow-sagemaker":
            from mlops.adapters.aws.sagemaker_packages import SageMakerModelPackages
            from mlops.registry.session import MlflowConnection

            connection = MlflowConnection(self.outputs.mlflow_tracking_uri, self.clients.subprocess_env())
            packages = SageMakerModelPackages(self.clients, self.outputs.model_package_group)
            return MlflowModelRegistry(
                connection,
                packages,
                self.object_store,
                layout,
                lambda dataset: layout.zone_uri("models", mlflow_artifacts_prefix(dataset)),
            )
        if kind in ("mlflow-vertex", "mlflow-local"):
            return self._gcp_model_registry(kind, layout)
        if kind == "memory":
            from mlops.adapters.memory.model_packages import MemoryModelPackages
            from mlops.registry.ephemeral import EphemeralMlflow

            store = EphemeralMlflow()
            memory_packages = MemoryModelPackages(self.outputs.model_package_group)
            return MlflowModelRegistry(
                store.connection, memory_packages, self.object_store, layout, store.artifact_location
            )
        raise _unknown("model_registry", kind)

    def _gcp_model_registry(self, kind: str, layout: Any) -> ModelRegistry:
        """MLflow (the stack's tracking URI) with the model packages in Vertex AI Model Registry (``mlflow-vertex``)
        or in the Firestore emulator (``mlflow-local``); MLflow's GCS artifact store finds the emulator by
        ``STORAGE_EMULATOR_HOST``."""
        from mlops.layout import mlflow_artifacts_prefix
        from mlops.ports.model_packages import ModelPackageRegistry
        from mlops.registry.service import MlflowModelRegistry
        from mlops.registry.session import MlflowConnection

        packages: ModelPackageRegistry
        if kind == "mlflow-vertex":
            from mlops.adapters.gcp.vertex_model_registry import VertexModelPackages

            packages = VertexModelPackages(self.gcp_clients, self.outputs.model_package_group)
        else:
            from mlops.local.gcp_model_packages import FirestoreModelPackages

            packages = FirestoreModelPackages(self.gcp_clients, self.outputs.model_package_group)
        storage = self.gcp_clients.hosts.storage
        uri = self.outputs.mlflow_tracking_uri
        credentials = None
        if self.settings.target == "gcp" and uri.startswith("https://"):  # Cloud Run admits Google ID tokens only
            from mlops.adapters.gcp.id_token import google_id_token

            credentials = partial(google_id_token, uri)
        connection = MlflowConnection(uri, {"STORAGE_EMULATOR_HOST": storage} if storage else {}, credentials)
        return MlflowModelRegistry(
            connection,
            packages,
            self.object_store,
            layout,
            lambda dataset: layout.zone_uri("models", mlflow_artifacts_prefix(dataset)),
        )

    def _platform(self) -> Platform:
        """These services as a platform, for the local runners (they take one, as capability code does)."""
        return Platform(settings=self.settings, outputs=self.outputs, services=self)

    # endpoint, hosting and batch_transform follow one choice (``services.endpoint``): one serving runtime.
    @cached_property
    def hosting(self) -> Hosting:
        kind = self._type("endpoint")
        if kind == "sagemaker":
            from mlops.adapters.aws.sagemaker_hosting import SageMakerHosting

            return SageMakerHosting(self.clients)
        if kind == "vertex":
            from mlops.adapters.gcp.vertex_hosting import VertexHosting

            return VertexHosting(self.gcp_clients, self.outputs)
        if kind == "local" and self.settings.cloud == "gcp":
            from mlops.local.vertex_hosting import LocalVertexHosting

            return LocalVertexHosting(self._platform())
        if kind == "local":
            from mlops.local.hosting import LocalHosting

            return LocalHosting(self._platform())
        if kind == "memory":
            from mlops.adapters.memory.endpoint import MemoryHosting

            return MemoryHosting()
        raise _unknown("endpoint", kind)

    @cached_property
    def endpoint(self) -> Endpoint:
        """The stack's endpoint (``outputs.endpoint_name``)."""
        kind = self._type("endpoint")
        if kind == "sagemaker":
            from mlops.adapters.aws.sagemaker_runtime import SageMakerRuntimeEndpoint

            return SageMakerRuntimeEndpoint(self.clients, self.outputs.endpoint_name)
        if kind == "vertex":
            from mlops.adapters.gcp.vertex_endpoint import VertexEndpoint

            return VertexEndpoint(self.gcp_clients, self.outputs, self.outputs.endpoint_name)
        if kind == "local" and self.settings.cloud == "gcp":
            from mlops.local.vertex_hosting import LocalVertexEndpoint

            return LocalVertexEndpoint(self._platform(), self.outputs.endpoint_name)
        if kind == "local":
            from mlops.local.hosting import LocalEndpoint

            return LocalEndpoint(self._platform(), self.outputs.endpoint_name)
        if kind == "memory":
            from mlops.adapters.memory.endpoint import MemoryHosting

            hosting = self.hosting
            assert isinstance(hosting, MemoryHosting)  # the same choice built it
            return hosting.endpoint(self.outputs.endpoint_name)
        raise _unknown("endpoint", kind)

    @cached_property
    def batch_transform(self) -> BatchTransform:
        kind = self._type("endpoint")
        if kind == "vertex":
            from mlops.adapters.gcp.vertex_batch import VertexBatchPrediction

            return VertexBatchPrediction(self.gcp_clients, self.outputs, self.object_store)
        if kind == "local" and self.settings.cloud == "gcp":
            from mlops.local.vertex_batch import LocalVertexBatchPrediction

            return LocalVertexBatchPrediction(self._platform())
        if kind == "sagemaker":
            from mlops.adapters.aws.sagemaker_transform import SageMakerBatchTransform

            return SageMakerBatchTransform(self.clients, self.object_store)
        if kind == "local":
            from mlops.local.batch_transform import LocalBatchTransform

            return LocalBatchTransform(self._platform())
        if kind == "memory":
            from mlops.adapters.memory.batch_transform import MemoryBatchTransform
            from mlops.adapters.memory.endpoint import MemoryHosting

            hosting = self.hosting
            assert isinstance(hosting, MemoryHosting)
            return MemoryBatchTransform(self.object_store, hosting)
        raise _unknown("endpoint", kind)

    @cached_property
    def training(self) -> PipelineRunner:
        """The training pipeline's runner: SageMaker Pipelines, or the kit's executor of the same definition."""
        kind = self._type("training")
        if kind == "sagemaker":
            from mlops.adapters.aws.sagemaker_pipeline import SageMakerPipelines

            # only AWS runs executions: an emulator stores them and lists no steps
            return SageMakerPipelines(self.clients, lists_steps=self.settings.target == "aws")
        if kind == "local" and self.settings.cloud == "gcp":
            from mlops.local.vertex_training import vertex_pipeline_executor

            return vertex_pipeline_executor(self._platform())  # Vertex custom jobs played on the emulators
        if kind == "vertex":  # the kit orchestrates the definition; its training jobs run as Vertex custom jobs
            from mlops.adapters.gcp.vertex_training import VertexCustomJobs
            from mlops.local.vertex_training import vertex_pipeline_executor

            jobs = VertexCustomJobs(self.gcp_clients, self.object_store, self.outputs)
            return vertex_pipeline_executor(self._platform(), jobs=jobs)
        if kind == "local":
            from mlops.local.pipeline_executor import local_pipeline_executor

            return local_pipeline_executor(self._platform())
        if kind == "memory":
            from mlops.adapters.memory.training import MemoryPipelines

            return MemoryPipelines()
        raise _unknown("training", kind)


def build_platform(settings: Settings, outputs: StackOutputs) -> Platform:
    """The platform for ``settings`` and a stack's ``outputs``, its services wired from the settings."""
    return Platform(settings=settings, outputs=outputs, services=WiredServices(settings, outputs))


def promotion_source_platform(settings: Settings, outputs: StackOutputs, *, reader: str) -> Platform:
    """The previous stack of a promotion, as ``reader`` (who reads; names the session) sees it: through the
    stack's promotion reader role when its outputs name one (its MLflow server grants no other account), with
    ``settings``' own credentials otherwise (same account, or outputs of an apply before the role existed)."""
    role = outputs.promotion_reader_role_arn
    if not role or settings.cloud != "aws":
        return build_platform(settings, outputs)
    clients = client_factory(settings).assume_role(role, f"promotion-{outputs.stack}-to-{reader}")
    return Platform(settings=settings, outputs=outputs, services=WiredServices(settings, outputs, clients))


def container_platform(settings: Settings, **outputs: str) -> Platform:
    """The platform of a process that is handed a few stack outputs, not the stack's outputs file: the serving
    container gets its online table in its environment. Only ``outputs`` are set (e.g. ``online_feature_table``);
    the services that need no others (online store, model package lookup) work as in any platform."""
    known: dict[str, Any] = dict(outputs)
    return build_platform(settings, StackOutputs.model_construct(**known))


def memory_platform(outputs: StackOutputs, **overrides: Any) -> Platform:
    """A platform whose every port is the in-memory fake (unit tests; nothing leaves the process)."""
    from mlops.settings import load_settings

    choices = {name: {"type": "memory"} for name in MEMORY_CAPABILITIES}
    settings = load_settings(services=choices, **overrides)
    return build_platform(settings, outputs)


MEMORY_CAPABILITIES = (
    "object_store",
    "table_store",
    "online_store",
    "events",
    "metrics",
    "catalog",
    "alarms",
    "model_registry",
    "endpoint",
    "training",
)
