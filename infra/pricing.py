"""A monthly cost estimate of a stack, from its config and a dated price table kept in the repository.

``infra/prices/aws-<date>.yaml`` holds on-demand list prices; the newest file is used unless a date is asked for.
The estimate covers what runs by the hour or by the run (endpoint instances, the managed MLflow server, training
and processing jobs, Glue runs, stream shards, interface endpoints) and the fixed monthly items (key, alarms,
dashboard); data-driven charges (S3 storage, requests, Firehose and log volume) depend on traffic and are listed
as not estimated. The two big switches are per stack: ``mlflowTrackingServer`` and ``endpointEnabled``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.config import StackConfig
from mlops.errors import ConfigError

PRICES_DIR = Path("infra") / "prices"
DAYS_PER_MONTH = 30.4
NOT_ESTIMATED = (
    "S3 storage and requests",
    "DynamoDB requests and storage (on-demand)",
    "Firehose ingestion and CloudWatch Logs volume",
    "data transfer",
    "SageMaker endpoint invocations beyond the instances (none: billed by instance hour)",
)


@dataclass(frozen=True)
class PriceTable:
    """One dated price file, for one region."""

    as_of: str
    region: str
    hours_per_month: float
    prices: Mapping[str, Any]
    source: Path

    def price(self, key: str, item: str | None = None) -> float:
        """A price (``item`` within a per-type table); an unknown one names the table and what it holds."""
        value = self.prices.get(key)
        if item is not None:
            table = value if isinstance(value, Mapping) else {}
            if item not in table:
                raise ConfigError(
                    f"{self.source.name} ({self.region}) has no {key} price for {item!r}; "
                    f"priced: {', '.join(sorted(table)) or 'none'} - add it to a newer price file"
                )
            value = table[item]
        if not isinstance(value, int | float):
            raise ConfigError(f"{self.source.name} ({self.region}) has no price {key!r}")
        return float(value)


def require_priced_cloud(config: StackConfig) -> None:
    """The price tables are AWS's: a ``cloud: gcp`` stack is refused by name rather than with a missing region."""
    if config.cloud != "aws":
        raise ConfigError(
            f"stack {config.stack!r} is cloud: {config.cloud}; the cost estimate prices AWS stacks only "
            "(infra/prices/aws-<date>.yaml): no Google Cloud price table yet"
        )


def load_prices(repo_root: Path, region: str, as_of: str | None = None) -> PriceTable:
    """The newest price file (or the one of date ``as_of``) for ``region``."""
    files = sorted((repo_root / PRICES_DIR).glob("aws-*.yaml"))
    if as_of is not None:
        files = [f for f in files if f.stem == f"aws-{as_of}"]
    if not files:
        raise ConfigError(f"no price file {'for ' + as_of + ' ' if as_of else ''}under {repo_root / PRICES_DIR}")
    path = files[-1]
    document = yaml.safe_load(path.read_text()) or {}
    regions = document.get("regions") or {}
    if region not in regions:
        raise ConfigError(f"{path.name} has no prices for region {region!r}; priced: {', '.join(sorted(regions))}")
    return PriceTable(
        as_of=str(document["as_of"]),
        region=region,
        hours_per_month=float(document.get("hours_per_month", 730)),
        prices=regions[region],
        source=path,
    )


def runs_per_month(schedule: str) -> float:
    """Runs a month of a Glue schedule: ``rate(N unit)``, or ``cron(M H ...)`` with any days (a run per listed
    hour and minute a day). Other forms raise, naming the expression."""
    rate = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", schedule)
    if rate:
        every, unit = int(rate[1]), rate[2].rstrip("s")
        per_day = {"minute": 1440, "hour": 24, "day": 1}[unit] / every
        return per_day * DAYS_PER_MONTH
    cron = re.fullmatch(r"cron\((\S+) (\S+) (\S+) (\S+) (\S+)(?: (\S+))?\)", schedule)
    if cron and all(re.fullmatch(r"\d+(,\d+)*", part) for part in (cron[1], cron[2])):
        days = DAYS_PER_MONTH if cron[3] in ("*", "?") and cron[5] in ("*", "?") else DAYS_PER_MONTH / 7
        return len(cron[1].split(",")) * len(cron[2].split(",")) * days
    raise ConfigError(f"schedule {schedule!r}: the estimate reads rate(N unit) or cron(M H ...) with fixed times")


@dataclass(frozen=True)
class Line:
    """One priced item: what, how much of it a month, at what unit price."""

    item: str
    quantity: float
    unit: str
    unit_price: float

    @property
    def monthly(self) -> float:
        return round(self.quantity * self.unit_price, 2)


