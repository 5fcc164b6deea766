"""SageMaker Pipelines as the pipeline runner: start and describe executions of a deployed pipeline.

SageMaker runs the definition itself; this adapter only starts an execution (after checking the parameters against
the deployed definition, which SageMaker would otherwise accept silently or reject late) and reads its state back:
``DescribePipelineExecution``, the parameters it runs with and its steps (``ListPipelineExecutionSteps``, oldest
first). An emulator that stores pipelines without running them (moto) answers the first two but has no step
listing (moto answers 500; the kit's front door answers it for the executions its local executor ran): the wiring
then builds the adapter with ``lists_steps=False``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from mlops.adapters.aws.clients import ClientFactory
from mlops.ports.training import (
    ExecutionNotFoundError,
    PipelineError,
    PipelineExecution,
    PipelineNotFoundError,
    PipelineParameterError,
    StepExecution,
)

_NOT_FOUND_CODES = ("ResourceNotFound", "ResourceNotFoundException")


def execution_display_name(text: str) -> str:
    """A valid ``PipelineExecutionDisplayName``: letters, digits and single hyphens, at most 82 characters."""
    return re.sub(r"[^a-zA-Z0-9]+", "-", text)[:82].strip("-")


def _not_found(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") in _NOT_FOUND_CODES or "Could not find" in str(error.get("Message", ""))


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else ("" if value is None else str(value))


class SageMakerPipelines:
    """:class:`~mlops.ports.training.PipelineRunner` on SageMaker Pipelines (or an emulator's API)."""

    def __init__(self, clients: ClientFactory, *, lists_steps: bool = True) -> None:
        self._clients = clients
        self._lists_steps = lists_steps

    @property
    def _sagemaker(self) -> Any:
        return self._clients.client("sagemaker")

    def declared_parameters(self, pipeline: str) -> list[str]:
        """The parameter names of the deployed definition."""
        try:
            definition = self._sagemaker.describe_pipeline(PipelineName=pipeline)["PipelineDefinition"]
        except ClientError as exc:
            if _not_found(exc):
                raise PipelineNotFoundError(f"SageMaker pipeline {pipeline!r} does not exist") from exc
            raise PipelineError(f"cannot describe SageMaker pipeline {pipeline!r}: {exc}") from exc
        try:
            parameters = json.loads(definition).get("Parameters", [])
        except (json.JSONDecodeError, AttributeError) as exc:
            raise PipelineError(f"the deployed definition of pipeline {pipeline!r} is not a JSON object") from exc
        return [str(p["Name"]) for p in parameters]

    def start(self, pipeline: str, parameters: Mapping[str, str], *, display_name: str = "") -> PipelineExecution:
        declared = self.declared_parameters(pipeline)
        unknown = sorted(set(parameters) - set(declared))
        if unknown:
            raise PipelineParameterError(
                f"parameter(s) {', '.join(unknown)} are not declared by pipeline {pipeline!r}; "
                f"declared: {', '.join(declared)}"
            )
        request: dict[str, Any] = {
            "PipelineName": pipeline,
            "PipelineParameters": [{"Name": k, "Value": str(v)} for k, v in sorted(parameters.items())],
        }
        if display_name:
            request["PipelineExecutionDisplayName"] = execution_display_name(display_name)
        try:
            arn = str(self._sagemaker.start_pipeline_execution(**request)["PipelineExecutionArn"])
        except ClientError as exc:
            if _not_found(exc):
                raise PipelineNotFoundError(f"SageMaker pipeline {pipeline!r} does not exist") from exc
            raise PipelineError(f"SageMaker pipeline {pipeline!r} could not be started: {exc}") from exc
        return self.describe(arn)

    def describe(self, execution_arn: str) -> PipelineExecution:
        try:
            response = self._sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        except ClientError as exc:
            if _not_found(exc):
                raise ExecutionNotFoundError(f"pipeline execution {execution_arn} does not exist") from exc
            raise PipelineError(f"cannot describe pipeline execution {execution_arn}: {exc}") from exc
        pipeline = str(response.get("PipelineArn", "")).rpartition("pipeline/")[2] or _pipeline_of(execution_arn)
        return PipelineExecution(
            arn=execution_arn,
            pipeline=pipeline,
            status=str(response["PipelineExecutionStatus"]),
            parameters=self._parameters(execution_arn),
            display_name=str(response.get("PipelineExecutionDisplayName", "")),
            failure_reason=str(response.get("FailureReason") or ""),
            started_at=_text(response.get("CreationTime")),
            ended_at=_text(response.get("LastModifiedTime"))
            if response["PipelineExecutionStatus"] in ("Succeeded", "Failed", "Stopped")
            else "",
            steps=self._steps(execution_arn),
        )

    def _parameters(self, execution_arn: str) -> dict[str, str]:
        found: dict[str, str] = {}
        paginator = self._sagemaker.get_paginator("list_pipeline_parameters_for_execution")
        try:
            for page in paginator.paginate(PipelineExecutionArn=execution_arn):
                found.update({str(p["Name"]): str(p["Value"]) for p in page.get("PipelineParameters", [])})
        except ClientError as exc:
            raise PipelineError(f"cannot list the parameters of pipeline execution {execution_arn}: {exc}") from exc
        return found

    def _steps(self, execution_arn: str) -> tuple[StepExecution, ...]:
        if not self._lists_steps:
            return ()
        steps: list[StepExecution] = []
        paginator = self._sagemaker.get_paginator("list_pipeline_execution_steps")
        try:
            for page in paginator.paginate(PipelineExecutionArn=execution_arn, SortOrder="Ascending"):
                steps.extend(_step(raw) for raw in page.get("PipelineExecutionSteps", []))
        except ClientError as exc:
            raise PipelineError(f"cannot list the steps of pipeline execution {execution_arn}: {exc}") from exc
        return tuple(steps)


def _pipeline_of(execution_arn: str) -> str:
    return execution_arn.partition("pipeline/")[2].partition("/execution/")[0]


def _step(raw: Mapping[str, Any]) -> StepExecution:
    metadata = {
        str(kind): {str(k): _text(v) for k, v in fields.items() if not isinstance(v, dict | list)}
        for kind, fields in dict(raw.get("Metadata", {})).items()
        if isinstance(fields, dict)
    }
    return StepExecution(
        name=str(raw["StepName"]),
        status=str(raw.get("StepStatus", "")),
        failure_reason=str(raw.get("FailureReason") or ""),
        started_at=_text(raw.get("StartTime")),
        ended_at=_text(raw.get("EndTime")),
        metadata=metadata,
    )
