"""The kit's guardrails: policy rules over every resource a stack declares.

Each rule (:class:`~infra.guardrails.model.Rule`) is a pure function of the declared resources. They run

- offline, over the plan's recorded resources: :func:`check_all` (the tests run it for all four stacks);
- in the Pulumi engine, as the CrossGuard policy pack in ``infra/policypack`` (``pulumi preview --policy-pack
  infra/policypack``), one mandatory stack policy per rule (:mod:`infra.guardrails.crossguard`).

Rules live by area in ``storage``, ``operations``, ``identity``, ``network`` and ``compute``; adding one is
described in ``docs/security.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

from infra.guardrails import compute, gcp, identity, network, operations, storage
from infra.guardrails.model import STACK, Declared, Rule, Violation

RULE_MODULES: tuple[ModuleType, ...] = (storage, operations, identity, network, compute)
"""The modules holding rules (each has ``RULES``); the mutation test mutates each of them."""


def collect(modules: Sequence[ModuleType]) -> dict[str, Rule]:
    """Rules by name from ``modules``; two rules of one name are an error."""
    rules: dict[str, Rule] = {}
    for module in modules:
        for rule in module.RULES:
            if rule.name in rules:
                raise RuntimeError(f"rule {rule.name!r} is defined twice")
            rules[rule.name] = rule
    return rules


RULES: dict[str, Rule] = collect(RULE_MODULES)
"""The rules of AWS stacks."""

GCP_RULE_MODULES: tuple[ModuleType, ...] = (gcp,)
GCP_RULES: dict[str, Rule] = collect(GCP_RULE_MODULES)
"""The rules of ``cloud: gcp`` stacks (the same guarantees in Google Cloud's terms)."""


def stack_cloud(resources: Sequence[Declared]) -> str:
    """The cloud a stack's resources live in: ``gcp`` when it declares Google Cloud resources, else ``aws``."""
    return "gcp" if any(r.type.startswith("gcp:") for r in resources) else "aws"


def rules_for(cloud: str) -> dict[str, Rule]:
    """The rules that apply to a stack on ``cloud``."""
    return GCP_RULES if cloud == "gcp" else RULES


def check_all(resources: Sequence[Declared], rules: dict[str, Rule] | None = None) -> list[Violation]:
    """Every rule's violations, in rule order; by default the rules of the stack's own cloud."""
    chosen = rules if rules is not None else rules_for(stack_cloud(resources))
    return [violation for rule in chosen.values() for violation in rule(resources)]


__all__ = [
    "GCP_RULES",
    "GCP_RULE_MODULES",
    "RULES",
    "RULE_MODULES",
    "STACK",
    "Declared",
    "Rule",
    "Violation",
    "check_all",
    "collect",
    "rules_for",
    "stack_cloud",
]
