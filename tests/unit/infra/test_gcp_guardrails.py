"""The GCP guardrails: the compliant set passes, every case fires exactly, every check is needed (mutation test),
and each cloud's stacks answer to that cloud's rules only (offline and in the CrossGuard pack)."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from infra.guardrails import GCP_RULE_MODULES, GCP_RULES, RULES, Rule, check_all, rules_for, stack_cloud
from infra.guardrails.crossguard import validate
from infra.plan import PlannedResource
from tests.unit.infra import gcp_guardrail_cases as cases
from tests.unit.infra.test_guardrail_mutations import Mutant, _Remove, _targets

CASE_RESOURCES = [(case, case.resources()) for case in cases.CASES]


def test_compliant_set_passes_every_gcp_rule() -> None:
    assert stack_cloud(cases.compliant()) == "gcp"
    assert [str(v) for v in check_all(cases.compliant())] == []


@pytest.mark.parametrize("case", cases.CASES, ids=lambda c: c.id)
def test_gcp_rule_fires_on_broken_case(case: cases.Case) -> None:
    assert [str(v) for v in check_all(case.resources())] == case.expected


def test_every_gcp_rule_has_a_broken_case_and_the_required_guarantees() -> None:
    fired = {line.split("]", 1)[0].removeprefix("[") for case in cases.CASES for line in case.expected}
    assert sorted(set(GCP_RULES) - fired) == []
    assert {
        "gcp-bucket-cmek",
        "gcp-bucket-public-access-prevention",
        "gcp-bucket-uniform-access",
        "gcp-bucket-versioning",
        "gcp-no-primitive-roles",
        "gcp-no-public-ips",
        "gcp-key-rotation",
        "gcp-wif-environment",
    } <= set(GCP_RULES)
    assert {rule.cloud for rule in GCP_RULES.values()} == {"gcp"}
    assert {rule.cloud for rule in RULES.values()} == {"aws"}


def test_each_cloud_gets_its_own_rules() -> None:
    assert rules_for("gcp") is GCP_RULES
    assert rules_for("aws") is RULES
    broken = next(c for c in cases.CASES if c.id == "primitive-role").resources()
    assert [str(v) for v in check_all(broken)] == [str(v) for v in check_all(broken, GCP_RULES)] != []


@dataclass
class _Engine:
    """A resource as pulumi_policy hands it to a stack policy."""

    resource_type: str
    props: Mapping[str, Any]
    urn: str
    name: str
    property_dependencies: Mapping[str, Sequence[Any]]

    @classmethod
    def of(cls, resource: PlannedResource) -> _Engine:
        return cls(resource.type, resource.inputs, f"urn:{resource.name}", resource.name, {})


def test_crossguard_runs_a_rule_only_on_its_clouds_stacks() -> None:
    broken = [_Engine.of(r) for r in next(c for c in cases.CASES if c.id == "primitive-role").resources()]
    reported: list[str] = []
    assert validate(GCP_RULES["gcp-no-primitive-roles"], broken, lambda message, *_: reported.append(message)) == 1
    assert reported == ["reader: grants the primitive role roles/editor"]
    assert validate(RULES["vpc-endpoints"], broken, lambda *_: reported.append("aws")) == 0


def _mutants() -> list[Mutant]:
    found = []
    for module in GCP_RULE_MODULES:
        tree = ast.parse(inspect.getsource(module))
        for index, (_, line, description) in enumerate(_targets(tree)):
            found.append(Mutant(module, index, line, description))
    return found


def _mutated_rules(mutant: Mutant) -> dict[str, Rule]:
    tree = _Remove(mutant.index).mutate(ast.parse(inspect.getsource(mutant.module)))
    namespace: dict[str, object] = {"__name__": f"{mutant.module.__name__}__mutant"}
    exec(compile(tree, f"<mutant of {mutant.module.__name__}>", "exec"), namespace)
    mutated = namespace["RULES"]
    assert isinstance(mutated, tuple)
    return {rule.name: rule for rule in mutated}


MUTANTS = _mutants()


def test_there_are_gcp_checks_to_mutate() -> None:
    assert len(MUTANTS) >= 20


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: f"gcp:{m.line}:{m.index}")
def test_every_gcp_check_is_needed_by_a_case(mutant: Mutant) -> None:
    rules = _mutated_rules(mutant)
    for case, resources in CASE_RESOURCES:
        try:
            found = [str(v) for v in check_all(resources, rules)]
        except Exception:  # a mutant that crashes on a case is told apart by it too
            found = ["<crashed>"]
        if found != case.expected:
            return
    pytest.fail(f"{mutant.module.__name__} line {mutant.line}: {mutant.description} - no case fails without it")
