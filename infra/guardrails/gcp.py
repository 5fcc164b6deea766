"""Rules of ``cloud: gcp`` stacks: the AWS rules' guarantees in Google Cloud's terms.

CMEK on every store, no public bucket (public access prevention enforced, uniform bucket-level access, no
``allUsers``), versions and access logs kept, no primitive role (owner/editor/viewer) granted, no public IP path
for Dataproc, Vertex, Cloud SQL and Cloud Run, keys rotated at least every 90 days, GitHub federation bound to the
stack's environment.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from infra.guardrails.model import STACK, Declared, Rule, Violation, nested, of, refers, value

BUCKET = "gcp:storage/bucket:Bucket"
OBJECT = "gcp:storage/bucketObject:BucketObject"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
SUBNETWORK = "gcp:compute/subnetwork:Subnetwork"
NETWORK = "gcp:compute/network:Network"
FIREWALL = "gcp:compute/firewall:Firewall"
SCHEDULER_JOB = "gcp:cloudscheduler/job:Job"
PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
SQL_INSTANCE = "gcp:sql/databaseInstance:DatabaseInstance"
RUN_SERVICE = "gcp:cloudrunv2/service:Service"
INTERNAL_INGRESS = ("INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER")
MAX_ROTATION_SECONDS = 90 * 86400
PRIMITIVE_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
ANYWHERE = ("0.0.0.0/0", "::/0")
IMPERSONATION = "roles/iam.workloadIdentityUser"
REQUIRED_LABELS = ("project", "environment", "owner", "component")

CMEK_INPUTS: dict[str, tuple[str, ...]] = {
    "gcp:pubsub/topic:Topic": ("kmsKeyName",),
    "gcp:bigquery/dataset:Dataset": ("defaultEncryptionConfiguration", "kmsKeyName"),
    "gcp:bigquery/table:Table": ("encryptionConfiguration", "kmsKeyName"),
    "gcp:firestore/database:Database": ("cmekConfig", "kmsKeyName"),
    "gcp:vertex/aiEndpoint:AiEndpoint": ("encryptionSpec", "kmsKeyName"),
    "gcp:vertex/aiMetadataStore:AiMetadataStore": ("encryptionSpec", "kmsKeyName"),
    "gcp:artifactregistry/repository:Repository": ("kmsKeyName",),
    OBJECT: ("kmsKeyName",),
    SQL_INSTANCE: ("encryptionKeyName",),
}
"""Type -> the input path of its customer-managed key (buckets have their own rule)."""
LABELLED = (
    BUCKET,
    CRYPTO_KEY,
    "gcp:pubsub/topic:Topic",
    "gcp:pubsub/subscription:Subscription",
    "gcp:bigquery/dataset:Dataset",
    "gcp:artifactregistry/repository:Repository",
    "gcp:vertex/aiEndpoint:AiEndpoint",
    RUN_SERVICE,
)


def is_iam_grant(resource: Declared) -> bool:
    """IAM members and bindings of any Google Cloud resource (``...IAMMember``, ``...IamBinding``...)."""
    kind = resource.type.rsplit(":", 1)[-1].lower()
    return resource.type.startswith("gcp:") and ("iammember" in kind or "iambinding" in kind)


def members(resource: Declared) -> list[str]:
    """The principals an IAM grant names (``member`` or ``members``)."""
    found = value(resource, "members") or []
    single = value(resource, "member")
    return [str(m) for m in [*found, *([single] if single else [])]]


def gcp_environment(resources: Sequence[Declared]) -> str | None:
    """The stack's environment: the most common ``environment`` label."""
    counted = Counter(
        str(labels["environment"])
        for r in resources
        if isinstance(labels := r.inputs.get("labels"), Mapping) and labels.get("environment")
    )
    return counted.most_common(1)[0][0] if counted else None


def bucket_encryption(resources: Sequence[Declared]) -> Iterator[Violation]:
    for bucket in of(resources, BUCKET):
        if not nested(bucket.inputs, "encryption", "defaultKmsKeyName"):
            yield Violation("gcp-bucket-cmek", bucket.name, "no default customer-managed key (encryption)")


def store_encryption(resources: Sequence[Declared]) -> Iterator[Violation]:
    for resource in resources:
        path = CMEK_INPUTS.get(resource.type)
        if path is not None and not nested(resource.inputs, *path):
            yield Violation("gcp-cmek", resource.name, f"no customer-managed key ({'.'.join(path)})")
    for job in of(resources, SCHEDULER_JOB):
        request = batch_request(job)
        if request is not None and not nested(request, "environmentConfig", "executionConfig", "kmsKey"):
            yield Violation("gcp-cmek", job.name, "the batch it starts has no customer-managed key (kmsKey)")


