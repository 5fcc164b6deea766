"""Endpoint data capture in SageMaker's format: the record, a buffered writer and a reader.

SageMaker writes one JSON object per line (JSON Lines) for each captured invocation::

    {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                                        "data": "1,2,3", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                        "data": "{...}", "encoding": "JSON"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceTime": "2026-11-29T05:01:02Z", "inferenceId": "..."},
     "eventVersion": "0"}

under ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl``
(:func:`mlops.layout.data_capture_key`). ``encoding`` is ``CSV`` or ``JSON`` when the body's content type is one
of the config's ``CaptureContentTypeHeader`` types (the body kept as text) and ``BASE64`` otherwise (SageMaker's
default). The same :func:`read_capture` reads what the kit's local endpoints write and what a SageMaker endpoint
writes, so monitoring code is written once.

:class:`CaptureWriter` is what an endpoint calls on its request path: :meth:`CaptureWriter.offer` only appends to
a bounded in-memory buffer (it never blocks, never raises: a full buffer drops the record and counts it); a
background thread writes one object per endpoint/variant/hour through the object-store port every
``flush_seconds``, and :meth:`CaptureWriter.close` writes what is left.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from mlops.layout import data_capture_key, data_capture_prefix, split_uri
from mlops.ports.object_store import ObjectStore

LOG = logging.getLogger(__name__)

EVENT_VERSION = "0"
Mode = Literal["INPUT", "OUTPUT"]
Encoding = Literal["CSV", "JSON", "BASE64"]
ENCODINGS: tuple[str, ...] = ("CSV", "JSON", "BASE64")
DEFAULT_FLUSH_SECONDS = 60.0
DEFAULT_MAX_BUFFERED = 100_000


class CaptureFormatError(ValueError):
    """A capture line is not a SageMaker capture record; the message names the file and the line."""


# --- the record ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CapturedPayload:
    """One side of an invocation as captured (``endpointInput`` or ``endpointOutput``)."""

    observed_content_type: str
    mode: Mode
    data: str
    encoding: Encoding

    @property
    def body(self) -> bytes:
        """The payload's bytes (base64 decoded for ``BASE64``)."""
        if self.encoding == "BASE64":
            return base64.b64decode(self.data, validate=True)
        return self.data.encode()

    def as_json(self) -> dict[str, str]:
        return {
            "observedContentType": self.observed_content_type,
            "mode": self.mode,
            "data": self.data,
            "encoding": self.encoding,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], where: str) -> CapturedPayload:
        mode, encoding = raw.get("mode"), raw.get("encoding")
        if mode not in ("INPUT", "OUTPUT"):
            raise CaptureFormatError(f"{where}: mode {mode!r} is not INPUT or OUTPUT")
        if encoding not in ENCODINGS:
            raise CaptureFormatError(f"{where}: encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
        data = raw.get("data")
        if not isinstance(data, str):
            raise CaptureFormatError(f"{where}: data must be a string, got {type(data).__name__}")
        return cls(str(raw.get("observedContentType", "")), mode, data, encoding)


@dataclass(frozen=True)
class CaptureRecord:
    """One captured invocation (either side may be absent: capture of input or output only)."""

    event_id: str
    inference_time: datetime
    endpoint_input: CapturedPayload | None = None
    endpoint_output: CapturedPayload | None = None
    inference_id: str | None = None
    event_version: str = EVENT_VERSION

    def as_json(self) -> dict[str, Any]:
        capture: dict[str, Any] = {}
        if self.endpoint_input is not None:
            capture["endpointInput"] = self.endpoint_input.as_json()
        if self.endpoint_output is not None:
            capture["endpointOutput"] = self.endpoint_output.as_json()
        metadata = {"eventId": self.event_id, "inferenceTime": format_time(self.inference_time)}
        if self.inference_id:
            metadata["inferenceId"] = self.inference_id
        return {"captureData": capture, "eventMetadata": metadata, "eventVersion": self.event_version}

    def to_line(self) -> str:
        return json.dumps(self.as_json(), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: Any, where: str) -> CaptureRecord:
        if not isinstance(raw, dict):
            raise CaptureFormatError(f"{where}: a capture record is a JSON object, got {type(raw).__name__}")
        capture, metadata = raw.get("captureData"), raw.get("eventMetadata")
        if not isinstance(capture, dict) or not isinstance(metadata, dict):
            raise CaptureFormatError(f"{where}: captureData and eventMetadata must both be objects")
        sides = {
            key: CapturedPayload.from_json(capture[key], f"{where} {key}")
            if isinstance(capture.get(key), dict)
            else None
            for key in ("endpointInput", "endpointOutput")
        }
        if sides["endpointInput"] is None and sides["endpointOutput"] is None:
            raise CaptureFormatError(f"{where}: captureData holds neither endpointInput nor endpointOutput")
        event_id, stamp = metadata.get("eventId"), metadata.get("inferenceTime")
        if not isinstance(event_id, str) or not isinstance(stamp, str):
            raise CaptureFormatError(f"{where}: eventMetadata needs eventId and inferenceTime strings")
        return cls(
            event_id=event_id,
            inference_time=parse_time(stamp, where),
            endpoint_input=sides["endpointInput"],
            endpoint_output=sides["endpointOutput"],
            inference_id=metadata.get("inferenceId") or None,
            event_version=str(raw.get("eventVersion", EVENT_VERSION)),
        )

    @classmethod
    def from_line(cls, line: str, where: str) -> CaptureRecord:
        try:
            raw = json.loads(line)
        except ValueError as exc:
            raise CaptureFormatError(f"{where}: not JSON ({exc})") from exc
        return cls.from_json(raw, where)


def format_time(moment: datetime) -> str:
    """SageMaker's ``inferenceTime``: UTC, ISO 8601 with ``Z`` (milliseconds when there are any)."""
    when = moment.astimezone(UTC)
    if when.microsecond:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(stamp: str, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CaptureFormatError(f"{where}: inferenceTime {stamp!r} is not an ISO 8601 time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- the endpoint config's DataCaptureConfig ----------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureConfig:
    """An endpoint config's ``DataCaptureConfig``, as the capturing side applies it."""

    destination_uri: str
    sampling_percentage: float = 100.0
    capture_input: bool = True
    capture_output: bool = True
    csv_content_types: tuple[str, ...] = ()
    json_content_types: tuple[str, ...] = ()
    enabled: bool = True

    @classmethod
    def from_request(cls, raw: Mapping[str, Any] | None) -> CaptureConfig | None:
        """From CreateEndpointConfig's ``DataCaptureConfig``; ``None`` when absent or disabled."""
        if not raw or not raw.get("EnableCapture", True):
            return None
        destination = raw.get("DestinationS3Uri")
        if not isinstance(destination, str) or "://" not in destination:
            raise ValueError(f"DataCaptureConfig.DestinationS3Uri {destination!r} is not an object URI")
        percentage = float(raw.get("InitialSamplingPercentage", 100))
        if not 0 <= percentage <= 100:
            raise ValueError(f"DataCaptureConfig.InitialSamplingPercentage {percentage:g} is not within 0..100")
        modes = {str(o.get("CaptureMode", "")).lower() for o in raw.get("CaptureOptions", [])}
        unknown = modes - {"input", "output", "inputandoutput"}
        if not modes or unknown:
            raise ValueError(f"DataCaptureConfig.CaptureOptions must name Input and/or Output, got {sorted(modes)}")
        headers = raw.get("CaptureContentTypeHeader") or {}
        return cls(
            destination_uri=destination,
            sampling_percentage=percentage,
            capture_input=bool(modes & {"input", "inputandoutput"}),
            capture_output=bool(modes & {"output", "inputandoutput"}),
            csv_content_types=tuple(_media_type(t) for t in headers.get("CsvContentTypes", [])),
            json_content_types=tuple(_media_type(t) for t in headers.get("JsonContentTypes", [])),
        )

    def encoding_for(self, content_type: str) -> Encoding:
        """``CSV``/``JSON`` for the configured content types (kept as text), ``BASE64`` for any other."""
        media = _media_type(content_type)
        if media in self.csv_content_types:
            return "CSV"
        if media in self.json_content_types:
            return "JSON"
        return "BASE64"

    def sampled(self, rng: random.Random | None = None) -> bool:
        """Whether to capture this invocation (``InitialSamplingPercentage`` of them, at random)."""
        if self.sampling_percentage >= 100:
            return True
        return (rng or random).random() * 100 < self.sampling_percentage

    def payload(self, mode: Mode, content_type: str, body: bytes) -> CapturedPayload:
        """One side of an invocation encoded as this config says (text that is not UTF-8 falls back to base64)."""
        encoding = self.encoding_for(content_type)
        if encoding != "BASE64":
            try:
                return CapturedPayload(content_type, mode, body.decode("utf-8"), encoding)
            except UnicodeDecodeError:
                pass
        return CapturedPayload(content_type, mode, base64.b64encode(body).decode("ascii"), "BASE64")

    def record(
        self,
        request_type: str,
        request: bytes,
        response_type: str,
        response: bytes,
        *,
        when: datetime | None = None,
        inference_id: str | None = None,
    ) -> CaptureRecord:
        """The record of one invocation with the sides this config captures."""
        return CaptureRecord(
            event_id=str(uuid.uuid4()),
            inference_time=when or datetime.now(UTC),
            endpoint_input=self.payload("INPUT", request_type, request) if self.capture_input else None,
            endpoint_output=self.payload("OUTPUT", response_type, response) if self.capture_output else None,
            inference_id=inference_id,
        )


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


# --- the reader ---------------------------------------------------------------------------------------------------


def parse_capture_file(data: bytes, where: str) -> list[CaptureRecord]:
    """Every record of one capture file (blank lines skipped); :class:`CaptureFormatError` names file and line."""
    records: list[CaptureRecord] = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if line.strip():
            records.append(CaptureRecord.from_line(line, f"{where} line {number}"))
    return records


def _hour_of(key: str, prefix: str) -> datetime | None:
    """The ``yyyy/mm/dd/hh`` directory of a capture key below ``<endpoint>/<variant>/``, ``None`` if it has none."""
    parts = key[len(prefix) :].split("/")
    for start in range(len(parts) - 4):
        year, month, day, hour = parts[start : start + 4]
        if all(p.isdigit() for p in (year, month, day, hour)) and len(year) == 4:
            return datetime(int(year), int(month), int(day), int(hour), tzinfo=UTC)
    return None


def capture_files(
    store: ObjectStore,
    destination_uri: str,
    endpoint: str,
    *,
    variant: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[tuple[str, str]]:
    """``(bucket, key)`` of every capture file of ``endpoint`` (one ``variant`` or all) whose hour directory
    overlaps ``[start, end)``, oldest hour first."""
    _, bucket, base = split_uri(destination_uri)
    prefix = data_capture_prefix(base, endpoint, variant)
    endpoint_prefix = data_capture_prefix(base, endpoint)
    found: list[tuple[datetime, str]] = []
    for key in store.list_keys(bucket, prefix):
        if not key.endswith(".jsonl"):
            continue
        hour = _hour_of(key, endpoint_prefix)
        if hour is None:
            continue
        if start is not None and hour.timestamp() + 3600 <= start.timestamp():
            continue
        if end is not None and hour >= end:
            continue
        found.append((hour, key))
    return [(bucket, key) for _, key in sorted(found)]


def read_capture(
    store: ObjectStore,
    destination_uri: str,
    endpoint: str,
    *,
    variant: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Iterator[CaptureRecord]:
    """The captured invocations of ``endpoint`` in ``[start, end)`` (by ``inferenceTime``), file by file, in the
    layout SageMaker writes and the kit's local endpoints write alike."""
    for bucket, key in capture_files(store, destination_uri, endpoint, variant=variant, start=start, end=end):
        for record in parse_capture_file(store.get(bucket, key), f"{store.scheme}://{bucket}/{key}"):
            if start is not None and record.inference_time < start:
                continue
            if end is not None and record.inference_time >= end:
                continue
            yield record


# --- the writer ---------------------------------------------------------------------------------------------------


@dataclass
class _Pending:
    destination_uri: str
    endpoint: str
    variant: str
    lines: list[str] = field(default_factory=list)
    first: datetime | None = None


class CaptureWriter:
    """Buffered capture to the object store, off the request path (see the module docs).

    ``offer`` appends and returns; a daemon thread writes every ``flush_seconds``; ``flush`` writes now (used by
    ``close`` and by tests); a failed write is logged and counted in ``failed`` and its records dropped, never
    raised into a request.
    """

    def __init__(
        self,
        store: ObjectStore,
        *,
        flush_seconds: float = DEFAULT_FLUSH_SECONDS,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
    ) -> None:
        self._store = store
        self._flush_seconds = flush_seconds
        self._max_buffered = max_buffered
        self._lock = threading.Lock()
        self._buffer: list[tuple[str, str, str, CaptureRecord | Callable[[], CaptureRecord]]] = []
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.files: list[str] = []

    def start(self) -> CaptureWriter:
        """Start the background flusher (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="capture-writer", daemon=True)
            self._thread.start()
        return self

    def offer(
        self, destination_uri: str, endpoint: str, variant: str, record: CaptureRecord | Callable[[], CaptureRecord]
    ) -> bool:
        """Buffer ``record``, or a function building it (encoding a large body then happens on the writer's
        thread, not the caller's); ``False`` (and counted in ``dropped``) when the buffer is full."""
        with self._lock:
            if len(self._buffer) >= self._max_buffered:
                self.dropped += 1
                return False
            self._buffer.append((destination_uri, endpoint, variant, record))
            return True

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            self.flush()

    def flush(self) -> int:
        """Write every buffered record now (one object per destination/endpoint/variant/hour); returns how many."""
        with self._flush_lock:
            with self._lock:
                taken, self._buffer = self._buffer, []
            groups: dict[tuple[str, str, str, str], _Pending] = defaultdict(lambda: _Pending("", "", ""))
            for destination, endpoint, variant, offered in taken:
                try:
                    record = offered() if callable(offered) else offered
                except Exception as exc:  # a record that cannot be built is lost, counted, never raised
                    self.failed += 1
                    LOG.warning("data capture of %s/%s lost a record: %s", endpoint, variant, exc)
                    continue
                hour = record.inference_time.astimezone(UTC).strftime("%Y%m%d%H")
                pending = groups[(destination, endpoint, variant, hour)]
                pending.destination_uri, pending.endpoint, pending.variant = destination, endpoint, variant
                pending.first = pending.first or record.inference_time
                pending.lines.append(record.to_line())
            return sum(self._write(p) for p in groups.values())

    def _write(self, pending: _Pending) -> int:
        _, bucket, base = split_uri(pending.destination_uri)
        assert pending.first is not None
        key = data_capture_key(base, pending.endpoint, pending.variant, pending.first, str(uuid.uuid4()))
        try:
            self._store.put(bucket, key, ("\n".join(pending.lines) + "\n").encode(), "application/jsonl")
        except Exception as exc:  # capture must never fail the endpoint; the loss is counted
            self.failed += len(pending.lines)
            LOG.warning(
                "data capture of %s/%s lost %d records: %s", pending.endpoint, pending.variant, len(pending.lines), exc
            )
            return 0
        self.written += len(pending.lines)
        self.files.append(key)
        return len(pending.lines)

    def close(self) -> None:
        """Stop the flusher and write what is buffered."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._flush_seconds + 5)
            self._thread = None
        self.flush()
