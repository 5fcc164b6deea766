"""``mlops infra plan``: run the program under recording mocks and describe the resource graph.

No Pulumi CLI, engine or AWS account is involved. :class:`RecordingMocks` answers like a provider would
(ids and ARNs unique per resource, inputs echoed as state), and :class:`RecordingMonitor` sees each
registration request as the engine would.

Dependencies are taken from the SDK itself: every registration carries the URNs of the resources whose
outputs flowed into its inputs (``propertyDependencies``) plus explicit ``depends_on`` (``dependencies``).
The parent is recorded separately. URNs are reduced to logical names, which the program keeps unique.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs

from infra.runner import run_program
from mlops.errors import ConfigError

MOCK_ACCOUNT_ID = "123456789012"
CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"
GET_REGION = "aws:index/getRegion:getRegion"
LONG_VALUE = 160
"""Inputs longer than this (policy documents, dashboards, definitions) are summarised in the plan."""

# Physical-name inputs (camelCase): the first one present names the resource in its mock ARN, and each is
# echoed into the state so outputs like `.name` resolve even when the program did not set that input.
_COMPUTED_NAMES = (
    "name",
    "bucket",
    "dashboardName",
    "modelPackageGroupName",
    "pipelineName",
    "trackingServerName",
)


@dataclass
class PlannedResource:
    """One resource as the plan shows it."""

    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    id: str = ""
    arn: str = ""
    parent: str | None = None
    dependencies: list[str] = field(default_factory=list)


def _urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _service(type_token: str) -> str:
    # aws:s3/bucket:Bucket -> s3; mlops:datalake:DataLake -> datalake
    module = type_token.split(":")[1]
    return module.split("/")[0]


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record every resource and answer with unique ids and ARNs (thread-safe)."""

    def __init__(self, region: str, account_id: str = MOCK_ACCOUNT_ID) -> None:
        self.region = region
        self.account_id = account_id
        self.resources: dict[str, PlannedResource] = {}
        self._lock = threading.Lock()

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        physical = next((str(args.inputs[k]) for k in _COMPUTED_NAMES if k in args.inputs), args.name)
        resource_id = f"{args.name}-id"
        arn = self._arn(args.typ, physical)
        with self._lock:
            if args.name in self.resources:
                raise ConfigError(f"logical name {args.name!r} is declared twice ({args.typ})")
            self.resources[args.name] = PlannedResource(
                type=args.typ,
                name=args.name,
                custom=bool(args.custom),
                inputs=dict(args.inputs),
                id=resource_id,
                arn=arn,
            )
        state = {**args.inputs, "arn": arn, "id": resource_id}
        for key in _COMPUTED_NAMES:
            state.setdefault(key, physical)
        if args.typ == "aws:kms/key:Key":
            state["keyId"] = f"key-{args.name}"
        return resource_id, state

    def _arn(self, type_token: str, physical: str) -> str:
        service = _service(type_token)
        kind = type_token.rsplit(":", 1)[-1].lower()
        if service == "s3":
            return f"arn:aws:s3:::{physical}"
        if service == "iam":  # IAM is global: no region in its ARNs
            return f"arn:aws:iam::{self.account_id}:{kind}/{physical}"
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{kind}/{physical}"

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == CALLER_IDENTITY:
            identity = {
                "accountId": self.account_id,
                "arn": f"arn:aws:iam::{self.account_id}:user/plan",
                "userId": "plan",
            }
            return {**identity, "id": self.account_id}, []
        if args.token == GET_REGION:
            return {"name": self.region, "region": self.region, "id": self.region}, []
        raise ConfigError(f"the program called invoke {args.token!r}; only getCallerIdentity and getRegion are allowed")


class RecordingMonitor(MockMonitor):
    """Mock monitor that keeps each registration's parent and dependencies, by logical name."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.edges: dict[str, tuple[str | None, list[str]]] = {}
        self._edge_lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        """Record the request's parent and dependencies, then register as the SDK's mock monitor does."""
        if request.type != "pulumi:pulumi:Stack":
            urns = set(request.dependencies)
            for deps in request.propertyDependencies.values():
                urns.update(deps.urns)
            # Children of the root stack have no component: the stack is implied.
            parent = (
                None
                if not request.parent or request.parent.endswith("pulumi:pulumi:Stack::" + _urn_name(request.parent))
                else _urn_name(request.parent)
            )
            with self._edge_lock:
                self.edges[request.name] = (parent, sorted({_urn_name(urn) for urn in urns}))
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Plan:
    """The resource graph of one stack and its resolved outputs."""

    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]

    def counts(self) -> dict[str, int]:
        """Number of resources per type (components included)."""
        counts: dict[str, int] = {}
        for resource in self.resources:
            counts[resource.type] = counts.get(resource.type, 0) + 1
        return dict(sorted(counts.items()))

    def to_json(self) -> dict[str, Any]:
        """Stable, machine-readable form: resources sorted by component, then type, then name."""
        return {
            "stack": self.stack,
            "resource_count": sum(1 for r in self.resources if r.custom),
            "component_count": sum(1 for r in self.resources if not r.custom),
            "counts": self.counts(),
            "resources": [
                {
                    "type": r.type,
                    "name": r.name,
                    "component": r.parent,
                    "key_inputs": key_inputs(r.inputs),
                    "dependencies": r.dependencies,
                }
                for r in self.resources
            ],
            "outputs": self.outputs,
        }


def key_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Top-level scalar inputs, long strings summarised; nested inputs are listed by key only."""
    shown: dict[str, Any] = {}
    for key in sorted(inputs):
        value = inputs[key]
        if isinstance(value, str) and len(value) > LONG_VALUE:
            shown[key] = f"<{len(value)} chars>"
        elif isinstance(value, float) and value.is_integer():
            shown[key] = int(value)  # mocks deliver every number as a float
        elif value is None or isinstance(value, str | int | float | bool):
            shown[key] = value
        else:
            shown[key] = f"<{type(value).__name__}>"
    return shown


def plan_stack(stack: str, repo_root: Path) -> Plan:
    """Run ``stack``'s program under recording mocks and return its graph (sorted, deterministic)."""
    from infra.config import read_stack_file

    region = read_stack_file(stack, repo_root).region
    mocks = RecordingMocks(region=region)
    monitor = RecordingMonitor(mocks)
    outputs = run_program(stack, mocks, repo_root, monitor=monitor)
    resources = []
    for name, resource in mocks.resources.items():
        parent, deps = monitor.edges.get(name, (None, []))
        resource.parent = parent
        resource.dependencies = [d for d in deps if d != parent]
        resources.append(resource)
    resources.sort(key=lambda r: (r.parent or "", r.custom, r.type, r.name))
    return Plan(stack=stack, resources=resources, outputs=outputs)
