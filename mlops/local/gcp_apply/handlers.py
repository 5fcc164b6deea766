"""What the local GCP apply does with each ``gcp:`` resource type the program declares.

The types Google's emulators can hold get a handler that creates the resource there, or finds the one an earlier
apply made: Cloud Storage buckets and objects (fake-gcs-server), Pub/Sub topics and subscriptions, dead-letter
policy included (Google's Pub/Sub emulator), the Firestore database (Google's Firestore emulator, which serves
every database id without a create); and Cloud Monitoring's alert policies and notification channels, which the
kit's alert-policy runner keeps in the Firestore emulator (:mod:`mlops.local.gcp_alert_runner`). Every other type is
declared but not sent, for the reason
:data:`NOT_SENT` gives; the engine records it as ``skipped`` with the ids ``mlops infra plan`` shows.

A handler receives the resource's logical name and its camelCase inputs as the Pulumi mocks resolve them, and
returns the physical id and the state (camelCase outputs) dependents read, as the AWS handlers do
(:mod:`mlops.local.apply.base`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
from mlops.errors import LocalApplyError, UnsupportedResourceError
from mlops.local.apply.base import Applied, Outcome, applied, as_int, require


@dataclass(frozen=True)
class GcpHandlerContext:
    """Where handlers create resources: the emulators' clients and the project their clients use, and the MLflow
    tracking store the local apply plays (MLflow keeps no tracking store on Cloud Storage, where the program points
    it): a sqlite URI under the state dir."""

    clients: GcpClients
    tracking_uri: str

    @property
    def project(self) -> str:
        return self.clients.project


GcpHandler = Callable[[GcpHandlerContext, str, dict[str, Any]], Applied]

BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_OBJECT = "gcp:storage/bucketObject:BucketObject"
TOPIC = "gcp:pubsub/topic:Topic"
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
DATABASE = "gcp:firestore/database:Database"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
ALERT_POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"


def _same_project(ctx: GcpHandlerContext, type_token: str, name: str, inputs: dict[str, Any]) -> None:
    """Resources must live in the project the kit's clients use, or the adapters would not find them."""
    declared = inputs.get("project")
    if declared and declared != ctx.project:
        raise LocalApplyError(
            f"{type_token} {name!r}: the stack declares project {declared!r} but the kit's settings use "
            f"{ctx.project!r}; set MLOPS_GCP__PROJECT={declared} (or gcp.project in mlops.yaml), or use the "
            "gcp-local stack"
        )


# -- Cloud Storage ---------------------------------------------------------------------------------------------


