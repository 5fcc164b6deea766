"""A compliant ``cloud: gcp`` resource set and one broken case per check of every GCP guardrail rule.

The same shape as ``guardrail_cases`` (camelCase inputs as the plan records them, ids ``<name>-id``): the rule
tests assert each case's violations exactly, and the mutation test deletes each check in turn.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from typing import Any

from infra.guardrails import gcp as rules
from infra.plan import PlannedResource

KEY = "projects/p/locations/us-central1/keyRings/r/cryptoKeys/storage"
LABELS = {"project": "p", "environment": "prod", "owner": "o", "component": "c"}
SUBJECT = "repo:o/r:environment:prod"
PRINCIPAL = f"principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/subject/{SUBJECT}"


def record(type_token: str, logical: str, **inputs: Any) -> PlannedResource:
    return PlannedResource(type=type_token, name=logical, custom=True, inputs=inputs, id=f"{logical}-id")


def batch_body(**execution: Any) -> str:
    """A Cloud Scheduler body starting a Dataproc batch with ``execution`` as its execution config."""
    request = {
        "pysparkBatch": {"mainPythonFileUri": "gs://a/s.py"},
        "environmentConfig": {"executionConfig": execution},
    }
    return base64.b64encode(json.dumps(request).encode()).decode()


def _bucket(name: str, **extra: Any) -> PlannedResource:
    return record(
        rules.BUCKET,
        name,
        name=name,
        encryption={"defaultKmsKeyName": KEY},
        uniformBucketLevelAccess=True,
        publicAccessPrevention="enforced",
        versioning={"enabled": True},
        labels=dict(LABELS),
        **extra,
    )


def compliant() -> list[PlannedResource]:
    """A small stack that passes every GCP rule."""
    return [
        _bucket("data", logging={"logBucket": "logs", "logObjectPrefix": "data/"}),
        _bucket("logs"),
        record(rules.CRYPTO_KEY, "key", name="storage", rotationPeriod="7776000s", labels=dict(LABELS)),
        record("gcp:pubsub/topic:Topic", "topic", name="events", kmsKeyName=KEY, labels=dict(LABELS)),
        record(
            "gcp:bigquery/dataset:Dataset",
            "dataset",
            datasetId="d",
            defaultEncryptionConfiguration={"kmsKeyName": KEY},
            labels=dict(LABELS),
        ),
        record(rules.OBJECT, "upload", bucket="data", name="k", kmsKeyName=KEY),
        record(rules.NETWORK, "vpc", name="vpc", autoCreateSubnetworks=False),
        record(rules.SUBNETWORK, "subnet", name="private", privateIpGoogleAccess=True),
        record(rules.FIREWALL, "deny", direction="INGRESS", denies=[{"protocol": "all"}], sourceRanges=["0.0.0.0/0"]),
        record(rules.FIREWALL, "internal", direction="INGRESS", allows=[{"protocol": "tcp"}], sourceTags=["dataproc"]),
        record(
            rules.SQL_INSTANCE,
            "tracking-db",
            encryptionKeyName=KEY,
            settings={"ipConfiguration": {"ipv4Enabled": False, "privateNetwork": "vpc"}},
        ),
        record(rules.RUN_SERVICE, "tracking", ingress="INGRESS_TRAFFIC_INTERNAL_ONLY", labels=dict(LABELS)),
        record(rules.SCHEDULER_JOB, "schedule", httpTarget={"body": batch_body(subnetworkUri="s", kmsKey=KEY)}),
        record(rules.PROVIDER, "provider", attributeCondition=f"assertion.sub == '{SUBJECT}'"),
        record("gcp:serviceaccount/iAMMember:IAMMember", "wif", role=rules.IMPERSONATION, member=PRINCIPAL),
        record(
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            "reader",
            role="roles/storage.objectViewer",
            member="serviceAccount:x@p.iam.gserviceaccount.com",
        ),
    ]


@dataclass(frozen=True)
class Case:
    """One way to break the compliant set, and exactly the violations it must produce."""

    id: str
    expected: list[str]
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    add: tuple[PlannedResource, ...] = ()
    remove: tuple[str, ...] = ()

    def resources(self) -> list[PlannedResource]:
        resources = [r for r in compliant() if r.name not in self.remove]
        for resource in resources:
            resource.inputs.update(copy.deepcopy(self.overrides.get(resource.name, {})))
        return resources + [copy.deepcopy(r) for r in self.add]


CASES: tuple[Case, ...] = (
    Case(
        "bucket-no-cmek",
        ["[gcp-bucket-cmek] data: no default customer-managed key (encryption)"],
        {"data": {"encryption": {}}},
    ),
    Case("topic-no-cmek", ["[gcp-cmek] topic: no customer-managed key (kmsKeyName)"], {"topic": {"kmsKeyName": None}}),
    Case(
        "batch-no-cmek",
        ["[gcp-cmek] schedule: the batch it starts has no customer-managed key (kmsKey)"],
        {"schedule": {"httpTarget": {"body": batch_body(subnetworkUri="s")}}},
    ),
    Case(
        "bucket-public-access-inherited",
        ["[gcp-bucket-public-access-prevention] data: publicAccessPrevention is not enforced"],
        {"data": {"publicAccessPrevention": "inherited"}},
    ),
    Case(
        "bucket-acls",
        ["[gcp-bucket-uniform-access] logs: object ACLs are on (uniformBucketLevelAccess)"],
        {"logs": {"uniformBucketLevelAccess": False}},
    ),
    Case(
        "bucket-unversioned",
        ["[gcp-bucket-versioning] data: versioning is not enabled"],
        {"data": {"versioning": {"enabled": False}}},
    ),
    Case(
        "bucket-unlogged",
        [
            "[gcp-bucket-access-logging] data: no usage logs (logging.logBucket)",
            "[gcp-bucket-access-logging] logs: no usage logs (logging.logBucket)",
        ],
        {"data": {"logging": None}},
    ),
    Case(
        "public-member",
        ["[gcp-no-public-members] reader: grants a role to allUsers or allAuthenticatedUsers"],
        {"reader": {"member": "allUsers"}},
    ),
    Case(
        "primitive-role",
        ["[gcp-no-primitive-roles] reader: grants the primitive role roles/editor"],
        {"reader": {"role": "roles/editor"}},
    ),
    Case("key-not-rotated", ["[gcp-key-rotation] key: no rotationPeriod"], {"key": {"rotationPeriod": None}}),
    Case(
        "key-rotated-yearly",
        ["[gcp-key-rotation] key: rotationPeriod 31536000s exceeds 90 days"],
        {"key": {"rotationPeriod": "31536000s"}},
    ),
    Case(
        "auto-mode-vpc",
        ["[gcp-no-public-ips] vpc: auto-created subnetworks (custom mode only)"],
        {"vpc": {"autoCreateSubnetworks": True}},
    ),
    Case(
        "no-private-google-access",
        ["[gcp-no-public-ips] subnet: no Private Google Access: workloads without public IPs cannot reach APIs"],
        {"subnet": {"privateIpGoogleAccess": False}},
    ),
    Case(
        "open-ingress",
        ["[gcp-no-public-ips] internal: allows ingress from anywhere"],
        {"internal": {"sourceRanges": ["0.0.0.0/0"]}},
    ),
    Case(
        "sql-public-ip",
        ["[gcp-no-public-ips] tracking-db: Cloud SQL has a public IP (settings.ipConfiguration.ipv4Enabled)"],
        {"tracking-db": {"settings": {"ipConfiguration": {"ipv4Enabled": True}}}},
    ),
    Case(
        "run-public-ingress",
        ["[gcp-no-public-ips] tracking: Cloud Run takes traffic from the internet (ingress is not internal)"],
        {"tracking": {"ingress": "INGRESS_TRAFFIC_ALL"}},
    ),
    Case(
        "sql-no-cmek",
        ["[gcp-cmek] tracking-db: no customer-managed key (encryptionKeyName)"],
        {"tracking-db": {"encryptionKeyName": None}},
    ),
    Case(
        "batch-outside-subnet",
        ["[gcp-no-public-ips] schedule: the batch runs outside the stack's private subnetwork"],
        {"schedule": {"httpTarget": {"body": batch_body(kmsKey=KEY)}}},
    ),
    Case(
        "provider-other-environment",
        ["[gcp-wif-environment] provider: attributeCondition does not pin the subject to environment prod"],
        {"provider": {"attributeCondition": "assertion.sub == 'repo:o/r:environment:dev'"}},
    ),
    Case(
        "provider-repository-only",
        ["[gcp-wif-environment] provider: attributeCondition does not pin the subject to environment prod"],
        {
            "provider": {
                "attributeCondition": "assertion.repository == 'o/r' && assertion.environment == ':environment:prod'"
            }
        },
    ),
    Case(
        "impersonation-by-principal-set",
        [
            "[gcp-wif-environment] wif: principalSet://iam.googleapis.com/x/attribute.repository/o/r:environment:prod "
            "is not one GitHub subject of environment prod"
        ],
        {"wif": {"member": "principalSet://iam.googleapis.com/x/attribute.repository/o/r:environment:prod"}},
    ),
    Case(
        "impersonation-other-environment",
        [f"[gcp-wif-environment] wif: {PRINCIPAL[:-4]}dev is not one GitHub subject of environment prod"],
        {"wif": {"member": PRINCIPAL[:-4] + "dev"}},
    ),
    Case("no-provider", ["[gcp-wif-environment] <stack>: no GitHub Workload Identity provider"], remove=("provider",)),
    Case(
        "missing-labels",
        ["[gcp-required-labels] topic: missing labels: owner"],
        {"topic": {"labels": {"project": "p", "environment": "prod", "component": "c"}}},
    ),
    Case(
        "upload-elsewhere",
        ["[gcp-object-in-stack-bucket] upload: uploaded to a bucket the stack does not declare"],
        {"upload": {"bucket": "elsewhere"}},
    ),
)
