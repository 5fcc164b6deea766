"""Pure naming functions of the Google Cloud program: every physical name is derived here, never spelled.

Names start with the same ``<project>-<environment>`` prefix as the AWS program (:func:`infra.naming.prefix`);
bucket names carry the Google Cloud project id because they are unique across all of Cloud Storage. Each
function checks the limits of the service it names for and raises :class:`~mlops.errors.ConfigError` naming
the offending value.
"""

from __future__ import annotations

import hashlib
import re

from infra import naming
from mlops.errors import ConfigError

IMAGES_HOST_SUFFIX = "-docker.pkg.dev"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
METRIC_PREFIX = "custom.googleapis.com"
"""Cloud Monitoring's prefix of user-defined metric types."""

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_ACCOUNT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_POOL = re.compile(r"^[a-z0-9-]{4,32}$")
_BATCH = re.compile(r"^[a-z0-9][a-z0-9-]{2,61}[a-z0-9]$")
_DATASET = re.compile(r"^[A-Za-z0-9_]{1,1024}$")


def _check(kind: str, name: str, pattern: re.Pattern[str]) -> str:
    if not pattern.match(name):
        raise ConfigError(f"{kind} name {name!r} is invalid: it must match {pattern.pattern}")
    return name


def bucket_name(project: str, environment: str, zone: str, gcp_project: str) -> str:
    """Globally unique bucket of a zone: ``mlops-kit-prod-raw-<gcp project>`` (Cloud Storage: 3-63 chars)."""
    if zone not in (*naming.ZONES, naming.ACCESS_LOGS):
        raise ConfigError(f"unknown data-lake zone {zone!r}; zones: {', '.join(naming.ZONES)}, {naming.ACCESS_LOGS}")
    return _check("bucket", f"{naming.prefix(project, environment)}-{zone}-{gcp_project}", _BUCKET)


def gcs_uri(bucket: str, key: str = "") -> str:
    """``gs://<bucket>/<key>``."""
    return f"gs://{bucket}/{key}"


def key_ring_name(project: str, environment: str) -> str:
    """The stack's KMS key ring (key rings cannot be deleted, so the name is stable per stack)."""
    return naming.resource_name(project, environment, "keys", 63)


def crypto_key_name(purpose: str) -> str:
    """One key per purpose in the ring (``storage``, ``pubsub``...): a service's agent gets only its own key."""
    return _check("crypto key", purpose, re.compile(r"^[a-z][a-z0-9-]{0,62}$"))


def service_account_id(project: str, environment: str, purpose: str) -> str:
    """Service account id (6-30 chars): ``mlops-kit-prod-dataproc``."""
    return _check("service account", f"{naming.prefix(project, environment)}-{purpose}", _ACCOUNT)


def service_account_email(account_id: str, gcp_project: str) -> str:
    """Email of a user-managed service account."""
    return f"{account_id}@{gcp_project}.iam.gserviceaccount.com"


def dataset_id(project: str, environment: str) -> str:
    """BigQuery dataset of the lake's tables: letters, digits and underscores (as the Glue database)."""
    return _check("BigQuery dataset", naming.glue_database_name(project, environment), _DATASET)


def batch_name(project: str, environment: str, script_stem: str) -> str:
    """Dataproc batch id prefix of ``jobs/<stem>.py`` (batch ids take no underscores): ``mlops-kit-prod-ingest-events``;
    each run appends its own suffix."""
    naming.glue_job_name(project, environment, script_stem)  # the same rule on the stem as the AWS program
    return _check("Dataproc batch", f"{naming.prefix(project, environment)}-{script_stem.replace('_', '-')}", _BATCH)


def script_key(script_stem: str, digest: str) -> str:
    """Artifacts-bucket key of a job script under its content digest: ``dataproc/scripts/<16 hex>/<stem>.py``."""
    return naming.content_key("dataproc/scripts", digest, f"{script_stem}.py")


def wheel_key(digest: str, file_name: str = naming.KIT_WHEEL) -> str:
    """Artifacts-bucket key of the kit's wheel (``dataproc/packages/<16 hex>/<wheel>``), every batch's
    ``pythonFileUris``."""
    return naming.content_key("dataproc/packages", digest, file_name)


def repository_id(project: str, environment: str, image: str) -> str:
    """Artifact Registry repository of one of the kit's images: ``mlops-kit-prod-serving``."""
    return naming.resource_name(project, environment, image, 63)


def image_uri(region: str, gcp_project: str, repository: str, image: str, tag: str) -> str:
    """``<region>-docker.pkg.dev/<project>/<repository>/<image>:<tag>``."""
    return f"{region}{IMAGES_HOST_SUFFIX}/{gcp_project}/{repository}/{image}:{tag}"


