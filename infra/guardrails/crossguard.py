"""The guardrails as a CrossGuard policy pack: one mandatory stack policy per rule.

``infra/policypack/__main__.py`` serves :func:`policy_pack_policies` to the Pulumi engine
(``pulumi preview --policy-pack infra/policypack``). The engine hands each policy every resource of the stack
(its properties in camelCase, its dependencies per property); :class:`EngineResource` presents them as
:class:`~infra.guardrails.model.Declared`, so the pack runs the very functions the offline tests run.
During a preview some values are unknown: the SDK reports a rule that reads one as not runnable (advisory),
and the same rule runs for real on ``pulumi up``.

Importing this module needs ``pulumi_policy`` only when :func:`policy_pack_policies` is called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from infra.guardrails import GCP_RULES, RULES, stack_cloud
from infra.guardrails.model import STACK, Rule

PACK_NAME = "mlops-kit-guardrails"


class EngineResourceLike(Protocol):
    """The attributes of ``pulumi_policy.PolicyResource`` the adapter reads."""

    resource_type: str
    props: Mapping[str, Any]
    urn: str
    name: str
    property_dependencies: Mapping[str, Sequence[Any]]


@dataclass(frozen=True)
class EngineResource:
    """A resource as the engine reports it, in the shape the rules read."""

    type: str
    name: str
    id: str
    inputs: Mapping[str, Any]
    urn: str = ""
    references: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, resource: EngineResourceLike) -> EngineResource:
        try:
            physical_id = str(resource.props.get("id") or "")
        except Exception:  # an unknown id during preview (pulumi_policy raises its own error type)
            physical_id = ""
        return cls(
            type=resource.resource_type,
            name=resource.name,
            id=physical_id,
            inputs=resource.props,
            urn=resource.urn,
            references={key: [d.name for d in deps] for key, deps in resource.property_dependencies.items()},
        )


ReportViolation = Callable[..., None]


def validate(rule: Rule, resources: Sequence[EngineResourceLike], report: ReportViolation) -> int:
    """Run ``rule`` over the engine's resources and report each violation on its resource's URN."""
    adapted = [EngineResource.of(r) for r in resources]
    if stack_cloud(adapted) != rule.cloud:  # each cloud's stacks answer to that cloud's rules only
        return 0
    by_name = {r.name: r.urn for r in adapted}
    found = rule(adapted)
    for violation in found:
        owner = violation.resource.split("/", 1)[0]
        urn = by_name.get(owner) if violation.resource != STACK else None
        if urn:
            report(f"{violation.resource}: {violation.message}", urn)
        else:
            report(f"{violation.resource}: {violation.message}")
    return len(found)


def policy_pack_policies() -> list[Any]:
    """Every rule of both clouds as a mandatory ``pulumi_policy.StackValidationPolicy`` (a rule of the other
    cloud passes without looking)."""
    from pulumi_policy import EnforcementLevel, StackValidationArgs, StackValidationPolicy

    def make(rule: Rule) -> Any:
        def check(args: StackValidationArgs, report_violation: ReportViolation) -> None:
            resources: list[Any] = list(args.resources)
            validate(rule, resources, report_violation)

        return StackValidationPolicy(
            name=rule.name,
            description=rule.description,
            validate=check,
            enforcement_level=EnforcementLevel.MANDATORY,
            tags=[rule.area],
        )

    return [make(rule) for rule in (*RULES.values(), *GCP_RULES.values())]
