"""The local pipeline executor: runs a SageMaker Pipeline definition JSON step by step, as SageMaker would.

moto stores pipelines and accepts ``StartPipelineExecution`` but runs nothing (every execution is Succeeded at
once). The executor reads the definition the stack deployed (the local apply stored the stack-bound JSON in the
emulator), starts the execution there (so it exists, with its ARN, in the emulator's SageMaker), then executes it:

- parameters: the definition's defaults overridden by the start's values, typed as declared;
- ``Execution.*`` variables, ``Get`` of parameters and step properties, ``Std:Join``, ``Std:JsonGet`` on property
  files (:mod:`mlops.local.pipeline_expressions`);
- steps in dependency order (``DependsOn`` and data references); the first failing step fails the execution and
  nothing after it runs;
- ``Processing``: the inputs are staged from the object store into ``/opt/ml/processing/input/<name>`` under a
  temporary root, the container entry point runs here (``python3 -m <module>`` with this interpreter,
  ``MLOPS_PROCESSING_ROOT`` pointing at the root), the outputs are uploaded when it exits 0;
- ``Training``: the local training runner (the SageMaker training contract, ``mlops/local/training_runner.py``);
- ``Condition``: every condition must hold; the chosen branch runs, the other never starts;
- ``Fail``: the execution fails with the step's error message.

The jobs' encryption and placement (``VolumeKmsKeyId``, the outputs' ``KmsKeyId``, ``VpcConfig``,
``EnableNetworkIsolation``, ``EnableInterContainerTrafficEncryption``) are evaluated like every argument and sent to
the emulator with the job, but not enforced: the entry points run as host processes, and outputs go up through the
object store port, which takes no per-object key (they get the bucket's default encryption: the stack's key). See
``mlops/local/apply/limits.py``.

The record of each execution (status, failure reason, the steps with their metadata) is written to
``s3://<monitoring>/pipeline-executions/<pipeline>/<execution id>.json`` after every step;
:meth:`LocalPipelineExecutor.describe` reads it. Subprocesses get the environment that reaches the same stack
(the emulator's endpoint and credentials, ``MLOPS_TARGET``...), which overrides a step's own ``Environment``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from mlops.adapters.aws.sagemaker_pipeline import execution_display_name
from mlops.contracts import with_local_threads
from mlops.errors import MlopsError
from mlops.layout import pipeline_execution_key, split_uri
from mlops.local.pipeline_expressions import (
    PropertyFileRef,
    Scope,
    as_text,
    dependencies,
    evaluate,
    execution_order,
    holds,
    steps_of,
    typed_parameters,
)
from mlops.local.processes import run_watched
from mlops.local.training_runner import host_command
from mlops.local.warm_python import warm_entry_points
from mlops.platform import Platform
from mlops.ports.errors import NotFoundError
from mlops.ports.object_store import ObjectStore
from mlops.ports.training import (
    ExecutionNotFoundError,
    PipelineDefinitionError,
    PipelineExecution,
    PipelineNotFoundError,
    StepExecution,
    TrainingJobRequest,
    TrainingJobRunner,
)

PROCESSING_ROOT = PurePosixPath("/opt/ml/processing")
ROOT_ENV = "MLOPS_PROCESSING_ROOT"
_EXECUTION_ARN = re.compile(r"^arn:[^:]+:sagemaker:[^:]*:[^:]*:pipeline/([^/]+)/execution/([^/]+)$")
# An execution named as a Vertex pipeline job (the control plane on Google's emulators): ``<pipeline>-<12 hex>``.
_PIPELINE_JOB = re.compile(r"^projects/[^/]+/locations/[^/]+/pipelineJobs/([a-z0-9-]+)-([0-9a-f]{12})$")


def execution_ids(arn: str) -> tuple[str, str] | None:
    """(pipeline, execution id) of an execution's name, SageMaker's ARN or a Vertex pipeline job; ``None`` for
    anything else."""
    match = _EXECUTION_ARN.match(arn) or _PIPELINE_JOB.match(arn)
    return (match.group(1), match.group(2)) if match else None


class ControlPlane(Protocol):
    """Where pipelines are stored and executions and jobs are created (the emulator's SageMaker)."""

    def definition(self, pipeline: str) -> str:
        """The stored definition JSON; :class:`PipelineNotFoundError` when no such pipeline exists."""
        ...

    def start_execution(self, pipeline: str, display_name: str, parameters: Mapping[str, str]) -> str:
        """Create the execution; returns its ARN."""
        ...

    def create_processing_job(self, job_name: str, request: Mapping[str, Any]) -> str:
        """Create the processing job (``CreateProcessingJob`` fields); returns its ARN."""
        ...


class EmulatorControlPlane:
    """The control plane of an emulator's SageMaker API (moto stores; the executor runs)."""

    def __init__(self, sagemaker: Any) -> None:
        self._sagemaker = sagemaker

    def definition(self, pipeline: str) -> str:
        from botocore.exceptions import ClientError

        try:
            return str(self._sagemaker.describe_pipeline(PipelineName=pipeline)["PipelineDefinition"])
        except ClientError as exc:
            if "Could not find" in str(exc) or exc.response["Error"]["Code"] in (
                "ResourceNotFound",
                "ValidationException",
            ):
                raise PipelineNotFoundError(
                    f"pipeline {pipeline!r} is not deployed in the emulator: run `mlops local up`"
                ) from exc
            raise

    def start_execution(self, pipeline: str, display_name: str, parameters: Mapping[str, str]) -> str:
        request: dict[str, Any] = {
            "PipelineName": pipeline,
            "PipelineParameters": [{"Name": k, "Value": v} for k, v in sorted(parameters.items())],
        }
        if display_name:
            request["PipelineExecutionDisplayName"] = execution_display_name(display_name)
        return str(self._sagemaker.start_pipeline_execution(**request)["PipelineExecutionArn"])

    def create_processing_job(self, job_name: str, request: Mapping[str, Any]) -> str:
        # NetworkConfig and the KMS keys are recorded as declared (DescribeProcessingJob shows them); the executor
        # enforces none of them (mlops/local/apply/limits.py).
        fields = (
            "ProcessingInputs",
            "ProcessingOutputConfig",
            "ProcessingResources",
            "StoppingCondition",
            "NetworkConfig",
        )
        response = self._sagemaker.create_processing_job(
            ProcessingJobName=job_name,
            AppSpecification=request["AppSpecification"],
            RoleArn=request["RoleArn"],
            Environment={k: as_text(v) for k, v in request.get("Environment", {}).items()},
            **{name: request[name] for name in fields if name in request},
        )
        return str(response["ProcessingJobArn"])


class DetachedControlPlane:
    """A control plane in this process: definitions given up front, made-up ARNs (unit tests, no emulator)."""

    def __init__(self, definitions: Mapping[str, str], region: str = "local", account: str = "000000000000") -> None:
        self._definitions = dict(definitions)
        self._prefix = f"arn:aws:sagemaker:{region}:{account}"

    def definition(self, pipeline: str) -> str:
        if pipeline not in self._definitions:
            raise PipelineNotFoundError(
                f"pipeline {pipeline!r} is not defined; defined: {', '.join(self._definitions)}"
            )
        return self._definitions[pipeline]

    def start_execution(self, pipeline: str, display_name: str, parameters: Mapping[str, str]) -> str:
        return f"{self._prefix}:pipeline/{pipeline}/execution/{secrets.token_hex(6)}"

    def create_processing_job(self, job_name: str, request: Mapping[str, Any]) -> str:
        return f"{self._prefix}:processing-job/{job_name}"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _job_name(execution_id: str, step: str) -> str:
    """A SageMaker-valid job name, unique per execution and step."""
    return re.sub(r"[^a-zA-Z0-9-]", "-", f"pipelines-{execution_id}-{step}")[:63].strip("-").lower()


class StepFailed(Exception):
    """A step ended Failed; ``reason`` is its failure reason."""

    def __init__(self, reason: str, metadata: Mapping[str, Mapping[str, str]] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.metadata = dict(metadata or {})


class LocalPipelineExecutor:
    """:class:`~mlops.ports.training.PipelineRunner` executing definitions in this process and its subprocesses."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        records_bucket: str,
        control: ControlPlane,
        jobs: TrainingJobRunner,
        environment: Mapping[str, str] | None = None,
        workdir: Path | None = None,
    ) -> None:
        self._store = store
        self._bucket = records_bucket
        self._control = control
        self._jobs = jobs
        self._environment = dict(environment or {})
        self._workdir = workdir

    # -- the port ---------------------------------------------------------------------------------------------

    def start(self, pipeline: str, parameters: Mapping[str, str], *, display_name: str = "") -> PipelineExecution:
        """Run an execution to its end; returns it Succeeded or Failed (a failing step is not an exception).

        The steps' ``python -m`` entry points fork from the platform's warm command server when one runs, else from
        one warm interpreter started now, which imports the model libraries while the execution is created
        (:mod:`mlops.local.warm_python`)."""
        with warm_entry_points(with_local_threads({**os.environ, **self._environment})):
            return self._execute(pipeline, parameters, display_name)

    def _execute(self, pipeline: str, parameters: Mapping[str, str], display_name: str) -> PipelineExecution:
        definition = _parse_definition(self._control.definition(pipeline), pipeline)
        values = typed_parameters(list(definition.get("Parameters", [])), parameters)
        order = execution_order(definition)  # an invalid graph fails before the execution exists
        arn = self._control.start_execution(pipeline, display_name, parameters)
        execution = PipelineExecution(
            arn=arn,
            pipeline=pipeline,
            status="Executing",
            parameters={name: as_text(value) for name, value in values.items()},
            display_name=display_name,
            started_at=_now(),
        )
        self._save(execution)
        run = _Run(self, definition, execution, values)
        return run.execute(order)

    def describe(self, execution_arn: str) -> PipelineExecution:
        """The execution's record."""
        ids = execution_ids(execution_arn)
        if ids is None:
            raise ExecutionNotFoundError(f"{execution_arn!r} is not a pipeline execution ARN")
        key = pipeline_execution_key(*ids)
        try:
            raw: dict[str, Any] = json.loads(self._store.get(self._bucket, key))
        except NotFoundError as exc:
            raise ExecutionNotFoundError(
                f"no record of pipeline execution {execution_arn} at {self._store.scheme}://{self._bucket}/{key}"
            ) from exc
        steps = tuple(StepExecution(**step) for step in raw.pop("steps", []))
        return PipelineExecution(**raw, steps=steps)

    # -- used by a run ----------------------------------------------------------------------------------------

    def _save(self, execution: PipelineExecution) -> None:
        ids = execution_ids(execution.arn)
        if ids is None:
            raise PipelineDefinitionError(f"the control plane returned {execution.arn!r}, not an execution ARN")
        body = json.dumps(asdict(execution), indent=2, sort_keys=True).encode()
        self._store.put(self._bucket, pipeline_execution_key(*ids), body, "application/json")

    def _read_json(self, uri: str) -> Any:
        _, bucket, key = split_uri(uri)
        try:
            return json.loads(self._store.get(bucket, key))
        except NotFoundError as exc:
            raise StepFailed(f"JSON file {uri} does not exist") from exc
        except json.JSONDecodeError as exc:
            raise StepFailed(f"{uri} is not valid JSON: {exc}") from exc

    def _stage(self, uri: str, data_type: str, target: Path) -> None:
        """Download an ``S3Prefix`` input as SageMaker does: every object under the prefix, relative paths kept."""
        if data_type != "S3Prefix":
            raise StepFailed(f"input data type {data_type!r} is not supported locally (S3Prefix is)")
        _, bucket, prefix = split_uri(uri)
        target.mkdir(parents=True, exist_ok=True)
        try:
            keys = self._store.list_keys(bucket, prefix)
        except NotFoundError as exc:
            raise StepFailed(f"input {uri} cannot be listed: {exc}") from exc
        if not keys:
            raise StepFailed(f"input {uri} holds no objects")
        for key in keys:
            relative = key[len(prefix) :].lstrip("/") or PurePosixPath(key).name
            destination = (target / relative).resolve()
            if not destination.is_relative_to(target.resolve()):
                raise StepFailed(f"object {key!r} of input {uri} would be staged outside {target}")
            self._store.download_file(bucket, key, destination)

    def _upload(self, source: Path, uri: str) -> None:
        _, bucket, prefix = split_uri(uri)
        base = prefix.rstrip("/")
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            key = f"{base}/{path.relative_to(source).as_posix()}".lstrip("/")
            self._store.put_file(bucket, key, path)


def _parse_definition(text: str, pipeline: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PipelineDefinitionError(f"the definition of pipeline {pipeline!r} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("Steps"), list):
        raise PipelineDefinitionError(f"the definition of pipeline {pipeline!r} has no Steps list")
    return document


def _local_path(root: Path, container_path: str) -> Path:
    """``/opt/ml/processing/<rest>`` under ``root``; other container paths are refused."""
    path = PurePosixPath(container_path)
    if path != PROCESSING_ROOT and PROCESSING_ROOT not in path.parents:
        raise StepFailed(f"local path {container_path!r} is outside {PROCESSING_ROOT}")
    return root.joinpath(*path.relative_to(PROCESSING_ROOT).parts)


def _failure_line(stderr: str, code: int) -> str:
    """The entry point's ``<step> failed: <reason>`` line, else the log's last line; with the exit status."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    reasons = [line for line in lines if re.match(r"^\S+ failed: ", line)]
    shown = reasons[-1] if reasons else (lines[-1] if lines else "no output")
    return f"{shown} (exit status {code})"


class _Run:
    """One execution: its scope, the steps run so far, the branch outcomes."""

    def __init__(
        self,
        executor: LocalPipelineExecutor,
        definition: dict[str, Any],
        execution: PipelineExecution,
        values: dict[str, Any],
    ) -> None:
        self.executor = executor
        self.execution = execution
        self.steps = {step["Name"]: (step, parent) for step, parent in steps_of(list(definition["Steps"]))}
        self.upstream = dependencies(definition)
        pipeline_arn = execution.arn.partition("/execution/")[0]
        self.execution_id = execution_id = (execution_ids(execution.arn) or ("", ""))[1]
        started = datetime.fromisoformat(execution.started_at)
        self.scope = Scope(
            parameters=values,
            execution={
                "PipelineExecutionId": execution_id,
                "PipelineExecutionArn": execution.arn,
                "PipelineName": execution.pipeline,
                "PipelineArn": pipeline_arn,
                "StartDateTime": started.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "CurrentDateTime": started.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            },
            read_json=executor._read_json,
        )
        self.not_run: set[str] = set()
        self.outcomes: dict[str, bool] = {}

    def execute(self, order: list[str]) -> PipelineExecution:
        try:
            for name in order:
                step, parent = self.steps[name]
                if self._skipped(step, parent):
                    self.not_run.add(name)
                    continue
                record = self._run_step(step)
                self.execution = replace(self.execution, steps=(*self.execution.steps, record))
                if record.status == "Failed":
                    return self._finish("Failed", f"step {name!r} failed: {record.failure_reason}")
                self.executor._save(self.execution)
        except BaseException as exc:  # the record must not stay Executing; the error still reaches the caller
            self._finish("Failed", f"the local executor stopped: {type(exc).__name__}: {exc}")
            raise
        return self._finish("Succeeded", "")

    def _finish(self, status: str, reason: str) -> PipelineExecution:
        self.execution = replace(self.execution, status=status, failure_reason=reason, ended_at=_now())
        self.executor._save(self.execution)
        return self.execution

    def _skipped(self, step: dict[str, Any], parent: str | None) -> bool:
        """A step of the branch not taken never starts, nor does a step reading a step that did not run."""
        if parent is not None:
            taken = self.outcomes.get(parent)
            branch = "IfSteps" if taken else "ElseSteps"
            names = {s["Name"] for s in self.steps[parent][0]["Arguments"].get(branch, [])}
            if taken is None or step["Name"] not in names:
                return True
        return bool(self.upstream[step["Name"]] & self.not_run)

    def _run_step(self, step: dict[str, Any]) -> StepExecution:
        name, kind = step["Name"], step.get("Type")
        started = _now()
        runners: dict[str, Callable[[str, dict[str, Any]], dict[str, dict[str, str]]]] = {
            "Processing": self._processing,
            "Training": self._training,
            "Condition": self._condition,
            "Fail": self._fail,
        }
        try:
            if kind not in runners:
                raise StepFailed(
                    f"step type {kind!r} is not supported by the local executor ({', '.join(runners)} are)"
                )
            metadata = runners[str(kind)](name, step)
        except StepFailed as failed:
            return StepExecution(name, "Failed", failed.reason, started, _now(), failed.metadata)
        except MlopsError as error:  # a wrong reference, an unreachable store: the step fails, named
            return StepExecution(name, "Failed", str(error), started, _now())
        return StepExecution(name, "Succeeded", "", started, _now(), metadata)

    def _arguments(self, step: dict[str, Any]) -> dict[str, Any]:
        resolved: dict[str, Any] = evaluate(step.get("Arguments", {}), self.scope)
        return resolved

    def _processing(self, name: str, step: dict[str, Any]) -> dict[str, dict[str, str]]:
        arguments = self._arguments(step)
        app = arguments.get("AppSpecification", {})
        entry = app.get("ContainerEntrypoint")
        if not entry:
            raise StepFailed(f"processing step {name!r} names no ContainerEntrypoint (the local executor runs it)")
        job_name = _job_name(self.execution_id, name)
        outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
        arn = self.executor._control.create_processing_job(job_name, arguments)
        metadata = {"ProcessingJob": {"Arn": arn}}
        with tempfile.TemporaryDirectory(prefix=f"{job_name}-", dir=self.executor._workdir) as tmp:
            root = Path(tmp)
            for given in arguments.get("ProcessingInputs", []):
                source = given.get("S3Input")
                if source is None:
                    raise StepFailed(f"input {given.get('InputName')!r} of step {name!r} is not an S3Input")
                target = _local_path(root, source["LocalPath"])
                self.executor._stage(as_text(source["S3Uri"]), source.get("S3DataType", "S3Prefix"), target)
            for output in outputs:
                _local_path(root, output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
            code, stderr = self._subprocess(
                [*host_command(entry), *(as_text(a) for a in app.get("ContainerArguments", []))],
                arguments.get("Environment", {}),
                root,
                arguments.get("StoppingCondition", {}).get("MaxRuntimeInSeconds"),
            )
            if code != 0:
                raise StepFailed(_failure_line(stderr, code), metadata)
            for output in outputs:
                target = output["S3Output"]
                self.executor._upload(_local_path(root, target["LocalPath"]), as_text(target["S3Uri"]))
        self.scope.properties[name] = {
            **arguments,
            "ProcessingJobName": job_name,
            "ProcessingJobArn": arn,
            "ProcessingJobStatus": "Completed",
        }
        self.scope.property_files[name] = {
            str(f["PropertyFileName"]): PropertyFileRef(
                name, str(f["PropertyFileName"]), f["OutputName"], f["FilePath"]
            )
            for f in step.get("PropertyFiles", [])
        }
        return metadata

    def _subprocess(
        self, command: list[str], environment: Mapping[str, Any], root: Path, timeout: int | None
    ) -> tuple[int, str]:
        env = {
            **os.environ,
            **{k: as_text(v) for k, v in environment.items()},
            **self.executor._environment,
            ROOT_ENV: str(root),
        }
        try:  # watched: a killed `mlops train run` takes the step's process (and what it started) along
            done = run_watched(command, env=env, timeout=timeout)
        except OSError as exc:
            return -1, f"cannot start {command[0]!r}: {exc}"
        if done.timed_out:
            return -1, f"the job exceeded MaxRuntimeInSeconds ({timeout})"
        return done.returncode, done.stderr

    def _training(self, name: str, step: dict[str, Any]) -> dict[str, dict[str, str]]:
        arguments = self._arguments(step)
        algorithm = arguments.get("AlgorithmSpecification", {})
        entry = algorithm.get("ContainerEntrypoint")
        if not entry:
            raise StepFailed(f"training step {name!r} names no ContainerEntrypoint (the local training runner runs it)")
        request = TrainingJobRequest(
            job_name=_job_name(self.execution_id, name),
            entry_point=[as_text(part) for part in entry],
            channels={
                c["ChannelName"]: as_text(c["DataSource"]["S3DataSource"]["S3Uri"])
                for c in arguments.get("InputDataConfig", [])
            },
            hyperparameters={k: as_text(v) for k, v in arguments.get("HyperParameters", {}).items()},
            output_path=as_text(arguments["OutputDataConfig"]["S3OutputPath"]),
            image=as_text(algorithm.get("TrainingImage", "")),
            role_arn=as_text(arguments.get("RoleArn", "")),
            environment={k: as_text(v) for k, v in arguments.get("Environment", {}).items()},
            metric_definitions=list(algorithm.get("MetricDefinitions", [])),
            max_runtime_seconds=int(arguments.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 86400)),
        )
        record = self.executor._jobs.run(request)
        metadata = {"TrainingJob": {"Arn": record.job_arn}}
        if record.status != "Completed":
            raise StepFailed(record.failure_reason, metadata)
        self.scope.properties[name] = {
            **arguments,
            "TrainingJobName": record.job_name,
            "TrainingJobArn": record.job_arn,
            "TrainingJobStatus": record.status,
            "ModelArtifacts": {"S3ModelArtifacts": record.model_artifact},
            "FinalMetricDataList": [{"MetricName": k, "Value": v} for k, v in record.metrics.items()],
        }
        return metadata

    def _condition(self, name: str, step: dict[str, Any]) -> dict[str, dict[str, str]]:
        conditions = step.get("Arguments", {}).get("Conditions", [])
        outcome = all(holds(condition, self.scope) for condition in conditions)
        self.outcomes[name] = outcome
        self.scope.properties[name] = {"Outcome": outcome}
        return {"Condition": {"Outcome": "True" if outcome else "False"}}

    def _fail(self, name: str, step: dict[str, Any]) -> dict[str, dict[str, str]]:
        message = as_text(evaluate(step.get("Arguments", {}).get("ErrorMessage", ""), self.scope))
        raise StepFailed(message or f"fail step {name!r}", {"Fail": {"ErrorMessage": message}})


def runtime_environment(platform: Platform) -> dict[str, str]:
    """What a step's subprocess needs to reach the same stack: the clients' environment and the kit's settings."""
    from mlops.local.clients import clients_of

    clients = clients_of(platform)
    settings = platform.settings
    env = {
        **clients.subprocess_env(),
        "MLOPS_TARGET": settings.target,
        "MLOPS_REGION": settings.region,
        "MLOPS_STACK": settings.stack_name,
        "MLOPS_STATE_DIR": str(settings.state_dir.resolve()),
    }
    if clients.endpoint_url:
        env["MLOPS_ENDPOINT_URL"] = clients.endpoint_url
    return env


def local_pipeline_executor(platform: Platform, workdir: Path | None = None) -> LocalPipelineExecutor:
    """The executor of ``platform``: the emulator's SageMaker as control plane, records in the monitoring zone."""
    from mlops.local.clients import clients_of
    from mlops.local.training_runner import local_training_runner

    return LocalPipelineExecutor(
        store=platform.services.object_store,
        records_bucket=platform.outputs.bucket_for_zone("monitoring"),
        control=EmulatorControlPlane(clients_of(platform).client("sagemaker")),
        jobs=local_training_runner(platform, workdir),
        environment=runtime_environment(platform),
        workdir=workdir,
    )
