"""Glue job ``build_features``: one version of a curated Delta table -> the dataset's feature Delta table.

Arguments (Glue job arguments; DefaultArguments from the infra program, the rest per run):
  --JOB_NAME, --dataset, --curated_bucket, --features_bucket, --glue_database   required
  --source_version N   the curated version to read (default: the latest)
  --datasets_dir DIR   where the dataset definitions live (default: those shipped in the kit's wheel)

The feature table (``tables/<dataset>`` in the features bucket) is THE offline feature store. It is rebuilt from
the whole curated version (rolling windows need each entity's history) and committed as a new version whose
metadata names the source table and version; the catalog table ``<dataset>_features`` carries both as parameters
too.

Where the work runs (see docs/jobs.md): the driver lists the curated version's data files from the Delta log; the
executors read them, compute the features and write the feature table's Parquet files; the driver commits them as
ONE Delta version (an overwrite) through delta-rs. No row passes through the driver.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobs._glue_args import resolve_options
from jobs._runtime import dataset_definition, job_platform, log, report, spark_session
from mlops import layout
from mlops.datasets import DatasetDefinition
from mlops.features.spark import spark_features
from mlops.lake.spark_delta import DeltaWrite, read_delta, write_delta

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class FeatureBuild:
    """What one build read and committed."""

    rows_in: int
    source_version: int
    lineage: dict[str, str]
    written: DeltaWrite


def build(
    spark: SparkSession,
    definition: DatasetDefinition,
    source_uri: str,
    target_uri: str,
    options: Mapping[str, str],
    *,
    source_version: int | None = None,
    job_run_id: str = "",
) -> FeatureBuild:
    """The curated version -> the feature table's new version; rows stay on the executors (the benchmark runs
    this same function: ``benchmarks/jobs_memory.py``)."""
    source = read_delta(spark, source_uri, options, source_version)
    rows_in = source.rows if source.rows is not None else source.frame.count()
    log(f"build_features {definition.name}: {rows_in} curated rows in {source.files} files, version {source.version}")
    features = spark_features(definition, source.frame).orderBy(definition.entity_key, definition.event_time)
    lineage = {"source_table": source_uri, "source_version": str(source.version)}
    written = write_delta(features, target_uri, options, "overwrite", {**lineage, "job_run_id": job_run_id})
    return FeatureBuild(rows_in, source.version, lineage, written)


def main(argv: list[str]) -> None:
    args = resolve_options(
        argv,
        required=["JOB_NAME", "dataset", "curated_bucket", "features_bucket", "glue_database"],
        optional=["source_version", "datasets_dir", "MLOPS_ENVIRONMENT"],
    )
    started = time.monotonic()
    dataset = str(args["dataset"])
    definition = dataset_definition(dataset, args["datasets_dir"])
    platform = job_platform(args)
    target_uri = platform.layout.feature_table_uri(dataset)
    requested = int(args["source_version"]) if args["source_version"] not in (None, "", "latest") else None
    spark = spark_session(str(args["JOB_NAME"]))
    built = build(
        spark,
        definition,
        platform.layout.table_uri("curated", dataset),
        target_uri,
        platform.services.table_store.storage_options(),
        source_version=requested,
        job_run_id=args["JOB_RUN_ID"] or "",
    )
    written = built.written
    platform.services.catalog.register_delta_table(
        database=str(args["glue_database"]),
        name=layout.catalog_table(dataset, "features"),
        location=target_uri,
        schema=written.schema,
        version=written.version,
        parameters=built.lineage,
    )
    log(f"build_features {dataset}: {written.rows} feature rows in {written.files} files, version {written.version}")
    report(
        {
            "dataset": dataset,
            "table": target_uri,
            "rows_in": built.rows_in,
            "rows_out": written.rows,
            "source_version": built.source_version,
            "table_version": written.version,
            "seconds": time.monotonic() - started,
        }
    )


if __name__ == "__main__":
    from mlops.process_exit import skip_final_collections

    skip_final_collections()
    main(sys.argv)
