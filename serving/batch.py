"""Batch inference over a feature table version, following SageMaker batch transform's contract.

The feature Delta table (``<features>/tables/<dataset>``, read through the table store at a version) is written
as headerless CSV input files, key columns first then the model's features in signature order, under
``<artifacts>/batch-transform/<dataset>/<job>/input/``. The batch transform port scores them: each file is split
by line, the key columns are filtered out before scoring (``InputFilter``) and the answer is appended to the
input line (``JoinSource=Input``) in ``<output>/<file>.out``; a classifier's answer is the label then its
probability (binary: the positive class) or one probability per class (multiclass). Once the job completed, the
``.out`` files are assembled into the predictions dataset
``<curated>/predictions/<dataset>/model_version=<v>/<job>.parquet`` (keys, prediction, ``probability`` or
``probability_<class>`` columns for a classifier, model version, job).

Which runtime scores is the wiring's choice: SageMaker transform jobs on the version's deployed model (the job
runs on; its ARN is returned), or the same serving container run on this machine (the job completes here).
"""

from __future__ import annotations

import contextlib
import csv
import io
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlops.datasets import DatasetDefinition
from mlops.errors import DatasetError
from mlops.layout import batch_transform_prefix, predictions_key, split_uri
from mlops.platform import Platform
from mlops.ports.batch_transform import TransformRequest
from mlops.ports.hosting import Container
from mlops.tracking import mlflow_session
from serving.deploy import names_for, serving_container
from serving.errors import PredictionError
from serving.model import LoadedModel
from serving.schema import InputSchema

LINES_PER_FILE = 10_000


@dataclass(frozen=True)
class BatchJob:
    """Where one batch inference run reads and writes (object URIs from the layout)."""

    name: str
    dataset: str
    model_version: str
    keys: list[str]
    input_prefix: str
    output_prefix: str
    predictions_uri: str


def plan_job(platform: Platform, definition: DatasetDefinition, model_version: str) -> BatchJob:
    """Name the job and its locations (all buckets from the stack outputs, keys from the layout)."""
    keys = list(dict.fromkeys([*definition.primary_key, definition.entity_key, definition.event_time]))
    name = f"{definition.name.replace('_', '-')}-v{model_version}-{time.strftime('%Y%m%d%H%M%S')}"
    base = platform.layout.zone_uri("artifacts", batch_transform_prefix(definition.name, name))
    predictions = platform.layout.zone_uri("curated", predictions_key(definition.name, model_version, name))
    return BatchJob(name, definition.name, model_version, keys, f"{base}/input/", f"{base}/output/", predictions)


def read_features(platform: Platform, dataset: str, data_version: int | None) -> pd.DataFrame:
    """The feature table at ``data_version`` (latest when ``None``) as pandas."""
    store = platform.services.table_store
    uri = platform.layout.feature_table_uri(dataset)
    if store.version(uri) is None:
        raise DatasetError(f"feature table {uri} does not exist: run `mlops features materialize {dataset}`")
    return store.read(uri, data_version).data.to_pandas()


def write_inputs(platform: Platform, job: BatchJob, features: pd.DataFrame, schema: InputSchema) -> list[str]:
    """Headerless CSV input files (keys, then signature columns); returns their URIs."""
    missing = [name for name in [*job.keys, *schema.names] if name not in features.columns]
    if missing:
        raise DatasetError(f"feature table of {job.dataset!r} lacks columns the job needs: {', '.join(missing)}")
    frame = features[[*job.keys, *schema.names]]
    store = platform.services.object_store
    uris = []
    for index, start in enumerate(range(0, len(frame), LINES_PER_FILE)):
        uri = f"{job.input_prefix}part-{index:05d}.csv"
        text = frame.iloc[start : start + LINES_PER_FILE].to_csv(index=False, header=False)
        _, bucket, key = split_uri(uri)
        store.put(bucket, key, text.encode(), "text/csv")
        uris.append(uri)
    return uris


