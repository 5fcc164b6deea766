"""Send a dataset file's rows to the stack's event stream as JSON events, one per row.

The file (CSV, JSON lines or Parquet, as ``mlops data generate`` writes them) is read leniently, typed per the
dataset definition, and each row is checked the way the consumer will check it (:func:`check_event` on the
exact JSON sent), so every event on the stream parses downstream. Rows that fail are not sent: they go to the
quarantine zone with their reason. The partition key is the entity key, so one entity's events keep their order.

Rows are checked a chunk at a time, and each chunk is checked while the previous one is being put (one put in
flight, so the order holds): on the main job's 30,000 rows the checks and the emulator's work overlap.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mlops.datasets import DatasetDefinition
from mlops.errors import DatasetError
from mlops.platform import Platform
from mlops.ports.events import EventStream, OutgoingEvent, PutOutcome
from pipelines.ingest.formats import format_of
from pipelines.ingest.records import read_records
from pipelines.stream.events import EventError, check_event, encode_event
from pipelines.stream.quarantine import Quarantine
from pipelines.validation.coerce import coerce_frame

CHUNK = 500  # records per put call without --rate: progress moves, and the adapter batches each chunk itself


@dataclass(frozen=True)
class ProduceResult:
    """What a produce run did."""

    dataset: str
    stream: str
    rows_read: int
    sent: int
    quarantined: int
    put_calls: int
    retried: int
    seconds: float
    quarantine_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Prepared:
    records: list[OutgoingEvent]
    rows_read: int


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, list | dict) and pd.isna(value)):
        return None
    return value


def _shown(original: dict[str, Any]) -> str:
    """A quarantined row as read from the file."""
    return json.dumps({k: _plain(v) for k, v in original.items()}, default=str)


@dataclass(frozen=True)
class _Source:
    """A file's rows, read and typed; ``reasons`` says why a row cannot be sent (empty: it can)."""

    frame: pd.DataFrame  # as read, for the quarantine
    typed: pd.DataFrame
    reasons: list[str]
    rows_read: int


def _read(path: Path, definition: DatasetDefinition, quarantine: Quarantine) -> _Source:
    """The file's rows typed per the definition; records that do not parse at all go to ``quarantine``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    raw = read_records(data, format_of(path), str(path))
    for failure in raw.failures:
        quarantine.add(failure.reason, failure.raw, row_number=failure.row_number)
    frame = raw.frame.copy()
    for name in definition.column_names:
        if name not in frame.columns:
            frame[name] = None  # an absent nullable column is fine; an absent required one fails below
    typed, reasons = coerce_frame(frame, definition)
    return _Source(frame, typed, list(reasons), raw.rows_in)


def _checked(
    source: _Source, definition: DatasetDefinition, quarantine: Quarantine, start: int, stop: int
) -> list[OutgoingEvent]:
    """Rows ``start:stop`` of ``source`` as stream records; the invalid ones are added to ``quarantine``."""
    records: list[OutgoingEvent] = []
    rows = source.typed.iloc[start:stop]
    # Rows as dicts, not iterrows(): a Series per row cost ~1 s per 12,000 rows. The row as read is looked up
    # only for a quarantined one.
    for position, (number, values) in enumerate(zip(rows.index, rows.to_dict(orient="records"), strict=True), start):
        reason = source.reasons[position]
        if not reason:
            body = encode_event({name: _plain(values[name]) for name in definition.column_names})
            try:
                row = check_event(json.loads(body), definition)
            except EventError as exc:
                reason = str(exc)
            else:
                records.append(OutgoingEvent(str(row[definition.entity_key]), body))
                continue
        quarantine.add(reason, _shown(source.frame.iloc[position].to_dict()), row_number=int(number))
    return records


def prepare(path: Path, definition: DatasetDefinition, quarantine: Quarantine) -> _Prepared:
    """The file's valid rows as stream records; invalid ones are added to ``quarantine``."""
    source = _read(path, definition, quarantine)
    return _Prepared(_checked(source, definition, quarantine, 0, len(source.typed)), source.rows_read)


def _chunk_size(rate: float | None) -> int:
    return CHUNK if rate is None else max(1, min(CHUNK, int(rate)))


def send(
    stream: EventStream,
    records: list[OutgoingEvent],
    rate: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int, int]:
    """Put ``records`` (at most ``rate`` per second when given); returns (sent, put calls, retried entries)."""
    size = _chunk_size(rate)
    chunks = (records[start : start + size] for start in range(0, len(records), size))
    return send_chunks(stream, chunks, lambda: len(records), rate, progress)


def send_chunks(
    stream: EventStream,
    chunks: Iterable[list[OutgoingEvent]],
    expected: Callable[[], int],
    rate: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int, int]:
    """Put each chunk in order, one put in flight: the next chunk is taken from ``chunks`` (prepared, when it is
    a generator) while the previous one is being sent. ``expected()`` is the total that ``progress`` shows.

    Returns (sent, put calls, retried entries); a failed put raises once the chunk taken meanwhile is ready."""
    started = time.monotonic()
    total = PutOutcome()

    def landed(outcome: PutOutcome) -> None:
        total.sent += outcome.sent
        total.calls += outcome.calls
        total.retried += outcome.retried
        if progress is not None:
            progress(total.sent, expected())
        if rate is not None:
            # pace on the total so far, so a slow call is made up by the next ones
            ahead = total.sent / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="produce") as sender:
        in_flight: Future[PutOutcome] | None = None
        for chunk in chunks:  # the generator prepares this chunk while the previous one is in flight
            if in_flight is not None:
                landed(in_flight.result())
            in_flight = sender.submit(stream.put, chunk) if chunk else None
        if in_flight is not None:
            landed(in_flight.result())
    return total.sent, total.calls, total.retried


def produce(
    platform: Platform,
    definition: DatasetDefinition,
    path: Path,
    *,
    rate: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ProduceResult:
    """Send the valid rows of ``path`` to the platform's event stream; quarantine the rest."""
    if rate is not None and rate <= 0:
        raise DatasetError(f"--rate must be positive, got {rate}")
    started = time.monotonic()
    target = platform.services.events
    bucket = platform.layout.bucket("quarantine")
    quarantine = Quarantine(platform.services.object_store, bucket, definition.name, stage="produce")
    try:
        source = _read(path, definition, quarantine)
        rows, size, unread = len(source.typed), _chunk_size(rate), quarantine.count
        chunks = (_checked(source, definition, quarantine, at, at + size) for at in range(0, rows, size))

        def sendable() -> int:  # the rows not quarantined so far
            return rows - (quarantine.count - unread)

        sent, calls, retried = send_chunks(target, chunks, sendable, rate, progress)
    finally:
        quarantine.flush()  # whatever was quarantined is kept, even when a put failed
    return ProduceResult(
        dataset=definition.name,
        stream=target.name,
        rows_read=source.rows_read,
        sent=sent,
        quarantined=quarantine.count,
        put_calls=calls,
        retried=retried,
        seconds=round(time.monotonic() - started, 3),
        quarantine_keys=[platform.layout.uri(bucket, key) for key in quarantine.keys],
    )
