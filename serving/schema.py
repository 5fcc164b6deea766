"""The model's input schema (from its MLflow signature) and the checks a payload must pass against it.

Rows are checked in plain Python before any DataFrame exists, so one bad value is reported with its column,
row and expected type, and a batch of checked rows becomes one DataFrame with the signature's dtypes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from serving.errors import SignatureMismatchError
from serving.payload import MISSING

# MLflow DataType name -> (pandas dtype, accepted Python value types)
_INTEGRAL = ("long", "integer")
_FLOATING = ("double", "float")
_DTYPES = {
    "long": "int64",
    "integer": "int32",
    "double": "float64",
    "float": "float32",
    "string": "object",
    "boolean": "bool",
    "datetime": "datetime64[ns]",
}


@dataclass(frozen=True)
class Terms:
    """What an error calls a row and a column: a CSV or MLflow payload has rows and columns, a Vertex AI request
    instances and fields, so a message points at the place in the body the client sent."""

    row: str = "row"
    column: str = "column"


ROWS = Terms()
INSTANCES = Terms("instance", "field")


@dataclass(frozen=True)
class ColumnSpec:
    """One input column: name, MLflow type name and whether a value is required."""

    name: str
    type: str
    required: bool = True


@dataclass(frozen=True)
class InputSchema:
    """Ordered input columns of a model."""

    columns: tuple[ColumnSpec, ...]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    @classmethod
    def from_mlflow(cls, schema: Any) -> InputSchema:
        """Build from ``ModelMetadata.get_input_schema()``; only column-based signatures are served."""
        if schema is None or not getattr(schema, "has_input_names", lambda: False)():
            raise ValueError("the model has no column-based input signature (log it with a signature)")
        columns = tuple(
            ColumnSpec(name=str(spec.name), type=str(getattr(spec.type, "name", spec.type)), required=spec.required)
            for spec in schema.inputs
        )
        return cls(columns)

    def describe(self) -> str:
        return ", ".join(f"{column.name}:{column.type}" for column in self.columns)


def _from_text(value: str, spec: ColumnSpec) -> Any:
    """A CSV field as the column's type when it spells one; unchanged otherwise (then rejected by the type check)."""
    if value == "":
        return None
    try:
        if spec.type in _FLOATING:
            return float(value)
        if spec.type in _INTEGRAL:
            return int(value)
    except ValueError:
        return value
    if spec.type == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _coerce(value: Any, spec: ColumnSpec, row: int, text: bool, terms: Terms) -> Any:  # noqa: PLR0911 (one per type)
    """The value as the column's type, or a 400 naming column, row, expected type and the value."""
    if text and isinstance(value, str):
        value = _from_text(value, spec)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        # Missing numeric values are NaN, which tree models handle (e.g. the first event of an entity).
        if spec.type in _FLOATING:
            return math.nan
        raise SignatureMismatchError(
            f"{terms.column} {spec.name!r} ({terms.row} {row}) is null; the model needs a {spec.type} value"
        )
    kind = spec.type
    if kind in _FLOATING and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind in _INTEGRAL:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "datetime" and isinstance(value, str):
        return value
    raise SignatureMismatchError(
        f"{terms.column} {spec.name!r} ({terms.row} {row}) expects {kind}, got {type(value).__name__} {_preview(value)}"
    )


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_columns(schema: InputSchema, given: Sequence[str], allowed_extra: Sequence[str] = ()) -> None:
    """Missing or unexpected columns -> 400 listing them and the columns the model needs."""
    expected = schema.names
    missing = [name for name in expected if name not in given]
    extra = [name for name in given if name not in expected and name not in allowed_extra]
    problems = []
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected columns: {', '.join(extra)}")
    if problems:
        raise SignatureMismatchError(f"{'; '.join(problems)} (the model's signature is {schema.describe()})")


def check_instance_fields(
    expected: Sequence[str], columns: Sequence[str], rows: Sequence[Sequence[Any]], signature: str
) -> None:
    """Each Vertex AI instance (a row of ``columns``, :data:`~serving.payload.MISSING` where it lacks the field)
    holds exactly the ``expected`` fields; a 400 names the first instance that does not and its fields."""
    for index, row in enumerate(rows):
        held = [name for name, value in zip(columns, row, strict=True) if value is not MISSING]
        missing = [name for name in expected if name not in held]
        extra = [name for name in held if name not in expected]
        problems = [f"lacks {_fields(missing)}"] if missing else []
        problems += [f"has unexpected {_fields(extra)}"] if extra else []
        if problems:
            raise SignatureMismatchError(
                f"instance {index} {' and '.join(problems)} (the model's signature is {signature})"
            )


def _fields(names: Sequence[str]) -> str:
    return ("field " if len(names) == 1 else "fields ") + ", ".join(names)


def coerce_rows(
    schema: InputSchema, rows: Sequence[Sequence[Any]], text: bool = False, terms: Terms = ROWS
) -> list[list[Any]]:
    """Check and convert rows already in signature order; 400 on the first bad value.

    ``text`` marks values read from CSV, where every field is a string to be read as the column's type; ``terms``
    what the messages call a row and a column.
    """
    width = len(schema.columns)
    out: list[list[Any]] = []
    for index, row in enumerate(rows):
        if len(row) != width:
            raise SignatureMismatchError(
                f"{terms.row} {index} has {len(row)} values; the model needs {width} ({schema.describe()})"
            )
        out.append([_coerce(value, spec, index, text, terms) for value, spec in zip(row, schema.columns, strict=True)])
    return out


def rows_to_columns(schema: InputSchema, rows: Sequence[Sequence[Any]]) -> dict[str, list[Any]]:
    """Checked rows as each column's values by name: what a compiled model reads, with no DataFrame to build
    (building one is ~0.1-0.2 ms, as much as the compiled model's whole predict of a few rows)."""
    if not rows:
        return {column.name: [] for column in schema.columns}
    return {spec.name: list(values) for spec, values in zip(schema.columns, zip(*rows, strict=True), strict=True)}


def rows_to_frame(schema: InputSchema, rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """One DataFrame with the signature's column order and dtypes from checked rows."""
    if not rows:
        return pd.DataFrame({c.name: pd.Series([], dtype=_DTYPES.get(c.type, "object")) for c in schema.columns})
    columns = list(zip(*rows, strict=True))
    data: dict[str, Any] = {}
    for spec, values in zip(schema.columns, columns, strict=True):
        dtype = _DTYPES.get(spec.type, "object")
        data[spec.name] = (
            pd.to_datetime(list(values)) if dtype.startswith("datetime") else np.asarray(values, dtype=dtype)
        )
    return pd.DataFrame(data)
