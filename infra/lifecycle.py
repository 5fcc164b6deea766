"""Lifecycle rules per data-lake zone: pure data, so the retention of each zone is reviewed in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pulumi_aws.s3 import BucketLifecycleConfigurationRuleArgsDict as Rule

MIN_LOG_RETENTION_DAYS: dict[str, int] = {"prod": 365}
"""Least CloudWatch Logs retention per environment (others: any accepted value). The stack config refuses less,
and the policy pack checks every log group against the same numbers."""


@dataclass(frozen=True)
class Retention:
    """Days after which objects move or go; from the stack config."""

    noncurrent_version_expiration_days: int
    raw_expiration_days: int
    quarantine_expiration_days: int
    access_log_expiration_days: int
    infrequent_access_after_days: int


def lifecycle_rules(zone: str, retention: Retention) -> list[Rule]:
    """Rules of one zone's bucket (pulumi_aws ``BucketLifecycleConfiguration`` ``rules`` input).

    Every bucket aborts stale multipart uploads and expires old non-current versions (versioning is on
    everywhere). Raw and quarantine data expire; access logs expire; curated and feature data move to
    Infrequent Access; models are never expired by lifecycle (the registry decides).
    """
    rules: list[Rule] = [
        {
            "id": "abort-incomplete-uploads",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
        },
        {
            "id": "expire-noncurrent-versions",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "noncurrent_version_expiration": {"noncurrent_days": retention.noncurrent_version_expiration_days},
        },
    ]
    expiry = {
        "raw": retention.raw_expiration_days,
        "quarantine": retention.quarantine_expiration_days,
        "access-logs": retention.access_log_expiration_days,
    }.get(zone)
    if expiry is not None:
        rules.append(
            {"id": "expire-objects", "status": "Enabled", "filter": {"prefix": ""}, "expiration": {"days": expiry}}
        )
    if zone in ("curated", "features", "monitoring"):
        rules.append(
            {
                "id": "infrequent-access",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "transitions": [{"days": retention.infrequent_access_after_days, "storage_class": "STANDARD_IA"}],
            }
        )
    return rules
