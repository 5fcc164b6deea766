"""``mlops data validate``: judge ingested batches, store where each row went and the run's record.

For each batch: read the raw file named by its manifest, split it (:mod:`pipelines.validation.split`), write
quarantined rows to ``<quarantine>/<dataset>/batch_id=<id>/part-0.parquet``, and, when the run succeeds, the
valid typed rows to ``<curated>/validated/<dataset>/batch_id=<id>/part-0.parquet``. A failed run (bad fraction
above ``quality.max_bad_fraction``, a missing column, too few rows, stale data) publishes no valid rows, so
downstream jobs never read a batch that broke the contract. Every run's result goes to
``<monitoring>/validation/<dataset>/<batch_id>.json`` and its figures to the platform's metrics (CloudWatch on
AWS; Stage=validation). Objects go through the platform's object store, keys come from :mod:`mlops.layout`.
A batch is pending while it has no result; ``--batch`` validates a batch again and replaces its result.
"""

from __future__ import annotations

import io
from dataclasses import asdict
from datetime import UTC, datetime

import pandas as pd

from mlops import layout
from mlops.datasets import DatasetDefinition, find_definition
from mlops.errors import DatasetError
from mlops.layout import Layout
from mlops.platform import Platform
from mlops.ports.metrics import MetricsPublisher
from mlops.ports.object_store import ObjectStore
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
    lake: Layout,
    metrics: MetricsPublisher,
    *,
    now: datetime | None = None,
) -> ValidationResult:
    """Validate one ingested batch; stores rows, result and metrics and returns the result."""
    started = now or datetime.now(UTC)
    source = lake.zone_uri("raw", manifest.key)
    data = store.get(lake.bucket("raw"), manifest.key)
    records = read_records(data, FileFormat(manifest.file_format), source)
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
        source_key=source,
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
        key = layout.quarantine_key(definition.name, manifest.batch_id)
        store.put(lake.bucket("quarantine"), key, _parquet(split.quarantine))
        result.quarantine_key = lake.zone_uri("quarantine", key)
    if success:
        key = layout.validated_key(definition.name, manifest.batch_id)
        store.put(lake.bucket("curated"), key, _parquet(split.valid))
        result.validated_key = lake.zone_uri("curated", key)
    result.finished_at = datetime.now(UTC).isoformat()
    result_key = layout.result_key(definition.name, manifest.batch_id)
    store.put(lake.bucket("monitoring"), result_key, result.to_json(), "application/json")
    metrics.publish(result.metrics(), {"Dataset": definition.name, "Stage": "validation"}, METRIC_UNITS)
    return result


def pending_manifests(store: ObjectStore, lake: Layout, dataset: str) -> list[Manifest]:
    """Batches of ``dataset`` without a stored validation result, oldest first."""
    done = set(store.list_keys(lake.bucket("monitoring"), layout.result_prefix(dataset)))
    return [
        manifest
        for manifest in list_manifests(store, lake, dataset)
        if layout.result_key(dataset, manifest.batch_id) not in done
    ]


def validate(
    platform: Platform, dataset: str, batch_id: str | None = None, all_pending: bool = False
) -> list[ValidationResult]:
    """Validate one batch (``batch_id``) or every pending batch of ``dataset``."""
    if (batch_id is None) == (not all_pending):
        raise DatasetError("choose exactly one of --batch ID or --all-pending")
    definition = find_definition(dataset, platform.settings.datasets_dir)
    store, metrics = platform.services.object_store, platform.services.metrics
    if batch_id is not None:
        manifests = [find_manifest(store, platform.layout, dataset, batch_id)]
    else:
        manifests = pending_manifests(store, platform.layout, dataset)
    return [validate_batch(definition, m, store, platform.layout, metrics) for m in manifests]


def raise_for_failures(results: list[ValidationResult]) -> None:
    """Raise :class:`ValidationFailedError` naming every failed batch and its reasons."""
    failed = [r for r in results if not r.success]
    if failed:
        lines = [f"{r.dataset} batch {r.batch_id}: {'; '.join(r.failures)}" for r in failed]
        raise ValidationFailedError(
            f"{len(failed)} of {len(results)} batch(es) failed validation: " + " | ".join(lines)
        )
