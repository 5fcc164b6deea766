"""Synthetic feature tables with a learnable signal, and definitions to go with them (shared by tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mlops.datasets import DatasetDefinition, parse_definition

CATEGORIES = ["grocery", "travel", "electronics", "fuel"]
START = datetime(2025, 1, 1, tzinfo=UTC)


def definition(name: str, task: str = "binary", arrival_delay: str = "30d") -> DatasetDefinition:
    label = "is_fraud" if task == "binary" else "spend_next_30d"
    raw: dict[str, Any] = {
        "name": name,
        "task": task,
        "entity_key": "customer_id",
        "event_time": "event_time",
        "primary_key": ["transaction_id"],
        "label": {
            "column": label,
            "arrival_delay": arrival_delay,
            **({"positive_class": 1} if task == "binary" else {}),
        },
        "columns": [
            {"name": "transaction_id", "type": "string"},
            {"name": "customer_id", "type": "string"},
            {"name": "event_time", "type": "timestamp"},
            {"name": "amount", "type": "double"},
            {"name": "category", "type": "string"},
            {"name": label, "type": "int", "allowed": [0, 1]}
            if task == "binary"
            else {"name": label, "type": "double"},
        ],
        "features": [
            {"name": "amount", "kind": "column", "source": "amount"},
            {"name": "category", "kind": "column", "source": "category", "categorical": True},
            {"name": "hour_of_day", "kind": "calendar", "part": "hour"},
            {"name": "txn_count_24h", "kind": "rolling", "source": "amount", "aggregation": "count", "window": "24h"},
        ],
    }
    return parse_definition(raw, f"<test {name}>")


def feature_frame(rows: int, task: str = "binary", seed: int = 7, days: int = 120) -> pd.DataFrame:
    """``rows`` events over ``days`` days; the label depends on amount and category (plus noise)."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, days * 86400, rows))
    amount = np.round(rng.lognormal(3.5, 1.0, rows), 2)
    category = rng.choice(CATEGORIES, rows)
    frame = pd.DataFrame(
        {
            "transaction_id": [f"t{i:07d}" for i in range(rows)],
            "customer_id": [f"c{i:04d}" for i in rng.integers(0, max(rows // 20, 2), rows)],
            "event_time": [START + timedelta(seconds=int(s)) for s in seconds],
            "amount": amount,
            "category": category,
            "hour_of_day": (seconds // 3600 % 24).astype("int64"),
            "txn_count_24h": rng.integers(1, 10, rows).astype("int64"),
        }
    )
    risky = (amount > 60) & (category == "electronics") | (amount > 150)
    if task == "binary":
        flip = rng.random(rows) < 0.03
        frame["is_fraud"] = np.where(flip, ~risky, risky).astype("int64")
    else:
        effect = pd.Series(category).map({"grocery": 0.0, "travel": 40.0, "electronics": 25.0, "fuel": 5.0})
        frame["spend_next_30d"] = 2.0 * amount + effect.to_numpy() + rng.normal(0, 5, rows)
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    return frame


def end_time(frame: pd.DataFrame) -> datetime:
    """A cutoff late enough that every label in ``frame`` is known (30 days after its last event)."""
    last: datetime = frame["event_time"].max().to_pydatetime()
    return last + timedelta(days=31)


def _plain(value: Any) -> Any:
    """A definition dump as YAML-able values (durations as seconds, the form ``parse_duration`` reads)."""
    if isinstance(value, timedelta):
        return f"{int(value.total_seconds())}s"
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def definition_yaml(spec: DatasetDefinition) -> str:
    """``spec`` as the YAML file a datasets directory holds (what the stack deploys for the Prepare step)."""
    return yaml.safe_dump(_plain(spec.model_dump(exclude_defaults=True)))
