"""Dataset definitions: a tabular dataset described once, read by every step downstream.

A definition is a YAML file (``<datasets_dir>/<name>.yaml``) validated by :class:`DatasetDefinition`: the schema
with types and quality rules per column, the entity key, the event-time column, the label and when it arrives,
the task, and the features computed from it. Validation, feature pipelines, training, serving and monitoring all
read this model, so the kit runs on the user's data rather than on one sample.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from mlops.errors import ConfigError

ColumnType = Literal["string", "int", "double", "bool", "timestamp", "date"]
Task = Literal["classification", "regression"]
Aggregation = Literal["count", "sum", "mean", "min", "max", "std"]
CalendarPart = Literal["hour", "day_of_week", "day_of_month", "month"]

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_IDENTIFIER = r"^[a-z][a-z0-9_]*$"


def parse_duration(value: Any) -> timedelta:
    """``"30d"``, ``"12h"``, ``"15m"``, ``"90s"``, ``"2w"`` (or a timedelta / seconds) -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration like '30d', '12h', '15m', '90s' or '2w'")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(_Strict):
    """One column: its type and the quality rules a valid row satisfies."""

    name: str = Field(pattern=_IDENTIFIER)
    type: ColumnType
    description: str = ""
    nullable: bool = True
    unique: bool = False
    min: float | None = None
    max: float | None = None
    allowed: list[str | int | float | bool] | None = None

    @model_validator(mode="after")
    def _rules_fit_the_type(self) -> Column:
        numeric = self.type in ("int", "double")
        if (self.min is not None or self.max is not None) and not numeric:
            raise ValueError(f"min/max apply to int and double columns, not to {self.type!r}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.allowed is not None and not self.allowed:
            raise ValueError("allowed must list at least one value when given")
        return self


class Label(_Strict):
    """The target column and how long after the event its value becomes known (e.g. a fraud chargeback)."""

    column: str
    arrival_delay: Duration = timedelta(0)


class Feature(_Strict):
    """One feature definition, computed the same way by the batch job and by the online path.

    kinds:
      - ``column``: the source column as is (numeric or categorical);
      - ``rolling``: ``aggregation`` of ``source`` over the entity's events in the trailing ``window``,
        including the current event;
      - ``time_since_last``: seconds since the entity's previous event (null for its first event);
      - ``calendar``: a ``part`` of the event time (hour, day_of_week, ...).
    """

    name: str = Field(pattern=_IDENTIFIER)
    kind: Literal["column", "rolling", "time_since_last", "calendar"]
    source: str | None = None
    aggregation: Aggregation | None = None
    window: Duration | None = None
    part: CalendarPart | None = None
    categorical: bool = False
    description: str = ""

    @model_validator(mode="after")
    def _arguments_fit_the_kind(self) -> Feature:
        needs: dict[str, tuple[str, ...]] = {
            "column": ("source",),
            "rolling": ("source", "aggregation", "window"),
            "time_since_last": (),
            "calendar": ("part",),
        }
        missing = [arg for arg in needs[self.kind] if getattr(self, arg) is None]
        if missing:
            raise ValueError(f"a {self.kind!r} feature needs {', '.join(missing)}")
        extra = [
            arg
            for arg in ("source", "aggregation", "window", "part")
            if arg not in needs[self.kind] and getattr(self, arg) is not None
        ]
        if extra:
            raise ValueError(f"a {self.kind!r} feature takes no {', '.join(extra)}")
        return self


class QualityRules(_Strict):
    """Dataset-level rules: how many bad rows a batch may hold, how fresh and how large it must be."""

    max_bad_fraction: float = Field(default=0.05, ge=0.0, le=1.0)
    freshness: Duration | None = None
    min_rows: int = Field(default=1, ge=0)


class DatasetDefinition(_Strict):
    """A tabular dataset: schema, keys, time, label, task, features and quality rules."""

    name: str = Field(pattern=_IDENTIFIER)
    description: str = ""
    task: Task
    entity_key: str
    event_time: str
    primary_key: list[str] = Field(min_length=1)
    label: Label
    columns: list[Column] = Field(min_length=1)
    features: list[Feature] = Field(min_length=1)
    quality: QualityRules = QualityRules()

    @model_validator(mode="after")
    def _references_resolve(self) -> DatasetDefinition:
        names = [column.name for column in self.columns]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"columns are declared twice: {', '.join(duplicates)}")
        by_name = {column.name: column for column in self.columns}
        for role, column_name in (
            ("entity_key", self.entity_key),
            ("event_time", self.event_time),
            ("label.column", self.label.column),
            *(("primary_key", key) for key in self.primary_key),
            *((f"features.{f.name}.source", f.source) for f in self.features if f.source is not None),
        ):
            if column_name not in by_name:
                raise ValueError(f"{role} names column {column_name!r}, which is not declared in columns")
        if by_name[self.event_time].type not in ("timestamp", "date"):
            raise ValueError(f"event_time column {self.event_time!r} must be a timestamp or date")
        feature_names = [feature.name for feature in self.features]
        clashes = sorted({n for n in feature_names if feature_names.count(n) > 1})
        if clashes:
            raise ValueError(f"features are declared twice: {', '.join(clashes)}")
        if self.label.column in {f.source for f in self.features}:
            raise ValueError(f"label column {self.label.column!r} cannot be a feature source (target leakage)")
        return self

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def feature_names(self) -> list[str]:
        return [feature.name for feature in self.features]


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"]) or "<root>"
    return f"{location}: {error['msg']}"


def parse_definition(raw: Any, source: str) -> DatasetDefinition:
    """Validate a definition's parsed YAML; errors name the file and every bad field path."""
    if not isinstance(raw, dict):
        raise ConfigError(f"dataset definition {source} must be a mapping, not {type(raw).__name__}")
    try:
        return DatasetDefinition.model_validate(raw)
    except ValidationError as exc:
        problems = "\n  ".join(_describe(dict(err)) for err in exc.errors())
        raise ConfigError(f"dataset definition {source} is invalid:\n  {problems}") from exc


def load_definition(path: Path) -> DatasetDefinition:
    """Read and validate one definition file."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"dataset definition {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"dataset definition {path} is not valid YAML: {exc}") from exc
    return parse_definition(raw, str(path))


def find_definition(name: str, datasets_dir: Path) -> DatasetDefinition:
    """The definition named ``name`` in ``datasets_dir``; an unknown name lists the known ones."""
    path = datasets_dir / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in datasets_dir.glob("*.yaml"))
        raise ConfigError(f"unknown dataset {name!r}; defined in {datasets_dir}: {', '.join(known) or 'none'}")
    definition = load_definition(path)
    if definition.name != name:
        raise ConfigError(f"dataset definition {path} declares name {definition.name!r}; it must match the file name")
    return definition
