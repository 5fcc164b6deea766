"""Dataset definitions: a tabular dataset described once, read by every step downstream.

A definition is a YAML file (``<datasets_dir>/<name>.yaml``) validated by :class:`DatasetDefinition`: the schema
with types and quality rules per column, the entity key, the event-time column, the label and when it arrives,
the task, and the features computed from it. Validation, feature pipelines, training, serving and monitoring all
read this model, so the kit runs on the user's data rather than on one sample.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from mlops.errors import ConfigError

ColumnType = Literal["string", "int", "double", "bool", "timestamp", "date"]
Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
ClassValue = bool | int | str
"""A class of a classification label: a value of the label column in its declared type (bool, int or string)."""
CLASS_TYPES: tuple[str, ...] = ("string", "int", "bool")
REGRESSION_TYPES: tuple[str, ...] = ("int", "double")
DATASETS_DIR_ENV = "MLOPS_DATASETS_DIR"
SHIPPED_DATASETS_DIR = Path(__file__).resolve().parents[1] / "pipelines" / "datasets"
"""The definitions shipped with the kit (in the wheel too): found from any working directory."""
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


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": r"^\s*\d+\s*[smhdw]\s*$"}, {"type": "number", "minimum": 0}],
            "description": "A duration: '90s', '15m', '12h', '30d', '2w', or a number of seconds.",
        }
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(_Strict):
    """One column: its type and the quality rules a valid row satisfies."""

    name: str = Field(pattern=_IDENTIFIER, description="Column name (lower snake case).", examples=["amount"])
    type: ColumnType = Field(description="Type values are coerced to; a value that does not fit is quarantined.")
    description: str = Field(default="", description="Free text for people reading the definition.")
    nullable: bool = Field(default=True, description="Whether a missing value is valid.")
    unique: bool = Field(default=False, description="Whether every value must be distinct within a batch.")
    min: float | None = Field(default=None, description="Smallest valid value (int and double columns).", examples=[0])
    max: float | None = Field(default=None, description="Largest valid value (int and double columns).", examples=[1e4])
    allowed: list[ClassValue | float] | None = Field(
        default=None,
        description="The only valid values. On a classification label column: its classes.",
        examples=[["card_present", "online"]],
    )

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
    """The target column, when its value becomes known (e.g. a fraud chargeback) and, for a binary task, which
    class is the positive outcome (PR-AUC, the gate, the served ``probability`` and monitoring are about it)."""

    column: str = Field(description="The label column (declared in columns).", examples=["is_fraud"])
    arrival_delay: Duration = Field(
        default=timedelta(0),
        description="How long after the event the label is known; training and monitoring wait that long.",
        examples=["30d"],
    )
    positive_class: ClassValue | None = Field(
        default=None,
        description=(
            "Binary tasks only, required there: the class whose probability is served and whose PR-AUC is "
            "gated and monitored. One of the label column's allowed values, in its type."
        ),
        examples=[1, "malignant"],
    )


class Feature(_Strict):
    """One feature definition, computed the same way by the batch job and by the online path.

    kinds:
      - ``column``: the source column as is (numeric or categorical);
      - ``rolling``: ``aggregation`` of ``source`` over the entity's events in the trailing ``window``,
        including the current event;
      - ``time_since_last``: seconds since the entity's previous event (null for its first event);
      - ``calendar``: a ``part`` of the event time (hour, day_of_week, ...).
    """

    name: str = Field(pattern=_IDENTIFIER, description="Feature name (the model's input column).", examples=["amount"])
    kind: Literal["column", "rolling", "time_since_last", "calendar"] = Field(
        description="column: the source as is; rolling: an aggregation over a trailing window of the entity's "
        "events; time_since_last: seconds since the entity's previous event; calendar: a part of the event time."
    )
    source: str | None = Field(
        default=None, description="Source column (column and rolling features).", examples=["amount"]
    )
    aggregation: Aggregation | None = Field(default=None, description="Rolling features: the aggregation.")
    window: Duration | None = Field(
        default=None, description="Rolling features: the trailing window.", examples=["24h"]
    )
    part: CalendarPart | None = Field(default=None, description="Calendar features: the part of the event time.")
    categorical: bool = Field(
        default=False, description="Treat the values as categories (string and bool sources always are)."
    )
    description: str = Field(default="", description="Free text for people reading the definition.")

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

    max_bad_fraction: float = Field(
        default=0.05, ge=0.0, le=1.0, description="Largest share of quarantined rows a passing batch may hold."
    )
    freshness: Duration | None = Field(
        default=None, description="The newest event of a batch must be at most this old.", examples=["2d"]
    )
    min_rows: int = Field(default=1, ge=0, description="Fewest rows a passing batch may hold.")


class TrainingWindow(_Strict):
    """Which labelled rows test and train a model, for data whose present differs from its past (drift).

    The defaults keep the plain time split: the newest fifth of the rows is the holdout, every older row trains
    with the same weight. After drift that holdout can be all present and the training rows all past; these
    fields make the holdout the present and lean the training on the rows nearest to it.
    """

    holdout: Duration | None = Field(
        default=None,
        description="The holdout is the labelled rows of this newest span (the present the quality bar and the "
        "promotion gate judge on); default: the newest fifth of the rows.",
        examples=["14d"],
    )
    window: Duration | None = Field(
        default=None,
        description="Only rows at most this much older than the holdout train; default: every older row.",
        examples=["90d"],
    )
    recency_half_life: Duration | None = Field(
        default=None,
        description="A training row's weight halves for every half-life of its age at the holdout's start; "
        "default: equal weights.",
        examples=["14d"],
    )

    @model_validator(mode="after")
    def _spans_are_positive(self) -> TrainingWindow:
        for name in ("holdout", "window", "recency_half_life"):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                raise ValueError(f"training.{name} must be a positive duration, got {value}")
        return self


class DatasetDefinition(_Strict):
    """A tabular dataset: schema, keys, time, label, task, features and quality rules."""

    name: str = Field(
        pattern=_IDENTIFIER, description="Dataset name; the file is <name>.yaml.", examples=["card_transactions"]
    )
    description: str = Field(default="", description="Free text for people reading the definition.")
    task: Task = Field(
        description="binary (two classes, label.positive_class declared), multiclass (three or more classes, "
        "declared as the label column's allowed values) or regression (a numeric label).",
        examples=["binary"],
    )
    entity_key: str = Field(
        description="Column naming the entity rows are about (rolling features and online lookups group by it).",
        examples=["customer_id"],
    )
    event_time: str = Field(description="Timestamp or date column: when the event happened.", examples=["event_time"])
    primary_key: list[str] = Field(
        min_length=1, description="Columns identifying a row; duplicates are quarantined.", examples=[["txn_id"]]
    )
    label: Label = Field(description="The target the model learns.")
    columns: list[Column] = Field(min_length=1, description="Every column of the source files.")
    features: list[Feature] = Field(min_length=1, description="The model's inputs, computed from the columns.")
    quality: QualityRules = Field(default=QualityRules(), description="Batch-level quality rules.")
    training: TrainingWindow = Field(
        default=TrainingWindow(), description="Which labelled rows test and train the model (holdout, window, weights)."
    )

    @field_validator("task", mode="before")
    @classmethod
    def _task_is_explicit(cls, value: Any) -> Any:
        if value == "classification":
            raise ValueError(
                "'classification' is no longer a task: write 'binary' (and declare label.positive_class) or "
                "'multiclass'"
            )
        return value

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
        _check_label(self.task, self.label, by_name[self.label.column])
        _check_features(self.features, by_name)
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

    @property
    def classes(self) -> tuple[ClassValue, ...]:
        """A classification task's classes (the label column's allowed values); empty for regression."""
        if self.task == "regression":
            return ()
        return tuple(v for v in self.column(self.label.column).allowed or () if not isinstance(v, float))


def _check_label(task: str, label: Label, column: Column) -> None:
    """What the trainer needs of the label, checked at load so that no data moves for a definition it cannot
    train: classes declared in the label column's type, the positive class of a binary task among them."""
    where = f"columns.{column.name}"
    if task == "regression":
        if column.type not in REGRESSION_TYPES:
            raise ValueError(f"{where}.type: a regression label must be int or double, not {column.type!r}")
        if label.positive_class is not None:
            raise ValueError("label.positive_class: only a binary task has a positive class")
        return
    if column.type not in CLASS_TYPES:
        raise ValueError(f"{where}.type: a {task} label must be string, int or bool, not {column.type!r}")
    classes = column.allowed or []
    if not classes:
        raise ValueError(f"{where}.allowed: a {task} label must list its classes")
    wrong = [value for value in classes if not _fits(value, column.type)]
    if wrong:
        raise ValueError(f"{where}.allowed: {wrong[0]!r} is not a {column.type} (the label's declared type)")
    if task == "binary":
        if len(classes) != 2:
            raise ValueError(f"{where}.allowed: a binary label has exactly two classes, not {len(classes)}")
        if label.positive_class is None:
            raise ValueError(f"label.positive_class: a binary task must declare it (one of {classes})")
        if label.positive_class not in classes or not _fits(label.positive_class, column.type):
            raise ValueError(f"label.positive_class: {label.positive_class!r} is not one of the classes {classes}")
        return
    if len(classes) < 3:
        raise ValueError(f"{where}.allowed: a multiclass label has at least three classes (two: task binary)")
    if label.positive_class is not None:
        raise ValueError("label.positive_class: only a binary task has a positive class")


