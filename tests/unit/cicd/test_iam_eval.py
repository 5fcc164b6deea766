"""The test evaluator itself: deny wins, wildcards, and each supported condition operator, missing keys too."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from tests.unit.cicd.iam_eval import Request, evaluate


def _doc(*statements: Mapping[str, object]) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ALLOW_S3 = {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b-*/*"}


def test_allow_wildcards_and_the_implicit_deny() -> None:
    assert evaluate([_doc(ALLOW_S3)], Request("S3:GetObject", "arn:aws:s3:::b-1/k")) == "allow"
    assert evaluate([_doc(ALLOW_S3)], Request("s3:PutObject", "arn:aws:s3:::b-1/k")) == "implicit-deny"
    assert evaluate([_doc(ALLOW_S3)], Request("s3:GetObject", "arn:aws:s3:::c-1/k")) == "implicit-deny"


def test_an_explicit_deny_wins_over_any_allow() -> None:
    deny = {"Effect": "Deny", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::b-1/*"]}
    assert evaluate([_doc(ALLOW_S3), _doc(deny)], Request("s3:GetObject", "arn:aws:s3:::b-1/k")) == "explicit-deny"


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        ({"StringEquals": {"k": "v"}}, {"k": "v"}, True),
        ({"StringEquals": {"k": "v"}}, {"K": "v"}, True),
        ({"StringEquals": {"k": "v"}}, {"k": "w"}, False),
        ({"StringEquals": {"k": "v"}}, {}, False),
        ({"StringEqualsIfExists": {"k": "v"}}, {}, True),
        ({"StringNotEquals": {"k": "v"}}, {}, True),
        ({"StringNotEquals": {"k": "v"}}, {"k": "v"}, False),
        ({"StringLike": {"k": ["a*", "b*"]}}, {"k": "bee"}, True),
        ({"StringNotLike": {"k": "a*"}}, {"k": "abc"}, False),
        ({"ArnLike": {"k": "arn:aws:iam::*:role/x"}}, {"k": "arn:aws:iam::1:role/x"}, True),
        ({"Bool": {"k": "true"}}, {"k": "True"}, True),
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ["a", "b"]}, True),
        ({"ForAllValues:StringEquals": {"k": ["a"]}}, {"k": ["a", "b"]}, False),
        ({"ForAnyValue:StringEquals": {"k": ["a"]}}, {"k": ["a", "b"]}, True),
    ],
)
def test_condition_operators(condition: dict[str, object], context: dict[str, str], holds: bool) -> None:
    statement = {"Effect": "Allow", "Action": "x:Y", "Resource": "*", "Condition": condition}
    assert evaluate([_doc(statement)], Request("x:Y", "r", context)) == ("allow" if holds else "implicit-deny")


def test_what_it_cannot_evaluate_is_an_error_not_a_pass() -> None:
    for statement in (
        {"Effect": "Allow", "NotAction": "x:Y", "Resource": "*"},
        {"Effect": "Allow", "Action": "x:Y", "Resource": "*", "Condition": {"NumericLessThan": {"k": "1"}}},
        {"Effect": "Allow", "Principal": "*", "Action": "x:Y", "Resource": "*"},
    ):
        with pytest.raises(ValueError, match=r"not supported|not evaluated"):
            evaluate([_doc(statement)], Request("x:Y", "r", {"k": "0"}))