def bucket(ctx: GcpHandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Create the bucket with every setting the program declares; versioning is the one fake-gcs-server keeps
    (the rest are sent and dropped by it: :data:`EMULATOR_DROPS`). An existing bucket is reused, its versioning
    brought in line (``updated``)."""
    _same_project(ctx, BUCKET, name, inputs)
    bucket_name = str(require(inputs, "name", BUCKET, name))
    storage = ctx.clients.storage()
    versioned = bool((inputs.get("versioning") or {}).get("enabled", False))
    existing = storage.lookup_bucket(bucket_name)
    outcome: Outcome
    if existing is None:
        storage.create_bucket(_bucket_request(storage, bucket_name, inputs), location=inputs.get("location"))
        outcome = "created"
    elif bool(existing.versioning_enabled) != versioned:
        existing.versioning_enabled = versioned
        existing.patch()
        outcome = "updated"
    else:
        outcome = "reused"
    return applied(bucket_name, inputs, outcome, name=bucket_name, url=f"gs://{bucket_name}")


def _bucket_request(storage: Any, bucket_name: str, inputs: dict[str, Any]) -> Any:
    request = storage.bucket(bucket_name)
    request.versioning_enabled = bool((inputs.get("versioning") or {}).get("enabled", False))
    request.labels = dict(inputs.get("labels") or {})
    key = (inputs.get("encryption") or {}).get("defaultKmsKeyName")
    if key:
        request.default_kms_key_name = key
    iam = request.iam_configuration
    iam.uniform_bucket_level_access_enabled = bool(inputs.get("uniformBucketLevelAccess", False))
    if inputs.get("publicAccessPrevention"):
        iam.public_access_prevention = inputs["publicAccessPrevention"]
    request.lifecycle_rules = [_lifecycle_rule(rule) for rule in inputs.get("lifecycleRules") or []]
    logging = inputs.get("logging")
    if logging:
        request.enable_logging(logging["logBucket"], logging.get("logObjectPrefix"))
    return request


_CONDITION_KEYS = {"daysSinceNoncurrentTime": "daysSinceNoncurrentTime", "withState": "isLive", "age": "age"}


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """Pulumi's rule shape -> the JSON API's (``withState: LIVE`` is ``isLive: true``)."""
    action = {"type": rule["action"]["type"]}
    if rule["action"].get("storageClass"):
        action["storageClass"] = rule["action"]["storageClass"]
    condition: dict[str, Any] = {}
    for key, value in (rule.get("condition") or {}).items():
        if key == "withState":
            if value in ("LIVE", "ARCHIVED"):
                condition["isLive"] = value == "LIVE"
        elif key in _CONDITION_KEYS and value is not None:
            condition[key] = as_int(value)
    return {"action": action, "condition": condition}


def bucket_object(ctx: GcpHandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Upload the object unless the same bytes are already there (compared by MD5)."""
    bucket_name = str(require(inputs, "bucket", BUCKET_OBJECT, name))
    key = str(require(inputs, "name", BUCKET_OBJECT, name))
    body = _object_body(name, inputs)
    if PIPELINE_DEFINITION.fullmatch(key):
        body = with_tracking_uri(body, ctx.tracking_uri)
    md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    blob = ctx.clients.storage().bucket(bucket_name).get_blob(key)
    outcome: Outcome = "created" if blob is None else ("reused" if blob.md5_hash == md5 else "updated")
    if outcome != "reused":
        upload = ctx.clients.storage().bucket(bucket_name).blob(key)
        upload.upload_from_string(body, content_type=inputs.get("contentType") or "application/octet-stream")
    state = {k: v for k, v in inputs.items() if k != "source"}  # assets are not JSON state
    return applied(f"{bucket_name}-{key}", state, outcome, outputName=key, md5hash=md5)


# Where the program deploys the stack-bound training pipeline (mlops.layout.pipeline_definition_key).
PIPELINE_DEFINITION = re.compile(r"pipelines/[^/]+/definition\.json")
TRACKING_PARAMETER = "MlflowTrackingUri"


def with_tracking_uri(definition: bytes, tracking_uri: str) -> bytes:
    """The pipeline definition with the Register step's tracking URI default set to the store the local apply
    plays, unless it already names a tracking server MLflow can use (sqlite, http)."""
    try:
        document = json.loads(definition)
    except json.JSONDecodeError as exc:
        raise LocalApplyError(f"the pipeline definition is not JSON ({exc}); it starts {definition[:80]!r}") from exc
    for parameter in document.get("Parameters", []):
        if parameter.get("Name") == TRACKING_PARAMETER and not is_tracking_server(str(parameter.get("DefaultValue"))):
            parameter["DefaultValue"] = tracking_uri
    return json.dumps(document, indent=2, sort_keys=True).encode()


def is_tracking_server(uri: str) -> bool:
    """MLflow can track there (a database or a server); a ``gs://`` path holds artifacts only."""
    return uri.startswith(("sqlite:", "http://", "https://", "postgresql", "mysql"))


def _object_body(name: str, inputs: dict[str, Any]) -> bytes:
    source = inputs.get("source")
    path = getattr(source, "path", None)
    if path is not None:
        file = Path(str(path))
        if not file.is_file():
            raise LocalApplyError(f"{BUCKET_OBJECT} {name!r}: source file {file} does not exist")
        return file.read_bytes()
    text = getattr(source, "text", None)
    if text is not None:
        return str(text).encode()
    if inputs.get("content") is not None:
        return str(inputs["content"]).encode()
    raise LocalApplyError(f"{BUCKET_OBJECT} {name!r}: neither a FileAsset/StringAsset 'source' nor 'content' is set")


# -- Pub/Sub ------------------------------------------------------------------------------------------------------


def _duration(value: Any) -> dict[str, int] | None:
    """``"86400s"`` (Pulumi's spelling) -> a protobuf Duration."""
    if not value:
        return None
    return {"seconds": int(float(str(value).removesuffix("s")))}


def _topic_path(project: str, topic: str) -> str:
    return topic if topic.startswith("projects/") else f"projects/{project}/topics/{topic}"


def topic(ctx: GcpHandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Create the topic with its retention, labels, key name and storage policy (the emulator keeps them)."""
    _same_project(ctx, TOPIC, name, inputs)
    short = str(require(inputs, "name", TOPIC, name))
    path = _topic_path(ctx.project, short)
    request: dict[str, Any] = {"name": path, "labels": dict(inputs.get("labels") or {})}
    if inputs.get("kmsKeyName"):
        request["kms_key_name"] = inputs["kmsKeyName"]
    retention = _duration(inputs.get("messageRetentionDuration"))
    if retention:
        request["message_retention_duration"] = retention
    regions = (inputs.get("messageStoragePolicy") or {}).get("allowedPersistenceRegions")
    if regions:
        request["message_storage_policy"] = {"allowed_persistence_regions": list(regions)}
    outcome: Outcome = "created"
    try:
        ctx.clients.publisher().create_topic(request=request)
    except google_errors.AlreadyExists:
        outcome = "reused"
    return applied(path, inputs, outcome, name=short)


def subscription(ctx: GcpHandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Create the subscription with its ack deadline, retention, expiration, dead-letter policy and Cloud Storage
    delivery settings (the emulator stores the last but delivers nothing to Cloud Storage)."""
    _same_project(ctx, SUBSCRIPTION, name, inputs)
    short = str(require(inputs, "name", SUBSCRIPTION, name))
    path = f"projects/{ctx.project}/subscriptions/{short}"
    request = _subscription_request(ctx.project, path, name, inputs)
    outcome: Outcome = "created"
    try:
        ctx.clients.subscriber().create_subscription(request=request)
    except google_errors.AlreadyExists:
        outcome = "reused"
    return applied(path, inputs, outcome, name=short)


def _subscription_request(project: str, path: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    topic_name = str(require(inputs, "topic", SUBSCRIPTION, name))
    request: dict[str, Any] = {
        "name": path,
        "topic": _topic_path(project, topic_name),
        "labels": dict(inputs.get("labels") or {}),
    }
    if inputs.get("ackDeadlineSeconds") is not None:
        request["ack_deadline_seconds"] = as_int(inputs["ackDeadlineSeconds"])
    retention = _duration(inputs.get("messageRetentionDuration"))
    if retention:
        request["message_retention_duration"] = retention
    expiration = inputs.get("expirationPolicy")
    if expiration is not None:
        ttl = _duration(expiration.get("ttl"))
        request["expiration_policy"] = {"ttl": ttl} if ttl else {}  # an empty policy: never expires
    dead = inputs.get("deadLetterPolicy")
    if dead:
        request["dead_letter_policy"] = {
            "dead_letter_topic": _topic_path(project, str(dead["deadLetterTopic"])),
            "max_delivery_attempts": as_int(dead.get("maxDeliveryAttempts", 5)),
        }
    if inputs.get("enableMessageOrdering"):
        request["enable_message_ordering"] = True
    sink = inputs.get("cloudStorageConfig")
    if sink:
        request["cloud_storage_config"] = {
            "bucket": sink["bucket"],
            "filename_prefix": sink.get("filenamePrefix", ""),
            "filename_suffix": sink.get("filenameSuffix", ""),
            "max_duration": _duration(sink.get("maxDuration")),
            "max_bytes": as_int(sink.get("maxBytes", 0)),
        }
    return request


# -- Firestore ----------------------------------------------------------------------------------------------------


def database(ctx: GcpHandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """The Firestore emulator has no admin API and serves every database id as it is first used: the handler
    asks the emulator for the database's collections (it answers, so the database exists) and sends no create."""
    _same_project(ctx, DATABASE, name, inputs)
    database_id = str(require(inputs, "name", DATABASE, name))
    list(ctx.clients.firestore().collections())  # the emulator answers: the project's databases are served
    return applied(f"projects/{ctx.project}/databases/{database_id}", inputs, "reused", name=database_id)


# -- Cloud Monitoring (no emulator: the kit's alert-policy runner keeps them in the Firestore emulator) ----------


def notification_channel(ctx: GcpHandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """A Pub/Sub channel, where the local alert-policy runner publishes the incidents' notifications."""
    from mlops.local.gcp_alert_runner import put_channel

    _same_project(ctx, CHANNEL, name, inputs)
    require(inputs, "displayName", CHANNEL, name)
    channel: dict[str, Any] = {k: inputs[k] for k in ("type", "displayName", "labels", "description") if k in inputs}
    declared = put_channel(ctx.clients, channel)
    return applied(declared.name, inputs, declared.outcome, name=declared.name)


def alert_policy(ctx: GcpHandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """The policy as the program declares it, evaluated by the kit's runner (``mlops monitor alarms``); a re-apply
    keeps its state and open incident."""
    from mlops.local.gcp_alert_runner import put_policy

    _same_project(ctx, ALERT_POLICY, name, inputs)
    require(inputs, "displayName", ALERT_POLICY, name)
    declared = put_policy(ctx.clients, {k: v for k, v in inputs.items() if k != "project"})
    return applied(declared.name, inputs, declared.outcome, name=declared.name)


HANDLERS: dict[str, GcpHandler] = {
    BUCKET: bucket,
    BUCKET_OBJECT: bucket_object,
    TOPIC: topic,
    SUBSCRIPTION: subscription,
    DATABASE: database,
    CHANNEL: notification_channel,
    ALERT_POLICY: alert_policy,
}

# What the emulators accept and drop (sent as declared; nothing enforces them locally).
EMULATOR_DROPS: dict[str, str] = {
    BUCKET: "fake-gcs-server keeps a bucket's name, location and versioning; its labels, lifecycle rules, default "
    "CMEK key, uniform bucket-level access, public access prevention and usage logging are sent and dropped",
    SUBSCRIPTION: "the Pub/Sub emulator stores a Cloud Storage subscription's settings but delivers nothing to "
    "Cloud Storage (the raw-zone sink does not run locally) and forwards nothing to a dead-letter topic it is not "
    "asked to (it does honour the dead-letter policy of a subscription that is pulled and nacked)",
    DATABASE: "the Firestore emulator serves every database id without a create; CMEK, point-in-time recovery and "
    "delete protection have no local counterpart",
}

IAM_NOT_SENT = "the emulators enforce no IAM: every caller may do everything"
# Declared but not sent, by the type's module (``gcp:<module>/...``): why no emulator here holds it.
NOT_SENT: dict[str, str] = {
    "kms": "no KMS emulator: keys are recorded by name (buckets and topics name them) and encrypt nothing",
    "compute": "no network locally: the kit's runners are host processes on the loopback interface",
    "servicenetworking": "no network locally: the kit's runners are host processes on the loopback interface",
    "serviceaccount": "the emulators have no identities: local runs act as the developer",
    "iam": "Workload Identity Federation (GitHub's OIDC tokens) has no local counterpart",
    "bigquery": "no BigQuery emulator here: the catalog's local implementation (if any) keeps table entries",
    "cloudscheduler": "no Cloud Scheduler emulator: start the Dataproc jobs with `mlops job run`",
    "artifactregistry": "no image registry locally: local runners run the kit's code on the host, no images",
    "vertex": "no Vertex AI emulator: training, registry and endpoints are played by the kit's local runners",
    "monitoring": "no Cloud Monitoring emulator: figures go to the kit's metrics store in the Firestore emulator, "
    "alert policies and channels to the kit's alert-policy runner; dashboards are not drawn locally",
    "docker-build": "no Docker engine: images are neither built nor pushed locally",
    "sql": "no Cloud SQL locally: MLflow's tracking store is played by a sqlite file under the state dir",
    "secretmanager": "no Secret Manager emulator: the local tracking store (sqlite) needs no password",
    "cloudrunv2": "no Cloud Run locally: the kit talks to MLflow's sqlite tracking store directly, no server",
}


def not_sent_reason(type_token: str, logical_name: str) -> str:
    """Why ``type_token`` is declared but not sent; an unknown type is an error naming it, never a silent skip."""
    if type_token.startswith("docker-build:"):
        return NOT_SENT["docker-build"]
    if type_token.startswith("gcp:") and type_token.lower().endswith("iammember"):
        return IAM_NOT_SENT
    module = type_token.removeprefix("gcp:").split("/", 1)[0] if type_token.startswith("gcp:") else ""
    reason = NOT_SENT.get(module)
    if reason is None:
        raise UnsupportedResourceError(type_token, logical_name)
    return reason