def _fits(value: Any, column_type: str) -> bool:
    if column_type == "bool":
        return isinstance(value, bool)
    if column_type == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


def _check_features(features: list[Feature], by_name: dict[str, Column]) -> None:
    """Features the trainer could not use (a timestamp as a number, a mean of strings) fail here."""
    for feature in features:
        if feature.source is None:
            continue
        source_type = by_name[feature.source].type
        if feature.kind == "column" and source_type in ("timestamp", "date"):
            raise ValueError(
                f"features.{feature.name}.source: {feature.source!r} is a {source_type}; use a calendar or "
                "time_since_last feature"
            )
        if feature.kind == "rolling" and feature.aggregation != "count" and source_type not in ("int", "double"):
            raise ValueError(
                f"features.{feature.name}.aggregation: {feature.aggregation!r} needs a numeric source, "
                f"{feature.source!r} is {source_type}"
            )


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


def env_datasets_dir() -> Path | None:
    """``MLOPS_DATASETS_DIR`` when set: what a process without the kit's settings (a job script, the infra
    program) reads to find the user's definitions."""
    value = os.environ.get(DATASETS_DIR_ENV, "").strip()
    return Path(value) if value else None


def export_datasets_dir(datasets_dir: Path) -> None:
    """Hand the configured directory (from ``MLOPS_DATASETS_DIR`` or mlops.yaml) to the processes the kit starts
    (a local job run, the infra program applied locally), which read ``MLOPS_DATASETS_DIR``: absolute, so a child
    in another working directory finds it. A directory that does not exist is not handed on."""
    if datasets_dir.is_dir():
        os.environ[DATASETS_DIR_ENV] = str(datasets_dir.resolve())


