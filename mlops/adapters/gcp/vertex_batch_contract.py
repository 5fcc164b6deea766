"""The batch transform port's data contract on Vertex AI batch prediction, shared by the real adapter
(:mod:`mlops.adapters.gcp.vertex_batch`) and the local runner (:mod:`mlops.local.vertex_batch`). No Google SDK here.

The port hands over headerless CSV files whose first ``skip_fields`` fields are keys, and expects one ``<file>.out``
per input, each line the input line joined with the model's answer (:mod:`mlops.ports.batch_transform`). Vertex's
CSV input needs a header and quoted strings, and its outputs (``predictions_*.jsonl``) come in no set order, so the
inputs are staged as JSON Lines that Vertex maps itself (``instanceConfig``):

- each input line becomes ``{"key": "<file>#<n>", "f0": v0, "f1": v1, ...}``, the feature fields (after the keys)
  typed as JSON (a field spelling a number is a number, an empty one ``null``, anything else a string), under
  ``<output_prefix>vertex/instances/<file>.jsonl``;
- the job sends the container ``{"instances": [[v0, v1, ...], ...]}`` (``instanceType: array`` with the feature
  fields in order, ``keyField: key``) and writes ``{"key": ..., "prediction": {...}}`` lines to
  ``<output_prefix>vertex/prediction-<model>-<time>/predictions_NNNNN.jsonl`` (failed instances to ``errors_*``);
- :func:`join_outputs` joins the predictions back to the input lines by key into the port's ``.out`` files: the
  answer fields are the prediction object's ``prediction`` then its ``probability`` (one per class when a list),
  as the container's CSV answer spells them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from mlops.layout import split_uri
from mlops.ports.batch_transform import TransformFailedError, TransformRequest, output_uri
from mlops.ports.object_store import ObjectStore

KEY_FIELD = "key"
STAGING = "vertex/"
"""Below the request's output prefix: the staged instances and the job's own output directory."""
_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


@dataclass(frozen=True)
class StagedInputs:
    """The staged instances of one request: their URIs, the feature fields in order and where the job writes."""

    instance_uris: tuple[str, ...]
    fields: tuple[str, ...]
    destination: str
    """``gcsDestination.outputUriPrefix``: Vertex writes its ``prediction-<model>-<time>/`` directory below it."""


def json_value(field: str) -> Any:
    """A CSV field as the JSON value Vertex would pass on: a number when it spells one, ``None`` when empty."""
    if field == "":
        return None
    if _NUMBER.fullmatch(field):
        return int(field) if field.lstrip("-").isdigit() else float(field)
    return field


def _relative(request: TransformRequest, source: str) -> str:
    return source.removeprefix(request.input_prefix)


def stage_instances(store: ObjectStore, request: TransformRequest) -> StagedInputs:
    """Write every input file under ``request.input_prefix`` as keyed JSON Lines instances (key order kept)."""
    scheme, bucket, prefix = split_uri(request.input_prefix)
    base = f"{request.output_prefix}{STAGING}"
    uris: list[str] = []
    width = 0
    for key in store.list_keys(bucket, prefix):
        relative = _relative(request, f"{scheme}://{bucket}/{key}")
        lines = []
        for number, row in enumerate(csv.reader(io.StringIO(store.get(bucket, key).decode()))):
            if not row:
                continue
            features = row[request.skip_fields :]
            width = max(width, len(features))
            instance = {KEY_FIELD: f"{relative}#{number}"}
            instance.update({f"f{i}": json_value(value) for i, value in enumerate(features)})
            lines.append(json.dumps(instance))
        target = f"{base}instances/{relative}.jsonl"
        _, out_bucket, out_key = split_uri(target)
        store.put(out_bucket, out_key, ("\n".join(lines) + "\n").encode(), "application/jsonl")
        uris.append(target)
    if not uris:
        raise TransformFailedError(request.job_name, f"no input files under {request.input_prefix}")
    return StagedInputs(tuple(uris), tuple(f"f{i}" for i in range(width)), base)


def instance_config(staged: StagedInputs) -> dict[str, Any]:
    """Vertex's ``instanceConfig``: the features as an array in order, the key carried to the output."""
    return {"instanceType": "array", "keyField": KEY_FIELD, "includedFields": list(staged.fields)}


def instance_array(line: dict[str, Any], fields: tuple[str, ...]) -> list[Any]:
    """What Vertex sends the container for one staged line (``instanceType: array`` over ``includedFields``)."""
    return [line.get(name) for name in fields]


def answer_fields(prediction: Any) -> list[Any]:
    """A Vertex prediction object as the container's CSV answer fields: prediction, then probability(ies)."""
    if not isinstance(prediction, dict):
        return [prediction]
    probability = prediction.get("probability")
    extra = probability if isinstance(probability, list) else [] if probability is None else [probability]
    return [prediction.get("prediction"), *extra]


def _read_jsonl(store: ObjectStore, directory: str, stem: str) -> list[dict[str, Any]]:
    _, bucket, prefix = split_uri(directory)
    rows: list[dict[str, Any]] = []
    for key in store.list_keys(bucket, prefix):
        if key.rsplit("/", 1)[-1].startswith(stem):
            rows.extend(json.loads(line) for line in store.get(bucket, key).decode().splitlines() if line)
    return rows


def join_outputs(store: ObjectStore, request: TransformRequest, job_output_dir: str) -> list[str]:
    """The job's ``predictions_*.jsonl`` joined to the input lines by key, as the port's ``.out`` files; a job
    with failed instances (``errors_*``) or a missing prediction fails, naming the file and line."""
    errors = _read_jsonl(store, job_output_dir, "errors_")
    if errors:
        first = errors[0]
        raise TransformFailedError(
            request.job_name, f"{len(errors)} instances failed, first {first.get(KEY_FIELD)}: {first.get('status')}"
        )
    answers = {str(row[KEY_FIELD]): row.get("prediction") for row in _read_jsonl(store, job_output_dir, "predictions_")}
    scheme, bucket, prefix = split_uri(request.input_prefix)
    outputs = []
    for key in store.list_keys(bucket, prefix):
        source = f"{scheme}://{bucket}/{key}"
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for number, line in enumerate(store.get(bucket, key).decode().splitlines()):
            if not line:
                continue
            wanted = f"{_relative(request, source)}#{number}"
            if wanted not in answers:
                raise TransformFailedError(
                    request.job_name, f"{source} line {number}: no prediction in the job's output"
                )
            out.write(line + ",")
            writer.writerow(answer_fields(answers[wanted]))
        target = output_uri(request, source)
        _, out_bucket, out_key = split_uri(target)
        store.put(out_bucket, out_key, out.getvalue().encode(), "text/csv")
        outputs.append(target)
    return outputs
