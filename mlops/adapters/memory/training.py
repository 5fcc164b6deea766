"""``PipelineRunner`` in memory: deployed definitions and executions that run nothing.

It checks what SageMaker checks when an execution starts (the pipeline exists, every parameter is declared) and
keeps the execution ``Executing`` until a test ends it with :meth:`MemoryPipelines.finish` - the way to drive code
that waits on or reports an execution without running a pipeline.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from mlops.ports.training import (
    FINISHED,
    ExecutionNotFoundError,
    PipelineDefinitionError,
    PipelineExecution,
    PipelineNotFoundError,
    PipelineParameterError,
    StepExecution,
)

_PREFIX = "arn:aws:sagemaker:memory:000000000000:pipeline"


class MemoryPipelines:
    """Pipelines by name (their definition JSON) and the executions started on them."""

    def __init__(self, definitions: Mapping[str, str] | None = None) -> None:
        self._parameters: dict[str, dict[str, Any]] = {}
        self._executions: dict[str, PipelineExecution] = {}
        self._lock = threading.Lock()
        for name, definition in (definitions or {}).items():
            self.deploy(name, definition)

    def deploy(self, pipeline: str, definition: str) -> None:
        """Create or replace the pipeline (its declared parameters and their defaults are what start checks)."""
        try:
            declared = json.loads(definition)["Parameters"]
            defaults = {str(p["Name"]): p.get("DefaultValue") for p in declared}
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise PipelineDefinitionError(f"definition of pipeline {pipeline!r} has no Parameters list") from exc
        with self._lock:
            self._parameters[pipeline] = defaults

    def start(self, pipeline: str, parameters: Mapping[str, str], *, display_name: str = "") -> PipelineExecution:
        with self._lock:
            if pipeline not in self._parameters:
                raise PipelineNotFoundError(
                    f"pipeline {pipeline!r} is not deployed; deployed: {', '.join(self._parameters)}"
                )
            declared = self._parameters[pipeline]
            unknown = sorted(set(parameters) - set(declared))
            if unknown:
                raise PipelineParameterError(
                    f"parameter(s) {', '.join(unknown)} are not declared by pipeline {pipeline!r}; "
                    f"declared: {', '.join(declared)}"
                )
            values = {name: _text(value) for name, value in declared.items() if value is not None}
            execution = PipelineExecution(
                arn=f"{_PREFIX}/{pipeline}/execution/{secrets.token_hex(6)}",
                pipeline=pipeline,
                status="Executing",
                parameters={**values, **{k: str(v) for k, v in parameters.items()}},
                display_name=display_name,
                started_at=datetime.now(UTC).isoformat(),
            )
            self._executions[execution.arn] = execution
            return execution

    def describe(self, execution_arn: str) -> PipelineExecution:
        with self._lock:
            if execution_arn not in self._executions:
                raise ExecutionNotFoundError(f"pipeline execution {execution_arn} does not exist")
            return self._executions[execution_arn]

    def finish(
        self, execution_arn: str, status: str, failure_reason: str = "", steps: Sequence[StepExecution] = ()
    ) -> PipelineExecution:
        """End an execution as ``status`` (Succeeded, Failed or Stopped) with the steps it ran."""
        if status not in FINISHED:
            raise ValueError(f"an execution finishes as one of {', '.join(FINISHED)}, not {status!r}")
        finished = replace(
            self.describe(execution_arn),
            status=status,
            failure_reason=failure_reason,
            steps=tuple(steps),
            ended_at=datetime.now(UTC).isoformat(),
        )
        with self._lock:
            self._executions[execution_arn] = finished
        return finished

    def executions(self, pipeline: str) -> list[PipelineExecution]:
        """Every execution of ``pipeline``, in the order they started."""
        with self._lock:
            return [e for e in self._executions.values() if e.pipeline == pipeline]


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool | int | float) else str(value)
