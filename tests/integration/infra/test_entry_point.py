"""``infra/__main__.py`` as the Pulumi language host runs it: config from PULUMI_CONFIG, outputs exported."""

from __future__ import annotations

import json
import runpy

import pulumi
import pytest
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.config import REPO_ROOT
from infra.plan import RecordingMocks

pytestmark = pytest.mark.pulumi


def test_entry_point_reads_engine_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "PULUMI_CONFIG",
        json.dumps({"aws:region": "eu-west-1", "mlops-kit:streamRetentionHours": "48", "mlops-kit:owner": "data"}),
    )
    mocks = RecordingMocks(region="eu-west-1")
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project="mlops-kit", stack="dev", preview=False)

    def program() -> None:
        runpy.run_path(str(REPO_ROOT / "infra" / "__main__.py"))

    _sync_await(run_pulumi_func(program))
    stream = mocks.resources["streaming-stream"].inputs
    assert (stream["retentionPeriod"], stream["tags"]["owner"]) == (48.0, "data")
    assert stream["name"] == "mlops-kit-dev-events"
    role = mocks.resources["training-sagemaker-role"]
    assert role.arn == "arn:aws:iam::123456789012:role/mlops-kit-dev-sagemaker-role"
