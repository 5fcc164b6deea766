"""The platform's alarms as pure data: metric, statistic, comparison and threshold per alarm key.

The kit's monitoring code publishes the custom metrics (``DataQualityFailures``, ``DataDriftScore``,
``ConstraintViolations``, ``ConceptDriftScore``, ``ModelQualityDrop``) to the stack's namespace; SageMaker publishes
the endpoint's.
"""

from __future__ import annotations

from dataclasses import dataclass

ALARM_KEYS: tuple[str, ...] = (
    "endpoint_errors",
    "endpoint_latency",
    "data_quality",
    "data_drift",
    "data_constraints",
    "concept_drift",
    "model_degradation",
)
RETRAIN_ALARMS: tuple[str, ...] = ("data_drift", "concept_drift", "model_degradation")
"""Alarms whose ALARM state starts the training pipeline."""
ROLLBACK_ALARMS: tuple[str, ...] = ("endpoint_errors", "endpoint_latency")
"""Alarms that roll a blue/green endpoint deployment back."""


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm. ``endpoint`` alarms use SageMaker's namespace and the endpoint's dimensions."""

    key: str
    metric_name: str
    statistic: str
    comparison: str
    threshold: float
    period_seconds: int
    evaluation_periods: int
    endpoint: bool
    description: str


@dataclass(frozen=True)
class Thresholds:
    """The configurable limits (from the stack config)."""

    latency_p99_ms: float
    server_errors: float
    data_drift: float
    concept_drift: float
    model_degradation: float
    evaluation_periods: int


def alarm_specs(limits: Thresholds) -> dict[str, AlarmSpec]:
    """Every alarm of the platform, keyed as in the ``alarm_names`` output."""
    periods = limits.evaluation_periods
    above = "GreaterThanThreshold"
    specs = [
        AlarmSpec(
            "endpoint_errors",
            "Invocation5XXErrors",
            "Sum",
            above,
            limits.server_errors,
            60,
            periods,
            True,
            "The endpoint answers with server errors",
        ),
        # SageMaker reports ModelLatency in microseconds.
        AlarmSpec(
            "endpoint_latency",
            "ModelLatency",
            "p99",
            above,
            limits.latency_p99_ms * 1000.0,
            60,
            periods,
            True,
            "p99 model latency is above the target",
        ),
        AlarmSpec(
            "data_quality",
            "DataQualityFailures",
            "Sum",
            "GreaterThanOrEqualToThreshold",
            1.0,
            3600,
            1,
            False,
            "A batch failed its data-quality expectations",
        ),
        AlarmSpec(
            "data_drift",
            "DataDriftScore",
            "Maximum",
            above,
            limits.data_drift,
            3600,
            1,
            False,
            "Input feature distributions drifted from the training baseline",
        ),
        # What the endpoint was sent broke the baseline's constraints (a missing or extra column, a type, a
        # category never seen, completeness): a data problem for someone to look at, never a reason to retrain.
        AlarmSpec(
            "data_constraints",
            "ConstraintViolations",
            "Maximum",
            "GreaterThanOrEqualToThreshold",
            1.0,
            3600,
            1,
            False,
            "Served inputs violate the training baseline's constraints (Model Monitor's checks)",
        ),
        AlarmSpec(
            "concept_drift",
            "ConceptDriftScore",
            "Maximum",
            above,
            limits.concept_drift,
            3600,
            1,
            False,
            "The relation between features and labels drifted",
        ),
        AlarmSpec(
            "model_degradation",
            "ModelQualityDrop",
            "Maximum",
            above,
            limits.model_degradation,
            3600,
            1,
            False,
            "Live model quality dropped below the release baseline",
        ),
    ]
    return {spec.key: spec for spec in specs}
