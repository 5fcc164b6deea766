"""What every Glue job script shares: its AWS clients, its Spark session, its dataset definition, its result.

The same code runs on Glue and under the kit's local runner (``mlops job run``). The differences come from the
environment only: the local runner sets ``AWS_ENDPOINT_URL`` (the emulator) and ``MLOPS_SPARK_MASTER``
(``local[N]``); on Glue neither is set, so clients use AWS's endpoints and the instance role, and Spark is
Glue's own session.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.adapters.aws.clients import ClientFactory
from mlops.datasets import DatasetDefinition, find_definition
from mlops.settings import load_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

from mlops.contracts import JOB_RESULT_FILE_ENV as RESULT_FILE_ENV
from mlops.contracts import JOB_SPARK_MASTER_ENV as SPARK_MASTER_ENV

RESULT_LOG_PREFIX = "mlops-job-result "


def job_clients() -> ClientFactory:
    """Clients for the AWS the job runs against: the endpoint in ``AWS_ENDPOINT_URL`` when set, else AWS."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    # An endpoint means an emulator (dummy credentials); without one it is AWS and the default credential chain.
    return ClientFactory(load_settings(target="moto" if endpoint else "aws", endpoint_url=endpoint, region=region))


def spark_session(app_name: str) -> SparkSession:
    """Glue's Spark session, or a local one when the local runner asked for it; times are UTC either way."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name).config("spark.sql.session.timeZone", "UTC")
    master = os.environ.get(SPARK_MASTER_ENV)
    if master:
        builder = (
            builder.master(master)
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", os.environ.get("MLOPS_SPARK_SHUFFLE_PARTITIONS", "8"))
            .config("spark.driver.memory", os.environ.get("MLOPS_SPARK_DRIVER_MEMORY", "2g"))
        )
    return builder.getOrCreate()


def dataset_definition(name: str, datasets_dir: str | None) -> DatasetDefinition:
    """The definition ``name`` from ``--datasets_dir``, else from the definitions shipped in the kit's wheel."""
    if datasets_dir:
        return find_definition(name, Path(datasets_dir))
    import pipelines

    return find_definition(name, Path(pipelines.__file__).parent / "datasets")


def report(result: dict[str, Any]) -> None:
    """Publish the job's result: one log line (CloudWatch on Glue) and the local runner's result file."""
    line = json.dumps(result, sort_keys=True, default=str)
    print(f"{RESULT_LOG_PREFIX}{line}", flush=True)
    path = os.environ.get(RESULT_FILE_ENV)
    if path:
        Path(path).write_text(line + "\n")


def log(message: str) -> None:
    """A progress line on stderr (Glue sends it to the job's error log; the local runner streams it)."""
    print(message, file=sys.stderr, flush=True)
