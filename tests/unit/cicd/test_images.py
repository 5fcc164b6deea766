"""The images as described in the repository: Dockerfiles (pinned base, non-root, SageMaker's entry points and
port), their contexts and tags. Installing and running each image's set is tests/integration/release."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.config import REPO_ROOT
from mlops.cli.main import app
from mlops.release.errors import ReleaseError
from mlops.release.images import IMAGES, ImageSpec, image_spec, image_tag, source_files

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _dockerfile(name: str) -> str:
    return (REPO_ROOT / "docker" / name / "Dockerfile").read_text()


def _final_stage(text: str) -> str:
    return text.rsplit("\nFROM ", 1)[-1]


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_every_base_image_is_pinned_by_digest(name: str) -> None:
    text = _dockerfile(name)
    arguments = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.MULTILINE))
    bases = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert bases
    for base in bases:
        resolved = arguments.get(base.removeprefix("${").removesuffix("}"), base)
        assert DIGEST.search(resolved), f"{name}: FROM {base} is not pinned by digest"


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_the_image_runs_as_a_non_root_user(name: str) -> None:
    users = re.findall(r"^USER (\S+)$", _final_stage(_dockerfile(name)), flags=re.MULTILINE)
    assert users, f"{name}: no USER in the final stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"{name}: USER {users[-1]} must be a numeric non-root uid"


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_the_default_command_is_the_sagemaker_entry_point(name: str) -> None:
    spec = IMAGES[name]
    command = re.findall(r"^CMD (.+)$", _dockerfile(name), flags=re.MULTILINE)[-1]
    assert json.loads(command) == [next(iter(spec.entry_points))]
    for script in spec.entry_points:
        path = REPO_ROOT / "docker" / name / script
        assert os.access(path, os.X_OK), f"{path} must be executable"
        assert f"-m {spec.entry_points[script]}" in path.read_text()


def test_the_serving_image_listens_on_8080() -> None:
    final = _final_stage(_dockerfile("serving"))
    assert re.search(r"^EXPOSE 8080$", final, flags=re.MULTILINE)
    assert "SAGEMAKER_BIND_TO_PORT=8080" in final


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    files = [str(REPO_ROOT / "docker" / name / "Dockerfile") for name in sorted(IMAGES)]
    done = subprocess.run([str(hadolint), *files], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_images_carry_neither_the_local_runtime_nor_the_cli_nor_caches() -> None:
    for spec in IMAGES.values():
        files = source_files(spec, REPO_ROOT)
        assert files and all(f.endswith((".py", ".yaml", ".json")) for f in files), spec.name
        assert not [f for f in files if f.startswith(("mlops/local/", "mlops/cli/", "mlops/release/"))]
        assert not [f for f in files if "__pycache__" in f]
    serving = source_files(IMAGES["serving"], REPO_ROOT)
    assert not [f for f in serving if f.startswith(("pipelines/training/", "jobs/", "infra/", "monitoring/"))]
    training = source_files(IMAGES["training"], REPO_ROOT)
    assert "pipelines/training/entry_point.py" in training
    assert not [f for f in training if f.startswith(("serving/", "jobs/", "infra/"))]


def _copy_repo(spec: ImageSpec, target: Path) -> Path:
    for name in ("pyproject.toml", "uv.lock", f"docker/{spec.name}"):
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        else:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / name)
    for name in source_files(spec, REPO_ROOT):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / name, target / name)
    return target


def test_the_tag_is_a_digest_of_the_context_and_moves_with_any_of_it(tmp_path: Path) -> None:
    spec = IMAGES["serving"]
    repo = _copy_repo(spec, tmp_path)
    first = image_tag(spec, repo)
    assert re.fullmatch(r"ctx-[0-9a-f]{16}", first)
    assert image_tag(spec, repo) == first
    (repo / "__pycache__").mkdir()
    (repo / "serving" / "__pycache__").mkdir(exist_ok=True)
    (repo / "serving" / "__pycache__" / "x.pyc").write_bytes(b"bytecode")
    assert image_tag(spec, repo) == first, "caches are not part of the image"
    for changed in ("serving/app.py", "uv.lock", "docker/serving/serve"):
        original = (repo / changed).read_bytes()
        (repo / changed).write_bytes(original + b"\n")
        assert image_tag(spec, repo) != first, changed
        (repo / changed).write_bytes(original)
    assert image_tag(spec, repo) == first


def test_an_unknown_image_or_a_missing_source_is_named() -> None:
    with pytest.raises(ReleaseError, match="unknown image 'gpu'; images: serving, training"):
        image_spec("gpu")
    broken = ImageSpec(name="serving", extra="serving", sources=("nowhere",), excluded=(), entry_points={})
    with pytest.raises(ReleaseError, match="source 'nowhere' does not exist"):
        source_files(broken, REPO_ROOT)


def test_cli_writes_the_context_the_dockerfile_expects(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["release", "context", "serving", "--out", str(tmp_path / "ctx"), "--json"])
    assert result.exit_code == 0, result.output
    built = json.loads(result.stdout)
    context = Path(built["path"])
    assert built["tag"] == image_tag(IMAGES["serving"], REPO_ROOT)
    assert sorted(p.name for p in context.iterdir()) == ["Dockerfile", "bin", "program", "requirements.txt"]
    assert os.access(context / "bin" / "serve", os.X_OK)
    requirements = (context / "requirements.txt").read_text()
    assert "--hash=sha256:" in requirements
    assert re.search(r"^starlette==", requirements, flags=re.MULTILINE)
    dockerfile = (context / "Dockerfile").read_text()
    for copied in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, flags=re.MULTILINE):
        assert (context / copied).exists(), f"the Dockerfile copies {copied}, absent from the context"
    tag = CliRunner().invoke(app, ["release", "tag", "serving"])
    assert tag.stdout.strip() == built["tag"]
