"""Glue job ``build_features``: one version of a curated Delta table -> the dataset's feature Delta table.

Arguments (Glue job arguments; DefaultArguments from the infra program, the rest per run):
  --JOB_NAME, --dataset, --curated_bucket, --features_bucket, --glue_database   required
  --source_version N   the curated version to read (default: the latest)
  --datasets_dir DIR   where the dataset definitions live (default: those shipped in the kit's wheel)

The feature table (``tables/<dataset>`` in the features bucket) is THE offline feature store. It is rebuilt from
the whole curated version (rolling windows need each entity's history) and committed as a new version whose
metadata names the source table and version; the catalog table ``<dataset>_features`` carries both as parameters
too.
"""

from __future__ import annotations

import sys
import time

from jobs._glue_args import resolve_options
from jobs._runtime import dataset_definition, job_platform, log, report, spark_session
from mlops import layout
from mlops.features.spark import spark_features


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
    tables = platform.services.table_store
    source_uri = platform.layout.table_uri("curated", dataset)
    target_uri = platform.layout.feature_table_uri(dataset)
    requested = int(args["source_version"]) if args["source_version"] not in (None, "", "latest") else None

    source = tables.read(source_uri, requested)
    log(f"build_features {dataset}: {source.data.num_rows} curated rows at version {source.version}")
    spark = spark_session(str(args["JOB_NAME"]))
    events = spark.createDataFrame(source.data)
    features = spark_features(definition, events).orderBy(definition.entity_key, definition.event_time)
    table = features.toArrow()
    lineage = {"source_table": source_uri, "source_version": str(source.version)}
    version = tables.write(
        target_uri, table, mode="overwrite", metadata={**lineage, "job_run_id": args["JOB_RUN_ID"] or ""}
    )
    platform.services.catalog.register_delta_table(
        database=str(args["glue_database"]),
        name=layout.catalog_table(dataset, "features"),
        location=target_uri,
        schema=table.schema,
        version=version,
        parameters=lineage,
    )
    log(f"build_features {dataset}: {table.num_rows} feature rows in version {version}")
    report(
        {
            "dataset": dataset,
            "table": target_uri,
            "rows_in": source.data.num_rows,
            "rows_out": table.num_rows,
            "source_version": source.version,
            "table_version": version,
            "seconds": time.monotonic() - started,
        }
    )


if __name__ == "__main__":
    main(sys.argv)
