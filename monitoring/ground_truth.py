"""Ground truth that arrives after the inference, in Model Monitor's JSON Lines shape, merged to what was served.

One line per label::

    {"groundTruthData": {"data": "1", "encoding": "CSV"},
     "eventMetadata": {"eventId": "<the captured record's inferenceId or eventId>"},
     "eventVersion": "0"}

Files live in the monitoring zone under :func:`mlops.layout.ground_truth_key`
(``groundtruth/<dataset>/yyyy/mm/dd/hh/<name>.jsonl``, the hour the labels were uploaded, as Model Monitor's
ground-truth S3 layout has it). :func:`merge_ground_truth` joins labels to captured inferences by id; a label sent
twice keeps the newest file's value (a correction), and an inference without a label is left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from mlops.errors import MonitoringError
from mlops.layout import ground_truth_key, ground_truth_prefix
from mlops.platform import Platform
from monitoring.modelmonitor.captured import INFERENCE_ID

EVENT_VERSION = "0"
LABEL = "label"


def ground_truth_line(event_id: str, label: Any) -> str:
    record = {
        "groundTruthData": {"data": str(label), "encoding": "CSV"},
        "eventMetadata": {"eventId": event_id},
        "eventVersion": EVENT_VERSION,
    }
    return json.dumps(record, separators=(",", ":"))


def parse_ground_truth(data: bytes, where: str) -> list[tuple[str, str]]:
    """``(eventId, label text)`` of every line; a malformed line names its file and line number."""
    out: list[tuple[str, str]] = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            event_id = raw["eventMetadata"]["eventId"]
            label = raw["groundTruthData"]["data"]
        except (ValueError, KeyError, TypeError) as exc:
            raise MonitoringError(
                f"{where} line {number}: not a ground-truth record "
                f"(groundTruthData.data and eventMetadata.eventId are required): {exc}"
            ) from exc
        out.append((str(event_id), str(label)))
    return out


def upload_ground_truth(
    platform: Platform, dataset: str, labels: Mapping[str, Any], name: str, when: datetime | None = None
) -> str:
    """Write ``labels`` (inference id -> label) as one ground-truth file; returns its URI."""
    moment = when or datetime.now(UTC)
    bucket = platform.layout.bucket("monitoring")
    key = ground_truth_key(dataset, moment, name)
    body = "\n".join(ground_truth_line(i, v) for i, v in labels.items()) + "\n"
    platform.services.object_store.put(bucket, key, body.encode(), content_type="application/jsonlines")
    return platform.layout.uri(bucket, key)


def read_ground_truth(platform: Platform, dataset: str) -> pd.DataFrame:
    """Every label of the dataset (``inference_id``, ``label`` as text), the newest file winning per id."""
    bucket = platform.layout.bucket("monitoring")
    store = platform.services.object_store
    rows: list[tuple[str, str]] = []
    for key in sorted(store.list_keys(bucket, ground_truth_prefix(dataset))):
        if key.endswith(".jsonl"):
            rows += parse_ground_truth(store.get(bucket, key), platform.layout.uri(bucket, key))
    frame = pd.DataFrame(rows, columns=[INFERENCE_ID, LABEL])
    return frame.drop_duplicates(INFERENCE_ID, keep="last").reset_index(drop=True)


def merge_ground_truth(served: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The served rows that have a label, with a ``label`` column (numeric when every label is a number)."""
    merged = served.merge(labels, on=INFERENCE_ID, how="inner", validate="many_to_one")
    numbers = pd.to_numeric(merged[LABEL], errors="coerce")
    if bool(numbers.notna().all()):
        merged[LABEL] = numbers
    return merged
