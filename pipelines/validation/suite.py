"""The Great Expectations suite a dataset definition implies, run on an ephemeral context.

Per column: not null (``nullable: false``), between ``min`` and ``max``, in ``allowed``, unique. Per table:
the exact column set, the primary key unique, at least ``quality.min_rows`` rows, and the newest event no
older than ``quality.freshness``. Row-level expectations report the row numbers that fail (the frame's index),
so each failing row gets a reason; table-level ones fail the run as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from mlops.datasets import DatasetDefinition
from pipelines.ingest.records import ROW_NUMBER
from pipelines.validation import rules


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict; ``rows`` are the failing row numbers of a row-level expectation."""

    expectation: str
    column: str | None
    success: bool
    reason: str
    rows: list[int] = field(default_factory=list)
    observed: str | None = None


def build_suite(definition: DatasetDefinition, now: datetime) -> Any:
    """The code-defined suite for ``definition`` (``now`` anchors the freshness check)."""
    import great_expectations as gx
    from great_expectations import expectations

    gxe: Any = expectations  # GX exports its expectation classes without declaring them in __all__

    suite = gx.ExpectationSuite(name=f"{definition.name}_batch")
    suite.add_expectation(gxe.ExpectTableColumnsToMatchSet(column_set=definition.column_names, exact_match=True))
    suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=definition.quality.min_rows))
    for column in definition.columns:
        if not column.nullable:
            suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column.name))
        if column.min is not None or column.max is not None:
            suite.add_expectation(
                gxe.ExpectColumnValuesToBeBetween(column=column.name, min_value=column.min, max_value=column.max)
            )
        if column.allowed is not None:
            suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column=column.name, value_set=column.allowed))
        if column.unique:
            suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column=column.name))
    keys = definition.primary_key
    if len(keys) == 1 and not definition.column(keys[0]).unique:
        suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column=keys[0]))
    elif len(keys) > 1:
        suite.add_expectation(gxe.ExpectCompoundColumnsToBeUnique(column_list=keys))
    if definition.quality.freshness is not None:
        oldest_allowed = pd.Timestamp(now - definition.quality.freshness)
        suite.add_expectation(
            gxe.ExpectColumnMaxToBeBetween(column=definition.event_time, min_value=oldest_allowed.isoformat())
        )
    return suite


def _reason(kind: str, kwargs: dict[str, Any]) -> str:
    column = kwargs.get("column")
    reasons = {
        "expect_column_values_to_not_be_null": rules.not_null_reason(str(column)),
        "expect_column_values_to_be_between": rules.between_reason(
            str(column), kwargs.get("min_value"), kwargs.get("max_value")
        ),
        "expect_column_values_to_be_in_set": rules.allowed_reason(str(column)),
        "expect_column_values_to_be_unique": f"{column}: duplicate value",
        "expect_compound_columns_to_be_unique": f"duplicate primary key ({', '.join(kwargs.get('column_list', []))})",
        "expect_table_columns_to_match_set": "the column set differs from the definition",
        "expect_table_row_count_to_be_between": f"fewer rows than quality.min_rows ({kwargs.get('min_value')})",
        "expect_column_max_to_be_between": f"{column}: newest event older than quality.freshness",
    }
    return reasons.get(kind, kind)


def _row_number(entry: Any) -> int:
    # GX lists a failing row as {index name: value, column: value} when the index is named
    return int(entry[ROW_NUMBER] if isinstance(entry, dict) else entry)


def run_suite(frame: pd.DataFrame, definition: DatasetDefinition, now: datetime) -> list[ExpectationOutcome]:
    """Validate ``frame`` (typed, indexed by row number) against the definition's suite."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas(definition.name).add_dataframe_asset("batch")
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(build_suite(definition, now), result_format={"result_format": "COMPLETE"})
    outcomes = []
    for item in result.results:
        config = item.expectation_config
        kwargs = dict(config.kwargs)
        info = item.exception_info or {}
        if info.get("raised_exception"):
            reason = f"{_reason(config.type, kwargs)}: the check raised {info.get('exception_message')}"
            outcomes.append(ExpectationOutcome(config.type, kwargs.get("column"), False, reason))
            continue
        rows = [_row_number(entry) for entry in item.result.get("unexpected_index_list") or []]
        observed = item.result.get("observed_value")
        outcomes.append(
            ExpectationOutcome(
                config.type,
                kwargs.get("column"),
                bool(item.success),
                _reason(config.type, kwargs),
                rows,
                None if observed is None else str(observed),
            )
        )
    return outcomes