def bucket_public_access(resources: Sequence[Declared]) -> Iterator[Violation]:
    for bucket in of(resources, BUCKET):
        if value(bucket, "publicAccessPrevention") != "enforced":
            yield Violation(
                "gcp-bucket-public-access-prevention", bucket.name, "publicAccessPrevention is not enforced"
            )


def bucket_uniform_access(resources: Sequence[Declared]) -> Iterator[Violation]:
    for bucket in of(resources, BUCKET):
        if value(bucket, "uniformBucketLevelAccess") is not True:
            yield Violation("gcp-bucket-uniform-access", bucket.name, "object ACLs are on (uniformBucketLevelAccess)")


def bucket_versioning(resources: Sequence[Declared]) -> Iterator[Violation]:
    for bucket in of(resources, BUCKET):
        if nested(bucket.inputs, "versioning", "enabled") is not True:
            yield Violation("gcp-bucket-versioning", bucket.name, "versioning is not enabled")


def bucket_logging(resources: Sequence[Declared]) -> Iterator[Violation]:
    buckets = of(resources, BUCKET)
    targets = {
        str(nested(b.inputs, "logging", "logBucket")) for b in buckets if nested(b.inputs, "logging", "logBucket")
    }
    for bucket in buckets:
        is_target = value(bucket, "name") in targets or bucket.id in targets
        if not is_target and not nested(bucket.inputs, "logging", "logBucket"):
            yield Violation("gcp-bucket-access-logging", bucket.name, "no usage logs (logging.logBucket)")


def no_public_members(resources: Sequence[Declared]) -> Iterator[Violation]:
    for grant in filter(is_iam_grant, resources):
        if any(m in PUBLIC_MEMBERS for m in members(grant)):
            yield Violation("gcp-no-public-members", grant.name, "grants a role to allUsers or allAuthenticatedUsers")


def no_primitive_roles(resources: Sequence[Declared]) -> Iterator[Violation]:
    for grant in filter(is_iam_grant, resources):
        if value(grant, "role") in PRIMITIVE_ROLES:
            yield Violation("gcp-no-primitive-roles", grant.name, f"grants the primitive role {value(grant, 'role')}")


def key_rotation(resources: Sequence[Declared]) -> Iterator[Violation]:
    for key in of(resources, CRYPTO_KEY):
        period = str(value(key, "rotationPeriod") or "")
        found = re.fullmatch(r"(\d+)(?:\.\d+)?s", period)
        if found is None:
            yield Violation("gcp-key-rotation", key.name, "no rotationPeriod")
        elif int(found[1]) > MAX_ROTATION_SECONDS:
            yield Violation("gcp-key-rotation", key.name, f"rotationPeriod {period} exceeds 90 days")


def batch_request(job: Declared) -> Any:
    """The Dataproc request a Cloud Scheduler job posts (its base64 body), ``None`` when it posts none."""
    body = nested(job.inputs, "httpTarget", "body")
    if not isinstance(body, str):
        return None
    try:
        return json.loads(base64.b64decode(body))
    except ValueError:
        return None