@dataclass(frozen=True)
class Estimate:
    stack: str
    region: str
    as_of: str
    lines: list[Line]
    switched_off: list[str] = field(default_factory=list)
    not_estimated: tuple[str, ...] = NOT_ESTIMATED

    @property
    def total(self) -> float:
        return round(sum(line.monthly for line in self.lines), 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "prices_as_of": self.as_of,
            "monthly_total_usd": self.total,
            "lines": [
                {
                    "item": line.item,
                    "quantity": round(line.quantity, 2),
                    "unit": line.unit,
                    "unit_price_usd": line.unit_price,
                    "monthly_usd": line.monthly,
                }
                for line in self.lines
            ],
            "switched_off": self.switched_off,
            "not_estimated": list(self.not_estimated),
        }


@dataclass(frozen=True)
class Footprint:
    """What the program declares that the config alone does not say: scheduled Glue runs, interface endpoints,
    alarms (from ``infra/components``, so the estimate follows the program)."""

    glue_triggers: list[str]
    interface_endpoints: int
    alarms: int


def estimate(config: StackConfig, prices: PriceTable, footprint: Footprint) -> Estimate:
    """The stack's monthly cost at ``prices``."""
    hours = prices.hours_per_month
    lines: list[Line] = []
    off: list[str] = []
    if config.endpoint_enabled:
        lines.append(
            Line(
                f"SageMaker endpoint: {config.endpoint_instance_count} x {config.endpoint_instance_type}",
                config.endpoint_instance_count * hours,
                "instance-hours",
                prices.price("sagemaker_hosting_per_hour", config.endpoint_instance_type),
            )
        )
    else:
        off.append("endpoint (endpointEnabled: false)")
    if config.mlflow_tracking_server:
        lines.append(
            Line(
                f"SageMaker managed MLflow: {config.mlflow_server_size}",
                hours,
                "server-hours",
                prices.price("mlflow_tracking_server_per_hour", config.mlflow_server_size),
            )
        )
    else:
        off.append("managed MLflow server (mlflowTrackingServer: false)")
    runs = config.training_runs_per_month
    lines += [
        Line(
            f"training: {runs} runs x {config.training_hours_per_run} h on {config.training_instance_type}",
            runs * config.training_hours_per_run,
            "instance-hours",
            prices.price("sagemaker_training_per_hour", config.training_instance_type),
        ),
        Line(
            f"pipeline processing steps: {runs} runs x {config.processing_hours_per_run} h on ml.m5.xlarge",
            runs * config.processing_hours_per_run,
            "instance-hours",
            prices.price("sagemaker_processing_per_hour", "ml.m5.xlarge"),
        ),
    ]
    glue_runs = sum(runs_per_month(schedule) for schedule in footprint.glue_triggers)
    dpus = config.glue_worker_count * prices.price("glue_dpus_per_worker", config.glue_worker_type)
    lines.append(
        Line(
            f"Glue: {len(footprint.glue_triggers)} schedules, {glue_runs:.0f} runs x {config.glue_minutes_per_run:g} "
            f"min x {dpus:g} DPU ({config.glue_worker_count} x {config.glue_worker_type})",
            glue_runs * config.glue_minutes_per_run / 60 * dpus,
            "DPU-hours",
            prices.price("glue_per_dpu_hour"),
        )
    )
    if config.stream_mode == "PROVISIONED":
        lines.append(
            Line(
                f"Kinesis: {config.shard_count} provisioned shards",
                config.shard_count * hours,
                "shard-hours",
                prices.price("kinesis_shard_hour"),
            )
        )
    else:
        lines.append(
            Line("Kinesis: on-demand stream", hours, "stream-hours", prices.price("kinesis_on_demand_stream_hour"))
        )
    if footprint.interface_endpoints:
        lines.append(
            Line(
                f"VPC interface endpoints: {footprint.interface_endpoints} in {len(config.zones)} zones",
                footprint.interface_endpoints * len(config.zones) * hours,
                "endpoint-zone-hours",
                prices.price("vpc_interface_endpoint_az_hour"),
            )
        )
    lines += [
        Line("KMS key", 1, "keys", prices.price("kms_key_month")),
        Line(
            f"CloudWatch alarms: {footprint.alarms}", footprint.alarms, "alarms", prices.price("cloudwatch_alarm_month")
        ),
        Line("CloudWatch dashboard", 1, "dashboards", prices.price("cloudwatch_dashboard_month")),
    ]
    return Estimate(config.stack, prices.region, prices.as_of, lines, off)


def footprint_of(config: StackConfig) -> Footprint:
    """The program's declared counts for ``config``: a schedule per job script and dataset, one interface endpoint
    per service the kit's network reaches privately (when it creates them), one alarm per threshold."""
    from infra.components.network import INTERFACE_SERVICES
    from infra.components.processing import discover_job_scripts
    from infra.thresholds import alarm_specs
    from mlops.datasets import stack_definitions

    scripts = discover_job_scripts(config.repo_root / "jobs")
    datasets = stack_definitions(config.repo_root)
    triggers = [config.glue_schedules.get(stem, config.glue_schedule) for stem in scripts for _ in datasets]
    alarms = alarm_specs(config.thresholds())
    return Footprint(
        glue_triggers=triggers,
        interface_endpoints=len(INTERFACE_SERVICES) if config.create_vpc_endpoints else 0,
        alarms=len(alarms),
    )
