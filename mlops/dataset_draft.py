"""``mlops data init``: a first dataset definition drafted from a sample file, for the user to review.

From a sample (CSV, JSON lines or Parquet) the draft infers per column its type, nullability, observed range and,
for columns with few distinct values, the allowed categories; it picks a candidate primary key (a column whose
values are all distinct), an entity key (an identifier that repeats), the event time (a timestamp column) and the
label (``--label``, else a column named like one), guesses the task from the label's values and, for a binary
task, a positive class (the rarer class, or ``1``/``true``). Every other usable column becomes a feature. The
draft is validated by the real loader before it is written, so what is written always loads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mlops.datasets import DatasetDefinition, parse_definition
from mlops.errors import ConfigError

MAX_CATEGORIES = 20
"""A string column with at most this many distinct values (and repeats) gets an ``allowed`` list."""
MAX_CLASSES = 50
"""A label with at most this many distinct values (strings or integers) is a class label."""
LABEL_NAMES = ("label", "target", "y", "class", "outcome", "diagnosis", "species")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Draft:
    """A drafted definition: the mapping written as YAML, the validated model and what was guessed."""

    raw: dict[str, Any]
    definition: DatasetDefinition
    guesses: tuple[str, ...]

    def to_yaml(self, source: str) -> str:
        header = [
            f"# Drafted by `mlops data init {self.definition.name}` from {source}: review before use.",
            *(f"# - {note}" for note in self.guesses),
            "# The format: docs/dataset-reference.md (JSON Schema for editors: docs/dataset.schema.json).",
        ]
        body = yaml.safe_dump(self.raw, sort_keys=False, default_flow_style=None, width=118)
        return "\n".join(header) + "\n" + body


def read_sample(path: Path) -> pd.DataFrame:
    """The sample file as a frame (by suffix: .csv, .parquet, .jsonl/.json)."""
    if not path.is_file():
        raise ConfigError(f"sample file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, encoding="utf-8-sig")
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".jsonl", ".json", ".ndjson"):
        return pd.read_json(path, lines=True)
    raise ConfigError(f"sample file {path}: unknown suffix {suffix!r} (csv, parquet or jsonl)")


def column_type(values: pd.Series) -> str:
    """The definition type of a sample column: bool, int, double, timestamp, date or string."""
    present = values.dropna()
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "timestamp"
    if pd.api.types.is_integer_dtype(values):
        return "int"
    if pd.api.types.is_float_dtype(values):
        floats = present.to_numpy(dtype=float)
        return "int" if floats.size and np.all(floats == np.round(floats)) else "double"
    texts = [str(v) for v in present.tolist()]
    if texts and all(_ISO_TIME.match(t) for t in texts):
        return "date" if all(_DATE_ONLY.match(t) for t in texts) else "timestamp"
    return "string"


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value YAML writes."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def describe_column(name: str, values: pd.Series, kind: str) -> dict[str, Any]:
    """One column's entry: type, nullability, uniqueness, observed range, categories."""
    present = values.dropna()
    entry: dict[str, Any] = {"name": name, "type": kind, "nullable": bool(values.isna().any())}
    distinct = present.nunique()
    identifier = kind == "string" or (kind == "int" and _name_score(name, ("id", "key")) == 0)
    if identifier and len(present) == len(values) and distinct == len(values) and len(values) > 1:
        entry["unique"] = True  # an identifier; a number that happens to be distinct in the sample is not one
    elif kind == "string" and 0 < distinct <= MAX_CATEGORIES and distinct < len(present):
        entry["allowed"] = sorted(str(v) for v in present.unique())
    if kind in ("int", "double") and len(present):
        low, high = present.min(), present.max()
        entry["min"] = int(low) if kind == "int" else float(low)
        entry["max"] = int(high) if kind == "int" else float(high)
    return entry


def _name_score(name: str, words: Sequence[str]) -> int:
    return 0 if any(w in name.lower() for w in words) else 1


def pick_event_time(kinds: dict[str, str]) -> str:
    times = [n for n, k in kinds.items() if k in ("timestamp", "date")]
    if not times:
        raise ConfigError(
            "the sample has no timestamp or date column: the kit needs an event time per row (when it happened); "
            "add one to the sample"
        )
    return sorted(times, key=lambda n: (_name_score(n, ("time", "date", "ts", "at")), kinds[n] != "timestamp"))[0]


def pick_label(frame: pd.DataFrame, given: str | None, excluded: set[str]) -> tuple[str, bool]:
    """The label column and whether it was guessed."""
    if given is not None:
        if given not in frame.columns:
            raise ConfigError(f"--label {given!r} is not a column of the sample: {', '.join(frame.columns)}")
        return given, False
    named = [c for c in frame.columns if c.lower() in LABEL_NAMES or c.lower().startswith(("is_", "has_"))]
    candidates = [c for c in named if c not in excluded] or [c for c in frame.columns if c not in excluded]
    if not candidates:
        raise ConfigError("no column is left to be the label: pass --label")
    return (candidates[0] if named else candidates[-1]), True