def transform_request(platform: Platform, job: BatchJob, container: Container) -> TransformRequest:
    """The transform of ``job``'s inputs by the version's model: its SageMaker model (``mlops deploy`` creates
    it) or, where the job runs here, its serving container; the key columns are filtered out."""
    return TransformRequest(
        job_name=job.name,
        model_name=names_for(platform.outputs, job.model_version).model,
        container=container,
        input_prefix=job.input_prefix,
        output_prefix=job.output_prefix,
        skip_fields=len(job.keys),
    )


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

    store = platform.services.object_store
    records: list[list[str]] = []
    for uri in outputs:
        _, bucket, key = split_uri(uri)
        records.extend(csv.reader(io.StringIO(store.get(bucket, key).decode())))
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
    buffer = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    _, bucket, key = split_uri(job.predictions_uri)
    store.put(bucket, key, buffer.getvalue().to_pybytes(), "application/vnd.apache.parquet")
    return len(frame)


def output_columns(model: LoadedModel) -> list[str]:
    """The answer's columns for ``model``: ``prediction``, then ``probability`` (binary: the positive class) or
    one ``probability_<class>`` per class (multiclass)."""
    scorer = model.scorer
    return _columns(scorer.classes if scorer.is_classifier else None)


def declared_output_columns(metadata: Mapping[str, Any] | None) -> list[str] | None:
    """:func:`output_columns` from what a model of the training entry point says of itself in its MLmodel file
    (``task``, ``classes``), without loading it; ``None`` for a model that does not say (load it to know)."""
    task = (metadata or {}).get("task")
    classes = (metadata or {}).get("classes")
    if task == "regression":
        return _columns(None)
    if task in ("binary", "multiclass") and isinstance(classes, list) and len(classes) >= 2:
        return _columns(tuple(classes))
    return None


def _columns(classes: tuple[Any, ...] | None) -> list[str]:
    if classes is None:
        return ["prediction"]
    if len(classes) == 2:
        return ["prediction", "probability"]
    return ["prediction", *(f"probability_{label}" for label in classes)]


@dataclass(frozen=True)
class BatchResult:
    """What a batch inference run produced (``rows`` is ``None`` while a cloud job still runs)."""

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

    The batch transform port runs the job; when it completed (a local run), its outputs are assembled into the
    predictions dataset; when it still runs (SageMaker), the result carries its ARN and no rows yet.
    """
    from mlflow.models import get_model_info

    from serving.model import load_model, registry_uri, resolve_version

    tracking_uri = platform.outputs.mlflow_tracking_uri
    with mlflow_session(platform):
        name, version = resolve_version(tracking_uri, registry_uri(definition.name, model_version))
        model_uri = registry_uri(name, version)
        info = get_model_info(model_uri)
        signature = info.signature
        columns = declared_output_columns(info.metadata)
        try:
            schema = InputSchema.from_mlflow(signature.inputs if signature is not None else None)
        except ValueError as exc:
            raise DatasetError(f"model {model_uri!r} cannot score a feature table: {exc}") from exc
    job = plan_job(platform, definition, version)
    inputs = write_inputs(platform, job, read_features(platform, definition.name, data_version), schema)
    request = transform_request(platform, job, serving_container(platform, definition.name, model_uri))
    transform = platform.services.batch_transform.start(request)
    if transform.status != "Completed":
        return BatchResult(job.name, version, inputs, [], job.predictions_uri, None, transform.arn)
    if columns is None:  # a model logged elsewhere: its scorer knows its classes
        with mlflow_session(platform):
            columns = output_columns(load_model(model_uri, tracking_uri))
    outputs = list(transform.outputs)
    key_types: dict[str, str] = {key: definition.column(key).type for key in job.keys}
    width = len(job.keys) + len(schema.names)
    rows = assemble_predictions(platform, job, outputs, key_types, width, columns)
    return BatchResult(job.name, version, inputs, outputs, job.predictions_uri, rows)
