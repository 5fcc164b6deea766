"""Each guardrail rule passes the compliant set and fires, exactly, on every broken case of each of its checks."""

from __future__ import annotations

import pytest

from infra.guardrails import RULES, check_all
from tests.unit.infra.guardrail_cases import CASES, Case, compliant


def test_compliant_set_passes_every_rule() -> None:
    assert [str(v) for v in check_all(compliant())] == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule_fires_on_broken_case(case: Case) -> None:
    assert [str(v) for v in check_all(case.resources())] == case.expected


def test_at_least_25_rules_each_with_a_broken_case() -> None:
    assert len(RULES) >= 25
    fired = {line.split("]", 1)[0].removeprefix("[") for case in CASES for line in case.expected}
    assert sorted(set(RULES) - fired) == []


def test_case_ids_are_unique() -> None:
    assert len({case.id for case in CASES}) == len(CASES)


def test_rules_cover_the_required_areas() -> None:
    assert {rule.area for rule in RULES.values()} == {
        "encryption",
        "encryption-in-transit",
        "public-access",
        "iam",
        "network",
        "logging",
        "operations",
    }
