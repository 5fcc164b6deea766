"""Batch transform port: score every input file under a prefix with a model's serving container, into one
``.out`` file per input (SageMaker batch transform, the local runner, memory).

The data contract is SageMaker batch transform's, with ``SplitType=Line``, ``InputFilter=$[<skip_fields>:]`` and
``JoinSource=Input``: each input file is headerless CSV; its lines are sent in mini-batches as ``text/csv`` with
their first ``skip_fields`` fields removed (the keys); each answer line (``text/csv``) is appended to its input
line; the joined lines of ``<input_prefix><file>`` go to ``<output_prefix><file>.out``.
:func:`transform_objects` is that contract for the implementations that run the container themselves.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from mlops.layout import split_uri
from mlops.ports.endpoint import error_message
from mlops.ports.errors import NotFoundError, PortError
from mlops.ports.hosting import Container
from mlops.ports.object_store import ObjectStore

TransformStatus = Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped"]
RECORDS_PER_REQUEST = 2_000
"""Lines per mini-batch when an implementation splits files itself (well under the 6 MB payload limit)."""


class BatchTransformError(PortError):
    """A transform job could not be started or read; the message names the job."""


class TransformJobNotFoundError(BatchTransformError, NotFoundError):
    """No transform job of that name exists."""


class TransformFailedError(BatchTransformError):
    """The model server refused or failed a mini-batch, so the job failed; names the job, file and lines."""

    def __init__(self, job: str, reason: str) -> None:
        self.job = job
        self.reason = reason
        super().__init__(f"transform job {job!r} failed: {reason}")


@dataclass(frozen=True)
class TransformRequest:
    """One transform job. ``model_name`` is the SageMaker model (``mlops deploy`` creates one per version);
    ``container`` the same model's serving container for implementations that start it themselves."""

    job_name: str
    model_name: str
    container: Container
    input_prefix: str
    output_prefix: str
    skip_fields: int
    content_type: str = "text/csv"
    accept: str = "text/csv"
    max_payload_mb: int = 6
    records_per_request: int = RECORDS_PER_REQUEST
    instance_type: str = "ml.m5.large"
    instance_count: int = 1


@dataclass(frozen=True)
class TransformJob:
    """A transform job's state; ``outputs`` lists the ``.out`` URIs once the job completed."""

    name: str
    status: TransformStatus
    outputs: tuple[str, ...] = ()
    arn: str | None = None
    failure: str | None = None


class BatchTransform(Protocol):
    """Runs transform jobs. Implementations that run here finish within :meth:`start` (``Completed``, or
    :class:`TransformFailedError`); the cloud's returns ``InProgress`` and :meth:`status` follows it."""

    def start(self, request: TransformRequest) -> TransformJob:
        """Start (or run) the job over every object under ``request.input_prefix``."""
        ...

    def status(self, job_name: str) -> TransformJob:
        """The job's state now; :class:`TransformJobNotFoundError` when there is no such job."""
        ...


Answer = tuple[int, bytes]
"""A model server's answer to one mini-batch: HTTP status and body."""


def transform_lines(text: str, request: TransformRequest, invoke: Callable[[bytes], Answer], source: str) -> str:
    """One input file's text -> its ``.out`` text, sending mini-batches through ``invoke``.

    A mini-batch answered with an error, or with a different number of lines than it sent, fails the job with
    :class:`TransformFailedError` naming ``source`` and the lines.
    """
    lines = [line for line in text.splitlines() if line]
    out = io.StringIO()
    for start in range(0, len(lines), request.records_per_request):
        chunk = lines[start : start + request.records_per_request]
        where = f"{source} lines {start}-{start + len(chunk) - 1}"
        body = "\n".join(_csv_line(row[request.skip_fields :]) for row in csv.reader(chunk)).encode()
        status, answer = invoke(body)
        if status != 200:
            raise TransformFailedError(
                request.job_name, f"{where}: the model answered {status}: {error_message(answer)}"
            )
        answered = answer.decode().splitlines()
        if len(answered) != len(chunk):
            raise TransformFailedError(request.job_name, f"{where}: {len(answered)} answer lines for {len(chunk)}")
        for line, prediction in zip(chunk, answered, strict=True):
            out.write(f"{line},{prediction}\n")
    return out.getvalue()


def transform_objects(store: ObjectStore, request: TransformRequest, invoke: Callable[[bytes], Answer]) -> list[str]:
    """Transform every object under ``request.input_prefix`` (in key order) into its ``.out`` through
    ``invoke``; returns the output URIs."""
    scheme, bucket, prefix = split_uri(request.input_prefix)
    outputs = []
    for key in store.list_keys(bucket, prefix):
        source = f"{scheme}://{bucket}/{key}"
        target = output_uri(request, source)
        text = transform_lines(store.get(bucket, key).decode(), request, invoke, source)
        _, out_bucket, out_key = split_uri(target)
        store.put(out_bucket, out_key, text.encode(), "text/csv")
        outputs.append(target)
    return outputs


def output_uri(request: TransformRequest, input_uri: str) -> str:
    """Where the ``.out`` of an input file goes: its path below the input prefix, below the output prefix."""
    return f"{request.output_prefix}{input_uri.removeprefix(request.input_prefix)}.out"


def _csv_line(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()
