"""The Pulumi program under recording mocks, for every stack: components, outputs, policies, dependencies.

All four stacks run in this one process: ``run_program`` configures fresh mock settings and a fresh root
stack per run (see ``infra/runner.py``), so no subprocess per stack is needed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from infra.config import REPO_ROOT
from infra.guardrails import check_all
from infra.guardrails.compute import pipeline_steps
from infra.pipeline_definition import SECURITY_PARAMETERS
from infra.plan import Plan, plain, plan_stack
from infra.resource_types import RESOURCE_TYPES
from mlops.errors import ConfigError
from mlops.outputs import StackOutputs, parse_outputs

pytestmark = pytest.mark.pulumi

STACKS = ("local", "dev", "staging", "prod")
COMPONENTS = {
    "mlops:security:SecurityBase",
    "mlops:datalake:DataLake",
    "mlops:streaming:Streaming",
    "mlops:processing:Processing",
    "mlops:featurestore:FeatureStore",
    "mlops:training:Training",
    "mlops:monitoring:Monitoring",
    "mlops:serving:Serving",
    "mlops:cicd:CicdIdentity",
    "mlops:network:Network",
    "mlops:images:Images",
    "mlops:cicd:WorkloadBoundary",
}

# the stacks whose config names a promotionTarget (Pulumi.<stack>.yaml): dev hands to staging, staging to prod
PROMOTION_SOURCES = {"dev", "staging"}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's stack files and pipeline definition, with two job scripts and a private one."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(
        REPO_ROOT / "infra", root / "infra", ignore=shutil.ignore_patterns("*.py", "__pycache__", "components")
    )
    (root / "pipelines" / "training").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "pipelines/training/pipeline_definition.json", root / "pipelines/training")
    (root / "pipelines" / "datasets").mkdir()
    for name in ("card_transactions", "diabetes"):
        shutil.copy(REPO_ROOT / f"pipelines/datasets/{name}.yaml", root / "pipelines/datasets")
    jobs = root / "jobs"
    jobs.mkdir()
    for name in ("__init__.py", "_shared.py", "ingest_events.py", "build_features.py"):
        (jobs / name).write_text("print('job')\n")
    (root / "infra" / "Pulumi.dev.yaml").write_text(
        (REPO_ROOT / "infra" / "Pulumi.dev.yaml").read_text() + "  mlops-kit:glueSchedules:\n"
        "    build_features: cron(30 4 * * ? *)\n"
    )
    return root


@pytest.fixture(scope="module")
def plans(repo: Path) -> dict[str, Plan]:
    return {stack: plan_stack(stack, repo) for stack in STACKS}


@pytest.mark.parametrize("stack", STACKS)
def test_policies_hold_for_every_resource(plans: dict[str, Plan], stack: str) -> None:
    violations = [str(v) for v in check_all(plans[stack].resources)]
    assert violations == []
    # the pipeline rules did inspect the definition's jobs (a definition without jobs would pass them vacuously)
    pipeline = next(r for r in plans[stack].resources if r.name == "training-pipeline")
    kinds = [s.get("Type") for s in pipeline_steps(json.loads(pipeline.inputs["pipelineDefinition"]))]
    assert kinds.count("Processing") == 3 and kinds.count("Training") == 1


@pytest.mark.parametrize("stack", STACKS)
def test_full_plan_round_trips_every_input(plans: dict[str, Plan], stack: str) -> None:
    document = json.loads(json.dumps(plans[stack].to_json(full=True)))
    by_name = {r.name: r for r in plans[stack].resources}
    assert len(document["resources"]) == len(by_name)
    for entry in document["resources"]:
        recorded = by_name[entry["name"]]
        assert entry["inputs"] == plain(recorded.inputs), entry["name"]
        assert entry["inputs"] == {k: v for k, v in recorded.inputs.items() if k != "source"} | (
            {"source": entry["inputs"]["source"]} if "source" in recorded.inputs else {}
        ), entry["name"]
        assert (entry["id"], entry["arn"]) == ((recorded.id if recorded.custom else None), recorded.arn or None)
        assert entry["component"] == recorded.parent
    policy = next(e for e in document["resources"] if e["name"] == "training-sagemaker-policy")
    assert policy["documents"]["policy"]["Statement"]
    assert "<" not in json.dumps(policy["inputs"]["policy"])[:2]


@pytest.mark.parametrize("stack", STACKS)
def test_every_sagemaker_and_glue_workload_is_placed_and_encrypted(plans: dict[str, Plan], stack: str) -> None:
    inputs = {r.name: r.inputs for r in plans[stack].resources}
    groups = {r.name: r.id for r in plans[stack].resources if r.type == "aws:ec2/securityGroup:SecurityGroup"}
    subnets = sorted(r.id for r in plans[stack].resources if r.type == "aws:ec2/subnet:Subnet")
    model = inputs["serving-model"]
    assert model["enableNetworkIsolation"] is False, "it reads the online store and the tracking server"
    assert model["tags"]["mlops:network-access"]
    assert sorted(model["vpcConfig"]["subnets"]) == subnets
    assert model["vpcConfig"]["securityGroupIds"] == [groups["network-sagemaker-hosting-sg"]]
    for name, job in inputs.items():
        if name.startswith("processing-job-"):
            assert job["securityConfiguration"] == f"mlops-kit-{stack}-glue-encryption"
            assert job["connections"] == [
                f"mlops-kit-{stack}-network-us-east-1a",
                f"mlops-kit-{stack}-network-us-east-1b",
            ]
    pipeline = json.loads(inputs["training-pipeline"]["pipelineDefinition"])
    bound = {p["Name"]: p.get("DefaultValue") for p in pipeline["Parameters"]}
    keys = [r.arn for r in plans[stack].resources if r.type == "aws:kms/key:Key"]
    # the stack's key, the network component's two private subnets (in order) and the jobs' security group
    assert {name: bound.get(name) for name in SECURITY_PARAMETERS} == {
        "VolumeKmsKeyId": keys[0],
        "OutputKmsKeyId": keys[0],
        "SubnetIdA": subnets[0],
        "SubnetIdB": subnets[1],
        "SecurityGroupId": groups["network-sagemaker-jobs-sg"],
    }
    assert len(keys) == 1 and keys[0]
    assert [s["Name"] for s in pipeline_steps(pipeline)]


def test_an_existing_vpc_replaces_the_kit_network(repo: Path) -> None:
    stack_file = repo / "infra" / "Pulumi.staging.yaml"
    original = stack_file.read_text()
    stack_file.write_text(
        original
        + "  mlops-kit:existingVpcId: vpc-0123456789abcdef0\n"
        + "  mlops-kit:existingSubnetIds: [subnet-0aaaaaaaaaaaaaaaa, subnet-0bbbbbbbbbbbbbbbb]\n"
        + "  mlops-kit:availabilityZones: [us-east-1a, us-east-1c]\n"
        + "  mlops-kit:existingRouteTableIds: [rtb-0cccccccccccccccc]\n"
    )
    try:
        plan = plan_stack("staging", repo)
    finally:
        stack_file.write_text(original)
    types = {r.type for r in plan.resources}
    assert not types & {"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable"}
    inputs = {r.name: r.inputs for r in plan.resources}
    assert inputs["network-glue-sg"]["vpcId"] == "vpc-0123456789abcdef0"
    assert inputs["network-endpoint-s3"]["routeTableIds"] == ["rtb-0cccccccccccccccc"]
    assert inputs["serving-model"]["vpcConfig"]["subnets"] == ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
    assert inputs["processing-network-us-east-1c"]["physicalConnectionRequirements"]["subnetId"] == (
        "subnet-0bbbbbbbbbbbbbbbb"
    )
    pipeline = json.loads(inputs["training-pipeline"]["pipelineDefinition"])
    bound = {p["Name"]: p.get("DefaultValue") for p in pipeline["Parameters"]}
    assert (bound["SubnetIdA"], bound["SubnetIdB"]) == ("subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb")
    assert [str(v) for v in check_all(plan.resources)] == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_component_and_only_listed_types(plans: dict[str, Plan], stack: str) -> None:
    types = {r.type for r in plans[stack].resources}
    # a stack that hands its gated versions to the next one (promotionTarget) also grants that stack's reads
    promotes = stack in PROMOTION_SOURCES
    expected = COMPONENTS | ({"mlops:promotion:PromotionSource"} if promotes else set())
    assert {t for t in types if t.startswith("mlops:")} == expected
    assert {t for t in types if not t.startswith("mlops:")} <= set(RESOURCE_TYPES)


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_satisfy_the_stack_outputs_contract(plans: dict[str, Plan], stack: str) -> None:
    outputs = parse_outputs(plans[stack].outputs, stack)
    promotion_only = set() if stack in PROMOTION_SOURCES else {"promotion_reader_role_arn"}
    assert set(plans[stack].outputs) == set(StackOutputs.model_fields) - promotion_only
    assert outputs.environment == stack
    assert outputs.raw_bucket == f"mlops-kit-{stack}-raw-123456789012"
    assert outputs.glue_jobs == {
        "build_features": f"mlops-kit-{stack}-build_features",
        "ingest_events": f"mlops-kit-{stack}-ingest_events",
    }
    assert set(outputs.alarm_names) == {
        "endpoint_errors",
        "endpoint_latency",
        "data_quality",
        "data_drift",
        "data_constraints",
        "concept_drift",
        "model_degradation",
    }
    assert outputs.log_groups == {
        "glue": f"/mlops-kit/{stack}/glue",
        "training": f"/mlops-kit/{stack}/training",
        "endpoint": f"/aws/sagemaker/Endpoints/mlops-kit-{stack}-endpoint",
        "monitoring": f"/mlops-kit/{stack}/monitoring",
    }
    assert outputs.metrics_namespace == f"MLOpsKit/{stack}"
    assert outputs.data_capture_prefix == (
        f"s3://mlops-kit-{stack}-monitoring-123456789012/data-capture/mlops-kit-{stack}-endpoint"
    )
    # The program exports what the tracking-server resource returns as its ARN (the local apply returns a URI).
    assert outputs.mlflow_tracking_uri.startswith("arn:aws:sagemaker:us-east-1:123456789012:")


def _resource(plan: Plan, name: str) -> dict[str, Any]:
    return next(r for r in plan.to_json()["resources"] if r["name"] == name)


def test_stack_differences_reach_the_resources(plans: dict[str, Plan]) -> None:
    dev = {r.name: r.inputs for r in plans["dev"].resources}
    prod = {r.name: r.inputs for r in plans["prod"].resources}
    assert dev["streaming-stream"]["streamModeDetails"] == {"streamMode": "ON_DEMAND"}
    assert "shardCount" not in dev["streaming-stream"]
    assert (prod["streaming-stream"]["shardCount"], prod["streaming-stream"]["retentionPeriod"]) == (4.0, 168.0)
    assert prod["processing-job-ingest_events"]["workerType"] == "G.2X"
    assert prod["serving-scaling-target"]["maxCapacity"] == 8.0
    assert prod["monitoring-logs-glue"]["retentionInDays"] == 365.0
    assert prod["network-flow-logs"]["retentionInDays"] == 365.0
    assert prod["streaming-firehose-errors"]["retentionInDays"] == 365.0
    assert dev["processing-schedule-build_features-diabetes"]["schedule"] == "cron(30 4 * * ? *)"
    assert dev["processing-schedule-ingest_events-card_transactions"]["schedule"] == "cron(0 3 * * ? *)"
    assert dev["processing-schedule-ingest_events-diabetes"]["actions"] == [
        {"jobName": "mlops-kit-dev-ingest_events", "arguments": {"--dataset": "diabetes"}}
    ]
    assert "cicd-github-oidc" in dev and "cicd-github-oidc" not in prod


def test_glue_job_uploads_its_script_and_declares_the_kit_wheel(plans: dict[str, Plan], repo: Path) -> None:
    inputs = {r.name: r.inputs for r in plans["dev"].resources}
    script = inputs["processing-script-ingest_events"]
    digest = hashlib.sha256((repo / "jobs" / "ingest_events.py").read_bytes()).hexdigest()
    assert script["key"] == f"glue/scripts/{digest[:16]}/ingest_events.py"
    assert script["bucket"] == "mlops-kit-dev-artifacts-123456789012"
    job = inputs["processing-job-ingest_events"]
    assert job["command"]["scriptLocation"] == f"s3://mlops-kit-dev-artifacts-123456789012/{script['key']}"
    wheel = inputs["processing-kit-wheel"]
    wheel_digest = hashlib.sha256(Path(wheel["source"].path).read_bytes()).hexdigest()
    assert wheel["key"] == f"glue/packages/{wheel_digest[:16]}/mlops_kit-0.1.0-py3-none-any.whl"
    assert job["defaultArguments"]["--extra-py-files"] == f"s3://mlops-kit-dev-artifacts-123456789012/{wheel['key']}"
    assert job["defaultArguments"]["--curated_bucket"] == "mlops-kit-dev-curated-123456789012"
    assert job["defaultArguments"]["--features_bucket"] == "mlops-kit-dev-features-123456789012"
    assert job["defaultArguments"]["--glue_database"] == "mlops_kit_dev"
    assert job["defaultArguments"]["--additional-python-modules"].startswith("deltalake==1.")
    assert "processing-script-_shared" not in inputs


def test_dependencies_follow_resource_outputs(plans: dict[str, Plan]) -> None:
    plan = plans["prod"]
    assert _resource(plan, "serving-endpoint")["dependencies"] == [
        "monitoring-alarm-endpoint-errors",
        "monitoring-alarm-endpoint-latency",
        "serving-endpoint-config",
    ]
    assert _resource(plan, "serving-endpoint")["component"] == "serving"
    assert _resource(plan, "datalake-raw-policy")["dependencies"] == ["datalake-raw", "datalake-raw-public-access"]
    assert "training-pipeline" in _resource(plan, "monitoring-retrain-target")["dependencies"]
    assert _resource(plan, "security")["component"] is None


def test_pipeline_definition_gets_the_stack_values(plans: dict[str, Plan]) -> None:
    pipeline = next(r for r in plans["staging"].resources if r.name == "training-pipeline")
    defaults = {
        p["Name"]: p.get("DefaultValue") for p in json.loads(pipeline.inputs["pipelineDefinition"])["Parameters"]
    }
    assert defaults["ExecutionRoleArn"] == "arn:aws:iam::123456789012:role/mlops-kit-staging-sagemaker-role"
    assert defaults["TrainUri"] == "s3://mlops-kit-staging-features-123456789012/training/train/"


def test_plan_json_is_stable(repo: Path, plans: dict[str, Plan]) -> None:
    assert plan_stack("dev", repo).to_json() == plans["dev"].to_json()


def test_missing_pipeline_definition_names_file_and_command(tmp_path: Path, repo: Path) -> None:
    shutil.copytree(repo / "infra", tmp_path / "infra")
    shutil.copytree(repo / "jobs", tmp_path / "jobs")
    shutil.copytree(repo / "pipelines" / "datasets", tmp_path / "pipelines" / "datasets")
    with pytest.raises(ConfigError, match=r"does not exist: generate it with `mlops train pipeline-definition`"):
        plan_stack("dev", tmp_path)


def test_schedule_for_unknown_job_is_rejected(tmp_path: Path, repo: Path) -> None:
    shutil.copytree(repo, tmp_path / "r")
    (tmp_path / "r/jobs/build_features.py").unlink()
    with pytest.raises(
        ConfigError, match="glueSchedules names jobs without a script: build_features; scripts: ingest_events"
    ):
        plan_stack("dev", tmp_path / "r")
