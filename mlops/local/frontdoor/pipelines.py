"""SageMaker Pipelines' execution API as the local pipeline executor ran the executions: what moto cannot answer.

moto stores each execution the kit's local executor starts (``mlops/local/pipeline_executor.py``) but runs
nothing: it reports every execution ``Succeeded`` from its start and has no ``ListPipelineExecutionSteps`` (it
answers 500). The executor records what happened, after every step, in the emulator's object store
(``s3://<monitoring bucket>/pipeline-executions/<pipeline>/<execution id>.json``, :func:`mlops.layout.
pipeline_execution_key`). The front door answers from that record, so a client of one's own (boto3, the SageMaker
SDK's ``execution.list_steps()``) sees what ``mlops train run`` reports:

- ``ListPipelineExecutionSteps``: the record's steps, newest first unless ``SortOrder`` is ``Ascending``, paged
  by ``MaxResults`` (1-100, default 50) and ``NextToken``;
- ``DescribePipelineExecution`` and ``ListPipelineExecutions``: moto's answer, with the status, failure reason
  and (describe) last-modified time of the record.

An execution with no record (started with a client of one's own: moto ran nothing) keeps moto's answer and has
no steps. The records are read with the caller's access key (moto keys its accounts by it; it checks no signature).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlops.layout import pipeline_execution_key

OPERATIONS = frozenset({"ListPipelineExecutionSteps", "DescribePipelineExecution", "ListPipelineExecutions"})
DEFAULT_PAGE = 50
MAX_PAGE = 100
_EXECUTION_ARN = re.compile(r"^arn:[^:]+:sagemaker:[^:]*:[^:]*:pipeline/([^/]+)/execution/([^/]+)$")
_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")
_BUCKET_NAME = re.compile(r"<Name>([^<]+)</Name>")
_DEFAULT_ACCESS_KEY = "testing"  # moto's default account, for an unsigned caller

Fetch = Callable[[str, str, list[tuple[str, str]], bytes | None], Awaitable[tuple[int, bytes]]]
"""``(method, path, headers, body) -> (status, body)`` of a request to the emulator."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer in SageMaker's JSON protocol."""

    status: int
    body: bytes


def operation_of(headers: Mapping[str, str]) -> str | None:
    """The SageMaker Pipelines operation the front door answers itself, from ``X-Amz-Target``; else ``None``."""
    service, _, operation = headers.get("x-amz-target", "").partition(".")
    return operation if service == "SageMaker" and operation in OPERATIONS else None


def error(code: str, message: str) -> Answer:
    """A JSON-protocol error: botocore reads the code from ``__type``."""
    return Answer(400, json.dumps({"__type": code, "message": message}).encode())


def _epoch(text: str) -> float | None:
    return datetime.fromisoformat(text).timestamp() if text else None


