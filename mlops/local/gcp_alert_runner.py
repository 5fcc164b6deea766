"""Cloud Monitoring's alert-policy evaluation, played locally for ``cloud: gcp`` on Google's emulators (Cloud
Monitoring has no emulator), as :mod:`mlops.local.alarm_runner` plays CloudWatch's on moto. The wiring picks it for
``services.alarms.type: local`` (``auto`` on ``gcp-emulators``).

**Where things live.** Policies, notification channels and the state changes are documents in the Firestore
emulator, so every process of a local stack (each CLI command) sees the same ones: ``alert-policies`` (the policy's
REST JSON with its state, reason, time and open incident), ``notification-channels`` and
``alert-policy-history``. :func:`put_policy` and :func:`put_channel` declare them (the local apply of the stack's
``gcp:monitoring`` resources, tests). The figures are the kit's metrics store in the same emulator
(:mod:`mlops.local.gcp_metrics`).

**Each evaluation** does what Cloud Monitoring does for a metric-threshold policy (the semantics and their limits:
:mod:`mlops.alert_policies`):

1. reads the policy and judges its condition at ``now`` on every series its filter selects, per alignment period
   over the condition's duration, with the kit's one evaluation core (:mod:`mlops.alarm_semantics`);
2. with ``apply``, on a change: writes the new state in a transaction that first checks nobody changed it since it
   was read (two CLI processes never both open an incident), opens an incident on entering ``ALARM`` and closes it
   on leaving, and records the change in the history;
3. notifies each of the policy's channels on an incident opened or closed: Cloud Monitoring's Pub/Sub notification
   (schema 1.2) published to the channel's topic on the Pub/Sub emulator;
4. plays the retrain route: on Google Cloud the alerts channel's ``retrain`` subscription (``retrain_rule_name``)
   hands the incidents of the drift and degradation policies to what starts training; here an incident opened by one
   of those policies starts the training pipeline through the training port (:class:`TargetDelivery`, recorded in
   the monitoring zone, as the retrain rule on moto). ``mlops monitor alarms --evaluate`` then gates, promotes and
   deploys what it registered (:mod:`pipelines.registry.retraining`), as on AWS.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
from mlops.alert_policies import SeriesReader, definition_of, incident_notification, judge, policy_id, read_series
from mlops.local.alarm_actions import TargetDelivery
from mlops.local.gcp_metrics import FirestoreEmulatorMetrics
from mlops.ports.alarms import (
    AlarmDefinition,
    AlarmEvaluation,
    AlarmHistoryItem,
    AlarmNotFoundError,
    AlarmsError,
    AlarmsUnavailableError,
    EventTarget,
)

POLICIES = "alert-policies"
CHANNELS = "notification-channels"
HISTORY = "alert-policy-history"
RETRAIN_PARAMETERS = {"TriggeredBy": "drift-alarm"}
"""What the training pipeline is started with, as the AWS retrain rule's target passes it."""
PUBLISH_TIMEOUT = 30.0


def _error(what: str, exc: Exception) -> AlarmsError:
    if isinstance(exc, google_errors.ServiceUnavailable | google_errors.DeadlineExceeded):
        return AlarmsUnavailableError(f"{what}: the Firestore or Pub/Sub emulator did not answer: {exc}")
    return AlarmsError(f"{what} failed: {exc}")


def _channel_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:20]


DeclareOutcome = Literal["created", "updated", "reused"]


@dataclass(frozen=True)
class Declared:
    """What :func:`put_policy` or :func:`put_channel` did: the resource's name and whether it was new, changed or
    already there as declared (what a local apply records)."""

    name: str
    outcome: DeclareOutcome


def _put(
    ref: Any, row: dict[str, Any], compare: Callable[[dict[str, Any]], Any]
) -> Literal["created", "updated", "reused"]:
    """Write ``row`` unless the stored document already says the same (``compare`` picks what counts)."""
    stored = ref.get().to_dict()
    if stored is not None and compare(stored) == compare(row):
        return "reused"
    ref.set(row)
    return "created" if stored is None else "updated"


def put_policy(clients: GcpClients, policy: Mapping[str, Any], *, state: str | None = None) -> Declared:
    """Create or replace an alert policy (REST JSON, e.g. the Pulumi inputs of a ``gcp:monitoring`` AlertPolicy).
    The policy is checked as the runner will read it. A replaced policy keeps its state and open incident (a
    re-apply changes the definition, as on Cloud Monitoring) unless ``state`` is given; a new one starts in
    ``state`` or INSUFFICIENT_DATA."""
    display = str(policy.get("displayName", ""))
    if not display:
        raise AlarmsError(f"alert policy {dict(policy)!r} has no displayName")
    name = f"projects/{clients.project}/alertPolicies/{policy_id(display)}"
    stored = {**policy, "name": name}
    definition_of(stored)  # refuses, by name, a filter or condition the runner cannot evaluate
    ref = clients.firestore().collection(POLICIES).document(policy_id(display))
    fresh = {"state": state or "INSUFFICIENT_DATA", "reason": "", "updated": None, "incident": None}
    try:
        kept = ref.get().to_dict() if state is None else None
        status = {k: kept.get(k) for k in fresh} if kept else fresh
        row = {"policy": stored, "display_name": display, **status}
        outcome = _put(ref, row, lambda r: (r.get("policy"), r.get("state")))
    except google_errors.GoogleAPIError as exc:
        raise _error(f"declaring alert policy {display!r}", exc) from exc
    return Declared(name, outcome)


