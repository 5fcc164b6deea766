"""``Alarms`` on Cloud Monitoring alert policies (``target: gcp``).

The stack's policies are declared by the infra program (``infra/gcp/components/monitoring.py``); their display
names are the ``alarm_names`` output. :meth:`CloudMonitoringAlarms.describe` reads them (``alertPolicies.list``)
and maps each onto the port's definition (:func:`mlops.alert_policies.definition_of`: condition, comparison,
threshold, duration, aggregation, missing-data rule, notification channels); :meth:`put` writes a port definition
as a policy (:func:`mlops.alert_policies.policy_from_definition`: whole-minute periods, no M of N).

Cloud Monitoring evaluates its policies itself, as CloudWatch does, and opens and closes the incidents. Its API
has no method that lists incidents or a policy's state (incidents are seen in the console and in the notifications
of the channels). So :meth:`evaluate` reports the policy's condition judged by the kit's core on the data Cloud
Monitoring holds (``timeSeries.list`` through :class:`CloudMonitoringMetrics`, every series the filter selects),
changes nothing (``now`` is the moment judged, ``apply`` has nothing to write) and says so in a note; and
:meth:`history` is refused with the reason. The local runner (:mod:`mlops.local.gcp_alert_runner`) keeps both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
from mlops.adapters.gcp.cloud_monitoring import CloudMonitoringMetrics
from mlops.alert_policies import definition_of, judge, policy_from_definition, read_series
from mlops.errors import EmulatorError
from mlops.ports.alarms import (
    AlarmDefinition,
    AlarmEvaluation,
    AlarmHistoryItem,
    AlarmNotFoundError,
    AlarmsError,
    AlarmsThrottledError,
    AlarmsUnavailableError,
)

NO_STATE = "Cloud Monitoring's API exposes no incident state: see the incidents in the console or the channel"
JUDGED = (
    "judged by the kit on the data Cloud Monitoring holds (its API lists no incidents); Cloud Monitoring opens and "
    "closes the incidents itself"
)


def alarms_error(what: str, exc: Exception) -> AlarmsError:
    if isinstance(exc, google_errors.TooManyRequests | google_errors.ResourceExhausted):
        return AlarmsThrottledError(f"{what}: throttled after retries: {exc}")
    if isinstance(exc, google_errors.ServiceUnavailable | google_errors.DeadlineExceeded):
        return AlarmsUnavailableError(f"{what}: Cloud Monitoring did not answer: {exc}")
    return AlarmsError(f"{what} failed: {exc}")


def alert_policy_service(clients: GcpClients) -> Any:
    """Cloud Monitoring's alert-policy client for ``target: gcp``; refused on the emulators."""
    if clients.is_emulated:
        raise EmulatorError(
            "Cloud Monitoring has no emulator (target 'gcp-emulators'): choose alarms type 'local', the kit's "
            "alert-policy runner (MLOPS_SERVICES__ALARMS__TYPE=local)"
        )
    from google.cloud import monitoring_v3

    return monitoring_v3.AlertPolicyServiceClient()


def policy_json(policy: Any) -> dict[str, Any]:
    """An ``AlertPolicy`` message as REST JSON (camelCase, enum names, durations as ``"120s"``)."""
    from google.cloud import monitoring_v3

    text = monitoring_v3.AlertPolicy.to_json(policy, use_integers_for_enums=False)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


class CloudMonitoringAlarms:
    """The stack's alert policies on Cloud Monitoring (see the module docs)."""

    def __init__(self, clients: GcpClients, metrics: CloudMonitoringMetrics, *, service: Any = None) -> None:
        self._clients = clients
        self._metrics = metrics
        self._service = service

    def service(self) -> Any:
        if self._service is None:
            self._service = alert_policy_service(self._clients)
        return self._service

    @property
    def project_path(self) -> str:
        return f"projects/{self._clients.project}"

    def _policies(self, names: Sequence[str]) -> list[dict[str, Any]]:
        """The named policies, in the order of ``names`` (duplicates once); absent ones are named."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return []
        try:
            listed = [policy_json(p) for p in self.service().list_alert_policies(request={"name": self.project_path})]
        except google_errors.GoogleAPIError as exc:
            raise alarms_error(f"listing the alert policies of {self.project_path}", exc) from exc
        by_name = {str(p.get("displayName", "")): p for p in listed}
        absent = [n for n in wanted if n not in by_name]
        if absent:
            raise AlarmNotFoundError(f"no alert policy named {', '.join(repr(n) for n in absent)}")
        return [by_name[n] for n in wanted]

    def describe(self, names: Sequence[str]) -> list[AlarmDefinition]:
        return [definition_of(p, reason=NO_STATE) for p in self._policies(names)]

    def evaluate(
        self, names: Sequence[str], now: datetime | None = None, *, apply: bool = True
    ) -> list[AlarmEvaluation]:
        moment = now or datetime.now(UTC)
        results: list[AlarmEvaluation] = []
        for policy in self._policies(names):
            alarm = definition_of(policy, reason=NO_STATE)
            if alarm.metric_math:
                note = "not a metric-threshold condition: only Cloud Monitoring evaluates it"
                results.append(AlarmEvaluation(alarm.name, alarm.state, alarm.state, note, moment, notes=(note,)))
                continue
            judged = judge(alarm, read_series(self._metrics_for(alarm.namespace), alarm, moment), moment)
            results.append(replace(judged, previous_state=judged.state, notes=(*judged.notes, JUDGED)))
        return results

    def _metrics_for(self, namespace: str) -> CloudMonitoringMetrics:
        if namespace == self._metrics.namespace:
            return self._metrics
        return CloudMonitoringMetrics(self._clients, namespace, service=self._metrics.service())

    def history(self, name: str, limit: int = 20) -> list[AlarmHistoryItem]:
        self._policies([name])
        raise AlarmsError(
            f"alert policy {name!r}: Cloud Monitoring's API lists no incidents, so there is no state history to "
            "read; the incidents are in the console and in the notifications of the policy's channels"
        )

    def put(self, alarm: AlarmDefinition, *, channels: Sequence[str], labels: Mapping[str, str] | None = None) -> str:
        """Create the policy of ``alarm`` (or replace the one of the same display name); its resource name."""
        from google.cloud import monitoring_v3

        body = policy_from_definition(alarm, channels=channels, cloud=True, labels=labels)
        try:
            existing = {
                str(p.get("displayName")): str(p.get("name"))
                for p in map(policy_json, self.service().list_alert_policies(request={"name": self.project_path}))
            }
            if alarm.name in existing:
                message = monitoring_v3.AlertPolicy.from_json(json.dumps({**body, "name": existing[alarm.name]}))
                done = self.service().update_alert_policy(request={"alert_policy": message})
            else:
                message = monitoring_v3.AlertPolicy.from_json(json.dumps(body))
                done = self.service().create_alert_policy(request={"name": self.project_path, "alert_policy": message})
        except google_errors.GoogleAPIError as exc:
            raise alarms_error(f"writing alert policy {alarm.name!r}", exc) from exc
        return str(done.name)
