"""Batch inference on the emulator: a feature Delta table in S3 scored by the local batch transform (the serving
container on loopback) into .out files and a predictions dataset; a failing model fails the job, naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlops.adapters.aws.sagemaker_transform import transform_job_request
from mlops.datasets import find_definition
from mlops.layout import filesystem_path
from mlops.local.batch_transform import LocalBatchTransform
from mlops.local.clients import clients_of
from mlops.platform import Platform
from mlops.ports.batch_transform import TransformFailedError
from serving.batch import BatchJob, batch_predict, transform_request
from serving.deploy import serving_container
from serving.model import load_model
from tests.unit.serving.model_support import DATASET, feature_frame, train_and_register

pytestmark = [pytest.mark.emulator]


def test_feature_table_is_scored_into_out_files_and_a_predictions_dataset(platform: Platform) -> None:
    from deltalake import write_deltalake

    tracking_dir = Path(platform.outputs.mlflow_tracking_uri.removeprefix("sqlite:///")).parent
    registered = train_and_register(tracking_dir)
    features = feature_frame(25, seed=11)
    features.insert(0, "transaction_id", [f"t{i:03d}" for i in range(25)])
    features.insert(1, "customer_id", [f"c{i % 4}" for i in range(25)])
    # UTC like the real feature table; other tests of the session may have written this table before
    features.insert(2, "event_time", pd.date_range("2026-01-01", periods=25, freq="h", tz="UTC"))
    features["is_fraud"] = 0
    table = platform.layout.feature_table_uri(DATASET)
    options = clients_of(platform).storage_options()
    write_deltalake(table, features, mode="overwrite", schema_mode="overwrite", storage_options=options)

    definition = find_definition(DATASET, platform.settings.datasets_dir)
    assert isinstance(platform.services.batch_transform, LocalBatchTransform)
    result = batch_predict(platform, definition, model_version=registered.version)

    assert result.rows == 25
    assert result.outputs == [result.inputs[0].replace("/input/", "/output/") + ".out"]
    assert platform.services.batch_transform.status(result.job).outputs == tuple(result.outputs)
    filesystem = platform.services.object_store.filesystem()
    with filesystem.open_input_stream(filesystem_path(result.outputs[0])) as stream:
        lines = stream.read().decode().splitlines()
    assert len(lines) == 25
    assert lines[0].startswith("t000,c0,2026-01-01 00:00:00+00:00,")
    predictions = pq.read_table(filesystem_path(result.predictions_uri), filesystem=filesystem).to_pandas()
    model = load_model(f"models:/{DATASET}/{registered.version}", registered.tracking_uri)
    expected = model.score(features[model.schema.names])
    assert expected.probabilities is not None
    assert lines[0].split(",")[-2:] == [str(expected.predictions[0]), str(expected.probabilities[0])]
    assert predictions["transaction_id"].tolist() == features["transaction_id"].tolist()
    assert predictions["prediction"].tolist() == model.predict(features[model.schema.names])
    assert predictions["probability"].tolist() == expected.probabilities
    assert list(predictions.columns) == [
        "transaction_id",
        "customer_id",
        "event_time",
        "prediction",
        "probability",
        "model_version",
        "job",
    ]
    assert set(predictions["model_version"]) == {registered.version}
    job = _job(result.job, registered.version, result.inputs[0])
    container = serving_container(platform, DATASET, f"models:/{DATASET}/{registered.version}")
    request = transform_job_request(transform_request(platform, job, container))
    assert request["DataProcessing"] == {"InputFilter": "$[3:]", "JoinSource": "Input"}
    assert request["ModelName"] == f"{platform.outputs.sagemaker_model_name}-v{registered.version}"
    assert request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == job.input_prefix


def _job(name: str, version: str, first_input: str) -> BatchJob:
    prefix = first_input.rsplit("/", 1)[0] + "/"
    return BatchJob(
        name,
        DATASET,
        version,
        ["transaction_id", "customer_id", "event_time"],
        prefix,
        prefix.replace("/input/", "/output/"),
        prefix + "unused.parquet",
    )


def test_a_model_failing_on_a_line_fails_the_job_naming_file_and_lines(platform: Platform) -> None:
    import psutil
    from deltalake import write_deltalake

    tracking_dir = Path(platform.outputs.mlflow_tracking_uri.removeprefix("sqlite:///")).parent
    registered = train_and_register(tracking_dir, alias=None, refuse_negative=True)
    features = feature_frame(3, seed=5)
    features.insert(0, "transaction_id", ["t0", "t1", "t2"])
    features.insert(1, "customer_id", ["c0", "c1", "c2"])
    features.insert(2, "event_time", pd.date_range("2026-01-01", periods=3, freq="h", tz="UTC"))
    features.loc[2, "amount"] = -1.0
    options = clients_of(platform).storage_options()
    table = platform.layout.feature_table_uri(DATASET)
    write_deltalake(table, features, mode="overwrite", schema_mode="overwrite", storage_options=options)
    definition = find_definition(DATASET, platform.settings.datasets_dir)

    with pytest.raises(TransformFailedError) as raised:
        batch_predict(platform, definition, model_version=registered.version)
    assert raised.value.reason.endswith(
        "part-00000.csv lines 0-2: the model answered 500: "
        "the model failed to predict: ValueError: amount must not be negative"
    )
    failed = platform.services.batch_transform.status(raised.value.job)
    assert (failed.status, failed.failure) == ("Failed", raised.value.reason)
    assert not [child for child in psutil.Process().children(recursive=True) if _is_server(child)], (
        "the job's serving container is stopped when the job fails"
    )


def _is_server(process: Any) -> bool:
    import psutil

    try:
        return "serve" in process.cmdline() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
