"""How the local endpoints plan a blue/green DeploymentConfig (the steps SageMaker takes), without processes."""

from __future__ import annotations

from typing import Any

import pytest

from mlops.local.deployment import plan_of
from mlops.ports.hosting import HostingError


def canary(alarms: list[str], *, percent: int = 50, wait: int = 8) -> dict[str, Any]:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": percent},
                "WaitIntervalInSeconds": wait,
            },
            "TerminationWaitInSeconds": 600,
            "MaximumExecutionTimeoutInSeconds": 3600,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": a} for a in alarms]},
    }


def test_deployment_configs_are_planned_as_sagemaker_runs_them() -> None:
    assert plan_of({}).steps == (1.0,)
    assert plan_of(canary(["a"], percent=10, wait=300)).steps == (0.1, 1.0)
    linear = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 1},
                "WaitIntervalInSeconds": 60,
            }
        }
    }
    assert plan_of(linear, instances=4).steps == (0.25, 0.5, 0.75, 1.0)
    assert plan_of(canary(["a", "b"])).alarms == ("a", "b")
    with pytest.raises(HostingError, match="RollingUpdatePolicy"):
        plan_of({"RollingUpdatePolicy": {}})
    with pytest.raises(HostingError, match="CanarySize"):
        plan_of({"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "CANARY"}}})


def test_the_plan_keeps_the_configured_times() -> None:
    plan = plan_of(canary(["a"], percent=10, wait=300))
    assert (plan.routing, plan.wait_s, plan.termination_wait_s, plan.timeout_s) == ("CANARY", 300.0, 600.0, 3600.0)
    assert plan_of({"BlueGreenUpdatePolicy": {}}).routing == "ALL_AT_ONCE"
    with pytest.raises(HostingError, match="Type 'BLUE'"):
        plan_of({"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "BLUE"}}})
