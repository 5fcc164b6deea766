"""Pure naming functions: the physical name of every resource the program declares.

Pulumi mocks do no autonaming and pipeline code finds resources through the stack outputs, so every
resource gets an explicit, predictable name. Names are ``<project>-<environment>-<purpose>``; bucket names
also carry the account id because they must be unique across all of AWS. Each function checks the limits of
the service it names for and raises :class:`~mlops.errors.ConfigError` naming the offending value.
"""

from __future__ import annotations

import re

from mlops.errors import ConfigError

ZONES: tuple[str, ...] = ("raw", "curated", "features", "models", "monitoring", "quarantine", "artifacts")
"""Data-lake zones; each gets its own bucket (exported as ``<zone>_bucket``)."""

ACCESS_LOGS = "access-logs"
ENDPOINT_VARIANT = "AllTraffic"
KIT_WHEEL = "mlops_kit-0.1.0-py3-none-any.whl"
"""File name of the kit's wheel; the program builds and uploads it (see :func:`glue_wheel_key`)."""

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SAGEMAKER = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")


def _check(kind: str, name: str, pattern: re.Pattern[str], max_length: int) -> str:
    if len(name) > max_length or not pattern.match(name):
        raise ConfigError(f"{kind} name {name!r} is invalid: at most {max_length} chars matching {pattern.pattern}")
    return name


def prefix(project: str, environment: str) -> str:
    """``<project>-<environment>``: the prefix of every hyphenated name (lowercase letters, digits, hyphens)."""
    value = f"{project}-{environment}"
    return _check("prefix", value, _SLUG, 40)


def resource_name(project: str, environment: str, purpose: str, max_length: int = 64) -> str:
    """Hyphenated name of a resource: ``mlops-kit-prod-events``."""
    return _check("resource", f"{prefix(project, environment)}-{purpose}", _SLUG, max_length)


def bucket_name(project: str, environment: str, zone: str, account_id: str) -> str:
    """Globally unique bucket name of a zone: ``mlops-kit-prod-raw-123456789012`` (S3: 3-63 chars)."""
    if zone not in (*ZONES, ACCESS_LOGS):
        raise ConfigError(f"unknown data-lake zone {zone!r}; zones: {', '.join(ZONES)}, {ACCESS_LOGS}")
    return _check("bucket", f"{prefix(project, environment)}-{zone}-{account_id}", _BUCKET, 63)


def sagemaker_name(project: str, environment: str, purpose: str) -> str:
    """SageMaker names (models, endpoints, pipelines, groups): alphanumerics and hyphens, at most 63 chars."""
    return _check("SageMaker", f"{prefix(project, environment)}-{purpose}", _SAGEMAKER, 63)


def role_name(project: str, environment: str, purpose: str) -> str:
    """IAM role name (at most 64 chars)."""
    return resource_name(project, environment, f"{purpose}-role", 64)


def glue_database_name(project: str, environment: str) -> str:
    """Glue catalog database: Glue and Athena want lowercase with underscores, not hyphens."""
    return prefix(project, environment).replace("-", "_")


def glue_job_name(project: str, environment: str, script_stem: str) -> str:
    """Glue job of ``jobs/<script_stem>.py``: ``mlops-kit-prod-build_features``."""
    if not re.match(r"^[a-z][a-z0-9_]*$", script_stem):
        raise ConfigError(f"job script jobs/{script_stem}.py: the file stem must be lowercase snake_case")
    return f"{prefix(project, environment)}-{script_stem}"


def glue_script_key(script_stem: str, digest: str) -> str:
    """Key of a job script in the artifacts bucket, under its content digest: ``glue/scripts/<16 hex>/<stem>.py``."""
    return content_key("glue/scripts", digest, f"{script_stem}.py")


DATASET_DEFINITIONS_ROOT = "datasets/"
TRAINING_OUTPUT_PREFIX = "training/output/"
"""In the models bucket: the training pipeline's job outputs (``<job>/output/model.tar.gz``)."""
HOLDOUT_PREFIX = "training/validation/"
"""In the features bucket: the pipeline's validation channel, the holdout a registered version names."""


def dataset_definition_prefix(dataset: str) -> str:
    """Artifacts-bucket prefix holding exactly one dataset's definition (a Processing input takes a prefix)."""
    return f"{DATASET_DEFINITIONS_ROOT}{dataset}/"


def dataset_definition_key(dataset: str) -> str:
    """Artifacts-bucket key of a dataset definition file."""
    return f"{dataset_definition_prefix(dataset)}{dataset}.yaml"


