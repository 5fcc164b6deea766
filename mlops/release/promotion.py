"""An environment's release, after ``pulumi up``: the training pipeline run to its end, the model gate, and a
smoke test of the endpoint. Each reaches services through the ports (training, model registry, endpoint), so
the same code runs on AWS, on the emulator and against the in-memory fakes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from mlops.contracts import CHALLENGER, CHAMPION
from mlops.ports.endpoint import Endpoint
from mlops.ports.model_registry import GateRejectedError, ModelVersionInfo
from mlops.ports.training import PipelineExecution, PipelineRunner
from mlops.release.errors import ReleaseError


def wait_for_execution(
    runner: PipelineRunner,
    execution: PipelineExecution,
    *,
    timeout_seconds: float,
    poll_seconds: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PipelineExecution:
    """The execution once finished (SageMaker Pipelines returns at once; the local executor already ran it).
    Past ``timeout_seconds`` it raises, naming the execution and its last status."""
    deadline = clock() + timeout_seconds
    while not execution.finished:
        if clock() >= deadline:
            raise ReleaseError(
                f"pipeline execution {execution.arn} still {execution.status} after {timeout_seconds:.0f}s"
            )
        sleep(poll_seconds)
        execution = runner.describe(execution.arn)
    return execution


class AliasLookup(Protocol):
    """What the gate reads of the registry: the version an alias points at."""

    def find(self, name: str, alias: str) -> ModelVersionInfo | None: ...


Decision = Literal["promoted", "kept", "no-candidate"]


@dataclass(frozen=True)
class GateOutcome:
    """What the model gate decided and which version serves afterwards; ``deploy`` says a new champion must go
    to the endpoint."""

    dataset: str
    decision: Decision
    champion_version: int
    detail: str

    @property
    def deploy(self) -> bool:
        return self.decision == "promoted"


def model_gate(registry: AliasLookup, dataset: str, promote: Callable[[], object]) -> GateOutcome:
    """Promote the challenger if it beats the champion (``promote``: the promotion gate of
    ``pipelines.registry``); a challenger that loses, or no new challenger, keeps the champion. An environment
    without any champion afterwards fails: nothing passed the gate, so the next environment must not deploy."""
    challenger = registry.find(dataset, CHALLENGER)
    before = registry.find(dataset, CHAMPION)
    decision: Decision
    if challenger is None or (before is not None and challenger.version == before.version):
        decision, detail = "no-candidate", "no new challenger: the champion keeps serving"
    else:
        try:
            promote()
            decision, detail = "promoted", f"challenger v{challenger.version} beat the champion and was promoted"
        except GateRejectedError as exc:
            decision, detail = "kept", str(exc)
    champion = registry.find(dataset, CHAMPION)
    if champion is None:
        raise ReleaseError(f"model gate of {dataset!r}: no champion ({detail}); nothing may be deployed or promoted")
    return GateOutcome(dataset, decision, champion.version, detail)


@dataclass(frozen=True)
class SmokeResult:
    endpoint: str
    rows: int
    predictions: int
    seconds: float


def smoke_test(endpoint: Endpoint, name: str, payload: bytes, content_type: str = "application/json") -> SmokeResult:
    """Invoke the endpoint once with ``payload`` (MLflow JSON with ``dataframe_records`` or
    ``dataframe_split``); it must answer with one prediction per row. An error names the endpoint."""
    rows = _rows(payload) if content_type == "application/json" else len(payload.decode().strip().splitlines())
    started = time.perf_counter()
    answer = endpoint.invoke(payload, content_type, "application/json")
    seconds = time.perf_counter() - started
    try:
        predictions = json.loads(answer.body)["predictions"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ReleaseError(
            f"smoke test of endpoint {name!r}: the answer is not predictions: {answer.body[:300]!r}"
        ) from exc
    if len(predictions) != rows:
        raise ReleaseError(f"smoke test of endpoint {name!r}: {len(predictions)} predictions for {rows} rows")
    return SmokeResult(name, rows, len(predictions), seconds)


def _rows(payload: bytes) -> int:
    document = json.loads(payload)
    if "dataframe_records" in document:
        return len(document["dataframe_records"])
    if "dataframe_split" in document:
        return len(document["dataframe_split"]["data"])
    raise ReleaseError("a smoke payload is MLflow JSON with dataframe_records or dataframe_split")
