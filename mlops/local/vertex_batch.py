"""Vertex AI batch prediction on this machine (``target: gcp-emulators``; Vertex AI has no emulator): the batch
transform port played on ``BatchPredictionJob``'s contract with the same serving container as the local endpoints.

A job stages the port's inputs as Vertex's keyed JSON Lines instances in the GCS emulator (through the object-store
port; :mod:`mlops.adapters.gcp.vertex_batch_contract`, shared with the real adapter), starts the container on
Vertex's custom-container contract (``AIP_HTTP_PORT``, ``AIP_HEALTH_ROUTE``, ``AIP_PREDICT_ROUTE``, the kit's Google
Cloud settings), posts ``{"instances": [[...], ...]}`` mini-batches to the predict route and writes what Vertex
writes, ``<output_prefix>vertex/prediction-<model>-<time>/predictions_00001.jsonl`` (``{"key", "prediction"}``
lines; a refused mini-batch's instances go to ``errors_00001.jsonl`` with the container's answer as ``status``),
then the same join as the real adapter turns them into the port's ``.out`` files. The job is named as Vertex names
one (``projects/<p>/locations/<l>/batchPredictionJobs/<id>``, its ``arn``), finishes within :meth:`start`, and its
record (``<state_dir>/vertex-batch-jobs/<job>.json``) answers :meth:`status` (shared machinery:
:mod:`mlops.local.batch_jobs`).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from mlops.adapters.gcp.vertex_batch_contract import StagedInputs, instance_array, join_outputs, stage_instances
from mlops.layout import split_uri
from mlops.local import loopback
from mlops.local.batch_jobs import JobRecords, job_server, run_recorded
from mlops.local.vertex_hosting import routes
from mlops.platform import Platform
from mlops.ports.batch_transform import TransformJob, TransformRequest
from mlops.ports.endpoint import error_message
from mlops.ports.object_store import ObjectStore

STATE_SUBDIR = "vertex-batch-jobs"
REQUEST_TIMEOUT_S = 120.0


def _environment(platform: Platform, request: TransformRequest, job_id: str) -> dict[str, str]:
    """What Vertex gives a batch prediction job's container (the port is added at launch)."""
    from mlops.local.vertex_training import gcp_runtime_environment

    container = request.container
    env = {**os.environ, **container.environment, **container.extra_environment, **gcp_runtime_environment(platform)}
    env.pop("SAGEMAKER_BIND_TO_PORT", None)
    health, predict = routes(job_id, job_id)
    env.update(
        {
            "AIP_MODE": "PREDICTION",
            "AIP_MODEL_NAME": request.model_name,
            "AIP_HEALTH_ROUTE": health,
            "AIP_PREDICT_ROUTE": predict,
        }
    )
    return env


def _put_jsonl(store: ObjectStore, uri: str, rows: list[dict[str, Any]]) -> None:
    _, bucket, key = split_uri(uri)
    store.put(bucket, key, "".join(json.dumps(row) + "\n" for row in rows).encode(), "application/jsonl")


def predict_staged(store: ObjectStore, staged: StagedInputs, request: TransformRequest, url: str, out_dir: str) -> None:
    """Every staged instance through the container, ``records_per_request`` at a time, into Vertex's output files."""
    predictions: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for uri in staged.instance_uris:
        _, bucket, key = split_uri(uri)
        lines = [json.loads(line) for line in store.get(bucket, key).decode().splitlines() if line]
        for start in range(0, len(lines), request.records_per_request):
            chunk = lines[start : start + request.records_per_request]
            body = {"instances": [instance_array(line, staged.fields) for line in chunk]}
            answer = loopback.post(url, json=body, timeout=REQUEST_TIMEOUT_S)
            answered = answer.json().get("predictions") if answer.status_code == 200 else None
            if not isinstance(answered, list) or len(answered) != len(chunk):
                status = f"the model answered {answer.status_code}: {error_message(answer.content)}"
                errors.extend({"key": line["key"], "status": status} for line in chunk)
                continue
            predictions.extend({"key": line["key"], "prediction": p} for line, p in zip(chunk, answered, strict=True))
    _put_jsonl(store, f"{out_dir}predictions_00001.jsonl", predictions)
    if errors:
        _put_jsonl(store, f"{out_dir}errors_00001.jsonl", errors)


class LocalVertexBatchPrediction:
    """``BatchTransform`` as local Vertex AI batch prediction jobs over the GCS emulator."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._records = JobRecords(platform.settings.state_dir / STATE_SUBDIR)

    def start(self, request: TransformRequest) -> TransformJob:
        gcp = self._platform.settings.gcp
        job_id = str(time.time_ns() // 1000 % 10**16)
        resource = f"projects/{gcp.project}/locations/{gcp.location}/batchPredictionJobs/{job_id}"

        def run() -> list[str]:
            store = self._platform.services.object_store
            staged = stage_instances(store, request)
            out_dir = f"{staged.destination}prediction-{request.model_name}-{time.strftime('%Y_%m_%dT%H_%M_%S')}/"
            env = _environment(self._platform, request, job_id)
            health, predict = env["AIP_HEALTH_ROUTE"], env["AIP_PREDICT_ROUTE"]
            with job_server(self._platform, request.job_name, request.container, env, health) as server:
                predict_staged(store, staged, request, server.url + predict, out_dir)
            return join_outputs(store, request, out_dir)

        return run_recorded(self._records, request.job_name, run, arn=resource)

    def status(self, job_name: str) -> TransformJob:
        return self._records.read(job_name)