def glue_wheel_key(digest: str, file_name: str = KIT_WHEEL) -> str:
    """Key of the kit's wheel in the artifacts bucket (``glue/packages/<16 hex>/<wheel>``), passed to every Glue
    job as ``--extra-py-files``; the program builds and uploads it."""
    return content_key("glue/packages", digest, file_name)


def kms_alias(project: str, environment: str) -> str:
    """KMS alias of the stack's key."""
    return f"alias/{prefix(project, environment)}"


def log_group_name(project: str, environment: str, purpose: str) -> str:
    """Kit log group: ``/mlops-kit/prod/glue``."""
    return f"/{project}/{environment}/{purpose}"


def endpoint_log_group(endpoint_name: str) -> str:
    """The log group SageMaker hosting writes an endpoint's container logs to (a name AWS fixes)."""
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


def metrics_namespace(environment: str) -> str:
    """CloudWatch namespace of the kit's own metrics (data quality, drift, model quality)."""
    return f"MLOpsKit/{environment}"


def release_model_uri(models_bucket: str, environment: str) -> str:
    """Where the deploy tooling writes the released model archive the endpoint serves."""
    return f"s3://{models_bucket}/releases/{environment}/model.tar.gz"


def data_capture_uri(monitoring_bucket: str, endpoint_name: str) -> str:
    """S3 prefix the endpoint writes captured requests/responses under."""
    return f"s3://{monitoring_bucket}/data-capture/{endpoint_name}"


def mlflow_artifact_uri(models_bucket: str) -> str:
    """Artifact store of the MLflow tracking server."""
    return f"s3://{models_bucket}/mlflow"


def s3_arn(bucket: str, key_pattern: str | None = None) -> str:
    """ARN of a bucket, or of objects under it when ``key_pattern`` is given (``*`` allowed)."""
    return f"arn:aws:s3:::{bucket}" if key_pattern is None else f"arn:aws:s3:::{bucket}/{key_pattern}"


def oidc_provider_arn(account_id: str) -> str:
    """ARN of the account's GitHub Actions OIDC provider (used when another stack created it)."""
    return f"arn:aws:iam::{account_id}:oidc-provider/token.actions.githubusercontent.com"


def security_group_name(project: str, environment: str, workload: str) -> str:
    """Security group of one workload (``glue``, ``sagemaker-jobs``...): ``mlops-kit-prod-glue-sg``."""
    return resource_name(project, environment, f"{workload}-sg", 255)


def glue_security_configuration_name(project: str, environment: str) -> str:
    """The Glue security configuration every job of the stack runs with (S3, logs and bookmarks on KMS)."""
    return resource_name(project, environment, "glue-encryption", 255)


def glue_connection_name(project: str, environment: str, zone: str) -> str:
    """The Glue NETWORK connection that places jobs in the private subnet of ``zone``."""
    return resource_name(project, environment, f"network-{zone}", 255)


_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repository>[a-z0-9._/-]+)"
    r"(?::[\w.-]+|@sha256:[0-9a-f]{64})?$"
)


def ecr_repository_arn(image_uri: str) -> str:
    """ARN of the ECR repository an image URI pulls from, so pull permissions name exactly that repository."""
    found = _ECR_IMAGE.match(image_uri)
    if found is None:
        raise ConfigError(
            f"image {image_uri!r} is not an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag]); "
            "SageMaker pulls only from ECR"
        )
    return f"arn:aws:ecr:{found['region']}:{found['account']}:repository/{found['repository']}"


_ECR_REPOSITORY = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")


def ecr_repository_name(project: str, environment: str, image: str) -> str:
    """ECR repository of one of the kit's images: ``mlops-kit-prod/serving`` (lowercase path, 2-256 chars)."""
    return _check("ECR repository", f"{prefix(project, environment)}/{image}", _ECR_REPOSITORY, 256)


def ecr_registry(account_id: str, region: str) -> str:
    """Registry host of an account's private ECR in a region (what ``docker login`` takes)."""
    return f"{account_id}.dkr.ecr.{region}.amazonaws.com"


def image_uri(account_id: str, region: str, repository: str, tag: str) -> str:
    """``<registry>/<repository>:<tag>``: an image the stack's own repository holds."""
    return f"{ecr_registry(account_id, region)}/{repository}:{tag}"


def content_key(prefix_key: str, digest: str, file_name: str) -> str:
    """Artifacts-bucket key of an uploaded file addressed by its content: ``<prefix>/<16 hex>/<file_name>``, so a
    new version never overwrites the one a running job reads, and the same content is uploaded once."""
    return f"{prefix_key.rstrip('/')}/{digest[:16]}/{file_name}"
