"""Type a batch's values per the dataset definition; a value that does not fit fails its row with a reason.

Great Expectations checks column types per column, not per row, and reports pandas' nullable dtypes under
their numpy names, so the kit types values itself and records a reason for each value that does not fit:
``amount: 'abc' is not a double``. Nulls stay null here; the suite's not-null expectations judge them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import numpy as np
import pandas as pd

from mlops.datasets import Column, DatasetDefinition

_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}
# An ISO 8601 zone designator after a time of day: 10:00Z, 10:00:00+05:30, 10:00-0200 (not a date's "-01").
_ZONE = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$")


def _numeric(values: pd.Series) -> pd.Series:
    if values.dtype == object:
        values = values.map(lambda v: v.strip() if isinstance(v, str) else v)
        # bools are numbers to pandas; a JSON true in a numeric column is a wrong type
        values = values.map(lambda v: "not-a-number" if isinstance(v, bool) else v)
    return pd.to_numeric(values, errors="coerce")


def _as_int(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    numbers = _numeric(values).astype("Float64")
    integral = numbers.isna() | (numbers == numbers.round())
    bad = integral.fillna(False) == False  # noqa: E712 - elementwise on a nullable series
    typed = numbers.where(~bad).round().astype("Int64")
    return typed, bad


def _as_double(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    typed = _numeric(values).astype("float64")
    return typed, pd.Series(False, index=values.index)


def _as_bool(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    def parse(value: object) -> object:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        text = str(value).strip().lower()
        return True if text in _TRUE else False if text in _FALSE else None

    typed = values.map(parse, na_action="ignore").astype("boolean")
    return typed, pd.Series(False, index=values.index)


def _has_zone(value: object) -> bool:
    if isinstance(value, datetime):
        return value.tzinfo is not None
    return isinstance(value, str) and _ZONE.search(value.strip()) is not None


def _as_timestamp(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Times with a zone are converted to UTC; times without one ARE UTC.

    The two kinds are parsed apart: one ``pd.to_datetime(..., utc=True)`` over a mixed column gives zone-less
    values the offset of the first zoned row it saw (``10:00`` after a ``+05:30`` row became ``04:30Z``).
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC"), pd.Series(False, index=values.index)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC"), pd.Series(False, index=values.index)
    typed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    zoned = values.map(_has_zone).astype(bool)
    if zoned.any():
        typed[zoned] = pd.to_datetime(values[zoned], utc=True, errors="coerce", format="ISO8601")
    if (~zoned).any():
        naive = pd.to_datetime(values[~zoned], errors="coerce", format="ISO8601")
        typed[~zoned] = naive.dt.tz_localize("UTC") if naive.dt.tz is None else naive.dt.tz_convert("UTC")
    return typed, pd.Series(False, index=values.index)


def _as_date(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    stamps = pd.to_datetime(values, errors="coerce", format="ISO8601")
    typed = stamps.dt.date.astype(object).where(stamps.notna(), None)
    return typed, pd.Series(False, index=values.index)


def _as_string(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    typed = values.map(str, na_action="ignore").astype(object)
    return typed, pd.Series(False, index=values.index)


_CONVERTERS: dict[str, Callable[[pd.Series], tuple[pd.Series, pd.Series]]] = {
    "int": _as_int,
    "double": _as_double,
    "bool": _as_bool,
    "timestamp": _as_timestamp,
    "date": _as_date,
    "string": _as_string,
}


def coerce_column(values: pd.Series, column: Column) -> tuple[pd.Series, pd.Series]:
    """The typed column and, per row, the reason its value does not fit (empty string when it fits)."""
    present = values.notna()
    typed, bad = _CONVERTERS[column.type](values)
    failed = (present & typed.isna()) | bad
    reasons = pd.Series("", index=values.index, dtype=object)
    if failed.any():
        shown = values[failed].map(lambda v: repr(v)[:60])
        reasons[failed] = f"{column.name}: " + shown + f" is not of type {column.type}"
    return typed, reasons


def coerce_frame(frame: pd.DataFrame, definition: DatasetDefinition) -> tuple[pd.DataFrame, pd.Series]:
    """The definition's columns typed, and per row the reasons (``; ``-joined) it fails typing."""
    typed: dict[str, pd.Series] = {}
    reasons = pd.Series("", index=frame.index, dtype=object)
    for column in definition.columns:
        typed[column.name], column_reasons = coerce_column(frame[column.name], column)
        has = column_reasons != ""
        reasons[has] = (reasons[has] + "; ").where(reasons[has] != "", "") + column_reasons[has]
    return pd.DataFrame(typed, index=frame.index), reasons