def step_entries(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The record's steps as ``PipelineExecutionSteps`` entries, oldest first."""
    entries: list[dict[str, Any]] = []
    for step in record.get("steps", []):
        entry: dict[str, Any] = {"StepName": step["name"], "StepStatus": step["status"], "AttemptCount": 1}
        times = {"StartTime": _epoch(step.get("started_at", "")), "EndTime": _epoch(step.get("ended_at", ""))}
        entry.update({name: value for name, value in times.items() if value is not None})
        if step.get("failure_reason"):
            entry["FailureReason"] = step["failure_reason"]
        entry["Metadata"] = dict(step.get("metadata", {}))
        entries.append(entry)
    return entries


def steps_page(entries: list[dict[str, Any]], request: Mapping[str, Any]) -> Answer:
    """One page of ``ListPipelineExecutionSteps``; a bad ``SortOrder``, ``MaxResults`` or ``NextToken`` is a
    ``ValidationException`` naming the field."""
    order = request.get("SortOrder", "Descending")
    if order not in ("Ascending", "Descending"):
        return error("ValidationException", f"SortOrder must be Ascending or Descending, not {order!r}")
    size = request.get("MaxResults", DEFAULT_PAGE)
    if not isinstance(size, int) or not 1 <= size <= MAX_PAGE:
        return error("ValidationException", f"MaxResults must be between 1 and {MAX_PAGE}, not {size!r}")
    token = request.get("NextToken", "0")
    if not (isinstance(token, str) and token.isdigit() and int(token) <= len(entries)):
        return error("ValidationException", f"NextToken {token!r} is not a token of this listing")
    ordered = entries if order == "Ascending" else entries[::-1]
    start = int(token)
    page: dict[str, Any] = {"PipelineExecutionSteps": ordered[start : start + size]}
    if start + size < len(ordered):
        page["NextToken"] = str(start + size)
    return Answer(200, json.dumps(page).encode())


def with_record(execution: dict[str, Any], record: Mapping[str, Any], reason_field: str) -> dict[str, Any]:
    """moto's view of an execution with the record's status and failure reason (under ``reason_field``)."""
    execution["PipelineExecutionStatus"] = record["status"]
    execution.pop(reason_field, None)  # SageMaker sends a reason only for a failed execution (moto: "" or "None")
    if record.get("failure_reason"):
        execution[reason_field] = record["failure_reason"]
    ended = _epoch(record.get("ended_at", ""))
    if "LastModifiedTime" in execution and ended is not None:
        execution["LastModifiedTime"] = ended
    return execution


class PipelineApi:
    """Answers :data:`OPERATIONS` from the executor's records and the emulator (``fetch``)."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._bucket: str | None = None  # where the last record was found (a stack's monitoring bucket): tried first

    async def answer(self, operation: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        """The answer to ``operation`` called with ``headers`` and the JSON ``body``."""
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return error("SerializationException", "the request body is not JSON")
        if not isinstance(request, dict):
            return error("SerializationException", "the request body is not a JSON object")
        key = _access_key(headers)
        if operation == "ListPipelineExecutionSteps":
            return await self._steps(request, headers, body, key)
        status, answer = await self._fetch("POST", "/", headers, body)
        try:
            described = json.loads(answer) if status == 200 else None
        except ValueError:
            described = None
        if not isinstance(described, dict):  # an error, or an answer this module does not know: moto's, as it is
            return Answer(status, answer)
        return Answer(200, json.dumps(await self._patched(operation, described, key)).encode())

    async def _steps(self, request: dict[str, Any], headers: list[tuple[str, str]], body: bytes, key: str) -> Answer:
        arn = request.get("PipelineExecutionArn")
        if not isinstance(arn, str) or not arn:
            return error("ValidationException", "PipelineExecutionArn is required")
        record = await self.record(arn, key)
        if record is None:  # moto may know it (started by a client of one's own): it ran no step
            described = _retargeted(headers, "DescribePipelineExecution")
            status, _ = await self._fetch("POST", "/", described, json.dumps({"PipelineExecutionArn": arn}).encode())
            if status != 200:
                return error("ResourceNotFound", f"Pipeline execution {arn} does not exist.")
        return steps_page(step_entries(record or {}), request)

    async def _patched(self, operation: str, answer: dict[str, Any], key: str) -> dict[str, Any]:
        if operation == "DescribePipelineExecution":
            record = await self.record(str(answer.get("PipelineExecutionArn", "")), key)
            return with_record(answer, record, "FailureReason") if record else answer
        summaries = []
        for summary in answer.get("PipelineExecutionSummaries", []):
            record = await self.record(str(summary.get("PipelineExecutionArn", "")), key)
            summaries.append(with_record(summary, record, "PipelineExecutionFailureReason") if record else summary)
        answer["PipelineExecutionSummaries"] = summaries
        return answer

    async def record(self, arn: str, access_key: str) -> dict[str, Any] | None:
        """The executor's record of execution ``arn``, read as ``access_key``; ``None`` when it has none."""
        found = _EXECUTION_ARN.match(arn)
        if found is None:
            return None
        path = pipeline_execution_key(found.group(1), found.group(2))
        headers = _s3_headers(access_key)
        tried = self._bucket
        if tried is not None and (record := await self._read(tried, path, headers)) is not None:
            return record
        status, body = await self._fetch("GET", "/", headers, None)
        listed = _BUCKET_NAME.findall(body.decode("utf-8", "replace")) if status == 200 else []
        for bucket in (name for name in listed if name != tried):
            if (record := await self._read(bucket, path, headers)) is not None:
                self._bucket = bucket
                return record
        return None

    async def _read(self, bucket: str, path: str, headers: list[tuple[str, str]]) -> dict[str, Any] | None:
        status, body = await self._fetch("GET", f"/{bucket}/{path}", headers, None)
        if status != 200:
            return None
        record: dict[str, Any] = json.loads(body)
        return record


def _access_key(headers: list[tuple[str, str]]) -> str:
    for name, value in headers:
        if name.lower() == "authorization" and (found := _ACCESS_KEY.search(value)):
            return found.group(1)
    return _DEFAULT_ACCESS_KEY


def _s3_headers(access_key: str) -> list[tuple[str, str]]:
    """An S3 request as the caller's account: moto takes the account from the credential, not the signature."""
    scope = f"{access_key}/20000101/us-east-1/s3/aws4_request"
    return [
        ("Authorization", f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
    ]


def _retargeted(headers: list[tuple[str, str]], operation: str) -> list[tuple[str, str]]:
    kept = [(k, v) for k, v in headers if k.lower() not in ("x-amz-target", "content-length")]
    return [*kept, ("X-Amz-Target", f"SageMaker.{operation}")]
