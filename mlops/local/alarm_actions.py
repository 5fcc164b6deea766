"""Delivering an alarm's state-change event to the rule targets the emulator cannot run, as EventBridge would.

moto matches no rule and runs no target for a state change it did not evaluate, and its PutEvents fails outright
for a SageMaker pipeline target. The local alarm runner (:mod:`mlops.local.alarm_runner`) matches the rules itself
and hands each matched target here:

- a SageMaker pipeline target (``arn:aws:sagemaker:<region>:<account>:pipeline/<name>``, the infra's retrain rule)
  starts an execution of that pipeline through the training port (``platform.services.training``: the kit's
  pipeline executor against the emulator, which runs it to its end), with the target's
  ``SageMakerPipelineParameters`` as on AWS (``TriggeredBy=drift-alarm``);
- any other target is left to the emulator's own delivery (SQS, Logs, event buses).

Every delivery is recorded (:mod:`mlops.alarm_actions`), failures included: a target that fails does not undo the
alarm's new state, as on AWS, where EventBridge reports a failed invocation and the alarm stays in ALARM.

One difference from AWS, on purpose: the alarms that change state in the same evaluation and match the same target
share one execution (the others' records say which). EventBridge would start one execution per state-change event,
and the drift, concept-drift and degradation alarms often fire together: three identical trainings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlops.alarm_actions import AlarmAction, write_action
from mlops.ports.alarms import AlarmDefinition, AlarmEvaluation, EventTarget
from mlops.ports.errors import PortError
from mlops.ports.object_store import ObjectStore
from mlops.ports.training import PipelineRunner

_PIPELINE_ARN = re.compile(r"^arn:[^:]+:sagemaker:[^:]*:[^:]*:pipeline/(?P<name>[^/]+)$")


def pipeline_of(target_arn: str) -> str | None:
    """The pipeline name of a SageMaker pipeline target's ARN, ``None`` for any other target."""
    match = _PIPELINE_ARN.match(target_arn)
    return match.group("name") if match else None


def pipeline_parameters(target: Mapping[str, Any]) -> dict[str, str]:
    """A target's ``SageMakerPipelineParameters`` (as ``ListTargetsByRule`` returns it) as name -> value."""
    listed = target.get("SageMakerPipelineParameters", {}).get("PipelineParameterList", [])
    return {str(p["Name"]): str(p["Value"]) for p in listed}


@dataclass
class TargetDelivery:
    """Runs the SageMaker pipeline targets of matched rules and records every delivery.

    ``training`` builds the training port on first use (most evaluations change nothing and start nothing);
    ``store``/``bucket`` is where the records go (the monitoring zone).
    """

    training: Callable[[], PipelineRunner]
    store: ObjectStore
    bucket: str
    _started: dict[tuple[str, str], AlarmAction] = field(default_factory=dict)

    def handles(self, target: EventTarget) -> bool:
        return pipeline_of(target.target_arn) is not None

    def new_round(self) -> None:
        """Forget the executions started so far: the next evaluation starts its own."""
        self._started.clear()

    def deliver(
        self, alarm: AlarmDefinition, evaluation: AlarmEvaluation, target: EventTarget, raw: Mapping[str, Any]
    ) -> AlarmAction:
        """Start the target's pipeline (or join the execution this round already started) and record it."""
        pipeline = pipeline_of(target.target_arn)
        assert pipeline is not None, target.target_arn
        return self.start_pipeline(alarm, evaluation, target, pipeline, pipeline_parameters(raw))

    def start_pipeline(
        self,
        alarm: AlarmDefinition,
        evaluation: AlarmEvaluation,
        target: EventTarget,
        pipeline: str,
        parameters: Mapping[str, str],
    ) -> AlarmAction:
        """Start ``pipeline`` for the route ``target`` (an EventBridge rule's target; on Google Cloud the retrain
        subscription of the alerts channel), or join the execution this round already started for it; recorded."""
        common: dict[str, Any] = {
            "alarm": alarm.name,
            "state": evaluation.state,
            "reason": evaluation.reason,
            "rule": target.rule,
            "target": target.target_arn,
        }
        shared = self._started.get((target.rule, target.target_id))
        if shared is not None:
            action = AlarmAction(
                "start-pipeline",
                ran=shared.ran,
                outcome="skipped",
                detail=f"joined the execution started for alarm {shared.alarm!r} in the same evaluation",
                caused_by=shared.action_id,
                data=dict(shared.data),
                **common,
            )
        else:
            action = self._start(pipeline, dict(parameters), common)
            self._started[(target.rule, target.target_id)] = action
        write_action(self.store, self.bucket, action)
        return action

    def _start(self, pipeline: str, parameters: dict[str, str], common: dict[str, Any]) -> AlarmAction:
        started = datetime.now(UTC)
        try:
            execution = self.training().start(pipeline, parameters, display_name=f"{common['alarm']} ALARM")
        except PortError as exc:
            return AlarmAction(
                "start-pipeline",
                ran=f"pipeline {pipeline}",
                outcome="failed",
                detail=f"the execution could not start: {exc}",
                data={"pipeline": pipeline, "parameters": parameters},
                started_at=started,
                **common,
            )
        failed = execution.status in ("Failed", "Stopped")
        detail = execution.failure_reason if failed else f"execution {execution.status}"
        return AlarmAction(
            "start-pipeline",
            ran=f"pipeline {pipeline} execution {execution.arn}",
            outcome="failed" if failed else "succeeded",
            detail=detail,
            data={
                "pipeline": pipeline,
                "parameters": parameters,
                "execution_arn": execution.arn,
                "execution_status": execution.status,
            },
            started_at=started,
            **common,
        )
