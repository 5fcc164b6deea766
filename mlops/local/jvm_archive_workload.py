"""The run whose JVM :mod:`mlops.local.jvm_archive` turns into the Spark class archive: ``python -m
mlops.local.jvm_archive_workload`` (started by :func:`mlops.local.jvm_archive.ensure` with the dumping JVM option).

It does on a small frame what the kit's jobs do (an Arrow table made a DataFrame, ``mapInArrow`` tasks in Python
workers, windows per key, aggregates, a join and an anti-join, results collected as Arrow), first in a classic
session (a cold job run, as on Glue), then through Spark Connect against the same JVM (the warm server's path:
its gRPC service, its session and plan handling), so the archive holds the classes both kinds of JVM load.
With ``--connect URL`` it is that Connect client, in a process of its own (a Python process holds one kind of
session).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from mlops.local.jvm_archive import WORKLOAD_MODULE

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

HOST = "127.0.0.1"
TOKEN_ENV = "SPARK_CONNECT_AUTHENTICATE_TOKEN"
ROWS = 2_000
CLIENT_TIMEOUT_S = 300.0


def frame_table(rows: int = ROWS) -> pa.Table:
    """Rows with a key, an id, an amount and a UTC time: the shape of a dataset's records."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "key": [f"k{i % 17}" for i in range(rows)],
            "amount": pa.array([(i % 101) * 0.5 for i in range(rows)], pa.float64()),
            "at": pa.array([start + timedelta(minutes=i) for i in range(rows)], pa.timestamp("us", tz="UTC")),
        }
    )


def doubled(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """A ``mapInArrow`` task: each id and its double."""
    for batch in batches:
        ids = batch.column(0)
        yield pa.RecordBatch.from_arrays([ids, pc.multiply(ids, 2)], names=["id", "twice"])


def exercise(spark: SparkSession) -> int:
    """The jobs' kinds of work on a small frame; the number of rows its two plans returned."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    frame = spark.createDataFrame(frame_table())
    mapped = spark.range(0, 64, 1, 4).mapInArrow(doubled, "id long, twice long")
    per_key = Window.partitionBy("key").orderBy("at")
    features = (
        frame.withColumn("rank", F.row_number().over(per_key))
        .withColumn("rolling", F.avg("amount").over(per_key.rowsBetween(-3, 0)))
        .withColumn("previous", F.lag("amount").over(per_key))
        .withColumn("hour", F.hour("at"))
        .withColumn("large", F.when(F.col("amount") > 25, F.lit(1)).otherwise(F.lit(0)))
    )
    totals = features.groupBy("key").agg(F.count("*").alias("n"), F.max("amount").alias("most"), F.avg("amount"))
    joined = features.join(totals, "key", "left").join(mapped, "id", "left_anti")
    return int(joined.toArrow().num_rows) + len(mapped.collect())


def classic_then_connect() -> None:
    """A classic session with the Spark Connect plugin on a free loopback port: the work in it, then the same work
    by a Connect client process against it."""
    from pyspark.sql import SparkSession

    port = _free_port()
    os.environ[TOKEN_ENV] = secrets.token_urlsafe(24)  # the plugin's server requires it; the client sends it
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("mlops-jvm-archive")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
        .config("spark.connect.grpc.binding.address", HOST)
        .config("spark.connect.grpc.binding.port", str(port))
        .getOrCreate()
    )
    try:
        exercise(spark)
        subprocess.run(
            # "localhost": pyspark sends a token in clear over a local channel only to that name (else TLS)
            [sys.executable, "-m", WORKLOAD_MODULE, "--connect", f"sc://localhost:{port}"],
            check=True,
            timeout=CLIENT_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    finally:
        spark.stop()


def connect_client(url: str) -> None:
    from pyspark.sql import SparkSession

    session = SparkSession.builder.remote(url).getOrCreate()
    try:
        exercise(session)
    finally:
        session.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def main(argv: list[str]) -> int:
    if argv[:1] == ["--connect"] and len(argv) == 2:
        connect_client(argv[1])
    elif not argv:
        classic_then_connect()
    else:
        print("usage: python -m mlops.local.jvm_archive_workload [--connect sc://host:port]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
