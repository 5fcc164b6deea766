"""The front door's SageMaker Pipelines answers from the executor's records: pages as SageMaker pages them, errors
that name the field, the status of the record over moto's, and the record found in whichever bucket holds it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from mlops.local.frontdoor.pipelines import PipelineApi, operation_of, step_entries, steps_page, with_record

ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/train/execution/abc123"
KEY = "/pipeline-executions/train/abc123.json"
RECORD = {
    "arn": ARN,
    "status": "Failed",
    "failure_reason": "step 'Train' failed: no labelled rows",
    "ended_at": "2026-01-01T00:00:09+00:00",
    "steps": [
        {"name": "Prepare", "status": "Succeeded", "started_at": "2026-01-01T00:00:00+00:00",
         "ended_at": "2026-01-01T00:00:04+00:00", "metadata": {"ProcessingJob": {"Arn": "arn:p"}}},
        {"name": "Train", "status": "Failed", "started_at": "2026-01-01T00:00:05+00:00", "ended_at": "",
         "failure_reason": "no labelled rows", "metadata": {}},
    ],
}  # fmt: skip


def _page(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = steps_page(step_entries(RECORD), request)
    return answer.status, json.loads(answer.body)


def test_only_the_pipelines_execution_operations_are_answered_here() -> None:
    assert operation_of({"x-amz-target": "SageMaker.ListPipelineExecutionSteps"}) == "ListPipelineExecutionSteps"
    assert operation_of({"x-amz-target": "SageMaker.CreateModel"}) is None
    assert operation_of({"x-amz-target": "Kinesis_20131202.ListPipelineExecutions"}) is None
    assert operation_of({}) is None


def test_steps_are_listed_newest_first_and_paged() -> None:
    status, newest = _page({"MaxResults": 1})
    assert status == 200 and [s["StepName"] for s in newest["PipelineExecutionSteps"]] == ["Train"]
    train = newest["PipelineExecutionSteps"][0]
    assert (train["StepStatus"], train["FailureReason"], "EndTime" in train) == ("Failed", "no labelled rows", False)
    _, rest = _page({"MaxResults": 1, "NextToken": newest["NextToken"]})
    assert [s["StepName"] for s in rest["PipelineExecutionSteps"]] == ["Prepare"] and "NextToken" not in rest
    _, ascending = _page({"SortOrder": "Ascending"})
    prepare = ascending["PipelineExecutionSteps"][0]
    assert prepare["Metadata"] == {"ProcessingJob": {"Arn": "arn:p"}}
    assert prepare["EndTime"] - prepare["StartTime"] == 4.0


@pytest.mark.parametrize(
    ("request_fields", "named"),
    [
        ({"SortOrder": "Sideways"}, "SortOrder"),
        ({"MaxResults": 0}, "MaxResults"),
        ({"MaxResults": "5"}, "MaxResults"),
        ({"NextToken": "9"}, "NextToken"),
        ({"NextToken": "x"}, "NextToken"),
    ],
)
def test_a_bad_field_is_a_validation_error_naming_it(request_fields: dict[str, Any], named: str) -> None:
    status, body = _page(request_fields)
    assert (status, body["__type"]) == (400, "ValidationException") and named in body["message"]


def test_the_records_status_and_reason_replace_motos() -> None:
    moto = {"PipelineExecutionStatus": "Succeeded", "FailureReason": "", "LastModifiedTime": 1.0}
    patched = with_record(moto, RECORD, "FailureReason")
    assert patched["PipelineExecutionStatus"] == "Failed" and patched["FailureReason"] == RECORD["failure_reason"]
    assert patched["LastModifiedTime"] > 1.0
    succeeded = with_record(
        {"PipelineExecutionFailureReason": "None"}, {"status": "Succeeded"}, "PipelineExecutionFailureReason"
    )
    assert succeeded == {"PipelineExecutionStatus": "Succeeded"}  # SageMaker sends no reason for a success


class _Emulator:
    """A stand-in for moto: buckets, objects by path, the requests made."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.requests: list[tuple[str, str]] = []

    async def fetch(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes | None
    ) -> tuple[int, bytes]:
        self.requests.append((method, path))
        if path == "/" and method == "GET":
            names = sorted({p.split("/")[1] for p in self.objects})
            return 200, "".join(f"<Bucket><Name>{n}</Name></Bucket>" for n in names).encode()
        if method == "GET":
            return (200, self.objects[path]) if path in self.objects else (404, b"")
        return 400, json.dumps({"__type": "ResourceNotFound"}).encode()


def test_the_record_is_found_in_the_bucket_that_holds_it_which_is_then_tried_first() -> None:
    emulator = _Emulator({"/b-monitoring" + KEY: json.dumps(RECORD).encode(), "/a-raw/other": b""})
    api = PipelineApi(emulator.fetch)
    assert asyncio.run(api.record(ARN, "key")) == RECORD
    assert ("GET", "/a-raw" + KEY) in emulator.requests
    emulator.requests.clear()
    assert asyncio.run(api.record(ARN, "key")) == RECORD
    assert emulator.requests == [("GET", "/b-monitoring" + KEY)]
    assert asyncio.run(api.record("arn:aws:sagemaker:us-east-1:1:pipeline/train", "key")) is None


def test_steps_of_an_execution_neither_the_executor_nor_moto_knows_are_not_found() -> None:
    api = PipelineApi(_Emulator({}).fetch)
    body = json.dumps({"PipelineExecutionArn": ARN}).encode()
    answer = asyncio.run(api.answer("ListPipelineExecutionSteps", [], body))
    assert answer.status == 400 and json.loads(answer.body)["__type"] == "ResourceNotFound"
    malformed = asyncio.run(api.answer("ListPipelineExecutionSteps", [], b"{"))
    assert json.loads(malformed.body)["__type"] == "SerializationException"


def test_an_answer_of_moto_that_is_not_a_json_object_passes_unchanged() -> None:
    async def html(method: str, path: str, headers: list[tuple[str, str]], body: bytes | None) -> tuple[int, bytes]:
        return 200, b"<html>not json</html>"

    answer = asyncio.run(PipelineApi(html).answer("DescribePipelineExecution", [], b"{}"))
    assert (answer.status, answer.body) == (200, b"<html>not json</html>")