def private_network(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "gcp-no-public-ips"
    for network in of(resources, NETWORK):
        if value(network, "autoCreateSubnetworks") is not False:
            yield Violation(rule, network.name, "auto-created subnetworks (custom mode only)")
    for subnet in of(resources, SUBNETWORK):
        if value(subnet, "privateIpGoogleAccess") is not True:
            yield Violation(
                rule, subnet.name, "no Private Google Access: workloads without public IPs cannot reach APIs"
            )
    for firewall in of(resources, FIREWALL):
        opens = value(firewall, "direction") != "EGRESS" and value(firewall, "allows")
        if opens and any(r in ANYWHERE for r in value(firewall, "sourceRanges") or []):
            yield Violation(rule, firewall.name, "allows ingress from anywhere")
    for instance in of(resources, SQL_INSTANCE):
        if nested(instance.inputs, "settings", "ipConfiguration", "ipv4Enabled") is not False:
            yield Violation(rule, instance.name, "Cloud SQL has a public IP (settings.ipConfiguration.ipv4Enabled)")
    for service in of(resources, RUN_SERVICE):
        if value(service, "ingress") not in INTERNAL_INGRESS:
            yield Violation(rule, service.name, "Cloud Run takes traffic from the internet (ingress is not internal)")
    for job in of(resources, SCHEDULER_JOB):
        request = batch_request(job)
        execution = nested(request, "environmentConfig", "executionConfig") or {}
        if request is not None and not execution.get("subnetworkUri"):
            yield Violation(rule, job.name, "the batch runs outside the stack's private subnetwork")


def federation_bound(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "gcp-wif-environment"
    environment = gcp_environment(resources)
    bound = f":environment:{environment}'"
    for provider in of(resources, PROVIDER):
        condition = str(value(provider, "attributeCondition") or "")
        if not condition.startswith("assertion.sub == 'repo:") or not condition.endswith(bound):
            yield Violation(
                rule, provider.name, f"attributeCondition does not pin the subject to environment {environment}"
            )
    for grant in filter(is_iam_grant, resources):
        if value(grant, "role") != IMPERSONATION:
            continue
        for principal in members(grant):
            if not principal.startswith("principal://") or not principal.endswith(f":environment:{environment}"):
                yield Violation(rule, grant.name, f"{principal} is not one GitHub subject of environment {environment}")
    if of(resources, BUCKET) and not of(resources, PROVIDER):
        yield Violation(rule, STACK, "no GitHub Workload Identity provider")


def required_labels(resources: Sequence[Declared]) -> Iterator[Violation]:
    for resource in of(resources, *LABELLED):
        labels = value(resource, "labels") or {}
        missing = [label for label in REQUIRED_LABELS if not labels.get(label)]
        if missing:
            yield Violation("gcp-required-labels", resource.name, f"missing labels: {', '.join(missing)}")


def uploads_in_artifacts(resources: Sequence[Declared]) -> Iterator[Violation]:
    """Uploaded objects go to a bucket of the stack (so its CMEK, versioning and logging apply)."""
    buckets = of(resources, BUCKET)
    for item in of(resources, OBJECT):
        if not any(refers(item, "bucket", bucket) for bucket in buckets):
            yield Violation("gcp-object-in-stack-bucket", item.name, "uploaded to a bucket the stack does not declare")


RULES: tuple[Rule, ...] = (
    Rule(
        "gcp-bucket-cmek",
        "encryption",
        "Every bucket encrypts by default with the stack's key.",
        bucket_encryption,
        "gcp",
    ),
    Rule(
        "gcp-cmek",
        "encryption",
        "Topics, datasets, tables, Firestore, Vertex, registries, uploads, batches and Cloud SQL use CMEK.",
        store_encryption,
        "gcp",
    ),
    Rule(
        "gcp-bucket-public-access-prevention",
        "public-access",
        "Every bucket enforces public access prevention.",
        bucket_public_access,
        "gcp",
    ),
    Rule(
        "gcp-bucket-uniform-access",
        "public-access",
        "Every bucket has uniform bucket-level access (no ACLs).",
        bucket_uniform_access,
        "gcp",
    ),
    Rule("gcp-bucket-versioning", "operations", "Every bucket keeps versions.", bucket_versioning, "gcp"),
    Rule(
        "gcp-bucket-access-logging",
        "logging",
        "Every bucket but the log bucket writes usage logs.",
        bucket_logging,
        "gcp",
    ),
    Rule(
        "gcp-no-public-members",
        "public-access",
        "No role is granted to allUsers or allAuthenticatedUsers.",
        no_public_members,
        "gcp",
    ),
    Rule(
        "gcp-no-primitive-roles",
        "iam",
        "No grant of roles/owner, roles/editor or roles/viewer.",
        no_primitive_roles,
        "gcp",
    ),
    Rule("gcp-key-rotation", "encryption", "Every key rotates at least every 90 days.", key_rotation, "gcp"),
    Rule(
        "gcp-no-public-ips",
        "network",
        "Custom VPC, Private Google Access, no open ingress, batches in the subnet, Cloud SQL without a public IP, "
        "Cloud Run internal only.",
        private_network,
        "gcp",
    ),
    Rule(
        "gcp-wif-environment",
        "iam",
        "GitHub federation admits one subject: the stack's environment.",
        federation_bound,
        "gcp",
    ),
    Rule(
        "gcp-required-labels",
        "operations",
        "Labelled resources carry project, environment, owner, component.",
        required_labels,
        "gcp",
    ),
    Rule(
        "gcp-object-in-stack-bucket",
        "encryption",
        "Uploads go to the stack's own buckets.",
        uploads_in_artifacts,
        "gcp",
    ),
)
