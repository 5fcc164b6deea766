"""The expression language of a SageMaker Pipeline definition, evaluated as SageMaker evaluates it.

A definition's step arguments hold, besides literals:

- ``{"Get": "Parameters.<name>"}``, ``{"Get": "Execution.<variable>"}``;
- ``{"Get": "Steps.<step>.<property path>"}``: a property of a finished step, in the shape of its Describe* response
  (``ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri``, ``ModelArtifacts.S3ModelArtifacts``); a list indexed
  by a name picks the element whose ``...Name`` field has that name;
- ``{"Std:Join": {"On": sep, "Values": [...]}}``;
- ``{"Std:JsonGet": {"PropertyFile": {"Get": "Steps.<step>.PropertyFiles.<file>"}, "Path": "a.b[0]"}}`` (or an
  ``S3Uri`` instead of the property file): a value of a JSON file a step wrote;
- conditions: ``Equals``, ``GreaterThan(OrEqualTo)``, ``LessThan(OrEqualTo)``, ``In``, ``Not``, ``Or``.

This module also orders a definition's steps: a step runs after every step it names in ``DependsOn`` or reads a
``Steps.<name>`` property of; a condition's branch steps run after the condition. Nothing here does I/O: reading a
property file goes through the ``read_json`` callable of the :class:`Scope`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops.ports.training import PipelineDefinitionError, PipelineParameterError


class ExpressionError(PipelineDefinitionError):
    """An expression names something that does not exist (parameter, step, property, JSON path) or is malformed."""


_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(?:'([^']*)'|\"([^\"]*)\"|(\d+))\]")
_STEP_REFERENCE = re.compile(r"^Steps\.([A-Za-z0-9_-]+)\.")


def path_tokens(path: str) -> list[str | int]:
    """``Outputs['train'].S3Output`` -> ``['Outputs', 'train', 'S3Output']``; ``a[0]`` -> ``['a', 0]``."""
    tokens: list[str | int] = []
    position = 0
    text = path.removeprefix("$").lstrip(".") if path.startswith("$") else path
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"cannot parse property path {path!r} at {text[position:]!r}")
        name, quoted, double, index = match.groups()
        tokens.append(int(index) if index is not None else (name or quoted or double or ""))
        position = match.end()
    return tokens


def _named(items: list[Any], key: str) -> Any:
    for item in items:
        if isinstance(item, dict) and any(k.endswith("Name") and v == key for k, v in item.items()):
            return item
    raise KeyError(key)


def walk(document: Any, tokens: list[str | int], where: str) -> Any:
    """Follow ``tokens`` into ``document``; a missing key names the path and ``where`` it was looked up."""
    found = document
    for done, token in enumerate(tokens):
        try:
            if isinstance(found, list):
                found = found[token] if isinstance(token, int) else _named(found, token)
            elif isinstance(found, dict) and isinstance(token, str):
                found = found[token]
            else:
                raise KeyError(token)
        except (KeyError, IndexError):
            shown = "".join(f"[{t}]" if isinstance(t, int) else f".{t}" for t in tokens[: done + 1]).lstrip(".")
            raise ExpressionError(f"{where} has no {shown!r}") from None
    return found


@dataclass(frozen=True)
class PropertyFileRef:
    """A declared property file of a step: JSON at ``FilePath`` inside the step's output ``OutputName``."""

    step: str
    name: str
    output: str
    path: str


@dataclass
class Scope:
    """What expressions of one execution can see.

    ``parameters`` are typed values; ``execution`` the ``Execution.*`` variables; ``properties`` the Describe-shaped
    properties of each finished step; ``property_files`` the declared files per step; ``read_json`` reads the JSON
    object at an object URI.
    """

    parameters: Mapping[str, Any]
    execution: Mapping[str, Any]
    read_json: Callable[[str], Any]
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    property_files: dict[str, dict[str, PropertyFileRef]] = field(default_factory=dict)
    _files: dict[str, Any] = field(default_factory=dict)

    def get(self, path: str) -> Any:
        """The value of ``{"Get": path}``."""
        head, _, rest = path.partition(".")
        if head == "Parameters":
            if rest not in self.parameters:
                raise ExpressionError(f"{path!r}: the definition declares no parameter {rest!r}")
            return self.parameters[rest]
        if head == "Execution":
            if rest not in self.execution:
                raise ExpressionError(f"{path!r}: no execution variable {rest!r}; known: {', '.join(self.execution)}")
            return self.execution[rest]
        if head == "Steps":
            step, _, property_path = rest.partition(".")
            if step not in self.properties:
                raise ExpressionError(f"{path!r}: step {step!r} has not run (or does not exist)")
            if property_path.startswith("PropertyFiles."):
                name = property_path.removeprefix("PropertyFiles.")
                files = self.property_files.get(step, {})
                if name not in files:
                    raise ExpressionError(f"{path!r}: step {step!r} declares no property file {name!r}")
                return files[name]
            return walk(self.properties[step], path_tokens(property_path), f"step {step!r}")
        raise ExpressionError(f"{path!r}: a Get reads Parameters., Execution. or Steps., not {head!r}")

    def file(self, ref: PropertyFileRef) -> Any:
        """The parsed property file (read once per execution)."""
        key = f"{ref.step}/{ref.name}"
        if key not in self._files:
            output = self.get(f"Steps.{ref.step}.ProcessingOutputConfig.Outputs['{ref.output}'].S3Output.S3Uri")
            self._files[key] = self.read_json(f"{str(output).rstrip('/')}/{ref.path}")
        return self._files[key]


