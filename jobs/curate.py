"""Glue job ``curate``: validated batches of a dataset -> its curated Delta table, de-duplicated.

Arguments (Glue job arguments; DefaultArguments from the infra program, the rest per run):
  --JOB_NAME, --dataset, --curated_bucket, --glue_database   required
  --batch_ids a,b,c    only these batches (default: every validated batch no earlier run has curated)
  --datasets_dir DIR   where the dataset definitions live (default: those shipped in the kit's wheel)

Each run appends one Delta version whose commit metadata lists the batches it curated and the row counts (and
whose Delta ``txn`` actions name each batch), so a re-run skips them; then the catalog table
``<dataset>_curated`` points at the new version.

Where the work runs (see docs/jobs.md): the executors read the batches and the table's keys, de-duplicate (a
window per key, a distributed anti-join against the table) and write the curated Parquet files; the driver lists
files, counts, and commits ONE Delta version through delta-rs, conditional on the version whose keys it
de-duplicated against (a concurrent commit makes this run fail, never duplicate rows).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence

from jobs._glue_args import resolve_options
from jobs._runtime import dataset_definition, job_platform, log, report, spark_session
from mlops import layout
from mlops.errors import DatasetError
from mlops.lake.delta_files import commit_files, transaction_versions
from mlops.lake.spark_delta import read_delta
from mlops.ports.table_store import TableStore
from pipelines.lake.curation import (
    arrow_schema,
    batch_transaction_id,
    curate_on_executors,
    list_validated_batches,
    read_batches,
)


def curated_batches(tables: TableStore, uri: str, candidates: Sequence[str] = ()) -> set[str]:
    """Batch ids earlier runs recorded: in their commit metadata, or (of ``candidates``) as Delta ``txn``."""
    done: set[str] = set()
    for metadata in tables.commit_metadata(uri).values():
        done.update(json.loads(metadata.get("batch_ids", "[]")))
    ids = {batch_transaction_id(b): b for b in candidates}
    done.update(ids[app_id] for app_id in transaction_versions(uri, tables.storage_options(), list(ids)))
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
    done = curated_batches(tables, uri, wanted)
    batch_ids = [b for b in wanted if b not in done]
    log(f"curate {dataset}: {len(batch_ids)} new batches of {len(available)} ({len(done)} already curated)")
    result: dict[str, object] = {"dataset": dataset, "table": uri, "batch_ids": batch_ids}
    if not batch_ids:
        version = tables.version(uri)
        report({**result, "rows_in": 0, "rows_curated": 0, "duplicates_removed": 0, "table_version": version})
        return

    options = tables.storage_options()
    version = tables.version(uri)
    spark = spark_session(str(args["JOB_NAME"]))
    rows, rows_in = read_batches(spark, lake, definition, batch_ids, options)
    existing = None if version is None else read_delta(spark, uri, options, version, columns=definition.primary_key)
    keys = None if existing is None else existing.frame
    written, counts = curate_on_executors(definition, rows, rows_in, keys, table_uri=uri, options=options)
    schema = arrow_schema(definition)
    new_version = commit_files(
        uri,
        options,
        written,
        schema,
        "append",
        metadata={"batch_ids": batch_ids, "job_run_id": args["JOB_RUN_ID"] or "", **counts.as_dict()},
        based_on=version,
        transactions=[batch_transaction_id(b) for b in batch_ids],
    )
    platform.services.catalog.register_delta_table(
        database=str(args["glue_database"]),
        name=layout.catalog_table(dataset, "curated"),
        location=uri,
        schema=schema,
        version=new_version,
    )
    log(f"curate {dataset}: {counts.rows_curated} rows in {len(written)} files curated into version {new_version}")
    report({**result, **counts.as_dict(), "table_version": new_version, "seconds": time.monotonic() - started})


if __name__ == "__main__":
    from mlops.process_exit import skip_final_collections

    skip_final_collections()
    main(sys.argv)
