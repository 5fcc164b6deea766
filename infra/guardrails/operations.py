"""Logs, keys and tags: log groups encrypted and kept long enough, keys rotated, every resource tagged."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from infra.guardrails.model import Declared, Rule, Violation, of, stack_environment, value
from infra.lifecycle import MIN_LOG_RETENTION_DAYS
from infra.resource_types import is_taggable
from infra.tags import REQUIRED_TAGS

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KEY = "aws:kms/key:Key"
MAX_ROTATION_DAYS = 365


def log_group_encryption(resources: Sequence[Declared]) -> Iterator[Violation]:
    for group in of(resources, LOG_GROUP):
        if not value(group, "kmsKeyId"):
            yield Violation("log-group-encryption", group.name, "no kmsKeyId")


def log_group_retention(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "log-group-retention"
    environment = stack_environment(resources)
    minimum = MIN_LOG_RETENTION_DAYS.get(environment or "", 1)
    for group in of(resources, LOG_GROUP):
        days = value(group, "retentionInDays")
        if not days:
            yield Violation(rule, group.name, "retentionInDays is not set (events never expire)")
        elif float(days) < minimum:
            yield Violation(rule, group.name, f"retention {int(days)} days is below {minimum} for {environment}")


def kms_rotation(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "kms-rotation"
    for key in of(resources, KEY):
        if value(key, "enableKeyRotation") is not True:
            yield Violation(rule, key.name, "enableKeyRotation is not true")
        period = value(key, "rotationPeriodInDays")
        if period is not None and float(period) > MAX_ROTATION_DAYS:
            yield Violation(rule, key.name, f"rotates every {int(period)} days (more than {MAX_ROTATION_DAYS})")


def required_tags(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "required-tags"
    environment = stack_environment(resources)
    for resource in resources:
        if not is_taggable(resource.type):
            continue
        tags = value(resource, "tags")
        tags = tags if isinstance(tags, Mapping) else {}
        missing = [tag for tag in REQUIRED_TAGS if not tags.get(tag)]
        if missing:
            yield Violation(rule, resource.name, f"missing tags: {', '.join(missing)}")
        if tags.get("environment") and tags.get("environment") != environment:
            yield Violation(rule, resource.name, f"environment tag {tags['environment']!r} is not {environment!r}")


RULES: tuple[Rule, ...] = (
    Rule("log-group-encryption", "encryption", "Log groups are encrypted with the stack's key.", log_group_encryption),
    Rule(
        "log-group-retention",
        "logging",
        "Log groups expire events, and keep them at least as long as the environment requires (prod: 365 days).",
        log_group_retention,
    ),
    Rule("kms-rotation", "encryption", "Keys rotate at least yearly.", kms_rotation),
    Rule(
        "required-tags",
        "operations",
        "Taggable resources carry project, environment, owner and component tags, all of one environment.",
        required_tags,
    ),
)
