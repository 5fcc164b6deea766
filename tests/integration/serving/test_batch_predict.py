"""Batch inference on the emulator: a feature Delta table in S3 scored into .out files and a predictions dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlops.datasets import find_definition
from mlops.local.platform import Platform
from serving.batch import BatchJob, batch_predict, transform_job_request
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
    table = f"s3://{platform.outputs.features_bucket}/tables/{DATASET}"
    write_deltalake(
        table, features, mode="overwrite", schema_mode="overwrite", storage_options=platform.clients.storage_options()
    )

    definition = find_definition(DATASET, platform.settings.datasets_dir)
    result = batch_predict(platform, definition, model_version=registered.version)

    assert result.rows == 25
    assert result.outputs == [result.inputs[0].replace("/input/", "/output/") + ".out"]
    filesystem = platform.clients.arrow_filesystem()
    with filesystem.open_input_stream(result.outputs[0].removeprefix("s3://")) as stream:
        lines = stream.read().decode().splitlines()
    assert len(lines) == 25
    assert lines[0].startswith("t000,c0,2026-01-01 00:00:00+00:00,")
    predictions = pq.read_table(result.predictions_uri.removeprefix("s3://"), filesystem=filesystem).to_pandas()
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
    request = transform_job_request(platform, _job(result.job, registered.version, result.inputs[0]))
    assert request["DataProcessing"] == {"InputFilter": "$[3:]", "JoinSource": "Input"}
    assert request["ModelName"] == f"{platform.outputs.sagemaker_model_name}-v{registered.version}"


def _job(name: str, version: str, first_input: str) -> BatchJob:
    prefix = first_input.rsplit("/", 1)[0] + "/"
    return BatchJob(
        name,
        DATASET,
        version,
        ["transaction_id", "customer_id", "event_time"],
        prefix,
        prefix.replace("/input/", "/output/"),
        "s3://unused",
    )
