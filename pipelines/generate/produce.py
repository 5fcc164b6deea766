"""Produce a shipped dataset into a file: ``mlops data generate`` calls :func:`generate`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from mlops.errors import DatasetError
from pipelines.generate.card_transactions import DEFAULT_START, CardOptions, DriftKind, generate_card_transactions
from pipelines.generate.diabetes import DEFAULT_START as DIABETES_START
from pipelines.generate.diabetes import SOURCE_ROWS, export_diabetes
from pipelines.generate.writers import write_frame
from pipelines.ingest.formats import FileFormat


@dataclass(frozen=True)
class GenerateRequest:
    """What to produce and where; ``start``/``drift_start`` are timezone-aware."""

    dataset: str
    rows: int
    out: Path
    file_format: FileFormat
    seed: int = 0
    start: datetime | None = None
    drift_start: datetime | None = None
    drift: Sequence[str] = ()


@dataclass(frozen=True)
class GenerateResult:
    """What was written, how long producing and writing took, and any note for the user."""

    dataset: str
    rows: int
    path: Path
    file_format: FileFormat
    produce_seconds: float
    write_seconds: float
    notes: list[str] = field(default_factory=list)


def _card_transactions(request: GenerateRequest, notes: list[str]) -> pd.DataFrame:
    kinds = []
    for kind in request.drift:
        try:
            kinds.append(DriftKind(kind))
        except ValueError:
            allowed = ", ".join(k.value for k in DriftKind)
            raise DatasetError(f"unknown drift kind {kind!r} for card_transactions; use one of: {allowed}") from None
    try:
        options = CardOptions(
            rows=request.rows,
            seed=request.seed,
            start=request.start or DEFAULT_START,
            drift_start=request.drift_start,
            drift=frozenset(kinds),
        )
    except ValueError as exc:
        raise DatasetError(f"card_transactions: {exc}") from exc
    return generate_card_transactions(options)


def _diabetes(request: GenerateRequest, notes: list[str]) -> pd.DataFrame:
    if request.drift or request.drift_start is not None:
        raise DatasetError("diabetes is a fixed real dataset: drift options apply to card_transactions only")
    if request.rows > SOURCE_ROWS:
        notes.append(f"diabetes has {SOURCE_ROWS} rows: --rows {request.rows} capped at {SOURCE_ROWS}")
    if request.rows < 1:
        raise DatasetError(f"rows must be at least 1, got {request.rows}")
    return export_diabetes(request.rows, request.start or DIABETES_START)


PRODUCERS: dict[str, Callable[[GenerateRequest, list[str]], pd.DataFrame]] = {
    "card_transactions": _card_transactions,
    "diabetes": _diabetes,
}


def generate(request: GenerateRequest) -> GenerateResult:
    """Produce ``request.dataset`` and write it to ``request.out``."""
    producer = PRODUCERS.get(request.dataset)
    if producer is None:
        known = ", ".join(sorted(PRODUCERS))
        raise DatasetError(f"no producer for dataset {request.dataset!r}; producers exist for: {known}")
    notes: list[str] = []
    began = time.perf_counter()
    frame = producer(request, notes)
    produced = time.perf_counter()
    try:
        write_frame(frame, request.out, request.file_format)
    except OSError as exc:
        raise DatasetError(f"cannot write {request.dataset} to {request.out}: {exc}") from exc
    return GenerateResult(
        dataset=request.dataset,
        rows=len(frame),
        path=request.out,
        file_format=request.file_format,
        produce_seconds=produced - began,
        write_seconds=time.perf_counter() - produced,
        notes=notes,
    )
