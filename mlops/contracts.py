"""Names that two sides of a contract must spell the same way: registry aliases and tags, unbound pipeline
parameters, the environment a job runner hands a job script, the retry backoff every adapter uses."""

from __future__ import annotations

import time

# Model registry: the served model and the candidate are aliases of one registered model per dataset.
CHAMPION = "champion"
CHALLENGER = "challenger"

# A pipeline parameter whose default only a stack knows: the infra program must bind it (see training).
UNBOUND = "bound-by-infra"

# What a job runner tells a job script through its environment (the same script runs on Glue without them).
JOB_RESULT_FILE_ENV = "MLOPS_JOB_RESULT_FILE"
JOB_SPARK_MASTER_ENV = "MLOPS_SPARK_MASTER"
# A Spark Connect URL (the local warm server, mlops/local/spark_connect.py): the job opens its own session there.
JOB_SPARK_REMOTE_ENV = "MLOPS_SPARK_REMOTE"

# The local runtime's processes (commands, job and step entry points, endpoints) share a few cores with the
# emulator, the Spark JVM and each other. scikit-learn's gradient boosting runs hundreds of short OpenMP regions
# per fit: with a team of threads each region pays a barrier (spinning, the default, burns the core the other
# process needs; passive waiting pays a futex wake-up per region), so on 2 cores one thread per process is the
# fastest on a quiet machine and on a busy one (benchmarks/omp_wait.py: the training search 1.5-4x faster than
# either wait policy). A value already in the environment wins: a larger machine with a large dataset sets
# OMP_NUM_THREADS itself.
LOCAL_THREAD_ENV = {"OMP_NUM_THREADS": "1"}


def with_local_threads(env: dict[str, str]) -> dict[str, str]:
    """``env`` plus :data:`LOCAL_THREAD_ENV` where it sets none of those variables."""
    return {**LOCAL_THREAD_ENV, **env}


def backoff_seconds(attempt: int, base: float = 0.05, cap: float = 2.0) -> float:
    """Exponential backoff for retried calls: ``base * 2**attempt``, at most ``cap`` seconds."""
    return float(min(base * 2**attempt, cap))


def backoff(attempt: int) -> None:
    """Sleep for :func:`backoff_seconds` of ``attempt`` (retries of throttled or partial batch calls)."""
    time.sleep(backoff_seconds(attempt))


# The line a job script logs with its result (JSON after the prefix); runners read the counts back from it.
JOB_RESULT_LOG_PREFIX = "mlops-job-result "

# The Vertex AI custom-job contract (issue 16): where the model goes and the data URIs by the training channels'
# names; the entry point (pipelines/training/vertex_contract.py) reads them, the runners set them.
VERTEX_MODEL_DIR_ENV = "AIP_MODEL_DIR"
VERTEX_CHECKPOINT_DIR_ENV = "AIP_CHECKPOINT_DIR"
VERTEX_JOB_ID_ENV = "CLOUD_ML_JOB_ID"
VERTEX_DATA_ENV = {
    "train": "AIP_TRAINING_DATA_URI",
    "validation": "AIP_VALIDATION_DATA_URI",
    "test": "AIP_TEST_DATA_URI",
}

SPEC_PARAMETERS: dict[str, str] = {
    "ModelTask": "task",
    "Label": "label",
    "EventTime": "event_time",
    "Features": "features",
    "Categorical": "categorical",
    "PositiveClass": "positive_class",
}
"""The training pipeline's parameters that carry the spec (parameter -> spec field)."""
