"""Alarms port: the stack's metric alarms (declared by the infra program), their current state and why, and their
history of state changes (CloudWatch alarms, Cloud Monitoring alerting policies, memory).

Who evaluates differs by implementation, never by caller: on AWS (and LocalStack) CloudWatch evaluates its alarms
itself and ``evaluate`` reports the state it holds; where the emulator only stores alarms (moto), the kit's local
runner evaluates them with CloudWatch's semantics (:mod:`mlops.alarm_semantics`) on the metrics port's datapoints,
sets the state in the emulator and performs the actions; the memory fake evaluates the same way in process.
The contract suite (``tests/contract/test_alarms.py``) checks that the same definitions and datapoints give the
same states everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from mlops.alarm_actions import AlarmAction
from mlops.errors import MonitoringError
from mlops.ports.errors import NotFoundError, PortError, ThrottledError, UnavailableError

AlarmState = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
STATES: tuple[str, ...] = ("OK", "ALARM", "INSUFFICIENT_DATA")


class AlarmsError(PortError, MonitoringError):
    """Reading, evaluating or acting on alarms failed; the message names the alarm(s)."""


class AlarmNotFoundError(AlarmsError, NotFoundError):
    """No alarm of that name exists (the message lists every absent name)."""


class AlarmDefinitionError(AlarmsError):
    """The kit's evaluator does not implement something the alarm uses (an anomaly-band operator, metric math,
    an unknown missing-data treatment); the message names the alarm and the feature."""


class AlarmsThrottledError(AlarmsError, ThrottledError):
    """The alarm service refused the call for rate, and the retries did not help."""


class AlarmsUnavailableError(AlarmsError, UnavailableError):
    """The alarm service (or emulator) did not answer."""


@dataclass(frozen=True)
class AlarmDefinition:
    """One metric alarm as declared, with its current state.

    ``metric_math`` marks an alarm on a metric-math expression (``metric_name``/``namespace`` are then empty):
    describable everywhere, evaluated only by the cloud's service.
    """

    name: str
    arn: str
    namespace: str
    metric_name: str
    dimensions: Mapping[str, str]
    statistic: str
    comparison: str
    threshold: float
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str
    state: str
    state_reason: str = ""
    state_updated: datetime | None = None
    description: str = ""
    alarm_actions: tuple[str, ...] = ()
    ok_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    actions_enabled: bool = True
    metric_math: bool = False

    def actions_for(self, state: str) -> tuple[str, ...]:
        """The actions (topic ARNs, ...) run when the alarm enters ``state``."""
        if state == "ALARM":
            return self.alarm_actions
        if state == "OK":
            return self.ok_actions
        return self.insufficient_data_actions


@dataclass(frozen=True)
class EventTarget:
    """A rule that matched an alarm's state-change event, and one of its targets."""

    rule: str
    target_id: str
    target_arn: str


@dataclass(frozen=True)
class AlarmEvaluation:
    """An alarm's state after ``evaluate`` and why.

    ``previous_state`` is the state the alarm held when the call started, so ``changed`` means *this call moved
    it* (the kit's evaluators). Where the cloud evaluates (CloudWatch), nothing the call does moves an alarm:
    ``previous_state == state`` and ``state_since`` says when the service last changed it (``history`` lists
    the changes). ``datapoints`` are the judged values per period start (``None`` = missing), empty when the
    service judged. ``applied``: the new state was written (``apply=True`` and a change). ``notified`` lists the
    notification actions delivered; ``event_id`` the state-change event put on the bus, ``event_targets`` the
    rules and targets that event matched; ``actions`` the targets the kit itself delivered (the local runner starts
    the retrain rule's pipeline) and how each ended; ``notes`` what could not be done and why.
    """

    alarm: str
    previous_state: str
    state: str
    reason: str
    evaluated_at: datetime | None = None
    datapoints: tuple[tuple[datetime, float | None], ...] = ()
    breaching: int = 0
    applied: bool = False
    notified: tuple[str, ...] = ()
    event_id: str | None = None
    event_targets: tuple[EventTarget, ...] = ()
    notes: tuple[str, ...] = ()
    state_since: datetime | None = None
    actions: tuple[AlarmAction, ...] = ()

    @property
    def changed(self) -> bool:
        return self.state != self.previous_state

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``mlops monitor alarms --json``)."""
        return {
            "alarm": self.alarm,
            "previous_state": self.previous_state,
            "state": self.state,
            "changed": self.changed,
            "reason": self.reason,
            "evaluated_at": self.evaluated_at.isoformat() if self.evaluated_at else None,
            "state_since": self.state_since.isoformat() if self.state_since else None,
            "datapoints": [{"period_start": s.isoformat(), "value": v} for s, v in self.datapoints],
            "breaching": self.breaching,
            "applied": self.applied,
            "notified": list(self.notified),
            "event_id": self.event_id,
            "event_targets": [vars(t) for t in self.event_targets],
            "notes": list(self.notes),
            "actions": [a.to_dict() for a in self.actions],
        }


@dataclass(frozen=True)
class AlarmHistoryItem:
    """One state change of an alarm."""

    alarm: str
    timestamp: datetime
    previous_state: str
    state: str
    reason: str
    data: Mapping[str, Any] = field(default_factory=dict)


class Alarms(Protocol):
    """The stack's metric alarms. Every method raises :class:`AlarmNotFoundError` naming absent alarms."""

    def describe(self, names: Sequence[str]) -> list[AlarmDefinition]:
        """The alarms' definitions and current states, in the order of ``names`` (duplicates once)."""
        ...

    def evaluate(
        self, names: Sequence[str], now: datetime | None = None, *, apply: bool = True
    ) -> list[AlarmEvaluation]:
        """Each alarm's state at ``now`` (default: the current time) and why, in the order of ``names``.

        The kit's evaluators judge the alarm's datapoints at ``now``; with ``apply`` a changed state is written
        and its actions are performed, without it nothing changes (a dry run). CloudWatch evaluates on its own
        clock: there ``now`` and ``apply`` change nothing and the state it holds is reported.
        """
        ...

    def history(self, name: str, limit: int = 20) -> list[AlarmHistoryItem]:
        """The alarm's latest state changes, newest first, at most ``limit``."""
        ...
