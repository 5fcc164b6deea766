"""Stack config: YAML keys to typed fields, defaults, contradictions rejected with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.config import REPO_ROOT, decode_config_env, load_stack_config, read_stack_file
from mlops.errors import ConfigError


def test_keys_map_to_fields_and_strings_are_coerced() -> None:
    config = load_stack_config(
        "staging",
        {
            "aws:region": "eu-west-1",
            "aws:s3UsePathStyle": True,
            "mlops-kit:streamMode": "PROVISIONED",
            "mlops-kit:shardCount": "3",
            "mlops-kit:modelApprovalRequired": "false",
        },
    )
    assert (config.environment, config.region, config.shard_count) == ("staging", "eu-west-1", 3)
    assert config.model_approval_required is False
    assert config.glue_worker_type == "G.1X"


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"invalid config for stack 'dev': mlops-kit:shardCont: Extra inputs"):
        load_stack_config("dev", {"mlops-kit:shardCont": 2})


def test_bad_value_is_named() -> None:
    with pytest.raises(ConfigError, match=r"mlops-kit:glueWorkerType: Input should be"):
        load_stack_config("dev", {"mlops-kit:glueWorkerType": "G.16X"})


def test_contradictions_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"autoscalingMinCapacity \(3\) exceeds autoscalingMaxCapacity \(2\)"):
        load_stack_config("dev", {"mlops-kit:autoscalingMinCapacity": 3})
    with pytest.raises(ConfigError, match="shardCount is only used with streamMode PROVISIONED"):
        load_stack_config("dev", {"mlops-kit:shardCount": 2})
    with pytest.raises(ConfigError, match="logRetentionDays 10 is not one CloudWatch Logs accepts"):
        load_stack_config("dev", {"mlops-kit:logRetentionDays": 10})


def test_unknown_environment_is_named() -> None:
    with pytest.raises(ConfigError, match=r"invalid config for stack 'qa': mlops-kit:environment: Input should be"):
        load_stack_config("qa", {})


@pytest.mark.parametrize("stack", ["local", "dev", "staging", "prod"])
def test_every_stack_file_loads(stack: str) -> None:
    config = read_stack_file(stack, REPO_ROOT)
    assert config.stack == stack
    assert config.environment == stack
    assert config.region == "us-east-1"


def test_stack_files_differ_where_they_should() -> None:
    dev = read_stack_file("dev", REPO_ROOT)
    prod = read_stack_file("prod", REPO_ROOT)
    assert (dev.stream_mode, prod.stream_mode) == ("ON_DEMAND", "PROVISIONED")
    assert (dev.model_approval_required, prod.model_approval_required) == (False, True)
    assert prod.log_retention_days == 365
    assert prod.autoscaling_max_capacity == 8


def test_missing_stack_file_lists_known_stacks(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "Pulumi.dev.yaml").write_text("config: {}\n")
    with pytest.raises(ConfigError, match=r"no stack file .*Pulumi.qa.yaml for stack 'qa'; known stacks: dev"):
        read_stack_file("qa", tmp_path)


def test_project_file_defaults_are_inherited(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "Pulumi.yaml").write_text(
        "name: mlops-kit\nconfig:\n  aws:region:\n    value: eu-central-1\n"
    )
    (tmp_path / "infra" / "Pulumi.dev.yaml").write_text("config:\n  mlops-kit:owner: data-team\n")
    config = read_stack_file("dev", tmp_path)
    assert (config.region, config.owner, config.repo_root) == ("eu-central-1", "data-team", tmp_path)


def test_engine_config_strings_decode_to_yaml_shapes() -> None:
    raw = decode_config_env(
        {
            "mlops-kit:glueSchedules": '{"curate": "cron(0 1 * * ? *)"}',
            "mlops-kit:glueWorkerCount": "4",
            "aws:region": "us-east-1",
        }
    )
    assert raw == {
        "mlops-kit:glueSchedules": {"curate": "cron(0 1 * * ? *)"},
        "mlops-kit:glueWorkerCount": "4",
        "aws:region": "us-east-1",
    }
    assert load_stack_config("dev", raw).glue_schedules == {"curate": "cron(0 1 * * ? *)"}


def test_engine_config_with_bad_json_is_named() -> None:
    with pytest.raises(ConfigError, match="config key mlops-kit:glueSchedules holds invalid JSON"):
        decode_config_env({"mlops-kit:glueSchedules": "{oops"})


def test_prod_keeps_logs_at_least_a_year() -> None:
    with pytest.raises(ConfigError, match="logRetentionDays 90 is below the 365 days prod requires"):
        load_stack_config("prod", {"mlops-kit:logRetentionDays": 90})


@pytest.mark.parametrize("stack", ["local", "dev", "staging", "prod"])
def test_every_stack_file_states_its_log_retention(stack: str) -> None:
    assert "mlops-kit:logRetentionDays:" in (REPO_ROOT / "infra" / f"Pulumi.{stack}.yaml").read_text()


def test_default_network_is_two_private_zones() -> None:
    config = load_stack_config("dev", {})
    assert (config.zones, config.existing_vpc_id, config.create_vpc_endpoints) == (
        ("us-east-1a", "us-east-1b"),
        None,
        True,
    )


def test_existing_vpc_needs_its_subnets_zones_and_route_tables() -> None:
    vpc = {"mlops-kit:existingVpcId": "vpc-0123456789abcdef0"}
    subnets = {"mlops-kit:existingSubnetIds": ["subnet-0a", "subnet-0b"]}
    with pytest.raises(ConfigError, match="at least two private subnets"):
        load_stack_config("dev", vpc)
    with pytest.raises(ConfigError, match="needs availabilityZones"):
        load_stack_config("dev", {**vpc, **subnets})
    zones = {"mlops-kit:availabilityZones": ["us-east-1a", "us-east-1b"]}
    with pytest.raises(ConfigError, match="needs existingRouteTableIds"):
        load_stack_config("dev", {**vpc, **subnets, **zones})
    with pytest.raises(ConfigError, match="needs existingPrefixListIds"):
        load_stack_config("dev", {**vpc, **subnets, **zones, "mlops-kit:createVpcEndpoints": False})
    config = load_stack_config("dev", {**vpc, **subnets, **zones, "mlops-kit:existingRouteTableIds": ["rtb-1"]})
    assert config.zones == ("us-east-1a", "us-east-1b")


def test_own_endpoints_and_subnets_need_an_existing_vpc() -> None:
    with pytest.raises(ConfigError, match="only for an existingVpcId"):
        load_stack_config("dev", {"mlops-kit:createVpcEndpoints": False})
    with pytest.raises(ConfigError, match="need existingVpcId"):
        load_stack_config("dev", {"mlops-kit:existingSubnetIds": ["subnet-0a", "subnet-0b"]})


def test_the_retrained_dispatch_needs_its_token_and_aws_and_hides_the_token() -> None:
    with pytest.raises(ConfigError, match=r"retrainedDispatch needs githubDispatchToken"):
        load_stack_config("dev", {"mlops-kit:retrainedDispatch": "true"})
    gcp = {
        "mlops-kit:cloud": "gcp",
        "mlops-kit:environment": "dev",
        "gcp:project": "acme-ml",
        "mlops-kit:gcpProjectNumber": "123456",
    }
    with pytest.raises(ConfigError, match=r"retrainedDispatch is built for cloud aws only"):
        load_stack_config(
            "gcp-dev", {**gcp, "mlops-kit:retrainedDispatch": "true", "mlops-kit:githubDispatchToken": "t"}
        )
    config = load_stack_config(
        "dev", {"mlops-kit:retrainedDispatch": "true", "mlops-kit:githubDispatchToken": "tok-123"}
    )
    assert config.github_dispatch_token is not None
    assert config.github_dispatch_token.get_secret_value() == "tok-123"
    assert "tok-123" not in repr(config)
