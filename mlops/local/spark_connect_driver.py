"""The driver program of the local Spark Connect server: ``spark-submit`` runs this file, its session starts the
Connect service (``spark.plugins``: ``SparkConnectPlugin``, with the server's settings from the command line), and
it then waits until its JVM is gone.

Why not ``spark-submit --class SparkConnectServer``: that main class forces artifact isolation
(``spark.sql.artifact.isolation.enabled`` and ``.alwaysApplyClassloader``) over any setting, which gives each
session (each job run) a class loader of its own. Spark keys its cache of compiled query code by class loader, so
each run compiled every stage of its plan again (18-47 classes per job run, ~0.5 s more for a session's first query
than for the same query again). The kit's jobs add no JVM artifacts, so the server runs without that isolation;
see :mod:`mlops.local.spark_connect` for what keeps each run's Python code fresh.
"""

from __future__ import annotations

import os
import sys
import time

_POLL_SECONDS = 1.0


def main() -> int:
    from pyspark.sql import SparkSession

    jvm = os.getppid()  # spark-submit's JVM started this process and stops when the server is stopped
    SparkSession.builder.getOrCreate()  # every setting comes from the spark-submit command line
    print("mlops: Spark Connect service started", flush=True)
    while os.getppid() == jvm:
        time.sleep(_POLL_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
