"""The whole release rehearsed on a fresh emulator of its own: `mlops release rehearse` as a user runs it (dev,
staging and prod applied side by side; two releases trained in dev, gated, promoted stack to stack, deployed and
smoke-tested; prod rolled back), then what the emulator and the registries hold, read back independently."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops.contracts import CHAMPION
from mlops.layout import split_uri
from mlops.local import emulator, warm_cli
from mlops.outputs import StackOutputs, load_outputs
from mlops.platform import Platform
from mlops.ports.model_registry import ModelVersionInfo
from mlops.settings import load_settings
from mlops.wiring import build_platform, client_factory
from pipelines.registry.handover import PROMOTED_FROM_TAG, SOURCE_PACKAGE_TAG

pytestmark = [pytest.mark.emulator, pytest.mark.server]

ROOT = Path(__file__).resolve().parents[3]
STACKS = ("dev", "staging", "prod")
DATASET = "diabetes"


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path]]:
    """The rehearsal's JSON report and its state dir; the emulator is this fixture's own, stopped at the end."""
    state_dir = tmp_path_factory.mktemp("rehearsal-state")
    emulator.up(state_dir / "emulator")
    # Each redeploy still runs every blue/green stage, each checking the rollback alarms once; it does not bake
    # (the stacks' 5-minute canaries are cut to 10 s by default: 34 s per redeploy, four redeploys; 4.2 s at 1 s).
    env = {
        **os.environ,
        "MLOPS_STATE_DIR": str(state_dir),
        "MLOPS_TARGET": "moto",
        "MLOPS_SERVICES__ENDPOINT__LOCAL_MAX_WAIT_SECONDS": "0",
        # As a user runs it: the rehearsal starts the warm command server (the suite turns it off elsewhere).
        "MLOPS_LOCAL_CLI__ENABLED": "true",
    }
    env.pop("MLOPS_STACK", None)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "mlops.cli", "release", "rehearse", DATASET, "--stop-endpoints", "--json"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        yield json.loads(result.stdout), state_dir
    finally:
        emulator.down(state_dir / "emulator")


def _platform(state_dir: Path, stack: str) -> Platform:
    settings = load_settings(target="moto", state_dir=state_dir, stack=stack)
    return build_platform(settings, load_outputs(settings.resolved_outputs_file, stack))


def _chain(platforms: dict[str, Platform], stack: str, version: ModelVersionInfo) -> list[str]:
    """``stack/vN`` back to the stack that trained it, following each version's ``promoted_from``."""
    chain = [f"{stack}/v{version.version}"]
    while origin := version.tags.get(PROMOTED_FROM_TAG):
        stack, number = origin.split("/v")
        version = platforms[stack].services.model_registry.version(DATASET, number)
        chain.append(origin)
    return chain


def test_every_step_ran_and_every_smoke_test_answered(rehearsed: tuple[dict[str, Any], Path]) -> None:
    report, _ = rehearsed
    assert report["succeeded"]
    steps = report["steps"]
    assert {step["status"] for step in steps} == {"ok"}, [s for s in steps if s["status"] != "ok"]
    smokes = [step for step in steps if step["step"] == "smoke"]
    assert [(s["phase"], s["stack"]) for s in smokes] == [
        *[("release 1", stack) for stack in STACKS],
        *[("release 2", stack) for stack in STACKS],
        ("rollback", "prod"),
    ]
    assert all(s["detail"].startswith("3 predictions") for s in smokes)
    trained = [step["stack"] for step in steps if step["step"] == "train"]
    promoted = [step["stack"] for step in steps if step["step"] == "promote"]
    assert trained == ["dev", "dev"] and promoted == ["staging", "prod", "staging", "prod"]


def test_the_rehearsal_leaves_its_warm_command_server_serving_the_state_dir(
    rehearsed: tuple[dict[str, Any], Path],
) -> None:
    _, state_dir = rehearsed
    warm = warm_cli.status(state_dir)  # stopped with the emulator (the fixture's emulator.down)
    assert warm is not None and warm["answers"], warm


