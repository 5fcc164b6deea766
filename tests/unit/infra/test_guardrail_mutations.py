"""Mutation test of the guardrails: delete each check of each rule in turn; some broken case must notice.

A *check* is every ``if`` in a rule module whose body reports (``yield`` a violation, or ``return True`` in a
detector such as :func:`infra.guardrails.identity.is_public_principal`), and every alternative of an ``or`` in
such an ``if``'s condition (each is a way to fail on its own). A mutant is the module's source with one check
removed (the ``if`` replaced by its ``else``, or the alternative dropped), compiled and run in place of the
module against every case of ``guardrail_cases``. A mutant no case tells apart from the original is a check
no test needs: the test names it with its line.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

import pytest

from infra.guardrails import RULE_MODULES, Rule, check_all
from tests.unit.infra.guardrail_cases import CASES, compliant


def _reports(body: list[ast.stmt]) -> bool:
    for statement in body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Yield | ast.YieldFrom):
            return True
        if isinstance(statement, ast.Return) and isinstance(statement.value, ast.Constant):
            return statement.value.value is True
    return False


def _checks(tree: ast.AST) -> Iterator[ast.If]:
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _reports(node.body):
            yield node


@dataclass(frozen=True)
class Mutant:
    module: ModuleType
    index: int
    line: int
    description: str


def _targets(tree: ast.AST) -> list[tuple[ast.AST, int, str]]:
    """(node, line, what) for every check and every ``or`` alternative in a check's condition, in a fixed order."""
    found: list[tuple[ast.AST, int, str]] = []
    for check in _checks(tree):
        found.append((check, check.lineno, f"delete `if {ast.unparse(check.test)[:70]}`"))
        for node in ast.walk(check.test):
            if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
                for position, operand in enumerate(node.values):
                    found.append(
                        (node, operand.lineno, f"drop `or` alternative {position}: {ast.unparse(operand)[:60]}")
                    )
    return found


class _Remove(ast.NodeTransformer):
    def __init__(self, index: int) -> None:
        self.index = index

    def mutate(self, tree: ast.Module) -> ast.Module:
        targets = _targets(tree)
        node, _, description = targets[self.index]
        # The same BoolOp appears once per alternative: count which alternative this index means.
        alternative = int(description.split(" ")[3].rstrip(":")) if description.startswith("drop") else -1
        self._node, self._alternative = node, alternative
        mutated = self.visit(tree)
        assert isinstance(mutated, ast.Module)
        return ast.fix_missing_locations(mutated)

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if node is self._node and isinstance(node, ast.If):
            # `if False:` keeps the body unreachable but present, so a generator stays a generator.
            return ast.If(test=ast.Constant(value=False), body=node.body, orelse=node.orelse)
        if node is self._node and isinstance(node, ast.BoolOp):
            rest = [v for i, v in enumerate(node.values) if i != self._alternative]
            return rest[0] if len(rest) == 1 else ast.BoolOp(op=node.op, values=rest)
        return super().generic_visit(node)


def mutants() -> list[Mutant]:
    found = []
    for module in RULE_MODULES:
        tree = ast.parse(inspect.getsource(module))
        for index, (_, line, description) in enumerate(_targets(tree)):
            found.append(Mutant(module, index, line, description))
    return found


def _mutated_rules(mutant: Mutant) -> list[Rule]:
    tree = ast.parse(inspect.getsource(mutant.module))
    mutated = _Remove(mutant.index).mutate(tree)
    namespace: dict[str, object] = {"__name__": f"{mutant.module.__name__}__mutant"}
    exec(compile(mutated, f"<mutant of {mutant.module.__name__}>", "exec"), namespace)
    rules = namespace["RULES"]
    assert isinstance(rules, tuple)
    return list(rules)


CASE_RESOURCES = [(case, case.resources()) for case in CASES]
MUTANTS = mutants()


def test_there_are_checks_to_mutate() -> None:
    assert len(MUTANTS) >= 60


def test_unmutated_modules_pass_the_compliant_set_and_every_case() -> None:
    for mutant_module in RULE_MODULES:
        rules = {rule.name: rule for rule in mutant_module.RULES}
        assert check_all(compliant(), rules) == []


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: f"{m.module.__name__.rsplit('.', 1)[-1]}:{m.line}:{m.index}")
def test_every_check_is_needed_by_a_case(mutant: Mutant) -> None:
    rules = {rule.name: rule for rule in _mutated_rules(mutant)}
    killed = []
    for case, resources in CASE_RESOURCES:
        expected = [line for line in case.expected if line.split("]", 1)[0].removeprefix("[") in rules]
        if not expected:
            continue
        try:
            found = [str(v) for v in check_all(resources, rules)]
        except Exception:  # a mutant that crashes on a case is told apart by it too
            found = ["<crashed>"]
        if found != expected:
            killed.append(case.id)
            break
    assert killed, f"{mutant.module.__name__} line {mutant.line}: {mutant.description} - no case fails without it"
