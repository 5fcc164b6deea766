"""Pure parts of the local apply: handler registry, input conversion, policy filtering, ledger, mocks errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlops.errors import LocalApplyError, UnsupportedResourceError
from mlops.local.apply.base import to_boto
from mlops.local.apply.ledger import Ledger, LedgerEntry, count_by_type, ledger_path, read_ledger
from mlops.local.apply.limits import LIMITS, applicable_bucket_policy, dropped_statements
from mlops.local.apply.registry import HANDLERS, handler_for

DENY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": "arn:aws:s3:::b/*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
ALLOW = {
    "Sid": "Logs",
    "Effect": "Allow",
    "Principal": {"Service": "logging.s3.amazonaws.com"},
    "Action": "s3:PutObject",
}


def test_handlers_cover_exactly_the_types_the_program_may_declare() -> None:
    from infra.resource_types import RESOURCE_TYPES

    assert sorted(HANDLERS) == sorted(RESOURCE_TYPES)


def test_unknown_type_is_an_error_naming_it() -> None:
    with pytest.raises(UnsupportedResourceError) as caught:
        handler_for("aws:ec2/instance:Instance", "web")
    assert str(caught.value) == (
        "no local-apply handler for resource type 'aws:ec2/instance:Instance' (resource 'web'); "
        "add one under mlops/local/apply/handlers/ and list the type in infra/RESOURCE_TYPES.md"
    )


def test_to_boto_converts_case_numbers_and_special_keys() -> None:
    rules = [
        {
            "id": "expire",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "noncurrentVersionExpiration": {"noncurrentDays": 30.0},
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "k"},
            "skipped": None,
        }
    ]
    assert to_boto(rules) == [
        {
            "ID": "expire",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"},
        }
    ]
    assert to_boto({"threshold": 2.5}) == {"Threshold": 2.5}


def test_conditional_deny_is_dropped_and_allow_kept() -> None:
    document = json.dumps({"Version": "2012-10-17", "Statement": [DENY, ALLOW]})
    assert json.loads(applicable_bucket_policy(document, "b") or "") == {"Version": "2012-10-17", "Statement": [ALLOW]}
    assert dropped_statements(document) == [DENY]


def test_policy_of_only_conditional_denies_leaves_nothing_to_apply() -> None:
    assert applicable_bucket_policy(json.dumps({"Statement": [DENY]}), "b") is None
    unconditional = {**DENY, "Condition": {}}
    kept = applicable_bucket_policy(json.dumps({"Statement": [unconditional]}), "b")
    assert json.loads(kept or "") == {"Statement": [unconditional]}


def test_bad_policy_names_the_bucket() -> None:
    with pytest.raises(LocalApplyError, match=r"^bucket policy of 'b' is not valid JSON"):
        applicable_bucket_policy("{", "b")
    with pytest.raises(LocalApplyError, match=r"^bucket policy of 'b' has no Statement list$"):
        applicable_bucket_policy("{}", "b")


def test_limits_name_handled_types_only() -> None:
    assert {limit.type_token for limit in LIMITS} <= set(HANDLERS)


def test_ledger_counts_and_round_trip(tmp_path: Path) -> None:
    ledger = Ledger()
    ledger.record(LedgerEntry("aws:s3/bucket:Bucket", "raw", "raw-1", "created", 0.1))
    ledger.record(LedgerEntry("aws:s3/bucket:Bucket", "curated", "cur-1", "reused", 0.1))
    ledger.record(LedgerEntry("aws:sns/topic:Topic", "alarms", "arn", "updated", 0.1))
    assert ledger.counts() == {"created": 1, "reused": 1, "updated": 1, "skipped": 0}
    path = ledger_path(tmp_path / "outputs" / "local.json")
    assert path == tmp_path / "outputs" / "local.resources.json"
    ledger.write(path, "local", "http://127.0.0.1:1")
    payload = read_ledger(path)
    assert payload is not None
    assert [entry["name"] for entry in payload["resources"]] == ["curated", "raw", "alarms"]
    assert count_by_type(payload["resources"]) == {"aws:s3/bucket:Bucket": 2, "aws:sns/topic:Topic": 1}


def test_missing_ledger_is_none_and_corrupt_ledger_is_an_error(tmp_path: Path) -> None:
    assert read_ledger(tmp_path / "absent.json") is None
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(LocalApplyError, match=f"^ledger {re.escape(str(bad))} has no 'resources' list$"):
        read_ledger(bad)
