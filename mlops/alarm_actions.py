"""The record of what an alarm's state change ran: which alarm, why, what ran, how it ended, when.

Whoever runs an action writes one record to the monitoring zone (:func:`mlops.layout.alarm_action_key`): the
kit's local alarm runner when it delivers a state-change event to a rule's target (the retrain rule's training
pipeline), and the follow-through that gates, promotes and deploys the model that pipeline registered, or rolls a
degraded champion back. ``mlops monitor status`` lists them, newest first. On AWS, EventBridge runs the retrain
rule's target itself (its runs are the pipeline's executions, not records here).

Kinds: ``start-pipeline`` (a rule's SageMaker pipeline target started), ``promote-and-deploy`` (the promotion gate
on the challenger a triggered execution registered, and the deployment of a new champion), ``rollback`` (the
champion replaced by its predecessor and redeployed).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from mlops.errors import MonitoringError
from mlops.layout import ALARM_ACTIONS_PREFIX, alarm_action_key
from mlops.ports.object_store import ObjectStore

RETRAIN_ALARM_KEYS: tuple[str, ...] = ("data_drift", "concept_drift", "model_degradation")
"""The alarms (keys of ``outputs.alarm_names``) whose ALARM state starts the training pipeline: the infra program's
retrain rule (``infra.thresholds.RETRAIN_ALARMS``, which the core may not import), and the local GCP runner's retrain
route."""

ActionKind = Literal["start-pipeline", "promote-and-deploy", "rollback"]
Outcome = Literal["succeeded", "failed", "skipped"]


@dataclass(frozen=True)
class AlarmAction:
    """One action run because an alarm changed state.

    ``alarm``/``state``/``reason``: the change that caused it; ``rule``/``target``: the EventBridge rule and target
    it was delivered through (empty for a follow-through); ``ran``: what ran, in words a person can look up (an
    execution ARN, model versions); ``outcome`` and ``detail``: how it ended and why; ``caused_by``: the id of the
    action this one follows (a promotion follows the pipeline run that registered its challenger).
    """

    kind: ActionKind
    alarm: str
    state: str
    reason: str
    ran: str
    outcome: Outcome
    detail: str = ""
    rule: str = ""
    target: str = ""
    caused_by: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    action_id: str = field(default_factory=lambda: secrets.token_hex(6))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["data"] = dict(self.data)
        out["started_at"] = self.started_at.isoformat()
        out["ended_at"] = self.ended_at.isoformat()
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str) -> AlarmAction:
        try:
            values = dict(raw)
            values["started_at"] = datetime.fromisoformat(str(raw["started_at"]))
            values["ended_at"] = datetime.fromisoformat(str(raw["ended_at"]))
            return cls(**values)
        except (KeyError, TypeError, ValueError) as exc:
            raise MonitoringError(f"alarm action record {where} is not a record of this kit: {exc}") from exc


def write_action(store: ObjectStore, bucket: str, action: AlarmAction) -> str:
    """Store the record in the monitoring zone's ``bucket``; returns its key."""
    key = alarm_action_key(action.started_at, action.action_id)
    body = json.dumps(action.to_dict(), indent=2, sort_keys=True).encode()
    store.put(bucket, key, body, content_type="application/json")
    return key


def read_actions(store: ObjectStore, bucket: str, limit: int = 50) -> list[AlarmAction]:
    """The latest ``limit`` records, newest first (keys sort by start time)."""
    keys = sorted(store.list_keys(bucket, ALARM_ACTIONS_PREFIX), reverse=True)[:limit]
    return [AlarmAction.from_dict(json.loads(store.get(bucket, key)), key) for key in keys]
