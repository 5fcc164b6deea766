"""The kit's two container images, what each carries, and the build context each is built from.

An image is described once, here: its dependency set (an extra of ``pyproject.toml``, exported from ``uv.lock``
with hashes), the kit's source directories it needs, and its SageMaker entry scripts (``docker/<image>/``). The
build context holds exactly that plus ``docker/<image>/Dockerfile``:

- ``training``: the pipeline's training step (``train``: the SageMaker training contract) and its processing steps
  (``python3 -m pipelines.training.<step>``), with scikit-learn, MLflow and delta-rs;
- ``serving``: the inference server (``serve``: SageMaker hosting, port 8080, the model under ``/opt/ml/model``),
  without Spark, Pulumi, Great Expectations or any training code.

The tag of an image is a digest of everything its context is made of (``ctx-<16 hex>``), so the program, CI
and the ECR lifecycle agree on it without a registry round trip, and an immutable tag is never pushed twice with
different content. The test suite builds each context, installs its requirements alone in a fresh virtualenv
and runs its entry point on the ``/opt/ml`` layout.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlops.release.errors import ReleaseError, ToolNotFoundError

DOCKER_DIR = "docker"
LOCK_FILES = ("pyproject.toml", "uv.lock")
SKIPPED_PARTS = ("__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache")
SKIPPED_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class ImageSpec:
    """One image: its dependency set, the kit's code it carries and its entry scripts.

    ``sources`` are repository paths copied under ``program/`` (directories recursively), minus ``excluded``;
    ``entry_points`` maps each script of ``docker/<name>/`` (installed on ``PATH``) to the module it runs.
    """

    name: str
    extra: str
    sources: tuple[str, ...]
    excluded: tuple[str, ...]
    entry_points: Mapping[str, str]
    forbidden_packages: tuple[str, ...] = field(default=())
    """Distributions that must not be in the image's set (checked by the tests against the exported set)."""

    @property
    def docker_dir(self) -> str:
        return f"{DOCKER_DIR}/{self.name}"


_LOCAL_ONLY = ("mlops/local", "mlops/cli", "mlops/release")
"""The local runtime, the CLI and this release tooling: never in an image (the images run behind SageMaker)."""

IMAGES: dict[str, ImageSpec] = {
    "training": ImageSpec(
        name="training",
        extra="training",
        sources=(
            "mlops",
            "pipelines/__init__.py",
            "pipelines/training",
            "pipelines/feature_store",
            "pipelines/datasets",
            "monitoring/__init__.py",  # Evaluate writes the drift-check baseline (monitoring.baseline)
            "monitoring/drift.py",
            "monitoring/baseline.py",
            "monitoring/modelmonitor",
        ),
        excluded=_LOCAL_ONLY,
        entry_points={"train": "pipelines.training.entry_point"},
        forbidden_packages=("pyspark", "pulumi", "pulumi-aws", "great-expectations", "moto", "localstack-client"),
    ),
    "serving": ImageSpec(
        name="serving",
        extra="serving",
        sources=("mlops", "serving", "pipelines/__init__.py", "pipelines/datasets"),
        excluded=_LOCAL_ONLY,
        entry_points={"serve": "serving"},
        forbidden_packages=(
            "pyspark",
            "pulumi",
            "pulumi-aws",
            "great-expectations",
            "moto",
            "mlflow",
            "deltalake",
            "sagemaker",
        ),
    ),
}
"""The kit's images by name (also the ECR repository suffix: ``<project>-<env>/<name>``)."""


def image_spec(name: str) -> ImageSpec:
    """The spec of image ``name``; an unknown name lists the known ones."""
    try:
        return IMAGES[name]
    except KeyError:
        raise ReleaseError(f"unknown image {name!r}; images: {', '.join(sorted(IMAGES))}") from None


def find_tool(tool: str, hint: str) -> str:
    """Path of an external tool: ``PATH`` first, then ``~/.local/bin`` (where ``scripts/bootstrap.sh`` puts uv)."""
    found = shutil.which(tool) or shutil.which(tool, path=str(Path.home() / ".local" / "bin"))
    if found is None:
        raise ToolNotFoundError(tool, hint)
    return found


def export_requirements(spec: ImageSpec, repo_root: Path) -> str:
    """The image's dependency set, pinned with hashes from ``uv.lock`` (``uv export --frozen``): the core
    dependencies and the image's extra, without the dev tools, the other sets or the project itself."""
    uv = find_tool("uv", "install it with `pip install uv` (scripts/bootstrap.sh does)")
    command = [
        uv,
        "export",
        "--frozen",
        "--format",
        "requirements.txt",
        "--no-default-groups",
        "--extra",
        spec.extra,
        "--no-emit-project",
        "--no-header",
        "--no-annotate",
    ]
    done = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ReleaseError(f"image {spec.name}: `uv export --extra {spec.extra}` failed: {done.stderr.strip()}")
    return done.stdout


