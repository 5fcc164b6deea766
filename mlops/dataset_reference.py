"""The dataset definition format, documented from the pydantic model itself (``mlops data schema``).

:func:`render_markdown` writes ``docs/dataset-reference.md`` (every field of every section with its type, default,
description and an example) and :func:`render_json_schema` writes ``docs/dataset.schema.json`` (JSON Schema for
editors: ``# yaml-language-server: $schema=...``). Both are committed; a test compares them with a fresh render,
so the documentation cannot drift from what the loader accepts.
"""

from __future__ import annotations

import json
import types
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from mlops.datasets import (
    Column,
    DatasetDefinition,
    Feature,
    Label,
    QualityRules,
    TrainingWindow,
)

SECTIONS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("Definition (top level)", DatasetDefinition),
    ("label", Label),
    ("columns[]", Column),
    ("features[]", Feature),
    ("quality", QualityRules),
    ("training", TrainingWindow),
)

EXAMPLE = """\
name: tumours
description: Tumour examinations; the diagnosis is known a week after the visit.
task: binary
entity_key: patient_id
event_time: seen_at
primary_key: [record_id]
label:
  column: diagnosis
  arrival_delay: 7d
  positive_class: cancer        # the outcome the model looks for: its probability is served and gated
columns:
  - {name: record_id, type: string, nullable: false, unique: true}
  - {name: patient_id, type: string, nullable: false}
  - {name: seen_at, type: timestamp, nullable: false}
  - {name: size_mm, type: double, nullable: false, min: 0, max: 200}
  - {name: site, type: string, nullable: false, allowed: [breast, lung, skin]}
  - {name: diagnosis, type: string, nullable: true, allowed: [cancer, healthy]}
features:
  - {name: size_mm, kind: column, source: size_mm}
  - {name: site, kind: column, source: site, categorical: true}
  - {name: visits_365d, kind: rolling, source: size_mm, aggregation: count, window: 365d}
  - {name: hour_of_visit, kind: calendar, part: hour}
quality:
  max_bad_fraction: 0.05
  min_rows: 10
"""
"""The reference's example: a binary task with string classes (the test loads it through the real loader)."""

RULES = (
    "Names (`name`, columns, features) are lower snake case: `^[a-z][a-z0-9_]*$`.",
    "`entity_key`, `event_time`, `primary_key`, `label.column` and every feature `source` name a declared column; "
    "`event_time` is a timestamp or date column; no column or feature is declared twice.",
    "The label column is not a feature source (target leakage).",
    "`binary` and `multiclass`: the label column is string, int or bool and lists its classes in `allowed`, each "
    "of the label's type; `binary` has exactly two classes and declares `label.positive_class` (one of them); "
    "`multiclass` has at least three and no positive class.",
    "`regression`: the label column is int or double; no positive class.",
    "A `column` feature cannot take a timestamp or date source (use `calendar` or `time_since_last`); a `rolling` "
    "aggregation other than `count` needs an int or double source.",
    "`min`/`max` apply to int and double columns only, `min <= max`; `allowed`, when given, lists at least one value.",
    "Durations are written `90s`, `15m`, `12h`, `30d`, `2w` (or a number of seconds).",
)


_SCALARS: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    timedelta: "duration",
    type(None): "null",
}


def type_text(annotation: Any) -> str:
    """A field's type as a reader writes it in YAML."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    if origin is Literal:
        return " \\| ".join(f"`{value}`" for value in args)
    if origin in (Union, types.UnionType):
        return " or ".join(type_text(arg) for arg in args)
    if origin is list:
        inner = type_text(args[0])
        return f"list of ({inner})" if " or " in inner else f"list of {inner}"
    if origin is not None and args:  # Annotated[...]: the underlying type
        return type_text(args[0])
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return f"mapping ({annotation.__name__})" if is_model else str(annotation)


def _inline(value: Any) -> str:
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        return f"`{seconds}s`"
    if isinstance(value, BaseModel):
        return "all defaults"
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return f"`{text.removesuffix('...').strip()}`"


def default_text(info: FieldInfo) -> str:
    return "**required**" if info.is_required() else _inline(info.get_default(call_default_factory=True))


def example_text(info: FieldInfo) -> str:
    return _inline(info.examples[0]) if info.examples else ""


def section(title: str, model: type[BaseModel]) -> list[str]:
    doc = " ".join((model.__doc__ or "").strip().split("\n\n")[0].split())
    lines = [f"## {title}", "", doc, "", "| field | type | default | description | example |", "|---|---|---|---|---|"]
    for name, info in model.model_fields.items():
        description = (info.description or "").replace("|", "\\|")
        row = (f"`{name}`", type_text(info.annotation), default_text(info), description, example_text(info))
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


def render_markdown() -> str:
    """``docs/dataset-reference.md``: generated, do not edit by hand."""
    lines = [
        "# Dataset definition reference",
        "",
        "<!-- Generated from mlops/datasets.py by `mlops data schema --markdown --out docs/dataset-reference.md`;"
        " do not edit. -->",
        "",
        "A dataset is one YAML file, `<name>.yaml`, in the datasets directory (`MLOPS_DATASETS_DIR`, or"
        " `datasets_dir` in mlops.yaml; the kit's own definitions are found from any directory). Draft one from a"
        " sample with `mlops data init NAME --from FILE [--label COLUMN]`. Editors validate it with the JSON Schema"
        " `docs/dataset.schema.json` (first line: `# yaml-language-server: $schema=<path>/dataset.schema.json`)."
        " A definition is checked when it is loaded, before any data moves; an error names the field.",
        "",
    ]
    for title, model in SECTIONS:
        lines.extend(section(title, model))
    lines.extend(["## Rules checked at load", "", *(f"- {rule}" for rule in RULES), ""])
    lines.extend(["## Example", "", "```yaml", EXAMPLE.rstrip("\n"), "```", ""])
    return "\n".join(lines)


def render_json_schema() -> str:
    """``docs/dataset.schema.json``: the model's JSON Schema (draft 2020-12), pretty-printed."""
    schema = DatasetDefinition.model_json_schema()
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return json.dumps(document, indent=2) + "\n"


def write(kind: Literal["markdown", "json"], out: Path) -> Path:
    """Render ``kind`` to ``out`` (its folder created); returns ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_markdown() if kind == "markdown" else render_json_schema())
    return out


__all__ = ["Column", "DatasetDefinition", "Feature", "Label", "QualityRules", "render_json_schema", "render_markdown"]
