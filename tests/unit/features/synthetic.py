"""Events for feature tests: several entities, ties in time, nulls, and events exactly on window bounds."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from mlops.datasets import DatasetDefinition, parse_definition

START = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)

DEFINITION: dict[str, Any] = {
    "name": "parity_events",
    "task": "binary",
    "entity_key": "customer_id",
    "event_time": "event_time",
    "primary_key": ["transaction_id"],
    "label": {"column": "is_fraud", "positive_class": 1},
    "columns": [
        {"name": "transaction_id", "type": "string", "nullable": False},
        {"name": "customer_id", "type": "string", "nullable": False},
        {"name": "event_time", "type": "timestamp", "nullable": False},
        {"name": "amount", "type": "double"},
        {"name": "items", "type": "int"},
        {"name": "channel", "type": "string"},
        {"name": "is_fraud", "type": "int", "allowed": [0, 1]},
    ],
    "features": [
        {"name": "amount", "kind": "column", "source": "amount"},
        {"name": "channel", "kind": "column", "source": "channel", "categorical": True},
        {"name": "hour_of_day", "kind": "calendar", "part": "hour"},
        {"name": "day_of_week", "kind": "calendar", "part": "day_of_week"},
        {"name": "day_of_month", "kind": "calendar", "part": "day_of_month"},
        {"name": "month", "kind": "calendar", "part": "month"},
        {"name": "seconds_since_last", "kind": "time_since_last"},
        {"name": "count_1h", "kind": "rolling", "source": "amount", "aggregation": "count", "window": "1h"},
        {"name": "sum_1h", "kind": "rolling", "source": "amount", "aggregation": "sum", "window": "1h"},
        {"name": "mean_6h", "kind": "rolling", "source": "amount", "aggregation": "mean", "window": "6h"},
        {"name": "min_1d", "kind": "rolling", "source": "amount", "aggregation": "min", "window": "1d"},
        {"name": "max_1d", "kind": "rolling", "source": "amount", "aggregation": "max", "window": "1d"},
        {"name": "std_1d", "kind": "rolling", "source": "amount", "aggregation": "std", "window": "1d"},
        {"name": "items_sum_2h", "kind": "rolling", "source": "items", "aggregation": "sum", "window": "2h"},
        {"name": "items_max_2h", "kind": "rolling", "source": "items", "aggregation": "max", "window": "2h"},
    ],
}


def definition() -> DatasetDefinition:
    return parse_definition(DEFINITION, "tests/unit/features/synthetic.py")


def events(entities: int = 5, per_entity: int = 40, seed: int = 7) -> list[dict[str, Any]]:
    """Rows in shuffled order. Gaps are often exactly 1h, 2h or 6h so events sit on window bounds; some repeat
    the previous time (ties); amount, items and channel are sometimes null."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for e in range(entities):
        moment = START + timedelta(minutes=rng.randrange(0, 90))
        for i in range(per_entity):
            gap = rng.choice(
                [timedelta(0), timedelta(hours=1), timedelta(hours=2), timedelta(hours=6), timedelta(days=1)]
                + [timedelta(seconds=rng.randrange(1, 7200), microseconds=rng.randrange(0, 1_000_000))] * 4
            )
            moment += gap
            rows.append(
                {
                    "transaction_id": f"t{e}-{i:03d}",
                    "customer_id": f"c{e}",
                    "event_time": moment,
                    "amount": None if rng.random() < 0.12 else round(rng.uniform(0.5, 900.0), 2),
                    "items": None if rng.random() < 0.1 else rng.randrange(1, 9),
                    "channel": None if rng.random() < 0.1 else rng.choice(["online", "card_present"]),
                    "is_fraud": rng.choice([0, 1, None]),
                }
            )
    rng.shuffle(rows)
    return rows


def online_reference(definition: DatasetDefinition, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Features of every row by transaction id, each computed online from all the other rows of its entity."""
    from mlops.features.online import online_features

    by_entity: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_entity.setdefault(row["customer_id"], []).append(row)
    return {row["transaction_id"]: online_features(definition, row, by_entity[row["customer_id"]]) for row in rows}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def mismatches(
    expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]], features: list[str]
) -> list[str]:
    """Every (transaction, feature) whose values differ beyond 1e-9 (absolute or relative), described."""
    problems = []
    for key, want in sorted(expected.items()):
        got = actual[key]
        for name in features:
            a, b = want[name], got[name]
            if _missing(a) and _missing(b):
                continue
            if isinstance(a, str) or isinstance(b, str):
                same = a == b
            else:
                same = not _missing(a) and not _missing(b) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
            if not same:
                problems.append(f"{key}.{name}: expected {a!r}, got {b!r}")
    return problems
