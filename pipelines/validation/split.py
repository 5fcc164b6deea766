"""Split a batch's records into valid, typed rows and quarantined rows with a reason each (pure, no I/O).

Order of judgement: parse failures, then the column set, then typing, then the Great Expectations suite. A row
collects every reason that applies (``; ``-joined), so one look at quarantine says all that is wrong with it.

Column set decisions:
- a missing column quarantines every row of the batch (``missing column(s): ...``) and fails the run: the
  producer broke the contract and no row can be judged complete;
- an extra column is dropped with a warning recorded in the result: upstream adding a field is a compatible
  change, and quarantining whole batches for it would stop the pipeline over data nobody reads yet.

Every quarantined row keeps the record as read in ``_raw`` (a JSON object of all its columns, or the text of a
record that did not parse), whatever its reason: a renamed or extra column's values are not lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from mlops.datasets import DatasetDefinition
from pipelines.ingest.records import ROW_NUMBER, RawRecords
from pipelines.validation.coerce import coerce_frame
from pipelines.validation.suite import ExpectationOutcome, run_suite

REASON = "_reason"
BATCH_ID = "_batch_id"
RAW = "_raw"


@dataclass
class Split:
    """Valid typed rows (definition columns), quarantined rows (as text, with reasons) and the verdicts."""

    valid: pd.DataFrame
    quarantine: pd.DataFrame
    rows_in: int
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    outcomes: list[ExpectationOutcome] = field(default_factory=list)

    @property
    def reasons(self) -> dict[str, int]:
        """How many quarantined rows carry each reason."""
        counts: dict[str, int] = {}
        for joined in self.quarantine[REASON]:
            for reason in str(joined).split("; "):
                counts[reason] = counts.get(reason, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _add(reasons: pd.Series, rows: pd.Index | list[int], reason: str) -> None:
    current = reasons.loc[rows]
    reasons.loc[rows] = current.where(current == "", current + "; ") + reason


def _raw_records(frame: pd.DataFrame) -> list[str]:
    """Each row as read, every column (also the ones the definition lacks or renamed), as one JSON object."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return [json.dumps(row, default=str) for row in rows]


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.apply(lambda col: col.map(str, na_action="ignore").astype(object).where(col.notna(), None))


def split_batch(records: RawRecords, definition: DatasetDefinition, batch_id: str, now: datetime) -> Split:
    """Judge every record of a batch; ``rows_in`` equals valid plus quarantined rows by construction."""
    warnings: list[str] = []
    failures: list[str] = []
    names = definition.column_names
    extra = [name for name in records.columns if name not in names]
    missing = [name for name in names if name not in records.columns]
    if extra:
        warnings.append(f"extra column(s) dropped: {', '.join(extra)}")
    frame = records.frame.reindex(columns=names)  # absent columns appear as nulls for quarantine
    reasons = pd.Series("", index=frame.index, dtype=object)
    outcomes: list[ExpectationOutcome] = []
    typed = frame.iloc[0:0]
    if missing:
        message = f"missing column(s): {', '.join(missing)}"
        failures.append(message)
        _add(reasons, frame.index, message)
    else:
        typed, type_reasons = coerce_frame(frame, definition)
        reasons = type_reasons
        outcomes = run_suite(typed[reasons == ""], definition, now)
        for outcome in outcomes:
            if outcome.success:
                continue
            if outcome.rows:
                _add(reasons, outcome.rows, outcome.reason)
            else:
                failures.append(f"{outcome.reason} (observed: {outcome.observed})")
    bad = reasons != ""
    quarantine = _as_text(frame[bad])
    quarantine[RAW] = _raw_records(records.frame[bad])
    quarantine[REASON] = reasons[bad]
    parse = pd.DataFrame(
        {RAW: [f.raw for f in records.failures], REASON: [f.reason for f in records.failures]},
        index=pd.Index([f.row_number for f in records.failures], name=ROW_NUMBER, dtype="int64"),
    )
    quarantine = pd.concat([quarantine, parse.reindex(columns=quarantine.columns)]).sort_index()
    quarantine[BATCH_ID] = batch_id
    quarantine = quarantine.reset_index()
    valid = typed[~bad] if not missing else typed
    split = Split(valid.reset_index(drop=True), quarantine, records.rows_in, failures, warnings, outcomes)
    bad_fraction = len(quarantine) / records.rows_in if records.rows_in else 0.0
    if bad_fraction > definition.quality.max_bad_fraction:
        failures.append(
            f"{len(quarantine)} of {records.rows_in} rows are bad ({bad_fraction:.2%}), "
            f"more than quality.max_bad_fraction {definition.quality.max_bad_fraction:.2%}"
        )
    return split
