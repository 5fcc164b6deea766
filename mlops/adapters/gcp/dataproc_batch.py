"""The Dataproc Serverless ``batches.create`` request of one job run, built from the stack's outputs.

Dataproc keeps no job definitions: a batch is submitted whole each time. The infra program exports, per job script,
the batch it schedules with Cloud Scheduler minus the dataset (``outputs.dataproc_batches[<job key>]``, REST form:
``pysparkBatch`` with the script, the kit's wheel and the job's default arguments, ``runtimeConfig``,
``environmentConfig.executionConfig`` with the service account, subnetwork, network tags, KMS key and staging
bucket, ``labels``). A run adds, as Glue adds to a job's DefaultArguments:

- its arguments, overriding the defaults by name (``--name=value``, the form Dataproc passes to the script), plus
  ``--JOB_RUN_ID`` = the batch id (the scripts record it, as on Glue);
- the environment the job's own settings read, as ``spark.dataproc.driverEnv.<NAME>`` properties
  (``MLOPS_CLOUD=gcp``, target, project; the emulators' hosts when they play Google Cloud);
- a batch id (``<prefix>-<UTC time>-<random>``: lowercase letters, digits and hyphens, 4-63 characters) and a
  ``dataset`` label when the run names one.

The same request is what :class:`mlops.adapters.gcp.dataproc_jobs.DataprocJobs` sends to Dataproc and what the
local runner (:mod:`mlops.local.dataproc_runner`) plays on the emulators.
"""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mlops.outputs import StackOutputs
from mlops.ports.jobs import JobError, JobNotFoundError, flag, merged_arguments

DRIVER_ENV_PROPERTY = "spark.dataproc.driverEnv."
BATCH_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{2,61}[a-z0-9]$")
OUTPUT = "dataproc_batches"
_LABEL_VALUE = re.compile(r"[^a-z0-9-]")


def batch_template(outputs: StackOutputs, job_key: str) -> dict[str, Any]:
    """The stack's batch of ``jobs/<job_key>.py`` (a copy); :class:`JobNotFoundError` when it declares none."""
    declared = getattr(outputs, OUTPUT, None)
    if not isinstance(declared, dict):
        raise JobNotFoundError(
            f"stack {outputs.stack!r} has no output {OUTPUT!r}: its Dataproc batches are unknown (apply the stack "
            f"with cloud gcp, or mlops local up for gcp-emulators)"
        )
    if job_key not in declared:
        known = ", ".join(sorted(declared)) or "none"
        raise JobNotFoundError(f"stack {outputs.stack!r} declares no Dataproc batch {job_key!r}; declared: {known}")
    template: dict[str, Any] = copy.deepcopy(declared[job_key])
    if not template.get("pysparkBatch", {}).get("mainPythonFileUri"):
        raise JobError(f"{OUTPUT}.{job_key} of stack {outputs.stack!r} names no pysparkBatch.mainPythonFileUri")
    return template


def batch_id(prefix: str, now: datetime, suffix: str | None = None) -> str:
    """A new batch id: ``<prefix>-<yyyymmddhhmmss>-<6 hex>``, the prefix cut so the id fits Dataproc's 63."""
    tail = f"-{now:%Y%m%d%H%M%S}-{suffix or secrets.token_hex(3)}"
    head = prefix.lower().replace("_", "-")[: 63 - len(tail)].rstrip("-")
    candidate = f"{head}{tail}"
    if not BATCH_ID_PATTERN.match(candidate):
        raise JobError(f"batch id {candidate!r} (prefix {prefix!r}) is not a Dataproc batch id ([a-z0-9-], 4-63)")
    return candidate


def parse_arguments(args: list[str]) -> dict[str, str]:
    """``["--name=value", ...]`` (or ``--name value`` pairs) as ``{"--name": "value"}``, a later one winning."""
    parsed: dict[str, str] = {}
    pending: str | None = None
    for arg in args:
        if pending is not None:
            parsed[pending], pending = arg, None
        elif "=" in arg:
            name, _, value = arg.partition("=")
            parsed[flag(name)] = value
        else:
            pending = flag(arg)
    if pending is not None:
        raise JobError(f"batch argument {pending!r} has no value")
    return parsed


def label_value(value: str) -> str:
    """A label value as the infra program writes them: lowercase letters, digits and ``-``, at most 63 characters."""
    return _LABEL_VALUE.sub("-", value.lower())[:63]


def batch_request(
    template: Mapping[str, Any], *, batch: str, arguments: Mapping[str, str], driver_env: Mapping[str, str]
) -> dict[str, Any]:
    """The ``batches.create`` body (REST form) of one run of ``template``: the run's ``arguments`` override the
    defaults, ``driver_env`` reaches the driver's environment, ``batch`` is the batch id."""
    request: dict[str, Any] = copy.deepcopy(dict(template))
    pyspark = request["pysparkBatch"]
    effective = merged_arguments(parse_arguments(list(pyspark.get("args", []))), arguments)
    effective["--JOB_RUN_ID"] = batch
    pyspark["args"] = [f"{name}={value}" for name, value in effective.items()]
    runtime = request.setdefault("runtimeConfig", {})
    properties = runtime.setdefault("properties", {})
    properties.update({f"{DRIVER_ENV_PROPERTY}{name}": value for name, value in driver_env.items()})
    if "--dataset" in effective:
        request.setdefault("labels", {})["dataset"] = label_value(effective["--dataset"])
    return request


def driver_environment(request: Mapping[str, Any]) -> dict[str, str]:
    """The driver's environment variables a request sets (``spark.dataproc.driverEnv.<NAME>`` properties)."""
    properties = request.get("runtimeConfig", {}).get("properties", {})
    return {
        k.removeprefix(DRIVER_ENV_PROPERTY): str(v) for k, v in properties.items() if k.startswith(DRIVER_ENV_PROPERTY)
    }


def ttl_seconds(request: Mapping[str, Any]) -> float | None:
    """The batch's ``executionConfig.ttl`` (``"3600s"``) in seconds, ``None`` when unset."""
    ttl = request.get("environmentConfig", {}).get("executionConfig", {}).get("ttl")
    if not ttl:
        return None
    text = str(ttl)
    try:
        return float(text.removesuffix("s"))
    except ValueError:
        raise JobError(f"batch ttl {text!r} is not a duration in seconds like '3600s'") from None
