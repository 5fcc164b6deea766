"""Cloud Monitoring alert policies: how they map onto the alarms port, and their evaluation semantics on the kit's
one evaluation core (:func:`mlops.alarm_semantics.evaluate`).

A policy is handled as Cloud Monitoring's REST JSON (camelCase, what ``alertPolicies.create`` takes and
``gcloud monitoring policies create --policy-from-file`` reads). The kit's policies have one metric-threshold
condition (``conditionThreshold``); its fields map onto a port :class:`AlarmDefinition` like this:

=====================================================  =========================================================
Cloud Monitoring                                       port (CloudWatch's vocabulary)
=====================================================  =========================================================
``displayName``                                        ``name`` (what ``outputs.alarm_names`` holds)
``name`` (``projects/P/alertPolicies/ID``)             ``arn``
``filter`` ``metric.type="custom.googleapis.com/N/M"``   ``namespace`` N, ``metric_name`` M
``metric.label.K="V"`` clauses of the filter          ``dimensions`` (label keys: lower snake case)
``aggregations[0].alignmentPeriod``                    ``period``
``aggregations[0].perSeriesAligner``                   ``statistic`` (``ALIGN_MAX`` -> ``Maximum`` ...)
``comparison``, ``thresholdValue``                     ``comparison``, ``threshold``
``duration``                                           N = M = max(1, duration / period): *every* aligned point
                                                       of the duration must violate (Cloud Monitoring has no
                                                       M of N in time; a definition with M < N is refused)
``evaluationMissingData``                              ``treat_missing_data``: INACTIVE = ``notBreaching``,
                                                       ACTIVE = ``breaching``, NO_OP and unspecified (Cloud
                                                       Monitoring: "equivalent to NO_OP") = ``ignore``
``notificationChannels``                               ``alarm_actions`` and ``ok_actions`` (incident opened /
                                                       closed)
``enabled``                                            ``actions_enabled``
=====================================================  =========================================================

States: ``ALARM`` is an open incident; ``OK`` means the last evaluation had data and the condition was not met
(an open incident is then closed); ``INSUFFICIENT_DATA`` is a policy never judged on data (Cloud Monitoring has
no such state: with NO_OP, a policy without data keeps what it had).

Series: a filter matches every time series of the metric type whose labels *include* the filter's label clauses
(a filter without label clauses matches every label set), and each series is judged on its own; the condition is
met when one series meets it (``trigger.count`` 1, the only trigger the kit writes). This differs from the metrics
port's exact dimension match (CloudWatch's), on purpose: it is Cloud Monitoring's rule. The kit keeps one state
per policy (Cloud Monitoring opens one incident per violating series): the evaluation's reason names the series.

Not implemented (refused by name): more than one condition, conditions other than ``conditionThreshold`` (a
``conditionMatchedLog`` policy is described and left to Cloud Monitoring), cross-series reducers, ``denominator``
filters, trigger percentages, ``forecastOptions``; ``alertStrategy.autoClose`` is not played.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from mlops.alarm_semantics import evaluate, lookback, period_start
from mlops.ports.alarms import AlarmDefinition, AlarmDefinitionError, AlarmEvaluation
from mlops.ports.metrics import Datapoint, MetricsError

METRIC_PREFIX = "custom.googleapis.com"
"""Cloud Monitoring's prefix of user-defined metric types; the kit's are ``<prefix>/<namespace>/<name>``."""
CLOUD_MIN_PERIOD = 60
"""Cloud Monitoring accepts alignment periods and durations of whole minutes only (the local runner takes less)."""
NOTIFICATION_VERSION = "1.2"

ALIGNERS: dict[str, str] = {
    "Sum": "ALIGN_SUM",
    "Average": "ALIGN_MEAN",
    "Minimum": "ALIGN_MIN",
    "Maximum": "ALIGN_MAX",
    "SampleCount": "ALIGN_COUNT",
    "p99": "ALIGN_PERCENTILE_99",
    "p95": "ALIGN_PERCENTILE_95",
    "p50": "ALIGN_PERCENTILE_50",
    "p5": "ALIGN_PERCENTILE_05",
}
STATISTICS = {aligner: statistic for statistic, aligner in ALIGNERS.items()}
COMPARISONS: dict[str, str] = {
    "GreaterThanThreshold": "COMPARISON_GT",
    "GreaterThanOrEqualToThreshold": "COMPARISON_GE",
    "LessThanThreshold": "COMPARISON_LT",
    "LessThanOrEqualToThreshold": "COMPARISON_LE",
}
OPERATORS = {comparison: operator for operator, comparison in COMPARISONS.items()}
MISSING_DATA: dict[str, str] = {
    "notBreaching": "EVALUATION_MISSING_DATA_INACTIVE",
    "breaching": "EVALUATION_MISSING_DATA_ACTIVE",
    "ignore": "EVALUATION_MISSING_DATA_NO_OP",
}
TREATMENTS = {evaluation: treatment for treatment, evaluation in MISSING_DATA.items()}

_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
_CLAUSE = re.compile(r'^(?P<field>[a-z_.]+(?:\.(?:"[^"]+"|[A-Za-z0-9_]+))?)\s*=\s*"(?P<value>(?:[^"\\]|\\.)*)"$')
_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
Series = tuple[tuple[str, str], ...]


class SeriesReader(Protocol):
    """Per-period values of every series of a metric whose labels include ``labels``, as a policy's filter
    selects them (Cloud Monitoring's ``timeSeries.list``; the kit's store on the emulators)."""

    namespace: str

    def series(
        self,
        name: str,
        labels: Mapping[str, str],
        start: datetime,
        end: datetime,
        period_seconds: int,
        *,
        statistic: str,
    ) -> dict[Series, list[Datapoint]]: ...


def label_key(dimension: str) -> str:
    """The Cloud Monitoring label key of a port dimension: lower snake case (``EndpointName`` -> ``endpoint_name``);
    label keys are lower-case letters, digits and underscores, starting with a letter."""
    key = re.sub(r"[^a-z0-9_]", "_", _SNAKE.sub("_", dimension).lower())
    if not _LABEL_KEY.match(key):
        raise MetricsError(f"dimension {dimension!r} has no Cloud Monitoring label key (got {key!r})")
    return key


def label_set(dimensions: Mapping[str, str]) -> dict[str, str]:
    """The labels of a dimension set; two dimensions that map to one key (``Dataset``, ``dataset``) are refused."""
    labels: dict[str, str] = {}
    for name, value in sorted(dimensions.items()):
        key = label_key(name)
        if key in labels:
            raise MetricsError(f"dimensions {sorted(dimensions)} map to the same Cloud Monitoring label {key!r}")
        labels[key] = value
    return labels


def metric_prefix(namespace: str) -> str:
    """The metric-type prefix of a namespace: ``custom.googleapis.com/MLOpsKit/dev`` (the ``metric_type_prefix``
    stack output for the stack's namespace)."""
    return f"{METRIC_PREFIX}/{namespace.strip('/')}"


def metric_type_of(namespace: str, name: str) -> str:
    """The metric type of a port metric: a Google service's own (``aiplatform.googleapis.com/...``) as it is, the
    kit's under ``custom.googleapis.com``."""
    if namespace.split("/", 1)[0].endswith(".googleapis.com"):
        return f"{namespace}/{name}"
    return f"{metric_prefix(namespace)}/{name}"


def policy_id(display_name: str) -> str:
    """A stable policy id for a display name (the kit's store on the emulators keys policies by it)."""
    return hashlib.sha256(display_name.encode()).hexdigest()[:20]


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def metric_filter(metric_type: str, labels: Mapping[str, str]) -> str:
    """``metric.type="T" AND resource.type="global" AND metric.label.k="v"``: the kit's metrics are written on
    the ``global`` resource."""
    clauses = [f"metric.type = {_quote(metric_type)}", 'resource.type = "global"']
    clauses += [f"metric.label.{key} = {_quote(value)}" for key, value in sorted(labels.items())]
    return " AND ".join(clauses)


def parse_filter(text: str) -> tuple[str, dict[str, str]]:
    """The metric type and the label clauses (metric and resource labels) of a conjunction of equalities, the
    filters the kit and its infra program write; anything else is refused naming the filter."""
    metric_type = ""
    labels: dict[str, str] = {}
    for clause in re.split(r"\s+AND\s+", text.strip()):
        match = _CLAUSE.match(clause.strip())
        if match is None:
            raise AlarmDefinitionError(f"filter {text!r}: clause {clause!r} is not an equality the kit evaluates")
        field, value = match["field"], re.sub(r"\\(.)", r"\1", match["value"])
        if field == "metric.type":
            metric_type = value
        elif field == "resource.type":
            continue  # the kit's store keeps no resource: the labels say which series
        elif field.startswith(("metric.label.", "metric.labels.", "resource.label.", "resource.labels.")):
            labels[field.split(".", 2)[2].strip('"')] = value
        else:
            raise AlarmDefinitionError(f"filter {text!r}: field {field!r} is not one the kit evaluates")
    if not metric_type:
        raise AlarmDefinitionError(f"filter {text!r} names no metric.type")
    return metric_type, labels


def _seconds(duration: str | int | float | None, what: str) -> int:
    """``"120s"`` (REST JSON) -> 120."""
    if duration is None or duration == "":
        return 0
    text = str(duration).removesuffix("s")
    try:
        return int(float(text))
    except ValueError:
        raise AlarmDefinitionError(f"{what}: duration {duration!r} is not seconds like '120s'") from None


def policy_from_definition(
    alarm: AlarmDefinition, *, channels: Sequence[str], cloud: bool = True, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The alert policy (REST JSON) of a port definition; refused, naming the alarm, where Cloud Monitoring has no
    equivalent (M < N, a statistic without an aligner, an unknown comparison) and, with ``cloud``, periods of
    less than a minute (the local runner takes them)."""
    what = f"alarm {alarm.name!r}"
    if alarm.datapoints_to_alarm != alarm.evaluation_periods:
        raise AlarmDefinitionError(
            f"{what}: {alarm.datapoints_to_alarm} of {alarm.evaluation_periods} datapoints: Cloud Monitoring has no "
            "M of N in time (a condition is met when every aligned point of its duration violates)"
        )
    if alarm.statistic not in ALIGNERS:
        raise AlarmDefinitionError(
            f"{what}: statistic {alarm.statistic!r} has no aligner; known: {', '.join(ALIGNERS)}"
        )
    if alarm.comparison not in COMPARISONS:
        raise AlarmDefinitionError(f"{what}: comparison {alarm.comparison!r} is not one of {', '.join(COMPARISONS)}")
    treatment = "ignore" if alarm.treat_missing_data == "missing" else alarm.treat_missing_data
    if treatment not in MISSING_DATA:
        raise AlarmDefinitionError(f"{what}: TreatMissingData {alarm.treat_missing_data!r} has no equivalent")
    if cloud and alarm.period % CLOUD_MIN_PERIOD:
        raise AlarmDefinitionError(f"{what}: period {alarm.period} s: Cloud Monitoring takes whole minutes only")
    metric_type = metric_type_of(alarm.namespace, alarm.metric_name)
    duration = alarm.period * alarm.evaluation_periods if alarm.evaluation_periods > 1 else 0
    condition = {
        "displayName": alarm.description or alarm.name,
        "conditionThreshold": {
            "filter": metric_filter(metric_type, label_set(alarm.dimensions)),
            "comparison": COMPARISONS[alarm.comparison],
            "thresholdValue": alarm.threshold,
            "duration": f"{duration}s",
            "aggregations": [{"alignmentPeriod": f"{alarm.period}s", "perSeriesAligner": ALIGNERS[alarm.statistic]}],
            "trigger": {"count": 1},
            "evaluationMissingData": MISSING_DATA[treatment],
        },
    }
    return {
        "displayName": alarm.name,
        "combiner": "OR",
        "conditions": [condition],
        "notificationChannels": list(channels),
        "documentation": {"content": alarm.description, "mimeType": "text/markdown"},
        "userLabels": dict(labels or {}),
        "enabled": alarm.actions_enabled,
    }


def is_threshold_policy(policy: Mapping[str, Any]) -> bool:
    """One metric-threshold condition: what the kit evaluates."""
    conditions = policy.get("conditions") or []
    return len(conditions) == 1 and "conditionThreshold" in conditions[0]


def definition_of(
    policy: Mapping[str, Any],
    *,
    state: str = "INSUFFICIENT_DATA",
    reason: str = "",
    updated: datetime | None = None,
) -> AlarmDefinition:
    """The port's view of a policy (see the module's table). A policy without a single threshold condition is
    described with ``metric_math`` set: describable, evaluated by Cloud Monitoring only."""
    name = str(policy.get("displayName", ""))
    channels = tuple(str(c) for c in policy.get("notificationChannels", ()))
    common: dict[str, Any] = {
        "name": name,
        "arn": str(policy.get("name", "")),
        "state": state,
        "state_reason": reason,
        "state_updated": updated,
        "description": str((policy.get("documentation") or {}).get("content", "")),
        "alarm_actions": channels,
        "ok_actions": channels,
        "actions_enabled": bool(policy.get("enabled", True)),
    }
    if not is_threshold_policy(policy):
        return AlarmDefinition(
            namespace="",
            metric_name="",
            dimensions={},
            statistic="",
            comparison="",
            threshold=0.0,
            period=0,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data="ignore",
            metric_math=True,
            **common,
        )
    threshold = policy["conditions"][0]["conditionThreshold"]
    what = f"alert policy {name!r}"
    metric_type, labels = parse_filter(str(threshold.get("filter", "")))
    namespace, _, metric_name = metric_type.removeprefix(f"{METRIC_PREFIX}/").rpartition("/")
    aggregations = threshold.get("aggregations") or [{}]
    if len(aggregations) != 1 or aggregations[0].get("crossSeriesReducer", "REDUCE_NONE") != "REDUCE_NONE":
        raise AlarmDefinitionError(f"{what}: only one per-series aggregation is evaluated (no cross-series reducer)")
    aligner = str(aggregations[0].get("perSeriesAligner", ""))
    if aligner not in STATISTICS:
        raise AlarmDefinitionError(f"{what}: aligner {aligner!r} is not one of {', '.join(STATISTICS)}")
    comparison = str(threshold.get("comparison", ""))
    if comparison not in OPERATORS:
        raise AlarmDefinitionError(f"{what}: comparison {comparison!r} is not one of {', '.join(OPERATORS)}")
    if threshold.get("denominatorFilter"):
        raise AlarmDefinitionError(f"{what}: ratio conditions (denominatorFilter) are not evaluated")
    if (threshold.get("trigger") or {}).get("percent") or int((threshold.get("trigger") or {}).get("count", 1)) != 1:
        raise AlarmDefinitionError(f"{what}: only a trigger of one series is evaluated")
    period = _seconds(aggregations[0].get("alignmentPeriod"), what) or CLOUD_MIN_PERIOD
    periods = max(1, _seconds(threshold.get("duration"), what) // period)
    missing = str(threshold.get("evaluationMissingData", "EVALUATION_MISSING_DATA_UNSPECIFIED"))
    return AlarmDefinition(
        namespace=namespace,
        metric_name=metric_name,
        dimensions=labels,
        statistic=STATISTICS[aligner],
        comparison=OPERATORS[comparison],
        threshold=float(threshold.get("thresholdValue", 0.0)),
        period=period,
        evaluation_periods=periods,
        datapoints_to_alarm=periods,
        treat_missing_data=TREATMENTS.get(missing, "ignore"),
        **common,
    )


def read_series(reader: SeriesReader, alarm: AlarmDefinition, now: datetime) -> dict[Series, dict[datetime, float]]:
    """Each matching series' statistic per period of the policy's evaluation range at ``now``."""
    start, end = lookback(alarm, now)
    found = reader.series(alarm.metric_name, alarm.dimensions, start, end, alarm.period, statistic=alarm.statistic)
    return {key: {period_start(p.timestamp, alarm.period): p.value for p in points} for key, points in found.items()}


def judge(alarm: AlarmDefinition, series: Mapping[Series, Mapping[datetime, float]], now: datetime) -> AlarmEvaluation:
    """The policy's state at ``now``: each series judged by the shared core; met when one series meets it.

    Without any series the core judges the empty window (ACTIVE: met; INACTIVE: not met; NO_OP: unchanged). Of
    several series the reported one is the first violating, else the first with data, in label order."""
    if not series:
        return evaluate(alarm, {}, now)
    judged = [
        (key, evaluate(replace(alarm, dimensions=dict(key)), values, now)) for key, values in sorted(series.items())
    ]
    chosen = next((pair for pair in judged if pair[1].state == "ALARM"), None)
    chosen = chosen or next((pair for pair in judged if pair[1].state == "OK"), judged[0])
    key, evaluation = chosen
    labels = ", ".join(f"{k}={v}" for k, v in key) or "no labels"
    others = f" (1 of {len(judged)} series)" if len(judged) > 1 else ""
    return replace(evaluation, reason=f"series [{labels}]{others}: {evaluation.reason}")


def incident_notification(
    alarm: AlarmDefinition,
    evaluation: AlarmEvaluation,
    *,
    incident_id: str,
    started: datetime,
    project: str,
    user_labels: Mapping[str, str],
) -> dict[str, Any]:
    """Cloud Monitoring's Pub/Sub notification (schema 1.2) for an incident opened (``ALARM``) or closed."""
    opened = evaluation.state == "ALARM"
    observed = next((v for _, v in reversed(evaluation.datapoints) if v is not None), None)
    return {
        "version": NOTIFICATION_VERSION,
        "incident": {
            "incident_id": incident_id,
            "scoping_project_id": project,
            "policy_name": alarm.name,
            "condition_name": alarm.description or alarm.name,
            "state": "open" if opened else "closed",
            "started_at": int(started.timestamp()),
            "ended_at": None if opened else int((evaluation.evaluated_at or datetime.now(UTC)).timestamp()),
            "summary": evaluation.reason,
            "metric": {
                "type": metric_type_of(alarm.namespace, alarm.metric_name),
                "displayName": alarm.metric_name,
                "labels": dict(alarm.dimensions),
            },
            "resource": {"type": "global", "labels": {"project_id": project}},
            "threshold_value": f"{alarm.threshold:g}",
            "observed_value": "" if observed is None else f"{observed:g}",
            "documentation": {"content": alarm.description, "mime_type": "text/markdown"},
            "policy_user_labels": dict(user_labels),
        },
    }
