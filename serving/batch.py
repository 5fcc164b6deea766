"""Batch inference over a feature table version, following SageMaker batch transform's contract.

The feature Delta table (``s3://<features>/tables/<dataset>``, read with deltalake at a version) is written as
headerless CSV input files, key columns first then the model's features in signature order. Each input file is
split by line; the key columns are filtered out before scoring (``InputFilter``) and the prediction is appended
to the input line (``JoinSource=Input``) in ``<input file>.out``; a classifier's answer is the label then its
probability (binary: the positive class) or one probability per class (multiclass). The ``.out`` files are then
assembled into the predictions dataset ``s3://<curated>/predictions/<dataset>/model_version=<v>/<job>.parquet``
(keys, prediction, ``probability`` or ``probability_<class>`` columns for a classifier, model version, job).

Locally the lines are scored by the same :class:`~serving.core.InferenceCore` the server uses; on AWS the
same input and output layout is handed to ``create_transform_job`` on the deployed version's SageMaker model.
"""

from __future__ import annotations

import contextlib
import csv
import io
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlops.datasets import DatasetDefinition
from mlops.errors import DatasetError
from mlops.local.platform import Platform
from mlops.tracking import mlflow_session
from serving.core import InferenceCore
from serving.deploy import names_for
from serving.errors import PredictionError
from serving.model import LoadedModel
from serving.schema import InputSchema

LINES_PER_FILE = 10_000
LINES_PER_REQUEST = 2_000  # a mini-batch well under the 6 MB payload limit


@dataclass(frozen=True)
class BatchJob:
    """Where one batch inference run reads and writes."""

    name: str
    dataset: str
    model_version: str
    keys: list[str]
    input_prefix: str  # s3://bucket/prefix/
    output_prefix: str
    predictions_uri: str


def plan_job(platform: Platform, definition: DatasetDefinition, model_version: str) -> BatchJob:
    """Name the job and its S3 locations (all buckets from the stack outputs)."""
    keys = list(dict.fromkeys([*definition.primary_key, definition.entity_key, definition.event_time]))
    name = f"{definition.name.replace('_', '-')}-v{model_version}-{time.strftime('%Y%m%d%H%M%S')}"
    base = f"s3://{platform.outputs.bucket_for_zone('artifacts')}/batch-transform/{definition.name}/{name}"
    predictions = (
        f"s3://{platform.outputs.bucket_for_zone('curated')}/predictions/{definition.name}/"
        f"model_version={model_version}/{name}.parquet"
    )
    return BatchJob(name, definition.name, model_version, keys, f"{base}/input/", f"{base}/output/", predictions)


