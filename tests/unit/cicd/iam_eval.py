"""A small IAM policy evaluator for tests: explicit Deny wins, then any Allow, else the implicit deny.

It covers what the kit's documents use: ``Action``/``Resource`` with ``*`` and ``?`` wildcards (actions match
case-insensitively), and the condition operators ``StringEquals``, ``StringNotEquals``, ``StringLike``,
``StringNotLike``, ``ArnLike``, ``ArnEquals``, ``Bool`` with the ``ForAllValues:``/``ForAnyValue:`` prefixes and
the ``IfExists`` suffix. Any other operator or element (``NotAction``, ``NotResource``, principals) raises,
so a document the evaluator cannot read fails the test instead of passing it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["allow", "explicit-deny", "implicit-deny"]
ContextValue = str | list[str]


@dataclass(frozen=True)
class Request:
    """One API call: its action, the resource ARN it acts on and its request context (condition keys)."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}" + (f" with {dict(self.context)}" if self.context else "")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        raise ValueError(f"NotAction is not supported: {statement}")
    return any(fnmatch.fnmatch(action.lower(), str(p).lower()) for p in _list(statement["Action"]))


def _resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        raise ValueError(f"NotResource is not supported: {statement}")
    return any(fnmatch.fnmatchcase(resource, str(p)) for p in _list(statement["Resource"]))


def _lookup(context: Mapping[str, ContextValue], key: str) -> list[str] | None:
    for name, value in context.items():
        if name.lower() == key.lower():
            return [str(v) for v in _list(value)]
    return None


def _compare(base: str, actual: str, expected: str) -> bool:
    if base in ("StringEquals", "ArnEquals"):
        return actual == expected
    if base in ("StringLike", "ArnLike"):
        return fnmatch.fnmatchcase(actual, expected)
    if base == "Bool":
        return actual.lower() == expected.lower()
    raise ValueError(f"condition operator {base!r} is not supported")


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, ContextValue]) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    negated = base in ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike")
    positive = {
        "StringNotEquals": "StringEquals",
        "StringNotLike": "StringLike",
        "ArnNotEquals": "ArnEquals",
        "ArnNotLike": "ArnLike",
    }.get(base, base)
    actual = _lookup(context, key)
    expected_values = [str(v) for v in _list(expected)]
    if actual is None:
        return if_exists or negated or qualifier == "ForAllValues"
    if qualifier == "ForAllValues":
        found = all(any(_compare(positive, a, e) for e in expected_values) for a in actual)
    else:  # single-valued keys and ForAnyValue
        found = any(_compare(positive, a, e) for a in actual for e in expected_values)
    return not found if negated else found


def _conditions_hold(statement: Mapping[str, Any], context: Mapping[str, ContextValue]) -> bool:
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, block in (statement.get("Condition") or {}).items()
        for key, expected in block.items()
    )


def _applies(statement: Mapping[str, Any], request: Request) -> bool:
    return (
        _action_matches(statement, request.action)
        and _resource_matches(statement, request.resource)
        and _conditions_hold(statement, request.context)
    )


def evaluate(documents: Sequence[Mapping[str, Any]], request: Request) -> Decision:
    """The decision of identity policies ``documents`` (one principal's) on ``request``."""
    statements = [s for document in documents for s in _list(document["Statement"])]
    for statement in statements:
        if "Principal" in statement:
            raise ValueError(f"resource policies are not evaluated here: {statement}")
    if any(s["Effect"] == "Deny" and _applies(s, request) for s in statements):
        return "explicit-deny"
    if any(s["Effect"] == "Allow" and _applies(s, request) for s in statements):
        return "allow"
    return "implicit-deny"
