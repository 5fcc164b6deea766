"""Where each zone keeps a dataset's batches (the data-lake layout of the shared data contract).

Buckets come from ``StackOutputs.bucket_for_zone``; this module only builds keys.
"""

from __future__ import annotations

from datetime import date

MANIFESTS = "_manifests"


def batch_id_of(checksum: str) -> str:
    """A batch is named by the first 16 hex digits of its file's SHA-256."""
    return checksum[:16]


def raw_key(dataset: str, ingest_date: date, checksum: str, suffix: str) -> str:
    return f"{dataset}/ingest_date={ingest_date.isoformat()}/{checksum}.{suffix}"


def manifest_prefix(dataset: str) -> str:
    return f"{dataset}/{MANIFESTS}/"


def manifest_key(dataset: str, checksum: str) -> str:
    return f"{manifest_prefix(dataset)}{checksum}.json"


def validated_prefix(dataset: str) -> str:
    """In the curated zone: one ``batch_id=<id>/`` folder per validated batch below it."""
    return f"validated/{dataset}/"


def validated_key(dataset: str, batch_id: str) -> str:
    """In the curated zone."""
    return f"{validated_prefix(dataset)}batch_id={batch_id}/part-0.parquet"


def quarantine_key(dataset: str, batch_id: str) -> str:
    """In the quarantine zone."""
    return f"{dataset}/batch_id={batch_id}/part-0.parquet"


def result_prefix(dataset: str) -> str:
    """In the monitoring zone: every validation result of the dataset is below it."""
    return f"validation/{dataset}/"


def result_key(dataset: str, batch_id: str) -> str:
    """In the monitoring zone."""
    return f"{result_prefix(dataset)}{batch_id}.json"