def pick_task(values: pd.Series, kind: str) -> str:
    distinct = values.dropna().nunique()
    if kind in ("string", "bool") or (kind == "int" and distinct <= MAX_CLASSES):
        if kind == "string" and distinct > MAX_CLASSES:
            raise ConfigError(f"label has {distinct} distinct strings: too many classes for a classifier")
        return "binary" if distinct <= 2 else "multiclass"
    if kind in ("int", "double"):
        return "regression"
    raise ConfigError(f"a {kind} column cannot be a label")


def positive_guess(values: pd.Series, kind: str) -> Any:
    """1 for 0/1 labels, true for booleans, else the rarer class (the outcome a team usually looks for)."""
    present = values.dropna()
    classes = {_plain(v) for v in present.unique()}
    if kind == "bool":
        return True
    if kind == "int" and classes <= {0, 1}:
        return 1
    counts = present.astype(str).value_counts()
    return (
        str(counts.index[-1]) if kind == "string" else _plain(present[present.astype(str) == counts.index[-1]].iloc[0])
    )


def pick_keys(frame: pd.DataFrame, columns: list[dict[str, Any]], event_time: str, label: str) -> tuple[str, str]:
    """(primary key, entity key): the first all-distinct column (ids first), and an identifier that repeats."""
    unique = [c["name"] for c in columns if c.get("unique") and c["name"] not in (label, event_time)]
    if not unique:
        raise ConfigError("no column of the sample is unique and complete: add an identifier column (the primary key)")
    primary = sorted(unique, key=lambda n: _name_score(n, ("id", "key")))[0]
    ids = [
        c["name"]
        for c in columns
        if c["type"] in ("string", "int")
        and c["name"] not in (primary, label, event_time)
        and not c.get("nullable")
        and _name_score(c["name"], ("id", "key")) == 0
    ]
    return primary, (ids[0] if ids else primary)


def draft(name: str, frame: pd.DataFrame, label: str | None = None) -> Draft:
    """Draft and validate a definition for ``frame``; raises :class:`ConfigError` naming what is missing."""
    if frame.empty:
        raise ConfigError("the sample holds no rows")
    bad = [str(c) for c in frame.columns if not _IDENTIFIER.match(str(c))]
    if bad:
        raise ConfigError(
            f"column name(s) {', '.join(map(repr, bad))} are not lower snake case (^[a-z][a-z0-9_]*$): rename them "
            "in the source, the definition names columns as the files do"
        )
    kinds = {str(c): column_type(frame[c]) for c in frame.columns}
    event_time = pick_event_time(kinds)
    label_column, guessed = pick_label(frame, label, {event_time})
    task = pick_task(frame[label_column], kinds[label_column])
    columns = [describe_column(c, frame[c], kinds[c]) for c in kinds]
    primary, entity = pick_keys(frame, columns, event_time, label_column)
    notes = [f"label {label_column!r} {'guessed' if guessed else 'given'}; task {task!r} guessed from its values"]
    label_entry: dict[str, Any] = {"column": label_column, "arrival_delay": "0s"}
    for column in columns:
        if column["name"] == label_column:
            column["nullable"] = True  # labels often arrive after the event
            if task != "regression":
                for rule in ("min", "max", "unique"):
                    column.pop(rule, None)
                column["allowed"] = sorted(_plain(v) for v in frame[label_column].dropna().unique())
    if task == "binary":
        label_entry["positive_class"] = positive_guess(frame[label_column], kinds[label_column])
        notes.append(f"positive class {label_entry['positive_class']!r} guessed: the class the model looks for")
    notes.append(f"primary key {primary!r} (all distinct in the sample), entity key {entity!r}")
    notes.append("min/max and allowed values are the sample's: widen them to what valid data may hold")
    excluded = {primary, entity, event_time, label_column}
    features = [
        {
            "name": c["name"],
            "kind": "column",
            "source": c["name"],
            **({"categorical": True} if c["type"] in ("string", "bool") else {}),
        }
        for c in columns
        if c["name"] not in excluded and c["type"] not in ("timestamp", "date") and not c.get("unique")
    ]
    if not features:
        raise ConfigError("the sample has no column left to be a feature (besides keys, time and label)")
    raw: dict[str, Any] = {
        "name": name,
        "description": "",
        "task": task,
        "entity_key": entity,
        "event_time": event_time,
        "primary_key": [primary],
        "label": label_entry,
        "columns": columns,
        "features": features,
        "quality": {"max_bad_fraction": 0.05, "min_rows": 1},
    }
    return Draft(raw, parse_definition(raw, f"<draft of {name}>"), tuple(notes))
