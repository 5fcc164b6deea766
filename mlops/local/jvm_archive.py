"""A class data sharing archive of Spark's classes, made once per Spark and Java installation and mapped by every
local Spark JVM the kit starts (a cold job run's, the warm Spark Connect server's).

Why: a local Spark JVM spends most of its start finding, parsing and verifying the thousands of classes Spark
loads from its jars (a cold run's JVM 15.6 CPU-s, the warm server's 18.4, measured on two slow cores). The JDK maps
the classes an archive holds instead (application class data sharing: ``-XX:SharedArchiveFile``; since JDK 13 the
JVM makes such an archive of what a run loaded with ``-XX:ArchiveClassesAtExit``): 8.8 and 11.0 CPU-s there
(``benchmarks/jvm_archive.py``).

- :func:`ensure` makes it (``mlops local up`` before it starts the warm server; the set-up scripts) from a run of
  :mod:`mlops.local.jvm_archive_workload`, which does what the jobs do (Arrow frames, ``mapInArrow`` in Python
  workers, windows, aggregates, joins) in a classic session and, in the same JVM, through Spark Connect;
- it is kept in the user's cache (:func:`mlops.user_cache.cache_dir`), named by pyspark's version and a digest of
  the JDK and of the jars (names, sizes, times): another installation makes an archive of its own. Making one
  removes those of distributions that are gone or were upgraded (:func:`prune`: 190 MB each);
- the JVM checks the archive against its own JDK and class path when it starts and maps nothing when they differ:
  it then loads from the jars as without one (the options turn its CDS log off, so that case prints nothing).
  A JVM started before any archive exists runs as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from mlops.user_cache import cache_dir

LOG_OFF = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off")  # a mismatched archive is ignored silently, not on stdout
WORKLOAD_MODULE = "mlops.local.jvm_archive_workload"
BUILD_TIMEOUT_S = 600.0  # one Spark session's start and a few small jobs; minutes on two busy cores
_KIT_ROOT = Path(__file__).resolve().parents[2]
_TAIL = 20


@dataclass(frozen=True)
class ArchiveOutcome:
    """What :func:`ensure` found or did: the archive (``None``: none to use), whether this call made it, how long
    that took and, when there is none, why."""

    path: Path | None
    made: bool
    seconds: float = 0.0
    detail: str = ""


def java_binary() -> Path | None:
    """The ``java`` Spark's launcher runs: ``$JAVA_HOME/bin/java``, else the first on ``PATH``."""
    java_home = os.environ.get("JAVA_HOME")
    found = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    return Path(found).resolve() if found and Path(found).is_file() else None


def archive_path(home: Path) -> Path | None:
    """Where the archive of the Spark distribution at ``home`` and this JDK lives (``None``: no ``java``)."""
    java = java_binary()
    if java is None:
        return None
    runtime_image = java.parent.parent / "lib" / "modules"  # the JDK's own classes: changes with any JDK update
    key = hashlib.sha256(f"{_files_digest([java, runtime_image])}:{jars_digest(home)}".encode()).hexdigest()
    return cache_dir() / f"spark-{_pyspark_version()}-{key[:16]}.jsa"


def jars_digest(home: Path) -> str:
    """A digest of the jars of the Spark distribution at ``home`` (their paths, sizes and times)."""
    return _files_digest(sorted((home / "jars").glob("*.jar")))


def _files_digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with contextlib.suppress(OSError):
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def java_options(home: Path) -> list[str]:
    """The JVM options that map the archive of ``home``, when it exists; none otherwise."""
    return options_for(archive_path(home))


def options_for(path: Path | None) -> list[str]:
    """The JVM options that map the archive at ``path`` (one :func:`ensure` gave), when it exists; none otherwise."""
    if path is None or not path.is_file() or any(c.isspace() for c in str(path)):
        return []  # (Spark splits --driver-java-options on whitespace: a path with a space would break it)
    return [f"-XX:SharedArchiveFile={path}", *LOG_OFF]


