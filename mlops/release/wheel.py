"""The kit's wheel, as the Glue jobs import it (``--extra-py-files``): built by ``uv build`` (hatchling, whose
wheels are reproducible), once per state of its sources.

The program uploads it under a key holding its content digest, so a job never reads a half-replaced wheel and
an unchanged kit is not uploaded again. Built wheels are kept under ``.mlops/build/wheels/<sources digest>/``:
planning or applying a stack again with the same sources reuses the file instead of building it again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlops.release.errors import ReleaseError
from mlops.release.images import find_tool, is_cache

BUILD_DIR = Path(".mlops") / "build" / "wheels"
KEEP_BUILDS = 5
"""Builds kept besides the newest (older states of the sources are pruned)."""


@dataclass(frozen=True)
class Wheel:
    """A built wheel: its file and the SHA-256 of its bytes (what its artifacts key is named after)."""

    path: Path
    sha256: str

    @property
    def file_name(self) -> str:
        return self.path.name


def _packages(repo_root: Path) -> list[str]:
    """The packages the wheel carries (``[tool.hatch.build.targets.wheel] packages``)."""
    import tomllib

    document = tomllib.loads((repo_root / "pyproject.toml").read_text())
    packages = document.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {})
    names = packages.get("packages") if isinstance(packages, dict) else None
    if not isinstance(names, list) or not names:
        raise ReleaseError(f"{repo_root / 'pyproject.toml'}: [tool.hatch.build.targets.wheel] lists no packages")
    return [str(name) for name in names]


def sources_digest(repo_root: Path) -> str:
    """SHA-256 of the wheel's inputs: ``pyproject.toml`` and every file of its packages (caches left out)."""
    digest = hashlib.sha256()
    files = [repo_root / "pyproject.toml"]
    for package in _packages(repo_root):
        for path in sorted((repo_root / package).rglob("*")):
            if path.is_file() and not is_cache(path.relative_to(repo_root)):
                files.append(path)
    for path in files:
        content = path.read_bytes()
        digest.update(f"{path.relative_to(repo_root).as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def kit_wheel(repo_root: Path, build_root: Path | None = None) -> Wheel:
    """The wheel of the kit at ``repo_root``, built now unless a build of the same sources is kept."""
    target = (build_root or repo_root.resolve() / BUILD_DIR) / sources_digest(repo_root)[:32]
    kept = sorted(target.glob("*.whl")) if target.is_dir() else []
    if len(kept) == 1:
        return Wheel(kept[0], _file_digest(kept[0]))
    uv = find_tool("uv", "the program builds the kit's wheel with `uv build`; install uv (scripts/bootstrap.sh)")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="wheel-", dir=target.parent))
    try:
        done = subprocess.run(
            [uv, "build", "--wheel", "--out-dir", str(scratch), str(repo_root)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "SOURCE_DATE_EPOCH": "315532800"},
        )
        built = sorted(scratch.glob("*.whl"))
        if done.returncode != 0 or len(built) != 1:
            raise ReleaseError(f"building the kit's wheel from {repo_root} failed: {done.stderr.strip()[-2000:]}")
        if target.exists():  # another process built the same sources meanwhile: keep its file
            shutil.rmtree(scratch)
        else:
            scratch.rename(target)
    finally:
        if scratch.exists() and scratch != target:
            shutil.rmtree(scratch, ignore_errors=True)
    _prune(target.parent, keep=target)
    wheel = next(target.glob("*.whl"))
    return Wheel(wheel, _file_digest(wheel))


def _prune(builds: Path, keep: Path) -> None:
    """Remove all but the :data:`KEEP_BUILDS` most recent builds (and never ``keep``)."""
    kept = sorted((d for d in builds.iterdir() if d.is_dir() and d != keep), key=lambda d: d.stat().st_mtime)
    for old in kept[: max(len(kept) - KEEP_BUILDS, 0)]:
        shutil.rmtree(old, ignore_errors=True)