def stack_definitions(repo_root: Path) -> dict[str, Path]:
    """The definition files a stack deploys (and schedules jobs for), by dataset name: the repository's
    ``pipelines/datasets``, then those of ``MLOPS_DATASETS_DIR`` (which win on a shared name) - the same search
    path :func:`find_definition` follows."""
    found: dict[str, Path] = {}
    for directory in (repo_root / "pipelines" / "datasets", env_datasets_dir()):
        if directory is not None and directory.is_dir():
            found.update({path.stem: path for path in sorted(directory.glob("*.yaml"))})
    return dict(sorted(found.items()))


def definition_dirs(datasets_dir: Path | None = None) -> list[Path]:
    """Where definitions are searched, in order: the configured directory (``MLOPS_DATASETS_DIR`` or
    ``datasets_dir`` in mlops.yaml), then the kit's shipped definitions."""
    dirs = [datasets_dir] if datasets_dir is not None else []
    if SHIPPED_DATASETS_DIR.resolve() not in {d.resolve() for d in dirs}:
        dirs.append(SHIPPED_DATASETS_DIR)
    return dirs


def find_definition(name: str, datasets_dir: Path | None = None) -> DatasetDefinition:
    """The definition named ``name`` in ``datasets_dir``, else among the shipped ones; an unknown name lists the
    known ones and where they were looked for."""
    dirs = definition_dirs(datasets_dir)
    path = next((d / f"{name}.yaml" for d in dirs if (d / f"{name}.yaml").is_file()), None)
    if path is None:
        known = sorted({p.stem for d in dirs for p in d.glob("*.yaml")})
        where = ", ".join(str(d) for d in dirs)
        raise ConfigError(f"unknown dataset {name!r}; defined in {where}: {', '.join(known) or 'none'}")
    definition = load_definition(path)
    if definition.name != name:
        raise ConfigError(f"dataset definition {path} declares name {definition.name!r}; it must match the file name")
    return definition
