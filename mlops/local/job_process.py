"""What the local job runners share (:mod:`mlops.local.glue_runner` plays Glue, :mod:`mlops.local.dataproc_runner`
plays Dataproc Serverless): the job script's environment, its supervised run and how a run's end reads.

A script runs under the supervisor of :mod:`mlops.local.processes`: it, its JVM and its Python workers are one
process group killed together on the job's time limit, on an interrupt or error in the runner, and when the runner
dies (even by SIGKILL), so an abandoned run never goes on and commits. A run record names its runner (pid and
process start time, :func:`runner_identity`); a later run finds the records whose runner is gone
(:func:`runner_alive`) and records them failed.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from mlops.contracts import JOB_RESULT_FILE_ENV, JOB_SPARK_MASTER_ENV
from mlops.datasets import DATASETS_DIR_ENV, env_datasets_dir
from mlops.local import jvm_archive, spark_connect
from mlops.local.processes import start_watched, stop_after, stop_watched
from mlops.local.warm_python import run_script_served
from mlops.settings import Settings

# A cold run's JVM lives for one short job: compiled by the quick compiler only, with the serial collector, it
# spends far less CPU warming up than the default tiered compiler's optimising tier and parallel GC threads would
# (benchmarks/local_jobs.py, cold column). The warm server's choices are spark_connect.server_jvm_options.
COLD_JVM_OPTIONS = (spark_connect.QUICK_COMPILER_OPTION, "-XX:+UseSerialGC")
KIT_ROOT = Path(__file__).resolve().parents[2]  # holds mlops/, jobs/, pipelines/ (the job wheel's content)
_TAIL = 50


def job_environment(service_env: Mapping[str, str], *, master: str, result_file: Path | None = None) -> dict[str, str]:
    """The script's environment: this process's as :func:`spark_connect.inherited_env` passes it on, plus
    ``service_env`` (how the job reaches the platform's services), local Spark on ``master``, the kit on
    ``PYTHONPATH`` (what Glue's --extra-py-files and Dataproc's python_file_uris carry) and the user's dataset
    definitions."""
    env = spark_connect.inherited_env()
    env.update(service_env)
    datasets = env_datasets_dir()
    if datasets is not None:  # the user's definitions: the script reads them as Glue reads its --datasets_dir
        env[DATASETS_DIR_ENV] = str(datasets.resolve())
    env.update(
        {
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",
            JOB_SPARK_MASTER_ENV: master,
            "PYTHONPATH": os.pathsep.join(p for p in (str(KIT_ROOT), env.get("PYTHONPATH", "")) if p),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if result_file is not None:
        env[JOB_RESULT_FILE_ENV] = str(result_file)
    return env


def warm_spark_env(settings: Settings) -> dict[str, str]:
    """The warm Spark Connect server's URL and token when ``mlops local up`` started one for this state dir and
    ``local_spark.enabled`` holds, else nothing (the job then starts its own JVM)."""
    if not settings.local_spark.enabled:
        return {}
    state = spark_connect.running_state(spark_connect.spark_dir(settings.state_dir))
    return spark_connect.client_env(state) if state else {}


def warm_driver_dir(settings: Settings) -> Path | None:
    """The state dir whose warm command server a job's driver may fork from (:func:`run_script`), when the
    ``local_cli`` server is on for this platform; ``None``: the driver starts cold."""
    return settings.state_dir if settings.local_cli.enabled else None


@dataclass(frozen=True)
class ScriptOutcome:
    """How the job's child process ended: its status, its last lines, whether the job's time limit stopped it."""

    exit_code: int
    tail: list[str]
    timed_out: bool
    interrupted: str | None = None  # what stopped the runner itself (Ctrl-C, an error), if anything


def jvm_scratch_env(home: Path, *, class_archive: bool = True) -> dict[str, str]:
    """The job's own JVM keeps its temporary files (``java.io.tmpdir``: Spark's ``artifacts-*`` and ``spark-*``
    directories; ``SPARK_LOCAL_DIRS``: shuffle and blocks) in the run's directory: the JVM deletes them only when it
    exits normally, and a killed run's would outlive it in the machine's /tmp. With ``class_archive`` it maps the
    Spark class archive when one was made (:mod:`mlops.local.jvm_archive`)."""
    scratch = home / "jvm-tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    archive = jvm_archive.java_options(spark_connect.spark_home()) if class_archive else []
    java_options = shlex.quote(" ".join([f"-Djava.io.tmpdir={scratch}", *COLD_JVM_OPTIONS, *archive]))
    return {
        "PYSPARK_SUBMIT_ARGS": f"--driver-java-options {java_options} pyspark-shell",
        "SPARK_LOCAL_DIRS": str(scratch),
    }


def run_script(
    command: list[str],
    env: dict[str, str],
    timeout_s: float | None,
    on_line: Callable[[str], None],
    *,
    warm_state_dir: Path | None = None,
    class_archive: bool = True,
) -> ScriptOutcome:
    """Run ``command`` supervised (see the module's docstring) in its directory ``env["HOME"]`` (its JVM's scratch
    files there too), handing each output line to ``on_line``; stop it after ``timeout_s``. An interrupt or error
    here stops the tree and goes on. With ``warm_state_dir``, the driver forks from that state dir's warm command
    server when one serves it (its libraries imported: ~1.5 s less per run), with the same guarantees. With
    ``class_archive`` its JVM maps the Spark class archive when one was made."""
    env = {**env, **jvm_scratch_env(Path(env["HOME"]), class_archive=class_archive)}
    tail: list[str] = []

    def keep(line: str) -> None:
        on_line(line)
        tail[:] = [*tail[-(_TAIL - 1) :], line]

    if warm_state_dir is not None:
        served = run_script_served(warm_state_dir, command, env=env, cwd=env["HOME"], timeout=timeout_s, on_line=keep)
        if served is not None:
            return ScriptOutcome(exit_code=served[0], tail=tail, timed_out=served[1])
    process = start_watched(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, cwd=env["HOME"]
    )
    assert process.stdout is not None
    with stop_after(timeout_s, lambda: stop_watched(process)) as expired:
        try:
            for raw in process.stdout:
                keep(raw.rstrip("\n"))
            exit_code = process.wait()
        except BaseException:
            stop_watched(process)
            raise
    # A timer that ran has killed the child: its last line is then whatever it was doing, not the cause.
    return ScriptOutcome(exit_code=exit_code, tail=tail, timed_out=expired.is_set())


def read_result(result_file: Path, outcome: ScriptOutcome) -> tuple[dict[str, Any], ScriptOutcome]:
    """The counts a run left in its result file, and its outcome. A run stopped from outside (interrupt, time limit)
    or failed may have been stopped mid-write: a file it did not finish reads as no counts, its outcome already
    says why it ended. A run that exited 0 with an unreadable file failed: its outcome says so, quoting the file."""
    if not result_file.is_file():
        return {}, outcome
    text = result_file.read_text()
    try:
        counts = json.loads(text)
        if not isinstance(counts, dict):
            raise ValueError(f"a JSON {type(counts).__name__}, not an object")
        return counts, outcome
    except ValueError as exc:  # JSONDecodeError is a ValueError
        if outcome.interrupted or outcome.timed_out or outcome.exit_code != 0:
            return {}, outcome
        problem = f"the job's result file is not a JSON object ({exc}): {text[:200]!r}"
        return {}, replace(outcome, exit_code=1, tail=[*outcome.tail, problem])


def error_of(outcome: ScriptOutcome, timeout_s: float | None, limit: str = "Timeout") -> str:
    """Why a run failed, in one line: the interrupt, the time limit (``limit`` names it as the service does:
    Glue's ``Timeout``, Dataproc's ``ttl``) or the script's last line."""
    lines = [line.strip() for line in outcome.tail if line.strip()]
    if outcome.interrupted:
        return f"the runner was interrupted ({outcome.interrupted}); the job's processes were stopped"
    if outcome.timed_out:
        last = f" (last line: {lines[-1]!r})" if lines else ""
        return f"the job ran past its {limit} of {timeout_s:g} s and was stopped{last}"
    return lines[-1] if lines else f"the script exited with status {outcome.exit_code} without output"


def runner_identity() -> dict[str, Any]:
    """What a run record stores to name its runner: this process's pid and start time (a reused pid differs)."""
    return {"runner_pid": os.getpid(), "runner_started": psutil.Process().create_time()}


def runner_alive(record: Mapping[str, Any]) -> bool:
    """Whether the runner a record names (:func:`runner_identity`) still runs."""
    try:
        runner = psutil.Process(int(record.get("runner_pid") or 0))
        return abs(runner.create_time() - float(record.get("runner_started") or 0)) < 1  # not a reused pid
    except (psutil.Error, ValueError):
        return False
