"""`mlops infra cost`: a stack's monthly estimate from its config and the dated price table, with its switches."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from infra.config import REPO_ROOT, read_stack_file
from infra.pricing import Footprint, estimate, footprint_of, load_prices, runs_per_month
from mlops.cli.main import app
from mlops.errors import ConfigError


def _lines(stack: str, **changes: object) -> dict[str, float]:
    config = read_stack_file(stack, REPO_ROOT).model_copy(update=changes)
    prices = load_prices(REPO_ROOT, config.region)
    result = estimate(config, prices, footprint_of(config))
    return {line.item: line.monthly for line in result.lines}


def test_the_newest_dated_table_is_used_and_a_date_can_be_asked_for() -> None:
    prices = load_prices(REPO_ROOT, "us-east-1")
    assert prices.as_of == "2026-11-01"
    assert prices.price("sagemaker_hosting_per_hour", "ml.c5.xlarge") == 0.204
    assert load_prices(REPO_ROOT, "us-east-1", "2026-11-01").source == prices.source
    with pytest.raises(ConfigError, match="no price file for 1999-01-01"):
        load_prices(REPO_ROOT, "us-east-1", "1999-01-01")
    with pytest.raises(ConfigError, match="has no prices for region 'mars-1'"):
        load_prices(REPO_ROOT, "mars-1")
    with pytest.raises(ConfigError, match=r"no sagemaker_hosting_per_hour price for 'ml\.p5\.48xlarge'"):
        prices.price("sagemaker_hosting_per_hour", "ml.p5.48xlarge")


def test_prod_is_priced_from_its_config() -> None:
    lines = _lines("prod")
    assert lines["SageMaker endpoint: 2 x ml.c5.xlarge"] == round(2 * 730 * 0.204, 2)
    assert lines["SageMaker managed MLflow: Medium"] == round(730 * 1.40, 2)
    assert lines["Kinesis: 4 provisioned shards"] == round(4 * 730 * 0.015, 2)
    assert lines["training: 4 runs x 1.0 h on ml.m5.4xlarge"] == round(4 * 0.922, 2)
    assert lines["VPC interface endpoints: 10 in 2 zones"] == 146.0
    glue = next(v for k, v in lines.items() if k.startswith("Glue:"))
    scripts = len([p for p in (REPO_ROOT / "jobs").glob("*.py") if not p.name.startswith("_")])
    datasets = len(list((REPO_ROOT / "pipelines" / "datasets").glob("*.yaml")))
    assert glue == round(scripts * datasets * 30.4 * 10 / 60 * 20 * 0.44, 2)


def test_the_switches_take_the_endpoint_and_the_mlflow_server_out() -> None:
    config = read_stack_file("dev", REPO_ROOT).model_copy(
        update={"endpoint_enabled": False, "mlflow_tracking_server": False, "mlflow_tracking_uri": "arn:x"}
    )
    result = estimate(config, load_prices(REPO_ROOT, "us-east-1"), footprint_of(config))
    assert not [line for line in result.lines if line.item.startswith(("SageMaker endpoint", "SageMaker managed"))]
    assert result.switched_off == [
        "endpoint (endpointEnabled: false)",
        "managed MLflow server (mlflowTrackingServer: false)",
    ]
    full = _lines("dev")
    assert round(sum(full.values()) - result.total, 2) == round(730 * 0.115 + 730 * 0.60, 2)


def test_usage_settings_scale_their_lines() -> None:
    base = _lines("dev")
    more = _lines("dev", training_runs_per_month=8, glue_minutes_per_run=20.0)
    training = "training: {} runs x 1.0 h on ml.m5.xlarge"
    assert more[training.format(8)] == 2 * base[training.format(4)]
    glue = next(k for k in base if k.startswith("Glue:"))
    assert next(v for k, v in more.items() if k.startswith("Glue:")) == pytest.approx(2 * base[glue], abs=0.02)


@pytest.mark.parametrize(
    ("schedule", "runs"),
    [("cron(0 3 * * ? *)", 30.4), ("cron(0,30 3,15 * * ? *)", 121.6), ("rate(6 hours)", 121.6), ("rate(1 day)", 30.4)],
)
def test_schedules_become_runs_a_month(schedule: str, runs: float) -> None:
    assert runs_per_month(schedule) == pytest.approx(runs)


def test_an_unreadable_schedule_is_named() -> None:
    with pytest.raises(ConfigError, match=r"schedule 'cron\(0/5 \* \* \* \? \*\)'"):
        runs_per_month("cron(0/5 * * * ? *)")


def test_a_stack_without_its_mlflow_server_must_name_one() -> None:
    from infra.config import load_stack_config

    with pytest.raises(ConfigError, match="mlflowTrackingServer: false needs mlflowTrackingUri"):
        load_stack_config("dev", {"mlops-kit:mlflowTrackingServer": False})


def test_cli_prints_the_estimate() -> None:
    result = CliRunner().invoke(app, ["infra", "cost", "--stack", "staging", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["prices_as_of"] == "2026-11-01"
    assert document["monthly_total_usd"] == round(sum(line["monthly_usd"] for line in document["lines"]), 2)
    assert "S3 storage and requests" in document["not_estimated"]
    table = CliRunner().invoke(app, ["infra", "cost", "--stack", "staging"])
    assert table.exit_code == 0 and "total" in table.output


def test_footprint_follows_the_program() -> None:
    config = read_stack_file("dev", REPO_ROOT)
    footprint = footprint_of(config)
    assert isinstance(footprint, Footprint)
    assert footprint.alarms == 7 and footprint.interface_endpoints == 10
    closed = footprint_of(
        config.model_copy(
            update={
                "existing_vpc_id": "vpc-0123456789abcdef0",
                "create_vpc_endpoints": False,
            }
        )
    )
    assert closed.interface_endpoints == 0
