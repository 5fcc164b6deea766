from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops.errors import StackOutputError, StackOutputsNotFoundError
from mlops.outputs import StackOutputs, load_outputs, parse_outputs, write_outputs


def complete_outputs() -> dict[str, Any]:
    """Every output the contract requires, with plausible values."""
    values: dict[str, Any] = {}
    for name, field in StackOutputs.model_fields.items():
        annotation = str(field.annotation)
        values[name] = {"a": "b"} if annotation.startswith("dict") else f"value-of-{name}"
        if field.annotation is bool:
            values[name] = False
    values["glue_jobs"] = {"curate": "mlops-kit-dev-curate"}
    values["alarm_names"] = {"endpoint_errors": "mlops-kit-dev-endpoint-errors"}
    return values


def test_parse_complete_outputs_and_look_ups() -> None:
    outputs = parse_outputs(complete_outputs(), "dev")
    assert outputs.bucket_for_zone("raw") == "value-of-raw_bucket"
    assert outputs.glue_job("curate") == "mlops-kit-dev-curate"
    assert outputs.alarm("endpoint_errors") == "mlops-kit-dev-endpoint-errors"


def test_missing_output_names_the_output_and_the_stack() -> None:
    raw = complete_outputs()
    del raw["stream_name"]
    with pytest.raises(StackOutputError) as excinfo:
        parse_outputs(raw, "staging")
    assert str(excinfo.value) == "stack output 'stream_name' is missing from stack 'staging'"
    assert (excinfo.value.output, excinfo.value.stack) == ("stream_name", "staging")


def test_malformed_output_names_the_output() -> None:
    raw = complete_outputs()
    raw["glue_jobs"] = "not-a-mapping"
    with pytest.raises(StackOutputError, match=r"^stack output 'glue_jobs' of stack 'dev' has the wrong type: "):
        parse_outputs(raw, "dev")


def test_unknown_lookups_list_what_is_declared() -> None:
    outputs = parse_outputs(complete_outputs(), "dev")
    with pytest.raises(StackOutputError, match=r"glue_jobs.train.*declared jobs: curate"):
        outputs.glue_job("train")
    with pytest.raises(StackOutputError, match=r"'gold_bucket'.*no such data-lake zone"):
        outputs.bucket_for_zone("gold")


def test_round_trip_through_the_pulumi_json_shape(tmp_path: Path) -> None:
    path = tmp_path / "outputs" / "dev.json"
    write_outputs(path, complete_outputs())
    assert json.loads(path.read_text())["raw_bucket"] == "value-of-raw_bucket"
    assert load_outputs(path, "dev").stream_name == "value-of-stream_name"


def test_absent_file_explains_how_to_produce_it(tmp_path: Path) -> None:
    with pytest.raises(StackOutputsNotFoundError, match=r"pulumi stack output --json -s prod"):
        load_outputs(tmp_path / "prod.json", "prod")


@pytest.mark.parametrize(("content", "message"), [("{not json", "not valid JSON"), ("[1, 2]", "JSON object")])
def test_corrupt_file_is_reported(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "dev.json"
    path.write_text(content)
    with pytest.raises(StackOutputsNotFoundError, match=message):
        load_outputs(path, "dev")
