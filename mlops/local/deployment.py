"""Blue/green deployment guardrails on the local endpoints, as SageMaker runs an ``UpdateEndpoint`` with a
``DeploymentConfig``.

The new (*green*) process is already healthy and registered beside the old (*blue*) one. The traffic routing
configuration's steps then set the fleets' weights in the endpoint's routing table, which the front door applies
to the very next request:

- ``ALL_AT_ONCE``: green takes all traffic;
- ``CANARY``: green takes ``CanarySize`` (a percentage of capacity, or a number of instances out of the variant's
  ``InitialInstanceCount``), then all of it;
- ``LINEAR``: green takes ``LinearStepSize`` more at each step until it has all of it;

with ``WaitIntervalInSeconds`` of baking after every step (the last one included). During every wait the
``AutoRollbackConfiguration`` alarms are evaluated by the platform's alarms port (the kit's alarm runner on moto,
on the ``AWS/SageMaker`` metrics the front door publishes, flushed first so the current minute counts) every
``poll`` seconds; one in ALARM rolls the deployment back: blue takes all traffic again, green is stopped, and the
table records why. A step past ``MaximumExecutionTimeoutInSeconds`` rolls back too. After the last bake blue is
kept for ``TerminationWaitInSeconds`` without traffic, then stopped. ``RollingUpdatePolicy`` is refused by name.

The waits are real time, as on AWS, but capped by ``services.endpoint.local_max_wait_seconds`` (default 10 s) so
the stack's 5-minute canary does not hold a laptop's ``mlops deploy`` for a quarter of an hour; a test keeps them
short with a ``DeploymentConfig`` of a few seconds.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from mlops.local import endpoint_runner
from mlops.local.frontdoor import client as frontdoor
from mlops.local.frontdoor.routing import DeploymentState, EndpointTable, Fleet
from mlops.platform import Platform
from mlops.ports.alarms import AlarmsError
from mlops.ports.hosting import HostingError, HostingSpec

LOG = logging.getLogger(__name__)
ROUTING_TYPES = ("ALL_AT_ONCE", "CANARY", "LINEAR")
DEFAULT_POLL_S = 1.0


@dataclass(frozen=True)
class Plan:
    """A ``DeploymentConfig`` as the local runner follows it."""

    routing: str
    steps: tuple[float, ...]
    """Green's share of the traffic after each step (the last is 1.0)."""
    wait_s: float
    termination_wait_s: float
    timeout_s: float
    alarms: tuple[str, ...]


def _share(size: Mapping[str, Any] | None, instances: int, field: str) -> float:
    if not size:
        raise HostingError(f"DeploymentConfig: {field} is required for this traffic routing type")
    kind, value = size.get("Type"), float(size.get("Value", 0))
    if value <= 0:
        raise HostingError(f"DeploymentConfig: {field}.Value must be positive, got {value:g}")
    if kind == "CAPACITY_PERCENT":
        return min(value / 100.0, 1.0)
    if kind == "INSTANCE_COUNT":
        return min(value / max(instances, 1), 1.0)
    raise HostingError(f"DeploymentConfig: {field}.Type {kind!r} is not CAPACITY_PERCENT or INSTANCE_COUNT")


def plan_of(config: Mapping[str, Any], instances: int = 1) -> Plan:
    """The plan of a ``DeploymentConfig`` (empty: all at once, no wait, no alarms)."""
    if "RollingUpdatePolicy" in config:
        raise HostingError(
            "DeploymentConfig.RollingUpdatePolicy is not run by the local endpoints: use BlueGreenUpdatePolicy"
        )
    policy = config.get("BlueGreenUpdatePolicy") or {}
    routing = policy.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    kind = str(routing.get("Type", "ALL_AT_ONCE"))
    if kind not in ROUTING_TYPES:
        raise HostingError(f"DeploymentConfig TrafficRoutingConfiguration.Type {kind!r} is not one of {ROUTING_TYPES}")
    if kind == "CANARY":
        steps: tuple[float, ...] = (_share(routing.get("CanarySize"), instances, "CanarySize"), 1.0)
    elif kind == "LINEAR":
        step = _share(routing.get("LinearStepSize"), instances, "LinearStepSize")
        count = math.ceil(1.0 / step - 1e-9)
        steps = tuple(min((i + 1) * step, 1.0) for i in range(count))
    else:
        steps = (1.0,)
    alarms = tuple(str(a["AlarmName"]) for a in (config.get("AutoRollbackConfiguration") or {}).get("Alarms", []))
    return Plan(
        routing=kind,
        steps=tuple(dict.fromkeys(steps)),
        wait_s=float(routing.get("WaitIntervalInSeconds", 0)),
        termination_wait_s=float(policy.get("TerminationWaitInSeconds", 0)),
        timeout_s=float(policy.get("MaximumExecutionTimeoutInSeconds", 3600)),
        alarms=alarms,
    )


def _instances(spec: HostingSpec) -> int:
    variants = spec.endpoint_config_request.get("ProductionVariants") or [{}]
    return int(variants[0].get("InitialInstanceCount") or 1)


