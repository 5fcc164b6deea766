"""Send a dataset file's rows to the stack's event stream as JSON events, one per row.

The file (CSV, JSON lines or Parquet, as ``mlops data generate`` writes them) is read leniently, typed per the
dataset definition, and each row is checked the way the consumer will check it (:func:`check_event` on the
exact JSON sent), so every event on the stream parses downstream. Rows that fail are not sent: they go to the
quarantine zone with their reason. The partition key is the entity key, so one entity's events keep their order.

The rows are checked and encoded while the chunks before them are being put: one thread puts the chunks in order
(so the order per key holds) while the caller's thread makes the next ones, and the stream's answer time no
longer adds to the checking time (benchmarks/stream.py).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import pandas as pd

from mlops.datasets import DatasetDefinition
from mlops.errors import DatasetError
from mlops.platform import Platform
from mlops.ports.events import EventStream, OutgoingEvent
from pipelines.ingest.formats import format_of
from pipelines.ingest.records import read_records
from pipelines.stream.events import EventError, check_event, encode_event
from pipelines.stream.quarantine import Quarantine
from pipelines.validation.coerce import coerce_frame

CHUNK = 500  # records per put call without --rate: progress moves, and the adapter batches each chunk itself
HANDOVER_CHUNKS = 2  # chunks made ahead of the puts: enough to keep the stream busy, little memory


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
    records: Iterator[OutgoingEvent]  # checked and encoded as they are taken; invalid rows go to quarantine then
    rows_read: int


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, list | dict) and pd.isna(value)):
        return None
    return value


def _shown(original: dict[str, Any]) -> str:
    """A quarantined row as read from the file."""
    return json.dumps({k: _plain(v) for k, v in original.items()}, default=str)


def prepare(path: Path, definition: DatasetDefinition, quarantine: Quarantine) -> _Prepared:
    """The file read and typed; its valid rows as stream records, made as they are taken (invalid ones are added to
    ``quarantine`` then)."""
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
    return _Prepared(_records(typed, reasons, frame, definition, quarantine), raw.rows_in)


def _records(
    typed: pd.DataFrame, reasons: list[str], frame: pd.DataFrame, definition: DatasetDefinition, quarantine: Quarantine
) -> Iterator[OutgoingEvent]:
    # Rows as dicts, not iterrows(): a Series per row cost ~1 s per 12,000 rows
    for number, values, reason, original in zip(
        typed.index, typed.to_dict(orient="records"), reasons, frame.to_dict(orient="records"), strict=True
    ):
        if reason:
            quarantine.add(reason, _shown(original), row_number=int(number))
            continue
        body = encode_event({name: _plain(values[name]) for name in definition.column_names})
        try:
            row = check_event(json.loads(body), definition)
        except EventError as exc:
            quarantine.add(str(exc), _shown(original), row_number=int(number))
            continue
        yield OutgoingEvent(str(row[definition.entity_key]), body)


@dataclass
class _Counts:
    sent: int = 0
    calls: int = 0
    retried: int = 0


class _Sender(threading.Thread):
    """Puts the chunks handed over, in order, paced to ``rate``; after a failure it only drains the hand-over."""

    def __init__(
        self,
        stream: EventStream,
        rate: float | None,
        progress: Callable[[int, int | None], None] | None,
        total: int | None,
    ) -> None:
        super().__init__(name="stream-producer", daemon=True)
        self.chunks: queue.Queue[list[OutgoingEvent] | None] = queue.Queue(maxsize=HANDOVER_CHUNKS)
        self.counts = _Counts()
        self.failure: BaseException | None = None
        self.cancelled = False  # the caller stopped (its error, Ctrl-C): what is still handed over is not put
        self._stream, self._rate, self._progress, self._total = stream, rate, progress, total

    def run(self) -> None:
        started = time.monotonic()
        while (chunk := self.chunks.get()) is not None:
            if self.failure is not None or self.cancelled:
                continue  # drain, so the caller's last hand-over never blocks
            try:
                self._put(chunk, started)
            except BaseException as exc:  # re-raised on the caller's thread
                self.failure = exc

    def _put(self, chunk: list[OutgoingEvent], started: float) -> None:
        outcome = self._stream.put(chunk)
        counts = self.counts
        counts.sent, counts.calls, counts.retried = (
            counts.sent + outcome.sent,
            counts.calls + outcome.calls,
            counts.retried + outcome.retried,
        )
        if self._progress is not None:
            self._progress(counts.sent, self._total)
        if self._rate is not None:
            # pace on the total so far, so a slow call is made up by the next ones
            ahead = counts.sent / self._rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)


def send(
    stream: EventStream,
    records: Iterable[OutgoingEvent],
    rate: float | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    total: int | None = None,
) -> tuple[int, int, int]:
    """Put ``records`` in order (at most ``rate`` per second when given), each chunk while the iterator makes the
    next; ``progress(sent, total)`` after each put (``total``: the records' count when they have one). Returns
    (sent, put calls, retried entries); an error of a put is raised here once the iterator stopped being read."""
    chunk = CHUNK if rate is None else max(1, min(CHUNK, int(rate)))
    if total is None and isinstance(records, Sized):
        total = len(records)
    sender = _Sender(stream, rate, progress, total)
    sender.start()
    try:
        pending = iter(records)
        while sender.failure is None and (batch := list(islice(pending, chunk))):
            sender.chunks.put(batch)
    except BaseException:
        sender.cancelled = True
        raise
    finally:
        sender.chunks.put(None)
        sender.join()
    if sender.failure is not None:
        raise sender.failure
    return sender.counts.sent, sender.counts.calls, sender.counts.retried


def produce(
    platform: Platform,
    definition: DatasetDefinition,
    path: Path,
    *,
    rate: float | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> ProduceResult:
    """Send the valid rows of ``path`` to the platform's event stream; quarantine the rest."""
    if rate is not None and rate <= 0:
        raise DatasetError(f"--rate must be positive, got {rate}")
    started = time.monotonic()
    target = platform.services.events
    bucket = platform.layout.bucket("quarantine")
    quarantine = Quarantine(platform.services.object_store, bucket, definition.name, stage="produce")
    prepared = prepare(path, definition, quarantine)
    try:
        sent, calls, retried = send(target, prepared.records, rate, progress, total=prepared.rows_read)
    finally:
        quarantine.flush()  # also when a put fails: no quarantined row is lost
    return ProduceResult(
        dataset=definition.name,
        stream=target.name,
        rows_read=prepared.rows_read,
        sent=sent,
        quarantined=quarantine.count,
        put_calls=calls,
        retried=retried,
        seconds=round(time.monotonic() - started, 3),
        quarantine_keys=[platform.layout.uri(bucket, key) for key in quarantine.keys],
    )
