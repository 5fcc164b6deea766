"""The program ships what it runs: its own ECR repositories and images (URIs into the pipeline's parameters and
the serving model), the kit's wheel and the job scripts under content-addressed keys the Glue jobs name."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from infra.components.images import BUILD_DIR
from infra.config import REPO_ROOT
from infra.guardrails import check_all
from infra.plan import Plan
from mlops.release.images import IMAGES, image_tag
from tests.integration.release.program_support import inputs_of, plan_with, stack_repo

pytestmark = [pytest.mark.pulumi]
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return stack_repo(tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="module")
def dev(repo: Path) -> Plan:
    """dev as a stack whose images CI pushes (the repository's cloud stacks build them: dockerBuild)."""
    return plan_with(repo, "dev", {"dockerBuild": False})


def _parameters(plan: Plan) -> dict[str, str]:
    definition = json.loads(inputs_of(plan)["training-pipeline"]["pipelineDefinition"])
    return {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}


def _pull_resources(plan: Plan) -> list[str]:
    policy = json.loads(inputs_of(plan)["training-sagemaker-policy"]["policy"])
    return next(s["Resource"] for s in policy["Statement"] if s.get("Sid") == "PullImages")


def test_each_image_has_a_scanned_immutable_encrypted_repository_with_a_lifecycle(dev: Plan) -> None:
    inputs = inputs_of(dev)
    resources = {r.name: r for r in dev.resources}
    for image in IMAGES:
        repository = inputs[f"images-{image}"]
        assert repository["name"] == f"mlops-kit-dev/{image}"
        assert repository["imageTagMutability"] == "IMMUTABLE"
        assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository["encryptionConfigurations"][0]["encryptionType"] == "KMS"
        assert resources[f"images-{image}"].references["encryptionConfigurations"] == ["security-key"]
        assert repository["forceDelete"] is True
        rules = json.loads(inputs[f"images-{image}-lifecycle"]["policy"])["rules"]
        assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "tagged"]
        assert rules[1]["selection"] == {
            "tagStatus": "tagged",
            "tagPrefixList": ["ctx-"],
            "countType": "imageCountMoreThan",
            "countNumber": 30,
        }
    assert not [r for r in dev.resources if r.type == "docker-build:index:Image"]


def test_the_stack_runs_its_own_images_under_their_content_tags(dev: Plan) -> None:
    expected = {
        image: f"{REGISTRY}/mlops-kit-dev/{image}:{image_tag(spec, REPO_ROOT)}" for image, spec in IMAGES.items()
    }
    assert dev.outputs["image_uris"] == expected
    parameters = _parameters(dev)
    assert parameters["TrainingImage"] == expected["training"]
    assert parameters["InferenceImage"] == expected["serving"]
    assert inputs_of(dev)["serving-model"]["primaryContainer"]["image"] == expected["serving"]
    assert sorted(_pull_resources(dev)) == [
        "arn:aws:ecr:us-east-1:123456789012:repository/mlops-kit-dev/serving",
        "arn:aws:ecr:us-east-1:123456789012:repository/mlops-kit-dev/training",
    ]


def test_production_keeps_its_images_when_the_stack_goes(repo: Path) -> None:
    prod = plan_with(repo, "prod")
    assert {inputs_of(prod)[f"images-{image}"]["forceDelete"] for image in IMAGES} == {False}


def test_a_docker_build_stack_builds_pushes_and_pins_each_image_by_digest(repo: Path) -> None:
    plan = plan_with(repo, "staging", {"imageRetentionCount": 5})
    builds = {r.name: r for r in plan.resources if r.type == "docker-build:index:Image"}
    assert sorted(builds) == ["images-serving-build", "images-training-build"]
    for image, spec in IMAGES.items():
        build = builds[f"images-{image}-build"]
        tag = image_tag(spec, REPO_ROOT)
        assert build.inputs["tags"] == [f"{REGISTRY}/mlops-kit-staging/{image}:{tag}"]
        assert build.inputs["push"] is True
        assert build.inputs["buildOnPreview"] is False
        assert build.inputs["platforms"] == ["linux/amd64"]
        context = Path(build.inputs["context"]["location"])
        assert context == REPO_ROOT / BUILD_DIR / image / tag
        assert (context / "Dockerfile").read_text() == (REPO_ROOT / "docker" / image / "Dockerfile").read_text()
        assert build.dependencies == [f"images-{image}"]
        assert plan.outputs["image_uris"][image] == f"{REGISTRY}/mlops-kit-staging/{image}@{build.id}"
        lifecycle = json.loads(inputs_of(plan)[f"images-{image}-lifecycle"]["policy"])
        assert lifecycle["rules"][1]["selection"]["countNumber"] == 5
    parameters = _parameters(plan)
    assert parameters["InferenceImage"] == plan.outputs["image_uris"]["serving"]
    assert parameters["TrainingImage"].split("@")[1].startswith("sha256:")
    assert [str(v) for v in check_all(plan.resources)] == []


def test_a_configured_image_uri_replaces_the_own_one_and_is_the_only_one_pulled(repo: Path) -> None:
    external = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    plan = plan_with(repo, "dev", {"trainingImageUri": external, "dockerBuild": False})
    assert _parameters(plan)["TrainingImage"] == external
    assert plan.outputs["image_uris"]["training"] == external
    assert sorted(_pull_resources(plan)) == [
        "arn:aws:ecr:us-east-1:123456789012:repository/mlops-kit-dev/serving",
        "arn:aws:ecr:us-east-1:683313688378:repository/sagemaker-scikit-learn",
    ]


def test_the_wheel_and_scripts_are_uploaded_under_their_content_digests(dev: Plan, repo: Path) -> None:
    inputs = inputs_of(dev)
    wheel = inputs["processing-kit-wheel"]
    body = Path(wheel["source"].path).read_bytes()
    assert body[:2] == b"PK"
    assert wheel["key"] == f"glue/packages/{hashlib.sha256(body).hexdigest()[:16]}/mlops_kit-0.1.0-py3-none-any.whl"
    assert wheel["serverSideEncryption"] == "aws:kms"
    bucket = "mlops-kit-dev-artifacts-123456789012"
    for stem in ("curate", "build_features"):
        script = inputs[f"processing-script-{stem}"]
        digest = hashlib.sha256((repo / "jobs" / f"{stem}.py").read_bytes()).hexdigest()
        assert script["key"] == f"glue/scripts/{digest[:16]}/{stem}.py"
        job = inputs[f"processing-job-{stem}"]
        assert job["command"]["scriptLocation"] == f"s3://{bucket}/{script['key']}"
        assert job["defaultArguments"]["--extra-py-files"] == f"s3://{bucket}/{wheel['key']}"
    curate = next(r for r in dev.resources if r.name == "processing-job-curate")
    assert "processing-kit-wheel" in curate.references["defaultArguments"]
