"""``mlops data validate``: judge ingested batches, store where each row went and the run's record.

For each batch: read the raw file named by its manifest, split it (:mod:`pipelines.validation.split`), write
quarantined rows to ``<quarantine>/<dataset>/batch_id=<id>/part-0.parquet``, and, when the run succeeds, the
valid typed rows to ``<curated>/validated/<dataset>/batch_id=<id>/part-0.parquet``. A failed run (bad fraction
above ``quality.max_bad_fraction``, a missing column, too few rows, stale data) publishes no valid rows, so
downstream jobs never read a batch that broke the contract. Every run's result goes to
``<monitoring>/validation/<dataset>/<batch_id>.json`` and its figures to CloudWatch (Stage=validation).
A batch is pending while it has no result; ``--batch`` validates a batch again and replaces its result.
"""

from __future__ import annotations

import io
from dataclasses import asdict
from datetime import UTC, datetime

import pandas as pd

from mlops import layout
from mlops.adapters.metrics import CloudWatchMetrics, MetricsPublisher
from mlops.adapters.object_store import ObjectStore, S3ObjectStore
from mlops.datasets import DatasetDefinition, find_definition
from mlops.errors import DatasetError
from mlops.local.platform import Platform
from mlops.outputs import StackOutputs
from pipelines.ingest.batch import Manifest, find_manifest, list_manifests
from pipelines.ingest.formats import FileFormat
from pipelines.ingest.records import read_records
from pipelines.validation.result import METRIC_UNITS, ValidationResult
from pipelines.validation.split import split_batch


class ValidationFailedError(DatasetError):
    """One or more batches failed validation; the message names each batch and why."""


def _parquet(frame: pd.DataFrame) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue()


def validate_batch(
    definition: DatasetDefinition,
    manifest: Manifest,
    store: ObjectStore,
    outputs: StackOutputs,
    metrics: MetricsPublisher,
    *,
    now: datetime | None = None,
) -> ValidationResult:
    """Validate one ingested batch; stores rows, result and metrics and returns the result."""
    started = now or datetime.now(UTC)
    raw_bucket = outputs.bucket_for_zone("raw")
    data = store.get(raw_bucket, manifest.key)
    records = read_records(data, FileFormat(manifest.file_format), f"s3://{raw_bucket}/{manifest.key}")
    split = split_batch(records, definition, manifest.batch_id, started)
    rows_valid, rows_quarantined = len(split.valid), len(split.quarantine)
    failures = list(split.failures)
    # every record must be accounted for, in the manifest's count too: a mismatch means rows were lost
    reconciled = split.rows_in == rows_valid + rows_quarantined == manifest.row_count
    if not reconciled:
        failures.append(
            f"counts do not reconcile: rows_in {split.rows_in} (manifest {manifest.row_count}) != "
            f"rows_valid {rows_valid} + rows_quarantined {rows_quarantined}"
        )
    success = not failures
    result = ValidationResult(
        dataset=definition.name,
        batch_id=manifest.batch_id,
        source_key=f"s3://{raw_bucket}/{manifest.key}",
        started_at=started.isoformat(),
        finished_at="",
        rows_in=split.rows_in,
        rows_valid=rows_valid,
        rows_quarantined=rows_quarantined,
        max_bad_fraction=definition.quality.max_bad_fraction,
        reconciled=reconciled,
        success=success,
        failures=failures,
        warnings=split.warnings,
        reasons=split.reasons,
        expectations=[{**asdict(o), "rows": len(o.rows)} for o in split.outcomes],
    )
    if rows_quarantined:
        bucket = outputs.bucket_for_zone("quarantine")
        key = layout.quarantine_key(definition.name, manifest.batch_id)
        store.put(bucket, key, _parquet(split.quarantine))
        result.quarantine_key = f"s3://{bucket}/{key}"
    if success:
        bucket = outputs.bucket_for_zone("curated")
        key = layout.validated_key(definition.name, manifest.batch_id)
        store.put(bucket, key, _parquet(split.valid))
        result.validated_key = f"s3://{bucket}/{key}"
    result.finished_at = datetime.now(UTC).isoformat()
    monitoring = outputs.bucket_for_zone("monitoring")
    store.put(monitoring, layout.result_key(definition.name, manifest.batch_id), result.to_json(), "application/json")
    metrics.publish(result.metrics(), {"Dataset": definition.name, "Stage": "validation"}, METRIC_UNITS)
    return result


def pending_manifests(store: ObjectStore, outputs: StackOutputs, dataset: str) -> list[Manifest]:
    """Batches of ``dataset`` without a stored validation result, oldest first."""
    monitoring = outputs.bucket_for_zone("monitoring")
    done = set(store.list_keys(monitoring, layout.result_prefix(dataset)))
    return [
        manifest
        for manifest in list_manifests(store, outputs.bucket_for_zone("raw"), dataset)
        if layout.result_key(dataset, manifest.batch_id) not in done
    ]


def validate(
    platform: Platform, dataset: str, batch_id: str | None = None, all_pending: bool = False
) -> list[ValidationResult]:
    """Validate one batch (``batch_id``) or every pending batch of ``dataset``."""
    if (batch_id is None) == (not all_pending):
        raise DatasetError("choose exactly one of --batch ID or --all-pending")
    definition = find_definition(dataset, platform.settings.datasets_dir)
    store = S3ObjectStore(platform.clients)
    metrics = CloudWatchMetrics(platform.clients, platform.outputs.metrics_namespace)
    if batch_id is not None:
        manifests = [find_manifest(store, platform.outputs.bucket_for_zone("raw"), dataset, batch_id)]
    else:
        manifests = pending_manifests(store, platform.outputs, dataset)
    return [validate_batch(definition, m, store, platform.outputs, metrics) for m in manifests]


def raise_for_failures(results: list[ValidationResult]) -> None:
    """Raise :class:`ValidationFailedError` naming every failed batch and its reasons."""
    failed = [r for r in results if not r.success]
    if failed:
        lines = [f"{r.dataset} batch {r.batch_id}: {'; '.join(r.failures)}" for r in failed]
        raise ValidationFailedError(
            f"{len(failed)} of {len(results)} batch(es) failed validation: " + " | ".join(lines)
        )
