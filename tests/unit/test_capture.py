"""Data capture records, config, writer and reader (mlops/capture.py) on the memory object store."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from mlops.adapters.memory.object_store import MemoryObjectStore
from mlops.capture import (
    CaptureConfig,
    CaptureFormatError,
    CaptureRecord,
    CaptureWriter,
    capture_files,
    parse_capture_file,
    read_capture,
)
from mlops.layout import data_capture_key

# One line as SageMaker documents its capture files (Model Monitor's "captured data" example): CSV in, CSV out,
# no inferenceId; and one with BASE64 bodies and an inferenceId, as an endpoint without CaptureContentTypeHeader
# writes them.
SAGEMAKER_CSV_LINE = (
    '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT",'
    '"data":"0.00632,18.00,2.310,0,0.5380,6.5750,65.20,4.0900,1,296.0,15.30,4.98","encoding":"CSV"},'
    '"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT",'
    '"data":"30.4133586884","encoding":"CSV"}},"eventMetadata":{"eventId":"8f45e35c-fa44-40d2-8ed3-1bcab3a596f3",'
    '"inferenceTime":"2020-07-30T13:36:30Z"},"eventVersion":"0"}'
)
SAGEMAKER_BASE64_LINE = json.dumps(
    {
        "captureData": {
            "endpointInput": {
                "observedContentType": "application/json",
                "mode": "INPUT",
                "data": base64.b64encode(b'{"instances": [[1, 2]]}').decode(),
                "encoding": "BASE64",
            },
            "endpointOutput": {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": base64.b64encode(b'{"predictions": [0.5]}').decode(),
                "encoding": "BASE64",
            },
        },
        "eventMetadata": {
            "eventId": "4651a1bf-4b00-4248-a309-4a18b11e4277",
            "inferenceId": "order-17",
            "inferenceTime": "2020-07-30T13:47:25.123Z",
        },
        "eventVersion": "0",
    }
)
DESTINATION = "memory://monitoring/data-capture"
CONFIG = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": DESTINATION,
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
}


def test_reads_a_file_sagemaker_wrote_in_its_documented_layout() -> None:
    store = MemoryObjectStore()
    key = "data-capture/churn-endpoint/AllTraffic/2020/07/30/13/36-30-744-8f45e35c-fa44-40d2-8ed3-1bcab3a596f3.jsonl"
    store.put("monitoring", key, (SAGEMAKER_CSV_LINE + "\n" + SAGEMAKER_BASE64_LINE + "\n").encode())

    records = list(read_capture(store, DESTINATION, "churn-endpoint"))

    assert [r.event_id for r in records] == [
        "8f45e35c-fa44-40d2-8ed3-1bcab3a596f3",
        "4651a1bf-4b00-4248-a309-4a18b11e4277",
    ]
    first, second = records
    assert first.inference_time == datetime(2020, 7, 30, 13, 36, 30, tzinfo=UTC)
    assert first.endpoint_input is not None and first.endpoint_input.body.startswith(b"0.00632,18.00")
    assert first.endpoint_output is not None and first.endpoint_output.observed_content_type.startswith("text/csv")
    assert second.inference_id == "order-17"
    assert second.endpoint_output is not None and json.loads(second.endpoint_output.body) == {"predictions": [0.5]}
    # the record written back is the same JSON SageMaker wrote
    assert json.loads(first.to_line()) == json.loads(SAGEMAKER_CSV_LINE)
    assert json.loads(second.to_line()) == json.loads(SAGEMAKER_BASE64_LINE)


def test_reader_selects_variant_and_hours() -> None:
    store = MemoryObjectStore()
    config = CaptureConfig.from_request(CONFIG)
    assert config is not None
    base = datetime(2026, 11, 29, 4, 59, tzinfo=UTC)
    for variant, minutes in (("Blue", 0), ("Green", 2), ("Blue", 70)):
        when = base + timedelta(minutes=minutes)
        record = config.record("text/csv", b"1,2", "application/json", b"[1]", when=when)
        key = data_capture_key("data-capture", "ep", variant, when, record.event_id)
        store.put("monitoring", key, (record.to_line() + "\n").encode())

    assert len(list(read_capture(store, DESTINATION, "ep"))) == 3
    assert len(list(read_capture(store, DESTINATION, "ep", variant="Blue"))) == 2
    later = list(read_capture(store, DESTINATION, "ep", start=base + timedelta(minutes=30)))
    assert [r.inference_time for r in later] == [base + timedelta(minutes=70)]
    assert len(capture_files(store, DESTINATION, "ep", end=base + timedelta(minutes=1))) == 1


def test_config_encodes_as_the_content_type_headers_say() -> None:
    config = CaptureConfig.from_request(CONFIG)
    assert config is not None
    record = config.record("text/csv; charset=utf-8", b"1,2,3", "application/octet-stream", b"\x00\xff")
    assert record.endpoint_input is not None and record.endpoint_input.encoding == "CSV"
    assert record.endpoint_input.data == "1,2,3"
    assert record.endpoint_output is not None and record.endpoint_output.encoding == "BASE64"
    assert record.endpoint_output.body == b"\x00\xff"

    default = CaptureConfig.from_request({**CONFIG, "CaptureContentTypeHeader": None})
    assert default is not None and default.payload("INPUT", "text/csv", b"1").encoding == "BASE64"

    inputs_only = CaptureConfig.from_request({**CONFIG, "CaptureOptions": [{"CaptureMode": "Input"}]})
    assert inputs_only is not None
    only = inputs_only.record("text/csv", b"1", "text/csv", b"2")
    assert only.endpoint_output is None and "endpointOutput" not in only.as_json()["captureData"]


def test_config_is_none_when_disabled_and_refuses_bad_fields() -> None:
    assert CaptureConfig.from_request(None) is None
    assert CaptureConfig.from_request({**CONFIG, "EnableCapture": False}) is None
    with pytest.raises(ValueError, match="InitialSamplingPercentage"):
        CaptureConfig.from_request({**CONFIG, "InitialSamplingPercentage": 120})
    with pytest.raises(ValueError, match="CaptureOptions"):
        CaptureConfig.from_request({**CONFIG, "CaptureOptions": [{"CaptureMode": "Both"}]})
    with pytest.raises(ValueError, match="DestinationS3Uri"):
        CaptureConfig.from_request({**CONFIG, "DestinationS3Uri": "bucket/prefix"})


def test_sampling_percentage_captures_about_that_share() -> None:
    config = CaptureConfig.from_request({**CONFIG, "InitialSamplingPercentage": 20})
    assert config is not None
    rng = random.Random(7)
    taken = sum(config.sampled(rng) for _ in range(5000))
    assert 900 < taken < 1100
    none = CaptureConfig.from_request({**CONFIG, "InitialSamplingPercentage": 0})
    assert none is not None and not any(none.sampled(rng) for _ in range(100))


def test_writer_buffers_then_writes_one_file_per_variant_and_hour() -> None:
    store = MemoryObjectStore(buckets=("monitoring",))
    config = CaptureConfig.from_request(CONFIG)
    assert config is not None
    writer = CaptureWriter(store, flush_seconds=3600, max_buffered=3)
    when = datetime(2026, 11, 29, 5, 0, 1, 250_000, tzinfo=UTC)
    for variant in ("Blue", "Blue", "Green", "Green"):
        writer.offer(DESTINATION, "ep", variant, config.record("text/csv", b"1", "text/csv", b"0", when=when))
    assert store.list_keys("monitoring") == []  # nothing written on the request path
    assert writer.dropped == 1

    writer.close()

    keys = store.list_keys("monitoring")
    assert len(keys) == 2 and writer.written == 3
    assert keys[0].startswith("data-capture/ep/Blue/2026/11/29/05/00-01-250-") and keys[0].endswith(".jsonl")
    assert len(list(read_capture(store, DESTINATION, "ep", variant="Blue"))) == 2


def test_writer_counts_a_failed_write_and_never_raises() -> None:
    class Broken(MemoryObjectStore):
        def put(self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
            raise OSError("store down")

    config = CaptureConfig.from_request(CONFIG)
    assert config is not None
    writer = CaptureWriter(Broken())
    writer.offer(DESTINATION, "ep", "v", config.record("text/csv", b"1", "text/csv", b"0"))
    assert writer.flush() == 0
    assert writer.failed == 1


def test_a_bad_line_is_named_by_file_and_line() -> None:
    with pytest.raises(CaptureFormatError, match=r"f\.jsonl line 2 endpointInput: mode 'IN'"):
        parse_capture_file(
            (SAGEMAKER_CSV_LINE + "\n" + SAGEMAKER_CSV_LINE.replace('"INPUT"', '"IN"')).encode(), "f.jsonl"
        )
    with pytest.raises(CaptureFormatError, match="neither endpointInput"):
        CaptureRecord.from_json({"captureData": {}, "eventMetadata": {}}, "x")


def test_a_record_offered_as_a_function_is_built_on_the_writers_side() -> None:
    store = MemoryObjectStore(buckets=("monitoring",))
    config = CaptureConfig.from_request(CONFIG)
    assert config is not None
    built: list[str] = []
    when = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)

    def build() -> CaptureRecord:
        built.append("now")
        return config.record("text/csv", b"1", "text/csv", b"0", when=when)

    def broken() -> CaptureRecord:
        raise ValueError("cannot encode")

    writer = CaptureWriter(store)
    writer.offer(DESTINATION, "ep", "v", build)
    writer.offer(DESTINATION, "ep", "v", broken)
    assert built == []  # nothing encoded by the caller
    assert writer.flush() == 1 and built == ["now"] and writer.failed == 1
    assert [r.inference_time for r in read_capture(store, DESTINATION, "ep")] == [when]
