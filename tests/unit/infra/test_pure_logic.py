"""Lifecycle rules, alarm thresholds, pipeline parameter binding, tags: pure functions."""

from __future__ import annotations

import json

import pytest

from infra.lifecycle import Retention, lifecycle_rules
from infra.pipeline_definition import bind_parameter_defaults
from infra.tags import common_tags
from infra.thresholds import ALARM_KEYS, Thresholds, alarm_specs
from mlops.errors import ConfigError

RETENTION = Retention(
    noncurrent_version_expiration_days=30,
    raw_expiration_days=365,
    quarantine_expiration_days=14,
    access_log_expiration_days=90,
    infrequent_access_after_days=60,
)


def _ids(zone: str) -> list[str]:
    return [str(rule["id"]) for rule in lifecycle_rules(zone, RETENTION)]


def test_lifecycle_rules_per_zone() -> None:
    base = ["abort-incomplete-uploads", "expire-noncurrent-versions"]
    assert _ids("models") == base
    assert _ids("raw") == [*base, "expire-objects"]
    assert _ids("curated") == [*base, "infrequent-access"]
    assert lifecycle_rules("quarantine", RETENTION)[2]["expiration"] == {"days": 14}
    assert lifecycle_rules("features", RETENTION)[2]["transitions"] == [{"days": 60, "storage_class": "STANDARD_IA"}]


def test_alarm_specs_cover_every_key_with_thresholds() -> None:
    specs = alarm_specs(
        Thresholds(
            latency_p99_ms=250.0,
            server_errors=1.0,
            data_drift=0.3,
            concept_drift=0.4,
            model_degradation=0.05,
            evaluation_periods=2,
        )
    )
    assert tuple(specs) == ALARM_KEYS
    latency = specs["endpoint_latency"]
    assert (latency.metric_name, latency.statistic, latency.threshold, latency.evaluation_periods) == (
        "ModelLatency",
        "p99",
        250000.0,
        2,
    )
    assert (specs["data_drift"].threshold, specs["concept_drift"].threshold) == (0.3, 0.4)
    assert specs["data_quality"].comparison == "GreaterThanOrEqualToThreshold"
    assert [k for k, s in specs.items() if s.endpoint] == ["endpoint_errors", "endpoint_latency"]


def test_bind_parameter_defaults_sets_only_named_parameters() -> None:
    definition = json.dumps(
        {"Parameters": [{"Name": "Role", "Type": "String", "DefaultValue": "x"}, {"Name": "Keep", "Type": "String"}]}
    )
    bound = json.loads(bind_parameter_defaults(definition, {"Role": "arn:role", "Absent": "y"}, source="def.json"))
    assert bound["Parameters"] == [
        {"Name": "Role", "Type": "String", "DefaultValue": "arn:role"},
        {"Name": "Keep", "Type": "String"},
    ]


def test_bind_parameter_defaults_names_the_bad_file() -> None:
    with pytest.raises(ConfigError, match=r"pipeline definition def\.json is not valid JSON"):
        bind_parameter_defaults("{", {}, source="def.json")
    with pytest.raises(ConfigError, match=r"pipeline definition def\.json has no 'Parameters' list"):
        bind_parameter_defaults("{}", {}, source="def.json")


def test_bind_parameter_defaults_refuses_parameters_left_for_the_stack() -> None:
    definition = json.dumps(
        {
            "Parameters": [
                {"Name": "Role", "DefaultValue": "bound-by-infra"},
                {"Name": "Image", "DefaultValue": "bound-by-infra"},
                {"Name": "Group", "DefaultValue": "bound-by-infra"},
            ]
        }
    )
    with pytest.raises(
        ConfigError, match=r"^pipeline definition def\.json has parameters the stack does not bind: Group, Image$"
    ):
        bind_parameter_defaults(definition, {"Role": "arn:role"}, source="def.json")


def test_common_tags() -> None:
    assert common_tags("p", "dev", "team", "serving") == {
        "project": "p",
        "environment": "dev",
        "owner": "team",
        "component": "serving",
    }


def test_resource_type_tokens_match_their_classes() -> None:
    import inspect

    from infra.resource_types import RESOURCE_TYPES, is_taggable

    for token, resource_class in RESOURCE_TYPES.items():
        assert f"'{token}'" in inspect.getsource(resource_class), token
    assert is_taggable("aws:s3/bucket:Bucket") is True
    assert is_taggable("aws:s3/bucketPolicy:BucketPolicy") is False