def evaluate(expression: Any, scope: Scope) -> Any:
    """``expression`` with every Get/Join/JsonGet replaced by its value (structures are evaluated throughout)."""
    if isinstance(expression, list):
        return [evaluate(item, scope) for item in expression]
    if not isinstance(expression, dict):
        return expression
    if set(expression) == {"Get"}:
        return scope.get(str(expression["Get"]))
    functions = [key for key in expression if key.startswith("Std:")]
    if functions:
        if len(expression) != 1:
            raise ExpressionError(f"a function object holds only its function, got keys {sorted(expression)}")
        return _function(functions[0], expression[functions[0]], scope)
    return {key: evaluate(value, scope) for key, value in expression.items()}


def as_text(value: Any) -> str:
    """A value as Join writes it: numbers as JSON numbers, booleans ``true``/``false``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float) or value is None:
        return json.dumps(value) if value is not None else ""
    raise ExpressionError(f"cannot join a {type(value).__name__} value: {value!r}")


def _function(name: str, body: Any, scope: Scope) -> Any:
    if not isinstance(body, dict):
        raise ExpressionError(f"{name} takes an object, got {body!r}")
    if name == "Std:Join":
        values = evaluate(body.get("Values", []), scope)
        if not isinstance(values, list):
            raise ExpressionError(f"Std:Join Values must be a list, got {values!r}")
        return str(body.get("On", "")).join(as_text(v) for v in values)
    if name == "Std:JsonGet":
        return _json_get(body, scope)
    raise ExpressionError(f"function {name!r} is not supported (Std:Join and Std:JsonGet are)")


def _json_get(body: dict[str, Any], scope: Scope) -> Any:
    path = body.get("Path")
    if not isinstance(path, str) or not path:
        raise ExpressionError(f"Std:JsonGet needs a Path, got {body!r}")
    if "PropertyFile" in body:
        ref = evaluate(body["PropertyFile"], scope)
        if not isinstance(ref, PropertyFileRef):
            raise ExpressionError(f"Std:JsonGet PropertyFile must be a Steps.<step>.PropertyFiles.<name>, got {ref!r}")
        document, where = scope.file(ref), f"property file {ref.name!r} of step {ref.step!r}"
    elif "S3Uri" in body:
        uri = as_text(evaluate(body["S3Uri"], scope))
        document, where = scope.read_json(uri), f"JSON file {uri}"
    else:
        raise ExpressionError(f"Std:JsonGet needs a PropertyFile or an S3Uri, got {sorted(body)}")
    return walk(document, path_tokens(path), where)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: bool(a == b),
    "GreaterThan": lambda a, b: bool(a > b),
    "GreaterThanOrEqualTo": lambda a, b: bool(a >= b),
    "LessThan": lambda a, b: bool(a < b),
    "LessThanOrEqualTo": lambda a, b: bool(a <= b),
}


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Numbers compare as numbers (a number read from JSON against a Float parameter, or a numeric string)."""
    numbers = (int, float)
    if (isinstance(left, numbers) and isinstance(right, str)) or (isinstance(right, numbers) and isinstance(left, str)):
        try:
            return float(left), float(right)
        except ValueError:
            raise ExpressionError(f"cannot compare {left!r} with {right!r}") from None
    return left, right


