"""``Alarms`` in memory: definitions put by the test, evaluated with CloudWatch's semantics
(:mod:`mlops.alarm_semantics`) on in-memory metrics, actions recorded instead of delivered."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from mlops.adapters.memory.metrics import MemoryMetrics
from mlops.alarm_semantics import evaluate, read_values
from mlops.ports.alarms import (
    STATES,
    AlarmDefinition,
    AlarmEvaluation,
    AlarmHistoryItem,
    AlarmNotFoundError,
    AlarmsError,
)
from mlops.ports.metrics import MetricsPublisher


class MemoryAlarms:
    """Alarms over a metrics port: the given one for its namespace, an in-memory one for any other namespace
    (e.g. ``AWS/SageMaker``, which a service would publish to; :meth:`metrics_of` reaches it)."""

    def __init__(self, metrics: MetricsPublisher) -> None:
        self._metrics: dict[str, MetricsPublisher] = {metrics.namespace: metrics}
        self._alarms: dict[str, AlarmDefinition] = {}
        self._history: list[AlarmHistoryItem] = []
        self.delivered: list[tuple[str, AlarmEvaluation]] = []
        """(action, evaluation) for every action a state change ran."""
        self._lock = threading.RLock()

    def metrics_of(self, namespace: str) -> MetricsPublisher:
        with self._lock:
            if namespace not in self._metrics:
                self._metrics[namespace] = MemoryMetrics(namespace)
            return self._metrics[namespace]

    def put_alarm(self, alarm: AlarmDefinition) -> None:
        """Create or replace an alarm (as the infra program's ``PutMetricAlarm`` does)."""
        with self._lock:
            self._alarms[alarm.name] = alarm

    def set_state(self, name: str, state: str, reason: str, now: datetime | None = None) -> None:
        """Force a state, as ``SetAlarmState`` does (recorded in the history)."""
        if state not in STATES:
            raise AlarmsError(f"alarm {name!r}: state {state!r} is not one of {', '.join(STATES)}")
        moment = now or datetime.now(UTC)
        with self._lock:
            (alarm,) = self.describe([name])
            self._history.append(AlarmHistoryItem(name, moment, alarm.state, state, reason))
            self._alarms[name] = replace(alarm, state=state, state_reason=reason, state_updated=moment)

    def describe(self, names: Sequence[str]) -> list[AlarmDefinition]:
        wanted = list(dict.fromkeys(names))
        with self._lock:
            absent = [n for n in wanted if n not in self._alarms]
            if absent:
                raise AlarmNotFoundError(f"no metric alarm named {', '.join(repr(n) for n in absent)}")
            return [self._alarms[n] for n in wanted]

    def evaluate(
        self, names: Sequence[str], now: datetime | None = None, *, apply: bool = True
    ) -> list[AlarmEvaluation]:
        moment = now or datetime.now(UTC)
        results: list[AlarmEvaluation] = []
        for alarm in self.describe(names):
            judged = evaluate(alarm, read_values(self.metrics_of(alarm.namespace), alarm, moment), moment)
            if apply and judged.changed:
                self.set_state(alarm.name, judged.state, judged.reason, moment)
                actions = alarm.actions_for(judged.state) if alarm.actions_enabled else ()
                judged = replace(judged, applied=True, notified=actions, state_since=moment)
                with self._lock:
                    self.delivered.extend((action, judged) for action in actions)
            elif not judged.changed:
                judged = replace(judged, state_since=alarm.state_updated)
            results.append(judged)
        return results

    def history(self, name: str, limit: int = 20) -> list[AlarmHistoryItem]:
        self.describe([name])
        with self._lock:
            items = [item for item in self._history if item.alarm == name]
        return sorted(items, key=lambda item: item.timestamp, reverse=True)[:limit]
