"""Glue job ``curate``: validated batches of a dataset -> its curated Delta table, de-duplicated.

Arguments (Glue job arguments; DefaultArguments from the infra program, the rest per run):
  --JOB_NAME, --dataset, --curated_bucket, --glue_database   required
  --batch_ids a,b,c    only these batches (default: every validated batch no earlier run has curated)
  --datasets_dir DIR   where the dataset definitions live (default: those shipped in the kit's wheel)

Each run appends one Delta version whose commit metadata lists the batches it curated and the row counts, so a
re-run skips them; then the catalog table ``<dataset>_curated`` points at the new version.
"""

from __future__ import annotations

import json
import sys
import time

from jobs._glue_args import resolve_options
from jobs._runtime import dataset_definition, job_platform, log, report, spark_session
from mlops import layout
from mlops.errors import DatasetError
from mlops.ports.table_store import TableStore
from pipelines.lake.curation import deduplicate, list_validated_batches, read_validated_batch


def curated_batches(tables: TableStore, uri: str) -> set[str]:
    """Batch ids every earlier run recorded in its commit metadata."""
    done: set[str] = set()
    for metadata in tables.commit_metadata(uri).values():
        done.update(json.loads(metadata.get("batch_ids", "[]")))
    return done


def main(argv: list[str]) -> None:
    args = resolve_options(
        argv,
        required=["JOB_NAME", "dataset", "curated_bucket", "glue_database"],
        optional=["batch_ids", "datasets_dir", "MLOPS_ENVIRONMENT"],
    )
    started = time.monotonic()
    dataset = str(args["dataset"])
    definition = dataset_definition(dataset, args["datasets_dir"])
    platform = job_platform(args)
    store, tables = platform.services.object_store, platform.services.table_store
    lake = platform.layout
    uri = lake.table_uri("curated", dataset)

    available = list_validated_batches(store, lake, dataset)
    wanted = str(args["batch_ids"]).split(",") if args["batch_ids"] else available
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        where = lake.zone_uri("curated", layout.validated_prefix(dataset))
        raise DatasetError(f"curate: no validated batch {', '.join(unknown)} of {dataset!r} in {where}")
    done = curated_batches(tables, uri)
    batch_ids = [b for b in wanted if b not in done]
    log(f"curate {dataset}: {len(batch_ids)} new batches of {len(available)} ({len(done)} already curated)")
    result: dict[str, object] = {"dataset": dataset, "table": uri, "batch_ids": batch_ids}
    if not batch_ids:
        version = tables.version(uri)
        report({**result, "rows_in": 0, "rows_curated": 0, "duplicates_removed": 0, "table_version": version})
        return

    batches = [read_validated_batch(store, lake, definition, batch_id) for batch_id in batch_ids]
    version = tables.version(uri)
    existing = None if version is None else tables.read(uri, version, columns=definition.primary_key).data
    spark = spark_session(str(args["JOB_NAME"]))
    curated, counts = deduplicate(spark, definition, batches, existing)
    new_version = tables.write(
        uri,
        curated,
        mode="append",
        metadata={"batch_ids": batch_ids, "job_run_id": args["JOB_RUN_ID"] or "", **counts.as_dict()},
    )
    platform.services.catalog.register_delta_table(
        database=str(args["glue_database"]),
        name=layout.catalog_table(dataset, "curated"),
        location=uri,
        schema=curated.schema,
        version=new_version,
    )
    log(f"curate {dataset}: {counts.rows_curated} rows curated into version {new_version}")
    report({**result, **counts.as_dict(), "table_version": new_version, "seconds": time.monotonic() - started})


if __name__ == "__main__":
    main(sys.argv)
