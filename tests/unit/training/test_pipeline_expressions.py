"""The pipeline definition's expression language as the local executor evaluates it: Get, Std:Join, Std:JsonGet,
conditions, parameter typing and step ordering, on small hand-written definitions."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mlops.local.pipeline_expressions import (
    ExpressionError,
    PropertyFileRef,
    Scope,
    as_text,
    dependencies,
    evaluate,
    execution_order,
    holds,
    path_tokens,
    typed_parameters,
)
from mlops.ports.training import PipelineDefinitionError, PipelineParameterError

FILES = {"s3://b/out/exec1/eval/report.json": {"quality": {"skill": 0.42}, "items": [{"v": 1}, {"v": 2}]}}


def _scope(**parameters: Any) -> Scope:
    def read_json(uri: str) -> Any:
        if uri not in FILES:
            raise KeyError(uri)
        return FILES[uri]

    scope = Scope(
        parameters={"Prefix": "s3://b/out/", "MinSkill": 0.4, **parameters},
        execution={"PipelineExecutionId": "exec1", "StartDateTime": "2026-01-01T00:00:00.000000Z"},
        read_json=read_json,
    )
    scope.properties["Evaluate"] = {
        "ProcessingJobName": "pipelines-exec1-evaluate",
        "ProcessingOutputConfig": {
            "Outputs": [
                {"OutputName": "other", "S3Output": {"S3Uri": "s3://b/elsewhere/"}},
                {"OutputName": "eval", "S3Output": {"S3Uri": "s3://b/out/exec1/eval/"}},
            ]
        },
    }
    scope.property_files["Evaluate"] = {"Report": PropertyFileRef("Evaluate", "Report", "eval", "report.json")}
    return scope


SKILL = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Report"}, "Path": "quality.skill"}}


def test_get_reads_parameters_execution_variables_and_step_properties() -> None:
    scope = _scope()
    assert evaluate({"Get": "Parameters.MinSkill"}, scope) == 0.4
    assert evaluate({"Get": "Execution.PipelineExecutionId"}, scope) == "exec1"
    uri = {"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['eval'].S3Output.S3Uri"}
    assert evaluate(uri, scope) == "s3://b/out/exec1/eval/"
    assert evaluate({"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri"}, scope) == (
        "s3://b/elsewhere/"
    )
    # structures are evaluated throughout; literals pass unchanged
    nested = {"Args": ["--job", {"Get": "Steps.Evaluate.ProcessingJobName"}, 3], "Env": {"K": "v"}}
    assert evaluate(nested, scope) == {"Args": ["--job", "pipelines-exec1-evaluate", 3], "Env": {"K": "v"}}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("Parameters.Nope", "declares no parameter 'Nope'"),
        ("Execution.Nope", "no execution variable 'Nope'"),
        ("Steps.Train.ModelArtifacts", "step 'Train' has not run"),
        ("Steps.Evaluate.ProcessingOutputConfig.Outputs['missing']", "step 'Evaluate' has no 'ProcessingOutputConfig"),
        ("Steps.Evaluate.PropertyFiles.Nope", "declares no property file 'Nope'"),
        ("Other.X", "a Get reads Parameters., Execution. or Steps."),
    ],
)
def test_a_get_of_something_missing_names_it(path: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        evaluate({"Get": path}, _scope())


def test_join_writes_values_as_text() -> None:
    scope = _scope(Flag=True, Count=3)
    join = {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": "Parameters.Prefix"},
                {"Get": "Execution.PipelineExecutionId"},
                0.5,
                {"Get": "Parameters.Flag"},
            ],
        }
    }
    assert evaluate(join, scope) == "s3://b/out//exec1/0.5/true"
    assert evaluate({"Std:Join": {"Values": ["a", {"Get": "Parameters.Count"}]}}, scope) == "a3"
    with pytest.raises(ExpressionError, match="cannot join a list"):
        evaluate({"Std:Join": {"On": "", "Values": [["x"]]}}, scope)


def test_json_get_reads_a_property_file_once_through_its_output_location() -> None:
    reads: list[str] = []
    scope = _scope()
    original = scope.read_json

    def counting(uri: str) -> Any:
        reads.append(uri)
        return original(uri)

    scope.read_json = counting
    assert evaluate(SKILL, scope) == 0.42
    items = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Report"}, "Path": "items[1].v"}}
    assert evaluate(items, scope) == 2
    assert reads == ["s3://b/out/exec1/eval/report.json"]
    by_uri = {
        "Std:JsonGet": {
            "S3Uri": {"Std:Join": {"On": "", "Values": ["s3://b/out/exec1/eval/", "report.json"]}},
            "Path": "quality.skill",
        }
    }
    assert evaluate(by_uri, scope) == 0.42


def test_json_get_of_a_missing_path_or_a_bad_function_names_it() -> None:
    missing = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Report"}, "Path": "quality.bias"}}
    with pytest.raises(
        ExpressionError, match=re.escape("property file 'Report' of step 'Evaluate' has no 'quality.bias'")
    ):
        evaluate(missing, _scope())
    with pytest.raises(ExpressionError, match="function 'Std:Concat' is not supported"):
        evaluate({"Std:Concat": {"Values": []}}, _scope())
    with pytest.raises(ExpressionError, match="PropertyFile must be"):
        evaluate({"Std:JsonGet": {"PropertyFile": "Report", "Path": "a"}}, _scope())


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"Type": "GreaterThanOrEqualTo", "LeftValue": SKILL, "RightValue": {"Get": "Parameters.MinSkill"}}, True),
        ({"Type": "GreaterThan", "LeftValue": SKILL, "RightValue": 0.42}, False),
        ({"Type": "LessThanOrEqualTo", "LeftValue": SKILL, "RightValue": "0.42"}, True),  # numeric string
        ({"Type": "LessThan", "LeftValue": 1, "RightValue": 2}, True),
        ({"Type": "Equals", "LeftValue": {"Get": "Execution.PipelineExecutionId"}, "RightValue": "exec1"}, True),
        ({"Type": "In", "QueryValue": SKILL, "Values": [0.1, "0.42"]}, True),
        ({"Type": "Not", "Condition": {"Type": "Equals", "LeftValue": 1, "RightValue": 1}}, False),
        (
            {
                "Type": "Or",
                "Conditions": [
                    {"Type": "Equals", "LeftValue": 1, "RightValue": 2},
                    {"Type": "GreaterThan", "LeftValue": SKILL, "RightValue": 0.1},
                ],
            },
            True,
        ),
    ],
)
def test_conditions(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition, _scope()) is expected


def test_a_condition_that_cannot_be_decided_is_an_error() -> None:
    with pytest.raises(ExpressionError, match=re.escape("cannot compare 'abc' with 0.4")):
        holds({"Type": "GreaterThan", "LeftValue": "abc", "RightValue": 0.4}, _scope())
    with pytest.raises(ExpressionError, match="condition type 'Xor' is not supported"):
        holds({"Type": "Xor"}, _scope())


def test_parameters_take_defaults_overrides_and_their_declared_types() -> None:
    declared: list[dict[str, Any]] = [
        {"Name": "Uri", "Type": "String", "DefaultValue": "s3://b/"},
        {"Name": "Skill", "Type": "Float", "DefaultValue": 0.1},
        {"Name": "Count", "Type": "Integer", "DefaultValue": 2},
        {"Name": "On", "Type": "Boolean", "DefaultValue": False},
    ]
    assert typed_parameters(declared, {}) == {"Uri": "s3://b/", "Skill": 0.1, "Count": 2, "On": False}
    given = {"Skill": "0.5", "Count": "7", "On": "true"}
    assert typed_parameters(declared, given) == {"Uri": "s3://b/", "Skill": 0.5, "Count": 7, "On": True}
    with pytest.raises(PipelineParameterError, match="Nope are not declared by the pipeline; declared: Uri, Skill"):
        typed_parameters(declared, {"Nope": "1"})
    with pytest.raises(PipelineParameterError, match="parameter 'Skill' is a Float; 'high' is not"):
        typed_parameters(declared, {"Skill": "high"})
    with pytest.raises(PipelineParameterError, match="parameter 'Need' has no default and no value was given"):
        typed_parameters([{"Name": "Need", "Type": "String"}], {})


def _step(name: str, kind: str = "Processing", **arguments: Any) -> dict[str, Any]:
    return {"Name": name, "Type": kind, "Arguments": arguments}


def test_steps_run_after_the_steps_they_read_whatever_the_definition_order() -> None:
    definition = {
        "Steps": [
            _step("C", Input={"Get": "Steps.B.ProcessingJobName"}),
            _step("B", Input={"Get": "Steps.A.ModelArtifacts.S3ModelArtifacts"}),
            {**_step("D"), "DependsOn": ["A"]},
            _step("A"),
            _step(
                "Gate",
                "Condition",
                Conditions=[{"Type": "Equals", "LeftValue": {"Get": "Steps.C.ProcessingJobName"}, "RightValue": "x"}],
                IfSteps=[_step("Then", Input={"Get": "Steps.A.ProcessingJobName"})],
                ElseSteps=[_step("Else", "Fail", ErrorMessage="no")],
            ),
        ]
    }
    assert dependencies(definition) == {
        "C": {"B"},
        "B": {"A"},
        "D": {"A"},
        "A": set(),
        "Gate": {"C"},
        "Then": {"A", "Gate"},
        "Else": {"Gate"},
    }
    assert execution_order(definition) == ["A", "B", "C", "D", "Gate", "Then", "Else"]


def test_a_cycle_an_unknown_step_or_a_duplicate_name_is_refused() -> None:
    cycle = {"Steps": [_step("A", X={"Get": "Steps.B.P"}), _step("B", X={"Get": "Steps.A.P"})]}
    with pytest.raises(PipelineDefinitionError, match="the steps A, B depend on each other"):
        execution_order(cycle)
    with pytest.raises(PipelineDefinitionError, match="step 'A' depends on unknown step\\(s\\) Ghost"):
        dependencies({"Steps": [{**_step("A"), "DependsOn": ["Ghost"]}]})
    with pytest.raises(PipelineDefinitionError, match="step name\\(s\\) used twice: A"):
        dependencies({"Steps": [_step("A"), _step("A")]})


def test_property_paths_and_text() -> None:
    assert path_tokens("Outputs['train'].S3Output.S3Uri") == ["Outputs", "train", "S3Output", "S3Uri"]
    assert path_tokens('a["b c"][2].d') == ["a", "b c", 2, "d"]
    assert path_tokens("$.quality.skill") == ["quality", "skill"]
    with pytest.raises(ExpressionError, match=re.escape("cannot parse property path 'a..b'")):
        path_tokens("a..b")
    assert [as_text(v) for v in ("x", 1, 0.1, False, None)] == ["x", "1", "0.1", "false", ""]