def workload_identity_pool_id(project: str, environment: str) -> str:
    """The stack's Workload Identity pool (4-32 chars; ``gcp-`` is reserved)."""
    name = _check("workload identity pool", f"{naming.prefix(project, environment)}-github", _POOL)
    if name.startswith("gcp-"):
        raise ConfigError(f"workload identity pool name {name!r} is invalid: the prefix 'gcp-' is reserved")
    return name


def github_subject(repository: str, environment: str) -> str:
    """The OIDC subject of a GitHub Actions job in ``environment``: the only subject the provider admits."""
    return f"repo:{repository}:environment:{environment}"


def vertex_endpoint_id(project: str, environment: str) -> str:
    """Vertex endpoint id: numeric, no leading zero, at most 10 digits; derived from the prefix so alert policies
    can name the endpoint before it exists, as the AWS alarms name theirs."""
    digest = int(hashlib.sha256(naming.prefix(project, environment).encode()).hexdigest(), 16)
    return str(1_000_000_000 + digest % 1_000_000_000)


def metric_type(environment: str, metric: str) -> str:
    """Cloud Monitoring type of one of the kit's metrics: ``custom.googleapis.com/MLOpsKit/prod/DataDriftScore``."""
    return f"{metrics_prefix(environment)}/{metric}"


def metrics_prefix(environment: str) -> str:
    """Prefix of the kit's metric types (the GCP form of the ``metrics_namespace`` output)."""
    return f"{METRIC_PREFIX}/{naming.metrics_namespace(environment)}"


def labels(project: str, environment: str, owner: str, component: str) -> dict[str, str]:
    """Labels of a resource (the AWS program's tags; label values are lowercase, digits, ``-`` and ``_``)."""
    return {"project": project, "environment": environment, "owner": owner, "component": component}


SERVICE_AGENTS: dict[str, str] = {
    "storage": "service-{n}@gs-project-accounts.iam.gserviceaccount.com",
    "pubsub": "service-{n}@gcp-sa-pubsub.iam.gserviceaccount.com",
    "aiplatform": "service-{n}@gcp-sa-aiplatform.iam.gserviceaccount.com",
    "artifactregistry": "service-{n}@gcp-sa-artifactregistry.iam.gserviceaccount.com",
    "firestore": "service-{n}@gcp-sa-firestore.iam.gserviceaccount.com",
    "bigquery": "bq-{n}@bigquery-encryption.iam.gserviceaccount.com",
    "dataproc": "service-{n}@dataproc-accounts.iam.gserviceaccount.com",
    "compute": "service-{n}@compute-system.iam.gserviceaccount.com",
    "monitoring": "service-{n}@gcp-sa-monitoring-notification.iam.gserviceaccount.com",
    "cloudsql": "service-{n}@gcp-sa-cloud-sql.iam.gserviceaccount.com",
    "secretmanager": "service-{n}@gcp-sa-secretmanager.iam.gserviceaccount.com",
}
"""Google-managed service agents by service: they encrypt and decrypt with the stack's keys on its behalf."""


def service_agent(service: str, project_number: str) -> str:
    """IAM member of a Google service agent of the project (``serviceAccount:service-<n>@...``)."""
    if service not in SERVICE_AGENTS:
        raise ConfigError(f"unknown service agent {service!r}; known: {', '.join(sorted(SERVICE_AGENTS))}")
    return "serviceAccount:" + SERVICE_AGENTS[service].format(n=project_number)


def github_principal_set(project_number: str, pool_id: str, repository: str) -> str:
    """Every identity of ``repository`` the pool's provider admits (the provider admits one environment)."""
    return (
        f"principalSet://iam.googleapis.com/projects/{project_number}/locations/global/workloadIdentityPools/"
        f"{pool_id}/attribute.repository/{repository}"
    )


def github_principal(project_number: str, pool_id: str, repository: str, environment: str) -> str:
    """The one principal a stack's deploy account trusts: GitHub jobs of ``repository`` in ``environment``."""
    return (
        f"principal://iam.googleapis.com/projects/{project_number}/locations/global/workloadIdentityPools/"
        f"{pool_id}/subject/{github_subject(repository, environment)}"
    )


PARTITION_PREFIX = "partition-"
"""The event-stream adapter's partition topics are ``<stream>.partition-NNNN`` (``mlops/adapters/gcp/pubsub.py``)."""


def partition_topic(stream: str, number: int) -> str:
    """Topic of partition ``number`` of ``stream``: ``mlops-kit-prod-events.partition-0000``."""
    return f"{stream}.{PARTITION_PREFIX}{number:04d}"