def requirement_names(requirements: str) -> set[str]:
    """Distribution names of an exported requirements file (normalised: lowercase, ``-`` for ``_``/``.``)."""
    names = set()
    for line in requirements.splitlines():
        text = line.strip()
        if not text or text.startswith(("#", "--")):
            continue
        name = text.split("==", 1)[0].split(";", 1)[0].strip()
        names.add(name.lower().replace("_", "-").replace(".", "-"))
    return names


def is_cache(path: Path) -> bool:
    """Whether a repository-relative path is a cache or bytecode (never shipped, never part of a digest)."""
    return any(part in SKIPPED_PARTS for part in path.parts) or path.suffix in SKIPPED_SUFFIXES


def source_files(spec: ImageSpec, repo_root: Path) -> list[str]:
    """Repository-relative paths of the kit's files the image carries, sorted (caches and bytecode left out)."""
    found: set[str] = set()
    for source in spec.sources:
        path = repo_root / source
        if path.is_file():
            found.add(source)
            continue
        if not path.is_dir():
            raise ReleaseError(f"image {spec.name}: source {source!r} does not exist under {repo_root}")
        for file in path.rglob("*"):
            relative = file.relative_to(repo_root)
            if file.is_file() and not is_cache(relative):
                found.add(relative.as_posix())
    return sorted(f for f in found if not any(f == e or f.startswith(f"{e}/") for e in spec.excluded))


def docker_files(spec: ImageSpec, repo_root: Path) -> list[str]:
    """The Dockerfile and entry scripts of the image (``docker/<name>/``); a missing one names itself."""
    files = [f"{spec.docker_dir}/Dockerfile", *(f"{spec.docker_dir}/{script}" for script in sorted(spec.entry_points))]
    missing = [f for f in files if not (repo_root / f).is_file()]
    if missing:
        raise ReleaseError(f"image {spec.name}: missing {', '.join(missing)}")
    return files


def _digest_inputs(spec: ImageSpec, repo_root: Path) -> Iterator[tuple[str, bytes]]:
    yield "extra", spec.extra.encode()
    for name in (*LOCK_FILES, *docker_files(spec, repo_root), *source_files(spec, repo_root)):
        yield name, (repo_root / name).read_bytes()


def context_digest(spec: ImageSpec, repo_root: Path) -> str:
    """SHA-256 of everything the image's context is made of: the lock (hence its requirements), its Dockerfile
    and scripts, and its source files (names and contents)."""
    digest = hashlib.sha256()
    for name, content in _digest_inputs(spec, repo_root):
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def image_tag(spec: ImageSpec, repo_root: Path) -> str:
    """The image's immutable tag: ``ctx-`` and 16 hex digits of :func:`context_digest`."""
    return f"ctx-{context_digest(spec, repo_root)[:16]}"


@dataclass(frozen=True)
class BuildContext:
    """A built context directory: ``docker build <path>`` builds the image tagged :attr:`tag`."""

    image: str
    path: Path
    tag: str
    requirements: int
    files: int


def build_context(spec: ImageSpec, repo_root: Path, out: Path) -> BuildContext:
    """Write the image's build context to ``out`` (replaced if it exists)::

    Dockerfile          docker/<name>/Dockerfile
    requirements.txt    the image's set, pinned with hashes (pip --require-hashes)
    program/...         the kit's sources the image carries (its PYTHONPATH)
    bin/<script>        the entry scripts (train / serve), executable
    """
    requirements = export_requirements(spec, repo_root)
    sources = source_files(spec, repo_root)
    scripts = docker_files(spec, repo_root)[1:]
    if out.exists():
        shutil.rmtree(out)
    (out / "program").mkdir(parents=True)
    (out / "bin").mkdir()
    shutil.copyfile(repo_root / spec.docker_dir / "Dockerfile", out / "Dockerfile")
    (out / "requirements.txt").write_text(requirements)
    for name in sources:
        target = out / "program" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(repo_root / name, target)
    for script in scripts:
        target = out / "bin" / Path(script).name
        shutil.copyfile(repo_root / script, target)
        os.chmod(target, 0o755)
    return BuildContext(
        image=spec.name,
        path=out,
        tag=image_tag(spec, repo_root),
        requirements=len(requirement_names(requirements)),
        files=len(sources) + len(scripts) + 2,
    )
