"""The local GCP apply's pure parts: which types are not sent and why, and Pulumi's shapes in the APIs' terms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.gcp.resource_types import GCP_RESOURCE_TYPES
from mlops.errors import UnsupportedResourceError
from mlops.local.gcp_apply.handlers import (
    HANDLERS,
    _lifecycle_rule,
    _subscription_request,
    not_sent_reason,
    with_tracking_uri,
)


def test_every_type_the_gcp_program_may_declare_is_handled_or_not_sent_for_a_reason() -> None:
    for type_token in GCP_RESOURCE_TYPES:
        assert type_token in HANDLERS or not_sent_reason(type_token, "r"), type_token
    assert "IAM" in not_sent_reason("gcp:storage/bucketIAMMember:BucketIAMMember", "r")


def test_an_unknown_type_is_an_error_naming_it_never_a_silent_skip() -> None:
    with pytest.raises(UnsupportedResourceError, match="gcp:redis/instance:Instance"):
        not_sent_reason("gcp:redis/instance:Instance", "cache")
    with pytest.raises(UnsupportedResourceError, match="aws:s3/bucket:Bucket"):
        not_sent_reason("aws:s3/bucket:Bucket", "raw")


def test_lifecycle_rules_take_the_json_apis_shape() -> None:
    rule = {"action": {"type": "Delete"}, "condition": {"age": 7.0, "withState": "LIVE"}}
    assert _lifecycle_rule(rule) == {"action": {"type": "Delete"}, "condition": {"age": 7, "isLive": True}}
    archived = {"action": {"type": "Delete"}, "condition": {"daysSinceNoncurrentTime": 30.0, "withState": "ARCHIVED"}}
    assert _lifecycle_rule(archived)["condition"] == {"daysSinceNoncurrentTime": 30, "isLive": False}
    moved = {"action": {"type": "SetStorageClass", "storageClass": "NEARLINE"}, "condition": {"withState": "ANY"}}
    assert _lifecycle_rule(moved) == {
        "action": {"type": "SetStorageClass", "storageClass": "NEARLINE"},
        "condition": {},
    }


def test_a_subscription_keeps_its_dead_letter_policy_and_never_expires_with_an_empty_ttl() -> None:
    request = _subscription_request(
        "proj-1",
        "projects/proj-1/subscriptions/s.raw-sink",
        "sink",
        {
            "topic": "projects/proj-1/topics/s.partition-0000",
            "ackDeadlineSeconds": 60.0,
            "expirationPolicy": {"ttl": ""},
            "deadLetterPolicy": {"deadLetterTopic": "s-dead-letter", "maxDeliveryAttempts": 5.0},
        },
    )
    assert request["topic"] == "projects/proj-1/topics/s.partition-0000"
    assert request["ack_deadline_seconds"] == 60
    assert request["expiration_policy"] == {}
    assert request["dead_letter_policy"] == {
        "dead_letter_topic": "projects/proj-1/topics/s-dead-letter",
        "max_delivery_attempts": 5,
    }


def test_the_deployed_pipeline_registers_into_the_tracking_store_the_local_apply_plays() -> None:
    definition = {
        "Parameters": [
            {"Name": "MlflowTrackingUri", "Type": "String", "DefaultValue": "gs://models/mlflow"},
            {"Name": "ModelsBucket", "Type": "String", "DefaultValue": "models"},
        ]
    }
    played = json.loads(with_tracking_uri(json.dumps(definition).encode(), "sqlite:////state/mlflow.db"))
    assert [p["DefaultValue"] for p in played["Parameters"]] == ["sqlite:////state/mlflow.db", "models"]
    served = {"Parameters": [{"Name": "MlflowTrackingUri", "DefaultValue": "https://mlflow.example.org"}]}
    kept = json.loads(with_tracking_uri(json.dumps(served).encode(), "sqlite:////state/mlflow.db"))
    assert kept == served  # a tracking server MLflow can use is left as the program declared it


def test_secret_inputs_reach_the_handlers_as_their_plain_values() -> None:
    """Both clouds' local applies hand their handlers the secret's value (the SDK's wrapper, its own markers)."""
    from pulumi.runtime import rpc

    from mlops.local.apply.base import revealed

    key, sig = rpc._special_sig_key, rpc._special_secret_sig
    wrapped = {"content": {key: sig, "value": "{}"}, "labels": [{key: sig, "value": "a"}]}
    assert revealed(wrapped) == {"content": "{}", "labels": ["a"]}


def test_a_resource_in_another_project_than_the_settings_use_is_refused_naming_the_setting() -> None:
    from mlops.adapters.gcp.clients import GcpClients
    from mlops.errors import LocalApplyError
    from mlops.local.gcp_apply.handlers import GcpHandlerContext, topic
    from mlops.settings import load_settings

    clients = GcpClients(load_settings(cloud="gcp", target="gcp-emulators", gcp={"project": "mlops-local"}))
    context = GcpHandlerContext(clients, "sqlite:////state/mlflow.db")
    with pytest.raises(LocalApplyError, match="MLOPS_GCP__PROJECT=mlops-kit-dev"):
        topic(context, "streaming-partition-0", {"name": "events.partition-0000", "project": "mlops-kit-dev"})


def test_local_up_with_cloud_gcp_refuses_an_aws_stack_before_touching_an_emulator(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mlops.cli.main import app
    from mlops.errors import ConfigError

    env = {
        "MLOPS_STATE_DIR": str(tmp_path),
        "MLOPS_CLOUD": "gcp",
        "MLOPS_TARGET": "gcp-emulators",
        "MLOPS_LOCAL_SPARK__ENABLED": "false",
        # emulators named in the settings: `up` starts none; nothing answers there, and nothing is asked
        "MLOPS_GCP__STORAGE_EMULATOR_HOST": "http://127.0.0.1:9",
        "MLOPS_GCP__PUBSUB_EMULATOR_HOST": "127.0.0.1:9",
        "MLOPS_GCP__FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
    }
    result = CliRunner().invoke(app, ["local", "up", "--stack", "local", "--json"], env=env)
    assert isinstance(result.exception, ConfigError)
    assert "stack 'local' is declared for cloud 'aws'" in str(result.exception)
    assert not (tmp_path / "outputs" / "local.json").exists()


def test_local_reset_with_cloud_gcp_says_how_to_empty_the_google_emulators(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mlops.cli.main import app
    from mlops.errors import ConfigError

    env = {"MLOPS_STATE_DIR": str(tmp_path), "MLOPS_CLOUD": "gcp", "MLOPS_TARGET": "gcp-emulators"}
    result = CliRunner().invoke(app, ["local", "reset"], env=env)
    assert isinstance(result.exception, ConfigError)
    assert "mlops local down && mlops local up" in str(result.exception)
