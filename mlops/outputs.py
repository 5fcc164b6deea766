"""The stack outputs contract: how pipeline code finds every resource the infra program declared.

The infra program exports exactly these keys (``pulumi.export``). They are read from the JSON that
``pulumi stack output --json`` prints (AWS, or LocalStack with the real CLI) or from the file the local
apply writes for the embedded emulator. Code never hard-codes a resource name: it asks this model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlops.errors import StackOutputError, StackOutputsNotFoundError, StackOutputTypeError
from mlops.private_files import write_private


class StackOutputs(BaseModel):
    """Typed view of one stack's outputs. Field names are the exported output keys."""

    model_config = ConfigDict(frozen=True, extra="allow")

    stack: str
    environment: str
    region: str
    project: str

    # security base
    kms_key_arn: str
    kms_key_id: str

    # data lake: one bucket per zone, plus the access-log bucket
    raw_bucket: str
    curated_bucket: str
    features_bucket: str
    models_bucket: str
    monitoring_bucket: str
    quarantine_bucket: str
    artifacts_bucket: str
    access_logs_bucket: str
    glue_database: str

    # streaming
    stream_name: str
    stream_arn: str
    firehose_name: str
    checkpoint_table: str

    # processing: Glue job key (script file stem under jobs/) -> Glue job name
    glue_role_arn: str
    glue_jobs: dict[str, str]

    # feature store: online table only; the offline store is the Delta table ``tables/<dataset>`` in the
    # features bucket, catalogued per dataset as ``<dataset>_features`` by the build_features job
    online_feature_table: str

    # training, tracking and registry
    sagemaker_role_arn: str
    model_package_group: str
    training_pipeline_name: str
    dataset_definitions_uri: str
    mlflow_tracking_uri: str

    # serving
    endpoint_name: str
    endpoint_config_name: str
    sagemaker_model_name: str
    data_capture_prefix: str

    # monitoring
    alarm_topic_arn: str
    metrics_namespace: str
    dashboard_name: str
    alarm_names: dict[str, str]
    log_groups: dict[str, str]
    retrain_rule_name: str
    rollback_on_degradation: bool = False
    """The stack opted in to rolling a degraded champion back (``mlops-kit:rollbackOnDegradation``)."""

    # CI/CD identity
    deploy_role_arn: str
    promotion_reader_role_arn: str | None = None
    """With a promotion target: the role the next stack's deploy role assumes to read this stack (MLflow)."""

    # images: what SageMaker runs, by image name (training, serving); outputs of older applies may lack them
    image_uris: dict[str, str] = Field(default_factory=dict)

    def bucket_for_zone(self, zone: str) -> str:
        """Bucket name of a data-lake zone (``raw``, ``curated``, ``features``, ...)."""
        try:
            value = getattr(self, f"{zone}_bucket")
        except AttributeError:
            raise StackOutputError(f"{zone}_bucket", self.stack, "no such data-lake zone") from None
        return str(value)

    def glue_job(self, key: str) -> str:
        """Name of the Glue job declared for ``jobs/<key>.py``."""
        if key not in self.glue_jobs:
            known = ", ".join(sorted(self.glue_jobs)) or "none"
            raise StackOutputError(f"glue_jobs.{key}", self.stack, f"declared jobs: {known}")
        return self.glue_jobs[key]

    def alarm(self, key: str) -> str:
        """Name of the CloudWatch alarm declared under ``key`` (e.g. ``endpoint_errors``)."""
        if key not in self.alarm_names:
            known = ", ".join(sorted(self.alarm_names)) or "none"
            raise StackOutputError(f"alarm_names.{key}", self.stack, f"declared alarms: {known}")
        return self.alarm_names[key]


def parse_outputs(raw: dict[str, Any], stack: str) -> StackOutputs:
    """Validate raw outputs; the first missing or malformed output raises an error naming it and the stack."""
    data = dict(raw)
    data.setdefault("stack", stack)
    try:
        return StackOutputs.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        output = ".".join(str(part) for part in first["loc"])
        if first["type"] == "missing":
            raise StackOutputError(output, stack) from exc
        raise StackOutputTypeError(output, stack, str(first["msg"]), first.get("input")) from exc


def load_outputs(path: Path, stack: str) -> StackOutputs:
    """Load a stack's outputs from ``path`` (the JSON of ``pulumi stack output --json``)."""
    if not path.is_file():
        raise StackOutputsNotFoundError(
            f"no outputs for stack {stack!r} at {path}: run `mlops local up` for the embedded emulator, "
            f"or `pulumi stack output --json -s {stack} > {path}` after `pulumi up`"
        )
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise StackOutputsNotFoundError(f"outputs file {path} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise StackOutputsNotFoundError(f"outputs file {path} must hold a JSON object, not {type(raw).__name__}")
    return parse_outputs(raw, stack)


def write_outputs(path: Path, outputs: dict[str, Any]) -> None:
    """Write outputs atomically in the same shape ``pulumi stack output --json`` prints."""
    write_private(path, json.dumps(outputs, indent=2, sort_keys=True) + "\n")