def read_features(platform: Platform, dataset: str, data_version: int | None) -> pd.DataFrame:
    """The feature table at ``data_version`` (latest when ``None``) as pandas."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    uri = f"s3://{platform.outputs.bucket_for_zone('features')}/tables/{dataset}"
    try:
        table = DeltaTable(uri, version=data_version, storage_options=platform.clients.storage_options())
    except TableNotFoundError as exc:
        raise DatasetError(f"feature table {uri} does not exist: run `mlops features materialize {dataset}`") from exc
    return table.to_pandas()


def write_inputs(platform: Platform, job: BatchJob, features: pd.DataFrame, schema: InputSchema) -> list[str]:
    """Headerless CSV input files (keys, then signature columns); returns their S3 URIs."""
    missing = [name for name in [*job.keys, *schema.names] if name not in features.columns]
    if missing:
        raise DatasetError(f"feature table of {job.dataset!r} lacks columns the job needs: {', '.join(missing)}")
    frame = features[[*job.keys, *schema.names]]
    filesystem = platform.clients.arrow_filesystem()
    uris = []
    for index, start in enumerate(range(0, len(frame), LINES_PER_FILE)):
        uri = f"{job.input_prefix}part-{index:05d}.csv"
        text = frame.iloc[start : start + LINES_PER_FILE].to_csv(index=False, header=False)
        with filesystem.open_output_stream(uri.removeprefix("s3://")) as stream:
            stream.write(text.encode())
        uris.append(uri)
    return uris


def transform_file(core: InferenceCore, text: str, key_count: int) -> str:
    """One input file -> its ``.out``: each line split, keys filtered out, prediction appended to the line."""
    lines = [line for line in text.splitlines() if line]
    out = io.StringIO()
    for start in range(0, len(lines), LINES_PER_REQUEST):
        chunk = lines[start : start + LINES_PER_REQUEST]
        rows = list(csv.reader(chunk))
        body = "\n".join(_csv_line(row[key_count:]) for row in rows).encode()
        answer = core.invocations(body, "text/csv", "text/csv")
        if answer.status != 200:
            raise PredictionError(f"lines {start}-{start + len(chunk) - 1}: {answer.body.decode()}")
        for line, prediction in zip(chunk, answer.body.decode().splitlines(), strict=True):
            out.write(f"{line},{prediction}\n")
    return out.getvalue()


def _csv_line(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()


def run_local(platform: Platform, job: BatchJob, core: InferenceCore, inputs: list[str]) -> list[str]:
    """Score every input file into ``<output_prefix><file>.out``; returns the output URIs."""
    filesystem = platform.clients.arrow_filesystem()
    outputs = []
    for uri in inputs:
        with filesystem.open_input_stream(uri.removeprefix("s3://")) as stream:
            text = stream.read().decode()
        out_uri = f"{job.output_prefix}{uri.rsplit('/', 1)[1]}.out"
        with filesystem.open_output_stream(out_uri.removeprefix("s3://")) as stream:
            stream.write(transform_file(core, text, len(job.keys)).encode())
        outputs.append(out_uri)
    return outputs


def transform_job_request(platform: Platform, job: BatchJob, instance_type: str = "ml.m5.large") -> dict[str, Any]:
    """``create_transform_job`` arguments with the same layout and filters as the local run."""
    return {
        "TransformJobName": job.name,
        "ModelName": names_for(platform.outputs, job.model_version).model,
        "MaxPayloadInMB": 6,
        "BatchStrategy": "MultiRecord",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": job.input_prefix}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": job.output_prefix, "Accept": "text/csv", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": 1},
        "DataProcessing": {"InputFilter": f"$[{len(job.keys)}:]", "JoinSource": "Input"},
    }


def assemble_predictions(  # noqa: PLR0917 (the job's whole output contract)
    platform: Platform,
    job: BatchJob,
    outputs: list[str],
    key_types: dict[str, str],
    input_width: int,
    output_columns: list[str],
) -> int:
    """The ``.out`` files -> the predictions Parquet dataset (keys, prediction, a classifier's probability
    column(s), model version, job); returns the row count. ``input_width`` fields of each line are the input
    (keys + features), the rest are the answer's ``output_columns``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    filesystem = platform.clients.arrow_filesystem()
    records: list[list[str]] = []
    for uri in outputs:
        with filesystem.open_input_stream(uri.removeprefix("s3://")) as stream:
            records.extend(csv.reader(io.StringIO(stream.read().decode())))
    keys = job.keys
    for number, row in enumerate(records):
        if len(row) != input_width + len(output_columns):
            raise PredictionError(
                f"output line {number} has {len(row)} fields; expected {input_width} input fields and "
                f"{', '.join(output_columns)}"
            )
    frame = pd.DataFrame([[*row[: len(keys)], *row[input_width:]] for row in records], columns=[*keys, *output_columns])
    for key, kind in key_types.items():
        if kind == "timestamp":
            frame[key] = pd.to_datetime(frame[key])
    with contextlib.suppress(ValueError):  # class labels that are not numbers stay strings
        frame["prediction"] = pd.to_numeric(frame["prediction"])
    for column in output_columns[1:]:  # probabilities are always numbers
        frame[column] = frame[column].astype("float64")  # exact, unlike to_numeric's fast parser
    frame["model_version"] = job.model_version
    frame["job"] = job.name
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False),
        job.predictions_uri.removeprefix("s3://"),
        filesystem=filesystem,
    )
    return len(frame)


def output_columns(model: LoadedModel) -> list[str]:
    """The answer's columns for ``model``: ``prediction``, then ``probability`` (binary: the positive class) or
    one ``probability_<class>`` per class (multiclass)."""
    scorer = model.scorer
    if not scorer.is_classifier:
        return ["prediction"]
    if len(scorer.classes) == 2:
        return ["prediction", "probability"]
    return ["prediction", *(f"probability_{label}" for label in scorer.classes)]


@dataclass(frozen=True)
class BatchResult:
    """What a batch inference run produced (``rows`` is ``None`` while an AWS job still runs)."""

    job: str
    model_version: str
    inputs: list[str]
    outputs: list[str]
    predictions_uri: str
    rows: int | None
    transform_job_arn: str | None = None


def batch_predict(
    platform: Platform,
    definition: DatasetDefinition,
    model_version: str | None = None,
    data_version: int | None = None,
) -> BatchResult:
    """Score the feature table with the registered model (``model_version`` or the champion).

    On the emulator the scoring runs here through the serving core; on AWS a batch transform job is started on
    the version's deployed SageMaker model (``mlops deploy`` creates it) and its ARN returned.
    """
    from serving.model import load_model, registry_uri, resolve_version

    tracking_uri = platform.outputs.mlflow_tracking_uri
    with mlflow_session(platform):
        name, version = resolve_version(tracking_uri, registry_uri(definition.name, model_version))
        job = plan_job(platform, definition, version)
        if platform.settings.target == "aws":
            from mlflow.models import get_model_info

            schema = InputSchema.from_mlflow(get_model_info(registry_uri(name, version)).signature.inputs)
        else:
            core = InferenceCore(load_model(registry_uri(name, version), tracking_uri))
            schema = core.model.schema
    inputs = write_inputs(platform, job, read_features(platform, definition.name, data_version), schema)
    if platform.settings.target == "aws":
        arn = platform.clients.client("sagemaker").create_transform_job(**transform_job_request(platform, job))
        return BatchResult(job.name, version, inputs, [], job.predictions_uri, None, arn["TransformJobArn"])
    outputs = run_local(platform, job, core, inputs)
    key_types: dict[str, str] = {key: definition.column(key).type for key in job.keys}
    width = len(job.keys) + len(schema.names)
    rows = assemble_predictions(platform, job, outputs, key_types, width, output_columns(core.model))
    return BatchResult(job.name, version, inputs, outputs, job.predictions_uri, rows)
