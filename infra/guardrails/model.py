"""What every policy rule shares: the resource it reads, the violation it reports, and reading helpers.

A rule is a pure function of every resource the stack declares (inputs in camelCase, as the engine holds them)
that yields :class:`Violation` s. The same functions run offline over the plan's recorded resources
(:func:`infra.guardrails.check_all`) and inside the CrossGuard policy pack (``infra/policypack``), where they
receive the engine's resources through :mod:`infra.guardrails.crossguard`.

The helpers here only read; every decision that can yield a violation lives in the rule modules, as an ``if``
per check, so the mutation test (``tests/unit/infra/test_guardrail_mutations.py``) can delete each in turn.
"""

from __future__ import annotations

import fnmatch
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

STACK = "<stack>"
"""Resource name of violations about something the stack lacks (no resource to name)."""


class Declared(Protocol):
    """What a rule knows of a resource: type token, logical name, physical id, inputs, and references (input
    name -> logical names of the resources whose outputs flow into that input)."""

    @property
    def type(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def id(self) -> str: ...

    @property
    def inputs(self) -> Mapping[str, Any]: ...

    @property
    def references(self) -> Mapping[str, Sequence[str]]: ...


@dataclass(frozen=True)
class Violation:
    """One broken rule on one resource."""

    rule: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.resource}: {self.message}"


Check = Callable[[Sequence[Declared]], Iterator[Violation]]


@dataclass(frozen=True)
class Rule:
    """A named rule: its area (``encryption``, ``public-access``, ``iam``, ``network``, ``operations``), what it
    requires, and the check. The CrossGuard pack registers one stack policy per rule."""

    name: str
    area: str
    description: str
    check: Check
    cloud: str = "aws"
    """The cloud whose stacks the rule applies to (``aws`` or ``gcp``; see :func:`infra.guardrails.rules_for`)."""

    def __call__(self, resources: Sequence[Declared]) -> list[Violation]:
        return list(self.check(resources))


def of(resources: Iterable[Declared], *type_tokens: str) -> list[Declared]:
    """The resources of the given types."""
    return [r for r in resources if r.type in type_tokens]


def value(resource: Declared, key: str) -> Any:
    """An input, ``None`` when absent."""
    return resource.inputs.get(key)


def nested(mapping: Any, *keys: str) -> Any:
    """``mapping[k1][k2]...``, ``None`` as soon as a level is missing or not a mapping."""
    current = mapping
    for key in keys:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def refers(resource: Declared, key: str, target: Declared) -> bool:
    """Whether input ``key`` of ``resource`` names ``target``: by value (its id, name or ARN as the plan and the
    engine report them) or, when the value is not known yet (a preview), by the input's dependency on it."""
    handles = _handles(target)
    if any(isinstance(given, str) and given in handles for given in as_list(resource.inputs.get(key))):
        return True
    return target.name in resource.references.get(key, ())


def _handles(target: Declared) -> set[Any]:
    handles = {target.id}
    for key in ("name", "bucket", "arn"):
        found = target.inputs.get(key)
        if isinstance(found, str) and found:
            handles.add(found)
    handles.discard("")
    return handles


def attached(resources: Sequence[Declared], type_token: str, target: Declared, key: str) -> list[Declared]:
    """Resources of ``type_token`` whose input ``key`` names ``target`` (a bucket's versioning, a VPC's flow log)."""
    return [r for r in of(resources, type_token) if refers(r, key, target)]


def as_list(item: Any) -> list[Any]:
    """A JSON value that may be one item or a list of them, as a list."""
    if item is None:
        return []
    return list(item) if isinstance(item, list | tuple) else [item]


def parse_json(document: Any) -> Any:
    """A JSON document given as text (the engine's form) or already parsed; ``None`` when it is not JSON."""
    if isinstance(document, str):
        try:
            return json.loads(document)
        except json.JSONDecodeError:
            return None
    return document


def statements(document: Any) -> list[Mapping[str, Any]]:
    """The statements of an IAM/resource policy document."""
    parsed = parse_json(document)
    found = parsed.get("Statement", []) if isinstance(parsed, Mapping) else []
    return [s for s in as_list(found) if isinstance(s, Mapping)]


def allows(statement: Mapping[str, Any]) -> bool:
    return statement.get("Effect") == "Allow"


def actions(statement: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in as_list(statement.get("Action"))]


def targets(statement: Mapping[str, Any]) -> list[str]:
    return [str(r) for r in as_list(statement.get("Resource"))]


def action_matches(pattern: str, action: str) -> bool:
    """Whether an IAM action pattern (``iam:*``, ``iam:Pass*``, ``*``) grants ``action`` (case-insensitive)."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def grants(statement: Mapping[str, Any], action: str) -> bool:
    return any(action_matches(pattern, action) for pattern in actions(statement))


def resource_matches(pattern: str, arn: str) -> bool:
    """Whether a statement's resource pattern covers ``arn`` (IAM wildcards ``*`` and ``?``)."""
    return fnmatch.fnmatchcase(arn, pattern)


def stack_environment(resources: Sequence[Declared]) -> str | None:
    """The stack's environment: the most common ``environment`` tag."""
    counted = Counter(
        str(tags["environment"])
        for r in resources
        if isinstance(tags := r.inputs.get("tags"), Mapping) and tags.get("environment")
    )
    return counted.most_common(1)[0][0] if counted else None
