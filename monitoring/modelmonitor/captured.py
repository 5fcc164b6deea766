"""What the endpoint served, as a frame: captured invocations (SageMaker's data-capture records, read through
:func:`mlops.capture.read_capture`) and batch predictions, one row per scored input.

Columns: the spec's features, ``inference_id`` (the key ground truth is merged on: the record's ``inferenceId``
when the caller set one, else its ``eventId``; a request of several rows gets ``<id>:<row>`` from its second row
on), ``inference_time`` (UTC) and ``prediction`` / ``probability`` (the positive class's, when the model answers
with probabilities). Request bodies are read with the serving contract's own parser, so every content type the
endpoint accepts is understood; positional rows are in the signature's order, which is the spec's feature order.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from mlops.capture import CaptureRecord
from mlops.errors import MonitoringError
from mlops.modeling.spec import ModelSpec
from serving.payload import parse

INFERENCE_ID = "inference_id"
INFERENCE_TIME = "inference_time"
PREDICTION = "prediction"
PROBABILITY = "probability"


def _outputs(record: CaptureRecord, rows: int) -> tuple[list[Any], list[Any]]:
    """Predictions and probabilities of one record (``None`` each when the output was not captured)."""
    side = record.endpoint_output
    if side is None:
        return [None] * rows, [None] * rows
    text = side.body.decode("utf-8")
    if "json" in side.observed_content_type or side.encoding == "JSON":
        document = json.loads(text)
        predictions = list(document.get("predictions", []))
        probabilities = list(document.get("probabilities") or [None] * len(predictions))
    else:
        fields = list(csv.reader(io.StringIO(text)))
        predictions = [f[0] for f in fields]
        probabilities = [float(f[1]) if len(f) == 2 else None for f in fields]
    if len(predictions) != rows:
        raise MonitoringError(
            f"capture record {record.event_id}: {rows} input row(s) but {len(predictions)} prediction(s)"
        )
    if any(isinstance(p, list | dict) for p in predictions):
        raise MonitoringError(
            f"capture record {record.event_id}: the endpoint answered in MLflow's format (each row's class "
            "probabilities, no label): monitoring reads the kit's answer; deploy with "
            "services.endpoint.response_format=kit (a client may still ask for MLflow's with the "
            "X-Mlops-Response-Format header)"
        )
    return predictions, [p if p is None or isinstance(p, float | int) else None for p in probabilities]


def _input_frame(record: CaptureRecord, spec: ModelSpec) -> pd.DataFrame:
    side = record.endpoint_input
    if side is None:
        raise MonitoringError(f"capture record {record.event_id} holds no endpointInput: capture the input too")
    try:
        payload = parse(side.body, side.observed_content_type)
    except Exception as exc:  # the serving parser's 4xx errors: the record names itself
        raise MonitoringError(f"capture record {record.event_id}: input not readable: {exc}") from exc
    columns = payload.columns or list(spec.features)[: len(payload.rows[0]) if payload.rows else 0]
    return pd.DataFrame(payload.rows, columns=columns)


def capture_frame(records: Iterable[CaptureRecord], spec: ModelSpec) -> pd.DataFrame:
    """One row per scored input of the captured invocations (module docstring)."""
    parts: list[pd.DataFrame] = []
    for record in records:
        frame = _input_frame(record, spec)
        predictions, probabilities = _outputs(record, len(frame))
        key = record.inference_id or record.event_id
        frame[INFERENCE_ID] = [key if i == 0 else f"{key}:{i}" for i in range(len(frame))]
        frame[INFERENCE_TIME] = pd.Timestamp(record.inference_time)
        frame[PREDICTION] = predictions
        frame[PROBABILITY] = probabilities
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=[*spec.features, INFERENCE_ID, INFERENCE_TIME, PREDICTION, PROBABILITY])
    return numeric_features(pd.concat(parts, ignore_index=True), spec)


def numeric_features(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Numeric features as numbers (CSV bodies carry text); a value that is not a number stays as it is, so the
    data-type check sees it."""
    out = frame.copy()
    for name in spec.features:
        if name in spec.categorical or name not in out.columns:
            continue
        converted = pd.to_numeric(out[name], errors="coerce")
        if bool((converted.notna() | out[name].isna()).all()):
            out[name] = converted
    return out
