"""What every Glue job script shares: its platform, its Spark session, its dataset definition, its result.

The same code runs on Glue, on Dataproc Serverless and under the kit's local runners (``mlops job run``). The
differences come from the environment only: a Dataproc batch sets ``MLOPS_CLOUD=gcp`` and its project (driver
environment properties), the local runner sets ``AWS_ENDPOINT_URL`` (the emulator) or the Google emulators' hosts
(``MLOPS_GCP__*``) and either ``MLOPS_SPARK_REMOTE`` (the warm Spark Connect server of ``mlops local up``: the job
opens its own session there) or ``MLOPS_SPARK_MASTER`` (``local[N]``: the job starts its own JVM); on Glue none is
set, so the services use AWS's endpoints and the job's role, and Spark is Glue's own session (on Dataproc, its
own). The jobs keep to the DataFrame API that
classic Spark (Glue 5: 3.5) and Spark Connect share: no RDDs, no ``sparkContext``.

A job reaches storage only through the ports :func:`job_platform` wires (table store, catalog, object store);
it never holds a cloud client.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.contracts import JOB_RESULT_FILE_ENV as RESULT_FILE_ENV
from mlops.contracts import JOB_RESULT_LOG_PREFIX as RESULT_LOG_PREFIX
from mlops.contracts import JOB_SPARK_MASTER_ENV as SPARK_MASTER_ENV
from mlops.contracts import JOB_SPARK_REMOTE_ENV as SPARK_REMOTE_ENV
from mlops.datasets import DatasetDefinition, env_datasets_dir, find_definition
from mlops.outputs import StackOutputs
from mlops.platform import Platform
from mlops.settings import ENV_PREFIX, Settings, load_settings
from mlops.wiring import build_platform

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# The stack outputs a job learns from its arguments (the infra program passes them as DefaultArguments).
ARGUMENT_OUTPUTS = ("curated_bucket", "features_bucket", "glue_database")
# The retries of a job's client of the local Spark Connect server: 50 ms growing 4x per retry up to 4 s, five
# retries, so ~9 s in all (pyspark's default: 15 retries up to 60 s apart, ten minutes). A server on this machine
# that refuses connections for that long has stopped.
LOCAL_SERVER_RETRIES: dict[str, Any] = {"max_retries": 5, "max_backoff": 4_000}


def job_settings() -> Settings:
    """Settings for the cloud the job runs against.

    On Google Cloud (a Dataproc batch, or the local runner playing one) the batch's driver environment says so:
    ``MLOPS_CLOUD=gcp``, ``MLOPS_TARGET``, ``MLOPS_GCP__*`` (the project; the emulators' hosts locally), which the
    settings read themselves. Otherwise it is AWS: the endpoint in ``AWS_ENDPOINT_URL`` when set means an emulator
    (dummy credentials); without one, AWS and the default credential chain (on Glue: the job's role).
    """
    if os.environ.get(f"{ENV_PREFIX}CLOUD") == "gcp":
        return load_settings()
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return load_settings(target="moto" if endpoint else "aws", endpoint_url=endpoint, region=region)


def job_outputs(args: Mapping[str, str | None], settings: Settings) -> StackOutputs:
    """The part of the stack's outputs a job knows: the buckets and catalog database of its arguments.

    A job has no outputs file; asking for an output its arguments did not carry fails naming that output.
    """
    environment = str(args.get("MLOPS_ENVIRONMENT") or "job")
    values: dict[str, Any] = {"stack": environment, "environment": environment, "region": settings.region}
    values.update({name: str(args[name]) for name in ARGUMENT_OUTPUTS if args.get(name)})
    return StackOutputs.model_construct(**values)


def job_platform(args: Mapping[str, str | None]) -> Platform:
    """The job's platform, wired by :mod:`mlops.wiring` from :func:`job_settings` and :func:`job_outputs`.

    Only the services a job uses are ever built (each on first use): the table store, the catalog and the
    object store.
    """
    settings = job_settings()
    return build_platform(settings, job_outputs(args, settings))


def spark_session(app_name: str) -> SparkSession:
    """Glue's Spark session, or a local one when the local runner asked for it; times are UTC either way.

    With ``MLOPS_SPARK_REMOTE`` the job gets a NEW session of the Spark Connect server (``create``, not
    ``getOrCreate``): runs never share temporary views or settings. The server's token comes from the
    environment (``SPARK_CONNECT_AUTHENTICATE_TOKEN``, read by pyspark itself).
    """
    from pyspark.sql import SparkSession

    remote = os.environ.get(SPARK_REMOTE_ENV)
    if remote:
        session: SparkSession = SparkSession.builder.remote(remote).create()  # no option: no call to the server yet
        _open_on_local_server(session, remote, {"spark.app.name": app_name, "spark.sql.session.timeZone": "UTC"})
        _release_on_exit(session)
        log(f"spark: a session of the Spark Connect server at {remote}")
        return session
    builder = SparkSession.builder.appName(app_name).config("spark.sql.session.timeZone", "UTC")
    master = os.environ.get(SPARK_MASTER_ENV)
    if master:
        builder = (
            builder.master(master)
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", os.environ.get("MLOPS_SPARK_SHUFFLE_PARTITIONS", "8"))
            .config("spark.driver.memory", os.environ.get("MLOPS_SPARK_DRIVER_MEMORY", "2g"))
        )
    session = builder.getOrCreate()
    log(f"spark: {'its own JVM, ' + master if master else 'the Glue session'}")
    return session


def _open_on_local_server(session: SparkSession, remote: str, conf: Mapping[str, str]) -> None:
    """Set the session's ``conf``, its first calls to the server, after its client's retries were shortened.

    The server of `mlops local up` runs on this machine, so one that refuses connections has stopped. pyspark's
    default policy retries for ten minutes (for a remote cluster that restarts): the job, and then its exit (which
    releases the session), would wait that long for a server that is gone. With ``LOCAL_SERVER_RETRIES`` a job fails
    within ~10 s, naming the server.
    """
    from pyspark.errors.exceptions.connect import SparkConnectGrpcException
    from pyspark.sql.connect.client.retries import DefaultPolicy
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    client = session.client if isinstance(session, ConnectSession) else None
    if client is not None:
        client.set_retry_policies([DefaultPolicy(**LOCAL_SERVER_RETRIES)])
    try:
        for key, value in conf.items():
            session.conf.set(key, value)
    except SparkConnectGrpcException as exc:
        if client is not None:
            client.close()  # else pyspark's exit hook asks the gone server to release the session: retries again
        raise ConnectionError(
            f"the Spark Connect server at {remote} does not answer: has the local platform stopped? "
            "(`mlops local up` starts the server again; `MLOPS_LOCAL_SPARK__ENABLED=false` runs jobs on a JVM "
            "of their own)"
        ) from exc


def _release_on_exit(session: SparkSession) -> None:
    """Release the server-side session (and cancel its queries) when the job ends, fails or is terminated.

    The warm server outlives the job: without this, a failed or stopped run would leave its session (and a
    running query) on it until the server's idle timeout.
    """
    import atexit
    import signal

    atexit.register(_release, session)
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def _release(session: SparkSession) -> None:
    """Stop the session with one try at its release: a server that runs answers at once, and one that stopped
    under the run would hold the exit for every retry (~9 s) of a release it can no longer do."""
    from pyspark.sql.connect.client.retries import DefaultPolicy
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    if isinstance(session, ConnectSession):
        session.client.set_retry_policies([DefaultPolicy(max_retries=0)])
    session.stop()  # best effort: a failed release is logged, not raised


def dataset_definition(name: str, datasets_dir: str | None) -> DatasetDefinition:
    """The definition ``name`` from ``--datasets_dir`` (else ``MLOPS_DATASETS_DIR``, which the local runner passes
    on), then among the definitions shipped in the kit's wheel."""
    return find_definition(name, Path(datasets_dir) if datasets_dir else env_datasets_dir())


def report(result: dict[str, Any]) -> None:
    """Publish the job's result: one log line (CloudWatch on Glue) and the local runner's result file."""
    line = json.dumps(result, sort_keys=True, default=str)
    print(f"{RESULT_LOG_PREFIX}{line}", flush=True)
    path = os.environ.get(RESULT_FILE_ENV)
    if path:
        # Whole or absent: the runner may stop this process as soon as it sees the line above (an interrupt),
        # and a file cut short there would fail the runner's read instead of the interrupt going through.
        partial = Path(f"{path}.partial")
        partial.write_text(line + "\n")
        os.replace(partial, path)


def log(message: str) -> None:
    """A progress line on stderr (Glue sends it to the job's error log; the local runner streams it)."""
    print(message, file=sys.stderr, flush=True)