def ensure(home: Path, env: Mapping[str, str], *, timeout_s: float = BUILD_TIMEOUT_S) -> ArchiveOutcome:
    """The archive for ``home``, made now (by a run of the workload with ``env``: the caller's environment for a
    Spark child) unless it exists. Never raises for a failed make: the JVMs then start without it."""
    path = archive_path(home)
    if path is None:
        return ArchiveOutcome(None, False, detail="no java on PATH or JAVA_HOME")
    if path.is_file():
        return ArchiveOutcome(path, False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(path.with_suffix(".lock")) as mine:
            if not mine:
                return ArchiveOutcome(None, False, detail="another process is making it")
            if path.is_file():
                return ArchiveOutcome(path, False)
            return _make(home, path, env, timeout_s)
    except OSError as exc:
        return ArchiveOutcome(None, False, detail=f"cannot write {path.parent}: {exc}")


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[bool]:
    """Whether this process holds ``lock_file``'s lock (held until the block ends; never waits for it)."""
    with lock_file.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make(home: Path, path: Path, env: Mapping[str, str], timeout_s: float) -> ArchiveOutcome:
    """Run the workload with the JVM dumping what it loaded into a staged file, then put that file in place (with
    a note of the Spark distribution it is for) and remove the archives nothing can use any more."""
    started = time.monotonic()
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    scratch = Path(tempfile.mkdtemp(prefix="mlops-jvm-archive-"))
    try:
        result = subprocess.run(
            [sys.executable, "-m", WORKLOAD_MODULE],
            check=False,  # its exit code is read below
            env=workload_env(env, staged, scratch),
            cwd=scratch,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if result.returncode != 0 or not staged.is_file() or staged.stat().st_size == 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-_TAIL:]
            return ArchiveOutcome(None, False, time.monotonic() - started, _failure(result.returncode, tail))
        _sidecar(path).write_text(json.dumps({"spark_home": str(home), "jars": jars_digest(home)}))
        os.replace(staged, path)  # whole or not at all: JVMs starting meanwhile see no archive or this one
        prune(path.parent)
        return ArchiveOutcome(path, True, time.monotonic() - started)
    except subprocess.TimeoutExpired:
        return ArchiveOutcome(None, False, time.monotonic() - started, f"the workload took over {timeout_s:.0f} s")
    finally:
        staged.unlink(missing_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)


def prune(directory: Path) -> list[Path]:
    """Remove the archives (190 MB each) of Spark distributions that are gone or whose jars changed since (an
    upgraded or removed virtualenv), and those without a note of their distribution; the removed archives. An
    archive of another JDK for a distribution still there stays: that JDK may still be in use."""
    removed = []
    for archive in sorted(directory.glob("spark-*.jsa")):
        try:
            note = json.loads(_sidecar(archive).read_text())
            home = Path(note["spark_home"])
            current = (home / "jars").is_dir() and note["jars"] == jars_digest(home)
        except (OSError, ValueError, KeyError, TypeError):
            current = False
        if not current:
            for stale in (archive, _sidecar(archive), archive.with_suffix(".lock")):
                stale.unlink(missing_ok=True)
            removed.append(archive)
    return removed


def _sidecar(archive: Path) -> Path:
    return archive.with_suffix(".json")


def workload_env(env: Mapping[str, str], staged: Path, scratch: Path) -> dict[str, str]:
    """The workload's environment: its JVM dumps the classes it loaded to ``staged`` when it exits, its temporary
    files in ``scratch``; its Python workers run this interpreter with the kit importable."""
    options = [f"-XX:ArchiveClassesAtExit={staged}", *LOG_OFF, f"-Djava.io.tmpdir={scratch}"]
    return {
        **env,
        "PYSPARK_SUBMIT_ARGS": f"--driver-java-options {shlex.quote(' '.join(options))} pyspark-shell",
        "SPARK_LOCAL_DIRS": str(scratch),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join(p for p in (str(_KIT_ROOT), env.get("PYTHONPATH", "")) if p),
    }


def _failure(code: int, tail: list[str]) -> str:
    last = "\n".join(tail) or "(no output)"
    return f"the workload exited with {code} or left no archive; its last lines:\n{last}"


def _pyspark_version() -> str:
    return importlib.metadata.version("pyspark")


def main() -> int:
    """``python -m mlops.local.jvm_archive``: make the archive for the installed pyspark unless it exists (the
    set-up scripts run it). Exits 0 either way: without an archive every JVM still starts, only slower."""
    from mlops.local import spark_connect

    outcome = ensure(spark_connect.spark_home(), spark_connect.inherited_env())
    if outcome.made:
        print(f"Spark class archive made in {outcome.seconds:.0f} s: {outcome.path}")
    elif outcome.path is not None:
        print(f"Spark class archive: {outcome.path}")
    else:
        print(f"no Spark class archive (local Spark JVMs start without one): {outcome.detail}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
