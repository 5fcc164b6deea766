"""Where the alarm semantics used to live, kept for the LocalStack cross-check test that imports it from here.

The semantics moved to :mod:`mlops.alarm_semantics` (the memory fake evaluates with them too, and it may not
import the local runtime); the alarm is the port's :class:`~mlops.ports.alarms.AlarmDefinition`. Import from
there in new code; this module goes once no test imports it.
"""

from __future__ import annotations

from mlops.adapters.aws.cloudwatch_alarms import definition_from_description as rule_from_description
from mlops.alarm_semantics import evaluate, evaluation_range, lookback, period_start
from mlops.ports.alarms import AlarmDefinition as AlarmRule
from mlops.ports.alarms import AlarmEvaluation as Evaluation

__all__ = [
    "AlarmRule",
    "Evaluation",
    "evaluate",
    "evaluation_range",
    "lookback",
    "period_start",
    "rule_from_description",
]
