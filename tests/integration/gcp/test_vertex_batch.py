"""Batch inference on local Google Cloud (``cloud: gcp``, ``target: gcp-emulators``): the serving capability's own
``batch_predict`` scores a feature Delta table in the GCS emulator through the wiring's batch transform port, played
as a Vertex AI batch prediction job (keyed JSON Lines instances, the serving container on Vertex's contract,
``predictions_*.jsonl``) and joined back into the port's ``.out`` files and the predictions dataset."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops.adapters.gcp.clients import GcpClients
from mlops.datasets import find_definition
from mlops.layout import split_uri
from mlops.local.vertex_batch import LocalVertexBatchPrediction
from mlops.outputs import StackOutputs
from mlops.settings import Settings
from mlops.wiring import build_platform
from serving.batch import batch_predict
from serving.model import load_model
from tests.unit.serving.model_support import DATASET, feature_frame, train_and_register

pytestmark = [pytest.mark.server]


def test_feature_table_is_scored_by_a_local_vertex_batch_prediction_job(
    gcp_settings: Settings, gcp_clients: GcpClients, tmp_path: Path
) -> None:
    registered = train_and_register(tmp_path / "mlflow", alias=None)
    suffix = uuid.uuid4().hex[:8]
    buckets = {zone: f"{zone}-{suffix}" for zone in ("curated", "features", "artifacts")}
    for bucket in buckets.values():
        gcp_clients.storage().create_bucket(bucket)
    values: dict[str, Any] = {
        "stack": "gcp-local",
        **{f"{zone}_bucket": name for zone, name in buckets.items()},
        "sagemaker_model_name": "kit-model",
        "mlflow_tracking_uri": registered.tracking_uri,
        "online_feature_table": "online-features",
        "model_package_group": "kit-models",
        "endpoint_name": "kit-endpoint",
        "endpoint_config_name": "kit-config",
        "sagemaker_role_arn": "vertex@mlops-local.iam.gserviceaccount.com",
        "data_capture_prefix": f"gs://{buckets['artifacts']}/data-capture/kit-endpoint",
        "alarm_names": {},
    }
    settings = gcp_settings.model_copy(update={"state_dir": tmp_path / "state"})
    platform = build_platform(settings, StackOutputs.model_construct(**values))
    features = feature_frame(12, seed=3)
    features.insert(0, "transaction_id", [f"t{i:02d}" for i in range(12)])
    features.insert(1, "customer_id", [f"c{i % 3}" for i in range(12)])
    features.insert(2, "event_time", pd.date_range("2026-01-01", periods=12, freq="h", tz="UTC"))
    table = pa.Table.from_pandas(features, preserve_index=False)
    platform.services.table_store.write(platform.layout.feature_table_uri(DATASET), table, "overwrite", {})

    assert isinstance(platform.services.batch_transform, LocalVertexBatchPrediction)
    definition = find_definition(DATASET, settings.datasets_dir)
    result = batch_predict(platform, definition, model_version=registered.version)

    model = load_model(f"models:/{DATASET}/{registered.version}", registered.tracking_uri)
    expected = model.score(features[model.schema.names])
    assert expected.probabilities is not None
    assert result.rows == 12 and result.outputs == [result.inputs[0].replace("/input/", "/output/") + ".out"]
    store = platform.services.object_store
    _, bucket, key = split_uri(result.predictions_uri)
    predictions = pq.read_table(pa.BufferReader(store.get(bucket, key))).to_pandas()
    assert predictions["transaction_id"].tolist() == features["transaction_id"].tolist()
    assert predictions["prediction"].tolist() == list(expected.predictions)
    assert predictions["probability"].tolist() == pytest.approx(expected.probabilities)
    # what Vertex writes: keyed predictions under the job's output directory, the job named as Vertex names it
    job = platform.services.batch_transform.status(result.job)
    assert job.status == "Completed" and job.arn is not None and "/batchPredictionJobs/" in job.arn
    _, out_bucket, out_prefix = split_uri(result.outputs[0].rsplit("/", 1)[0] + "/vertex/")
    written = [k for k in store.list_keys(out_bucket, out_prefix) if k.endswith("predictions_00001.jsonl")]
    assert len(written) == 1
    first = json.loads(store.get(out_bucket, written[0]).decode().splitlines()[0])
    assert first["key"] == "part-00000.csv#0"
    assert first["prediction"] == {"prediction": expected.predictions[0], "probability": expected.probabilities[0]}
