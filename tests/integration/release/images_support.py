"""An image's runtime without a Docker engine: its build context, its set installed alone in a fresh virtualenv,
and the environment its Dockerfile declares (``ENV`` of the final stage, ``/opt/program`` and ``/opt/venv``
mapped to the context and the virtualenv). What differs from the container is only the OS layer."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mlops.release.images import BuildContext, find_tool

_ENV_PAIR = re.compile(r'(\w+)=("[^"]*"|\S+)')


def dockerfile_env(dockerfile: Path) -> dict[str, str]:
    """``ENV`` values of the Dockerfile's final stage (``KEY=value`` pairs, continuation lines joined)."""
    text = dockerfile.read_text().replace("\\\n", " ")
    final = text.rsplit("\nFROM ", 1)[-1]
    env: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            env.update({key: value.strip('"') for key, value in _ENV_PAIR.findall(line[4:])})
    return env


def site_packages_bytes(venv: Path) -> int:
    """Bytes of the installed distributions (``lib/python*/site-packages``), each file counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for site in venv.glob("lib/python*/site-packages"):
        for root, _, files in os.walk(site):
            for name in files:
                stat = os.lstat(os.path.join(root, name))
                if (stat.st_dev, stat.st_ino) not in seen:
                    seen.add((stat.st_dev, stat.st_ino))
                    total += stat.st_size
    return total


@dataclass(frozen=True)
class ImageRuntime:
    """One image's context and its set installed alone (``venv``); :meth:`env` is its container environment."""

    context: BuildContext
    venv: Path
    install_seconds: float

    @property
    def program(self) -> Path:
        return self.context.path / "program"

    def script(self, name: str) -> Path:
        return self.context.path / "bin" / name

    def env(self, **extra: str) -> dict[str, str]:
        """The Dockerfile's ``ENV`` with the image's paths mapped here, plus ``extra``; nothing else from this
        process leaks in (no PYTHONPATH to the checkout, no site-packages of the test's own virtualenv)."""
        declared = dockerfile_env(self.context.path / "Dockerfile")
        base_path = os.pathsep.join(("/usr/local/bin", "/usr/bin", "/bin"))
        env = {"HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
        for key, value in declared.items():
            mapped = value.replace("/opt/program", str(self.program)).replace("/opt/venv", str(self.venv))
            env[key] = mapped.replace("$PATH", base_path)
        return {**env, **extra}

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        """Run ``code`` with the image's interpreter and environment."""
        return subprocess.run(
            [str(self.venv / "bin" / "python"), "-c", code],
            env=self.env(),
            cwd=self.program,
            capture_output=True,
            text=True,
            timeout=120,
        )


def install_alone(context: BuildContext, venv: Path) -> float:
    """``uv venv`` + ``uv pip install --require-hashes --no-build -r requirements.txt``: the image's set, from
    the lock, with nothing else (as the Dockerfile's ``pip install --require-hashes --only-binary`` does)."""
    import time

    uv = find_tool("uv", "scripts/bootstrap.sh installs it")
    started = time.monotonic()
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, timeout=120)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "--require-hashes",
            "--no-build",
            "-r",
            str(context.path / "requirements.txt"),
        ],
        check=True,
        timeout=600,
        # Without scripts/bootstrap.sh's UV_COMPILE_BYTECODE: compiling every installed file cost ~19 s of the
        # suite's CPU (the images' first imports save ~8 s of it back), and no check here reads a .pyc.
        env={name: value for name, value in os.environ.items() if name != "UV_COMPILE_BYTECODE"},
    )
    return time.monotonic() - started
