"""The row-level quality rules of a dataset definition, and the reason each rule gives a row that breaks it.

Batch validation runs them as Great Expectations expectations (:mod:`pipelines.validation.suite`, whose
reasons come from here); the stream checks each event with :func:`row_violations`. One set of rules and one
wording for both paths: an event the stream lets through is a row a batch would keep (``allowed`` values,
``min``/``max``, non-nullable columns).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops.datasets import Column, DatasetDefinition


def not_null_reason(column: str) -> str:
    return f"{column}: null in a non-nullable column"


def between_reason(column: str, low: float | None, high: float | None) -> str:
    return f"{column}: outside [{low}, {high}]"


def allowed_reason(column: str) -> str:
    return f"{column}: not one of the allowed values"


def _allowed(value: Any, column: Column) -> bool:
    allowed = column.allowed or []
    if isinstance(value, bool):  # True == 1 to Python; a bool column's allowed values are bools
        return any(isinstance(a, bool) and a is value for a in allowed)
    return any(not isinstance(a, bool) and a == value for a in allowed)


def column_violation(value: Any, column: Column) -> str | None:
    """The reason ``value`` (typed per the column) breaks the column's rules, ``None`` when it keeps them."""
    if value is None:
        return None if column.nullable else not_null_reason(column.name)
    if (column.min is not None and value < column.min) or (column.max is not None and value > column.max):
        return between_reason(column.name, column.min, column.max)
    if column.allowed is not None and not _allowed(value, column):
        return allowed_reason(column.name)
    return None


def row_violations(row: Mapping[str, Any], definition: DatasetDefinition) -> list[str]:
    """Every rule a typed row breaks, in definition order (empty: the row is valid)."""
    reasons = (column_violation(row.get(column.name), column) for column in definition.columns)
    return [reason for reason in reasons if reason is not None]