def holds(condition: Mapping[str, Any], scope: Scope) -> bool:
    """Whether ``condition`` (one entry of a Condition step's ``Conditions``) is true."""
    kind = condition.get("Type")
    if kind in _COMPARISONS:
        left, right = _comparable(evaluate(condition["LeftValue"], scope), evaluate(condition["RightValue"], scope))
        try:
            return _COMPARISONS[kind](left, right)
        except TypeError:
            raise ExpressionError(f"{kind}: cannot compare {left!r} with {right!r}") from None
    if kind == "In":
        value = evaluate(condition["QueryValue"], scope)
        return any(_COMPARISONS["Equals"](*_comparable(value, v)) for v in evaluate(condition["Values"], scope))
    if kind == "Not":
        return not holds(condition["Condition"], scope)
    if kind == "Or":
        return any(holds(c, scope) for c in condition["Conditions"])
    raise ExpressionError(f"condition type {kind!r} is not supported")


def typed_parameters(declared: list[dict[str, Any]], given: Mapping[str, str]) -> dict[str, Any]:
    """The execution's parameter values: defaults overridden by ``given``, each parsed as its declared type.

    Raises :class:`PipelineParameterError` for a value naming no declared parameter, a value that does not
    parse, or a parameter with neither a default nor a value.
    """
    types = {str(p["Name"]): str(p.get("Type", "String")) for p in declared}
    unknown = sorted(set(given) - set(types))
    if unknown:
        raise PipelineParameterError(
            f"parameter(s) {', '.join(unknown)} are not declared by the pipeline; declared: {', '.join(types)}"
        )
    values: dict[str, Any] = {}
    for parameter in declared:
        name = str(parameter["Name"])
        if name in given:
            values[name] = _parse(name, types[name], given[name])
        elif "DefaultValue" in parameter:
            values[name] = parameter["DefaultValue"]
        else:
            raise PipelineParameterError(f"parameter {name!r} has no default and no value was given")
    return values


def _parse(name: str, kind: str, text: str) -> Any:
    try:
        if kind == "Float":
            return float(text)
        if kind == "Integer":
            return int(text)
        if kind == "Boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
    except ValueError:
        raise PipelineParameterError(f"parameter {name!r} is a {kind}; {text!r} is not") from None
    return text


def steps_of(steps: list[dict[str, Any]], parent: str | None = None) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every step with the condition step whose branch holds it (``None`` at the top level)."""
    for step in steps:
        yield step, parent
        arguments = step.get("Arguments", {})
        if step.get("Type") == "Condition":
            yield from steps_of([*arguments.get("IfSteps", []), *arguments.get("ElseSteps", [])], step["Name"])


def references(node: Any) -> set[str]:
    """Names of the steps ``node`` reads a property of (``{"Get": "Steps.<name>...."}`` anywhere inside)."""
    found: set[str] = set()
    if isinstance(node, dict):
        get = node.get("Get")
        if isinstance(get, str) and (match := _STEP_REFERENCE.match(get)):
            found.add(match.group(1))
        for value in node.values():
            found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return found


def dependencies(definition: Mapping[str, Any]) -> dict[str, set[str]]:
    """Each step's upstream steps: ``DependsOn``, data references, and its condition for a branch step."""
    every = list(steps_of(list(definition.get("Steps", []))))
    names = [step["Name"] for step, _ in every]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise PipelineDefinitionError(f"step name(s) used twice: {', '.join(duplicated)}")
    graph: dict[str, set[str]] = {}
    for step, parent in every:
        arguments = dict(step.get("Arguments", {}))
        if step.get("Type") == "Condition":  # the branches are steps of their own
            arguments = {k: v for k, v in arguments.items() if k not in ("IfSteps", "ElseSteps")}
        upstream = references(arguments) | set(step.get("DependsOn", [])) | ({parent} if parent else set())
        unknown = sorted(upstream - set(names))
        if unknown:
            raise PipelineDefinitionError(f"step {step['Name']!r} depends on unknown step(s) {', '.join(unknown)}")
        graph[step["Name"]] = upstream
    return graph


def execution_order(definition: Mapping[str, Any]) -> list[str]:
    """The steps in an order that respects every dependency; ties keep definition order. A cycle is an error."""
    graph = dependencies(definition)
    order: list[str] = []
    remaining = dict(graph)
    while remaining:
        ready = [name for name, upstream in remaining.items() if upstream <= set(order)]
        if not ready:
            raise PipelineDefinitionError(f"the steps {', '.join(sorted(remaining))} depend on each other (a cycle)")
        order.append(ready[0])
        del remaining[ready[0]]
    return order