def test_the_three_stacks_coexist_under_their_own_names(rehearsed: tuple[dict[str, Any], Path]) -> None:
    _, state_dir = rehearsed
    outputs: dict[str, StackOutputs] = {
        stack: load_outputs(state_dir / "outputs" / f"{stack}.json", stack) for stack in STACKS
    }
    for field in ("models_bucket", "model_package_group", "endpoint_name", "kms_key_arn", "mlflow_tracking_uri"):
        values = {getattr(outputs[stack], field) for stack in STACKS}
        assert len(values) == len(STACKS), f"{field} is shared: {values}"
    for stack in STACKS:
        assert (state_dir / "outputs" / f"{stack}.resources.json").is_file(), f"no ledger of {stack}"
    ec2 = client_factory(load_settings(target="moto", state_dir=state_dir)).client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:mlops:logical-name", "Values": ["network-vpc"]}])["Vpcs"]
    environments = sorted(next(t["Value"] for t in vpc["Tags"] if t["Key"] == "environment") for vpc in vpcs)
    assert environments == sorted(STACKS), "each stack has its own network"


def test_prod_serves_the_version_gated_in_dev_and_staging_then_the_previous_champion(
    rehearsed: tuple[dict[str, Any], Path],
) -> None:
    report, state_dir = rehearsed
    platforms = {stack: _platform(state_dir, stack) for stack in STACKS}
    registries = {stack: platforms[stack].services.model_registry for stack in STACKS}
    dev_champion = registries["dev"].version(DATASET, CHAMPION)
    assert dev_champion.version == 2, "release 2's model beat release 1's at dev's gate"
    prod_versions = {v.version: v for v in registries["prod"].versions(DATASET)}
    assert sorted(prod_versions) == [1, 2]
    # release 2 reached prod only through staging's gate, from dev's champion; the rollback then archived it
    released = prod_versions[2]
    assert _chain(platforms, "prod", released) == ["prod/v2", "staging/v2", "dev/v2"]
    staging_v2 = registries["staging"].version(DATASET, "2")
    assert "champion" in staging_v2.aliases, "staging's gate passed release 2"
    assert released.stage == "Archived" and released.approval == "Rejected"
    # after the rollback, release 1's version is prod's champion and what its endpoint serves
    restored = registries["prod"].version(DATASET, CHAMPION)
    assert restored.version == 1
    assert _chain(platforms, "prod", restored) == ["prod/v1", "staging/v1", "dev/v1"]
    prod_row = next(row for row in report["stacks"] if row["stack"] == "prod")
    assert (prod_row["champion_version"], prod_row["served_version"]) == (1, "1")
    rollback_smoke = report["steps"][-1]
    assert (rollback_smoke["phase"], rollback_smoke["step"]) == ("rollback", "smoke")
    assert rollback_smoke["detail"].endswith("from v1")


def test_each_stack_holds_the_package_in_its_group_and_the_artifact_in_its_bucket(
    rehearsed: tuple[dict[str, Any], Path],
) -> None:
    _, state_dir = rehearsed
    clients = client_factory(load_settings(target="moto", state_dir=state_dir))
    sagemaker, s3 = clients.client("sagemaker"), clients.client("s3")
    artifacts: dict[str, bytes] = {}
    for stack in STACKS:
        platform = _platform(state_dir, stack)
        group = platform.outputs.model_package_group
        packages = sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
        assert len(packages) == 2, f"{stack}: one package per release in {group}"
        version = platform.services.model_registry.version(DATASET, "2")
        package = sagemaker.describe_model_package(ModelPackageName=version.model_package_arn)
        assert package["ModelPackageGroupName"] == group.rsplit("/", 1)[-1]
        model_data = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        _, bucket, key = split_uri(model_data)
        assert bucket == platform.outputs.models_bucket, f"{stack}'s package points at its own bucket"
        artifacts[stack] = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if stack != "dev":
            assert version.tags[SOURCE_PACKAGE_TAG].split("/")[-2].startswith(f"mlops-kit-{_previous(stack)}")
    assert artifacts["dev"] == artifacts["staging"] == artifacts["prod"], "the same model.tar.gz in every bucket"


def _previous(stack: str) -> str:
    return STACKS[STACKS.index(stack) - 1]