class Rollout:
    """One blue/green deployment in progress: writes the table at each step, watches the alarms."""

    def __init__(
        self,
        platform: Platform,
        spec: HostingSpec,
        plan: Plan,
        *,
        old: Fleet,
        new: Fleet,
        poll: float = DEFAULT_POLL_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.platform = platform
        self.spec = spec
        self.plan = plan
        self.old, self.new = old, new
        self.poll = poll
        self._clock, self._sleep = clock, sleep
        self._started = clock()
        self._history: list[str] = []
        self._url = frontdoor.frontdoor_url(platform.settings)

    def _write(self, share: float, status: str, stage: str, **extra: Any) -> EndpointTable:
        self._history.append(f"{time.strftime('%H:%M:%S')} {stage}")
        state = DeploymentState(
            status=status,
            stage=stage,
            target_version=self.spec.version,
            previous_version=self.old.version,
            traffic_routing=self.plan.routing,
            alarms=self.plan.alarms,
            updated_at=time.time(),
            history=tuple(self._history),
            deployer_pid=os.getpid() if status in ("Updating", "RollingBack") else 0,
            **extra,
        )
        fleets = [replace(self.old, weight=round(1.0 - share, 6)), replace(self.new, weight=round(share, 6))]
        table = EndpointTable(
            self.spec.endpoint, tuple(f for f in fleets if f.weight > 0 or status == "Updating"), state
        )
        endpoint_runner.write_table(self.platform, table)
        return table

    def run(self) -> EndpointTable:
        self._write(0.0, "Updating", f"{self.new.fleet} fleet healthy (version {self.new.version})")
        for number, share in enumerate(self.plan.steps, start=1):
            stage = f"{self.plan.routing.lower()} step {number}/{len(self.plan.steps)}: {share:.0%} to {self.new.fleet}"
            self._write(share, "Updating", stage)
            breach = self._bake(stage)
            if breach is not None:
                return self._roll_back(breach)
        if self.plan.termination_wait_s > 0:
            self._sleep(self.plan.termination_wait_s)
        endpoint_runner.stop_fleet(self.old)
        return self._write(1.0, "InService", "complete")

    def _bake(self, stage: str) -> str | None:
        """Wait the interval, evaluating the rollback alarms; the reason to roll back, if one fired."""
        deadline = self._clock() + self.plan.wait_s
        while True:
            breach = self._check(stage)
            if breach is not None:
                return breach
            left = deadline - self._clock()
            if left <= 0:
                return None
            self._sleep(min(self.poll, left))

    def _check(self, stage: str) -> str | None:
        if self._clock() - self._started > self.plan.timeout_s:
            return f"MaximumExecutionTimeoutInSeconds ({self.plan.timeout_s:g}s) passed during {stage}"
        if not self.plan.alarms:
            return None
        if self._url:
            try:
                frontdoor.flush(self._url)
            except Exception as exc:  # the alarms are judged on what was published so far
                LOG.warning("flushing the front door's metrics failed: %s", exc)
        try:
            evaluations = self.platform.services.alarms.evaluate(list(self.plan.alarms))
        except AlarmsError as exc:
            LOG.warning("evaluating the rollback alarms %s failed: %s", self.plan.alarms, exc)
            return None
        for evaluation in evaluations:
            if evaluation.state == "ALARM":
                return f"alarm {evaluation.alarm} went to ALARM during {stage}: {evaluation.reason}"
        return None

    def abandon(self) -> None:
        """Interrupted (Ctrl-C, an error): the old fleet takes all traffic back, the new one is stopped."""
        reason = "the deployment was interrupted"
        self._write(0.0, "InService", "interrupted: rolled back", rolled_back=True, reason=reason)
        endpoint_runner.stop_fleet(self.new)

    def _roll_back(self, reason: str) -> EndpointTable:
        LOG.warning("rolling endpoint %s back to version %s: %s", self.spec.endpoint, self.old.version, reason)
        self._write(0.0, "RollingBack", "rolling back", rolled_back=True, reason=reason)
        endpoint_runner.stop_fleet(self.new)
        return self._write(0.0, "InService", "rolled back", rolled_back=True, reason=reason)


def blue_green(
    platform: Platform, spec: HostingSpec, *, old: Fleet, new: Fleet, poll: float = DEFAULT_POLL_S
) -> EndpointTable:
    """Shift ``old``'s traffic to ``new`` as ``spec.deployment_config`` says; the table when it is over."""
    try:
        plan = plan_of(spec.deployment_config, _instances(spec))
    except HostingError:
        endpoint_runner.stop_fleet(new)
        raise
    cap = platform.settings.services.endpoint.local_max_wait_seconds
    if cap is not None:
        plan = replace(plan, wait_s=min(plan.wait_s, cap), termination_wait_s=min(plan.termination_wait_s, cap))
    rollout = Rollout(platform, spec, plan, old=old, new=new, poll=min(poll, max(plan.wait_s, 0.5)))
    try:
        return rollout.run()
    except BaseException:
        rollout.abandon()
        raise