def put_channel(clients: GcpClients, channel: Mapping[str, Any]) -> Declared:
    """Create or replace a notification channel (``type: pubsub`` with ``labels.topic``)."""
    name = str(channel.get("name") or f"projects/{clients.project}/notificationChannels/")
    if name.endswith("/"):
        name += _channel_id(str(channel.get("displayName", "")))
    try:
        ref = clients.firestore().collection(CHANNELS).document(_channel_id(name))
        outcome = _put(ref, {**channel, "name": name}, lambda row: row)
    except google_errors.GoogleAPIError as exc:
        raise _error(f"declaring notification channel {name!r}", exc) from exc
    return Declared(name, outcome)


@dataclass(frozen=True)
class RetrainRoute:
    """Which policies' incidents start which pipeline: the alerts channel's ``retrain`` subscription's consumer."""

    subscription: str
    pipeline: str
    policies: frozenset[str]
    parameters: Mapping[str, str] = field(default_factory=lambda: dict(RETRAIN_PARAMETERS))

    def target(self) -> EventTarget:
        return EventTarget(self.subscription, "retrain", f"pipeline/{self.pipeline}")


class LocalAlertPolicies:
    """``Alarms`` over the alert policies kept in the Firestore emulator (see the module docs)."""

    def __init__(
        self,
        clients: GcpClients,
        metrics: FirestoreEmulatorMetrics,
        *,
        delivery: TargetDelivery | None = None,
        retrain: RetrainRoute | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._clients = clients
        self._readers: dict[str, SeriesReader] = {metrics.namespace: metrics}
        self.delivery = delivery
        self.retrain = retrain
        self._clock = clock
        self._lock = threading.Lock()

    def _reader(self, namespace: str) -> SeriesReader:
        with self._lock:
            if namespace not in self._readers:
                self._readers[namespace] = FirestoreEmulatorMetrics(self._clients, namespace)
            return self._readers[namespace]

    def _rows(self, names: Sequence[str]) -> list[dict[str, Any]]:
        wanted = list(dict.fromkeys(names))
        client = self._clients.firestore()
        refs = [client.collection(POLICIES).document(policy_id(n)) for n in wanted]
        try:
            found = {s.id: s.to_dict() for s in client.get_all(refs) if s.exists} if refs else {}
        except google_errors.GoogleAPIError as exc:
            raise _error(f"reading alert policies {wanted}", exc) from exc
        absent = [n for n in wanted if policy_id(n) not in found]
        if absent:
            raise AlarmNotFoundError(f"no alert policy named {', '.join(repr(n) for n in absent)}")
        return [found[policy_id(n)] for n in wanted]

    @staticmethod
    def _definition(row: Mapping[str, Any]) -> AlarmDefinition:
        return definition_of(
            row["policy"], state=row["state"], reason=row.get("reason", ""), updated=row.get("updated")
        )

    def describe(self, names: Sequence[str]) -> list[AlarmDefinition]:
        return [self._definition(row) for row in self._rows(names)]

    def evaluate(
        self, names: Sequence[str], now: datetime | None = None, *, apply: bool = True
    ) -> list[AlarmEvaluation]:
        moment = now or self._clock()
        if self.delivery is not None:
            self.delivery.new_round()
        results: list[AlarmEvaluation] = []
        for row in self._rows(names):
            alarm = self._definition(row)
            if alarm.metric_math:
                note = "only metric-threshold conditions are evaluated locally; Cloud Monitoring evaluates this one"
                results.append(AlarmEvaluation(alarm.name, alarm.state, alarm.state, note, moment, notes=(note,)))
                continue
            judged = judge(alarm, read_series(self._reader(alarm.namespace), alarm, moment), moment)
            if not judged.changed:
                results.append(replace(judged, state_since=alarm.state_updated))
            elif apply:
                results.append(self._apply(row, alarm, judged, moment))
            else:
                results.append(judged)
        return results

    def _apply(
        self, row: Mapping[str, Any], alarm: AlarmDefinition, judged: AlarmEvaluation, when: datetime
    ) -> AlarmEvaluation:
        incident = self._transition(alarm, judged, when)
        if incident is None:
            note = "another evaluator changed the policy's state first: nothing written"
            return replace(judged, state=alarm.state, notes=(*judged.notes, note))
        applied = replace(judged, applied=True, state_since=when)
        if not alarm.actions_enabled:
            return replace(applied, notes=(*applied.notes, "the policy is disabled: no notification"))
        if "ALARM" in (judged.state, judged.previous_state):  # an incident opened or closed
            labels = row["policy"].get("userLabels") or {}
            applied = self._notify(alarm, applied, incident, labels)
        return self._follow(alarm, applied)

    def _transition(self, alarm: AlarmDefinition, judged: AlarmEvaluation, when: datetime) -> dict[str, Any] | None:
        """Write the new state if the policy still holds the one judged from; the incident opened or closed (the
        open one's id and start), ``None`` when another evaluator moved the state first."""
        from google.cloud import firestore

        client = self._clients.firestore()
        ref = client.collection(POLICIES).document(policy_id(alarm.name))
        history = client.collection(HISTORY).document()

        def change(transaction: Any) -> dict[str, Any] | None:
            current = ref.get(transaction=transaction).to_dict() or {}
            if current.get("state") != judged.previous_state:
                return None
            incident = current.get("incident") or {"incident_id": secrets.token_hex(8), "started_at": when}
            update = {"state": judged.state, "reason": judged.reason, "updated": when}
            update["incident"] = incident if judged.state == "ALARM" else None
            transaction.update(ref, update)
            incident_id = incident["incident_id"] if "ALARM" in (judged.state, judged.previous_state) else ""
            transaction.set(history, _history_row(alarm.name, judged, when, incident_id))
            return dict(incident)

        try:
            result: dict[str, Any] | None = firestore.transactional(change)(client.transaction())
        except google_errors.GoogleAPIError as exc:
            raise _error(f"writing the state of alert policy {alarm.name!r}", exc) from exc
        return result

    def _notify(
        self,
        alarm: AlarmDefinition,
        evaluation: AlarmEvaluation,
        incident: Mapping[str, Any],
        labels: Mapping[str, str],
    ) -> AlarmEvaluation:
        """Cloud Monitoring's incident notification to each Pub/Sub channel of the policy."""
        message = incident_notification(
            alarm,
            evaluation,
            incident_id=str(incident["incident_id"]),
            started=incident["started_at"],
            project=self._clients.project,
            user_labels=labels,
        )
        data = json.dumps(message).encode()
        notified: list[str] = []
        notes: list[str] = []
        for channel in alarm.actions_for(evaluation.state):
            topic, problem = self._topic_of(channel)
            if topic is None:
                notes.append(f"channel {channel}: {problem}")
                continue
            try:
                self._clients.publisher().publish(topic, data).result(timeout=PUBLISH_TIMEOUT)
            except (google_errors.GoogleAPIError, TimeoutError) as exc:
                notes.append(f"channel {channel}: publishing to {topic} failed: {exc}")
                continue
            notified.append(channel)
        return replace(evaluation, notified=tuple(notified), notes=(*evaluation.notes, *notes))

    def _topic_of(self, channel: str) -> tuple[str | None, str]:
        """The Pub/Sub topic path of a channel, or why there is none."""
        try:
            stored = self._clients.firestore().collection(CHANNELS).document(_channel_id(channel)).get()
        except google_errors.GoogleAPIError as exc:
            raise _error(f"reading notification channel {channel!r}", exc) from exc
        if not stored.exists:
            return None, "no such notification channel is declared"
        row = stored.to_dict()
        topic = str((row.get("labels") or {}).get("topic", ""))
        if row.get("type") != "pubsub" or not topic:
            return None, f"type {row.get('type')!r}: only pubsub channels are delivered locally"
        if not topic.startswith("projects/"):
            topic = f"projects/{self._clients.project}/topics/{topic}"
        return topic, ""

    def _follow(self, alarm: AlarmDefinition, evaluation: AlarmEvaluation) -> AlarmEvaluation:
        """The retrain route: an incident opened by a retrain policy starts the training pipeline."""
        route = self.retrain
        if route is None or evaluation.state != "ALARM" or alarm.name not in route.policies:
            return evaluation
        target = route.target()
        if self.delivery is None:
            return replace(evaluation, event_targets=(target,))
        action = self.delivery.start_pipeline(alarm, evaluation, target, route.pipeline, route.parameters)
        notes = (f"{action.rule}: {action.ran}: failed ({action.detail})",) if action.outcome == "failed" else ()
        return replace(evaluation, event_targets=(target,), actions=(action,), notes=(*evaluation.notes, *notes))

    def history(self, name: str, limit: int = 20) -> list[AlarmHistoryItem]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        self._rows([name])
        query = self._clients.firestore().collection(HISTORY).where(filter=FieldFilter("policy", "==", name))
        try:
            rows = [s.to_dict() for s in query.stream()]
        except google_errors.GoogleAPIError as exc:
            raise _error(f"reading the history of alert policy {name!r}", exc) from exc
        items = [
            AlarmHistoryItem(
                name, r["timestamp"], r["previous_state"], r["state"], r["reason"], {"incident_id": r["incident_id"]}
            )
            for r in rows
        ]
        return sorted(items, key=lambda item: item.timestamp, reverse=True)[:limit]


def _history_row(name: str, judged: AlarmEvaluation, when: datetime, incident_id: str) -> dict[str, Any]:
    return {
        "policy": name,
        "timestamp": when,
        "previous_state": judged.previous_state,
        "state": judged.state,
        "reason": judged.reason,
        "incident_id": incident_id,
    }
