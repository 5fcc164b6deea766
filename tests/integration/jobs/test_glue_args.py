"""Glue's getResolvedOptions semantics (pure: no emulator, no Spark)."""

from __future__ import annotations

import pytest

from jobs._glue_args import GlueArgumentError, get_resolved_options, resolve_options
from mlops.cli.job import parse_arguments
from mlops.errors import ConfigError
from mlops.ports.jobs import merged_arguments

ARGV = ["script.py", "--JOB_NAME", "curate", "--JOB_RUN_ID", "jr_1", "--dataset", "cards", "--TempDir", "s3://t"]


def test_requested_options_resolve_and_glue_flags_are_ignored() -> None:
    assert get_resolved_options(ARGV, ["JOB_NAME", "dataset"]) == {
        "JOB_NAME": "curate",
        "dataset": "cards",
        "JOB_ID": None,
        "JOB_RUN_ID": "jr_1",
        "SECURITY_CONFIGURATION": None,
        "encryption-type": None,
    }


def test_equals_form_and_last_value_wins() -> None:
    args = resolve_options([*ARGV, "--dataset=other"], required=["dataset"], optional=["source_version"])
    assert (args["dataset"], args["source_version"]) == ("other", None)


def test_a_missing_required_option_is_named() -> None:
    with pytest.raises(
        GlueArgumentError, match=r"job arguments: the following arguments are required: --glue_database"
    ):
        get_resolved_options(ARGV, ["dataset", "glue_database"])


def test_reserved_names_cannot_be_requested() -> None:
    with pytest.raises(GlueArgumentError, match=r"'JOB_RUN_ID' is reserved by Glue"):
        get_resolved_options(ARGV, ["JOB_RUN_ID"])


def test_run_arguments_override_default_arguments() -> None:
    merged = merged_arguments({"--dataset": "a", "--curated_bucket": "b"}, {"dataset": "c", "--source_version": "3"})
    assert merged == {"--dataset": "c", "--curated_bucket": "b", "--source_version": "3"}


def test_cli_arguments_parse_key_value_pairs() -> None:
    assert parse_arguments(["dataset=cards", "--source_version=3", "note=a=b"]) == {
        "--dataset": "cards",
        "--source_version": "3",
        "--note": "a=b",
    }
    with pytest.raises(ConfigError, match=r"--arg 'dataset' must look like KEY=VALUE"):
        parse_arguments(["dataset"])
