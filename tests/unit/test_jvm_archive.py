"""The Spark class archive's name, options and making, without a JVM (tests/support/fake_archive_workload.py
stands in for the workload; tests/integration/jobs/test_jvm_archive.py makes and maps the real one)."""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from mlops.local import jvm_archive, spark_connect
from mlops.local.job_process import COLD_JVM_OPTIONS, jvm_scratch_env

FAKE = "tests.support.fake_archive_workload"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Spark distribution of two jars, a JDK of its own and an empty user cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\n")
    (tmp_path / "jdk" / "lib").mkdir()
    (tmp_path / "jdk" / "lib" / "modules").write_text("jdk classes")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    spark = tmp_path / "spark"
    (spark / "jars").mkdir(parents=True)
    for jar in ("spark-core.jar", "spark-sql.jar"):
        (spark / "jars" / jar).write_text(jar)
    return spark


def _made(path: Path | None) -> Path:
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("archive")
    return path


def test_without_an_archive_a_jvm_gets_no_option(home: Path) -> None:
    assert jvm_archive.java_options(home) == []


def test_an_archive_is_mapped_with_the_jvms_cds_log_off(home: Path) -> None:
    path = _made(jvm_archive.archive_path(home))
    assert path.parent == Path(os.environ["XDG_CACHE_HOME"]) / "mlops-kit"
    assert jvm_archive.java_options(home) == [f"-XX:SharedArchiveFile={path}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]


def test_another_jar_or_jdk_names_another_archive(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = jvm_archive.archive_path(home)
    (home / "jars" / "spark-sql.jar").write_text("spark-sql, a newer build")
    second = jvm_archive.archive_path(home)
    (tmp_path / "jdk" / "lib" / "modules").write_text("an updated JDK's classes")
    third = jvm_archive.archive_path(home)
    assert len({first, second, third}) == 3


def test_no_java_no_archive(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(home))  # no java on it
    assert jvm_archive.archive_path(home) is None
    assert jvm_archive.java_options(home) == []
    assert jvm_archive.ensure(home, os.environ).detail == "no java on PATH or JAVA_HOME"


def test_the_workloads_archive_is_put_in_place_whole(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jvm_archive, "WORKLOAD_MODULE", FAKE)
    outcome = jvm_archive.ensure(home, {**os.environ, "FAKE_ARCHIVE_BYTES": "classes"})
    path = outcome.path
    assert outcome.made and path is not None and path == jvm_archive.archive_path(home)
    assert path.read_text() == "classes"
    kept = sorted(p.name for p in path.parent.iterdir())
    assert kept == sorted(path.with_suffix(s).name for s in (".jsa", ".json", ".lock")), "no staged file left"
    note = json.loads(path.with_suffix(".json").read_text())
    assert note == {"spark_home": str(home), "jars": jvm_archive.jars_digest(home)}
    again = jvm_archive.ensure(home, {**os.environ, "FAKE_ARCHIVE_BYTES": "other"})
    assert (again.path, again.made) == (path, False) and path.read_text() == "classes"


@pytest.mark.parametrize(
    ("exit_code", "content"), [(3, "classes"), (0, None), (0, "")], ids=["failed", "no-archive", "empty-archive"]
)
def test_a_failed_workload_leaves_no_archive_and_says_why(
    home: Path, monkeypatch: pytest.MonkeyPatch, exit_code: int, content: str | None
) -> None:
    monkeypatch.setattr(jvm_archive, "WORKLOAD_MODULE", FAKE)
    env = {**os.environ, "FAKE_ARCHIVE_EXIT": str(exit_code)}
    if content is not None:
        env["FAKE_ARCHIVE_BYTES"] = content
    outcome = jvm_archive.ensure(home, env)
    assert outcome.path is None and not outcome.made
    assert f"exited with {exit_code}" in outcome.detail and "fake workload ran" in outcome.detail
    path = jvm_archive.archive_path(home)
    assert path is not None and [p.name for p in path.parent.iterdir()] == [path.with_suffix(".lock").name]
    assert jvm_archive.java_options(home) == []


def test_a_workload_over_its_time_is_stopped(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jvm_archive, "WORKLOAD_MODULE", "this_module_sleeps")
    monkeypatch.setattr(subprocess, "run", _times_out)
    outcome = jvm_archive.ensure(home, os.environ, timeout_s=5)
    assert outcome.path is None and outcome.detail == "the workload took over 5 s"


def _times_out(*args: object, **kwargs: object) -> None:
    raise subprocess.TimeoutExpired(cmd="workload", timeout=5)


def test_while_another_process_makes_it_nothing_waits_or_runs(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jvm_archive, "WORKLOAD_MODULE", "a_workload_that_must_not_run")
    path = jvm_archive.archive_path(home)
    assert path is not None
    path.parent.mkdir(parents=True)
    with path.with_suffix(".lock").open("a") as other:  # flock: another open file holds it, as another process
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        outcome = jvm_archive.ensure(home, os.environ)
    assert (outcome.path, outcome.made, outcome.detail) == (None, False, "another process is making it")


def test_an_unwritable_cache_is_said_not_raised(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    outcome = jvm_archive.ensure(home, os.environ)
    assert outcome.path is None and outcome.detail.startswith("cannot write")


def test_the_workload_dumps_into_the_staged_file_with_its_scratch_and_the_kit(tmp_path: Path) -> None:
    env = jvm_archive.workload_env({"PYTHONPATH": "/theirs"}, tmp_path / ".a.tmp", tmp_path / "scratch")
    java = shlex.split(env["PYSPARK_SUBMIT_ARGS"])[1].split()
    assert java == [
        f"-XX:ArchiveClassesAtExit={tmp_path / '.a.tmp'}",
        "-Xlog:cds=off",
        "-Xlog:cds+dynamic=off",
        f"-Djava.io.tmpdir={tmp_path / 'scratch'}",
    ]
    assert env["PYTHONPATH"].split(os.pathsep) == [str(jvm_archive._KIT_ROOT), "/theirs"]


def test_cold_runs_map_the_archive_once_made_unless_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    home = spark_connect.spark_home()
    before = shlex.split(jvm_scratch_env(tmp_path)["PYSPARK_SUBMIT_ARGS"])[1].split()
    assert before == [f"-Djava.io.tmpdir={tmp_path / 'jvm-tmp'}", *COLD_JVM_OPTIONS]
    _made(jvm_archive.archive_path(home))
    cold = shlex.split(jvm_scratch_env(tmp_path)["PYSPARK_SUBMIT_ARGS"])[1].split()
    assert cold == [*before, *jvm_archive.java_options(home)] and len(cold) == len(before) + 3
    assert shlex.split(jvm_scratch_env(tmp_path, class_archive=False)["PYSPARK_SUBMIT_ARGS"])[1].split() == before
    server = spark_connect.server_command(home, 15002, "1g", 2, tmp_path / "tmp", java_options=["-Xa"])
    options = server[server.index("--driver-java-options") + 1].split()
    assert options == [f"-Djava.io.tmpdir={tmp_path / 'tmp'}", *spark_connect.server_jvm_options("1g", True), "-Xa"]


def _archive_of(directory: Path, name: str, home: Path | None, jars: str | None = None) -> Path:
    archive = directory / f"spark-4.3.0-{name}.jsa"
    archive.write_text("classes")
    if home is not None:
        note = {"spark_home": str(home), "jars": jars or jvm_archive.jars_digest(home)}
        archive.with_suffix(".json").write_text(json.dumps(note))
    return archive


def test_making_an_archive_removes_those_nothing_can_use_any_more(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "mlops-kit"
    cache.mkdir(parents=True)
    removed_venv = tmp_path / "a-removed-venv" / "pyspark"
    stale = {
        _archive_of(cache, "gone", removed_venv),
        _archive_of(cache, "upgraded", home, jars="the digest of the jars before an upgrade"),
        _archive_of(cache, "unnoted", None),
    }
    other_jdk = _archive_of(cache, "another-jdk", home)  # same distribution, still there: that JDK may be in use
    monkeypatch.setattr(jvm_archive, "WORKLOAD_MODULE", FAKE)
    made = jvm_archive.ensure(home, {**os.environ, "FAKE_ARCHIVE_BYTES": "classes"})
    assert made.made and made.path is not None
    assert {p for p in cache.glob("*.jsa")} == {made.path, other_jdk}
    assert not any(a.with_suffix(".json").exists() for a in stale)
    assert jvm_archive.prune(cache) == [], "what is left is in use"


class _Started(Exception):
    """Raised by the stand-in for ``Popen``: the server's command was built."""


def test_the_server_maps_the_archive_ensure_gave_without_digesting_the_jars_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _made(tmp_path / "cache" / "spark.jsa")
    monkeypatch.setattr(jvm_archive, "ensure", lambda home, env: jvm_archive.ArchiveOutcome(archive, made=False))

    def digest_again(home: Path) -> Path:
        raise AssertionError("the archive's name was computed again (~280 jar stats)")

    def popen(command: list[str], **kwargs: object) -> None:
        options = command[command.index("--driver-java-options") + 1].split()
        assert f"-XX:SharedArchiveFile={archive}" in options
        raise _Started

    monkeypatch.setattr(jvm_archive, "archive_path", digest_again)
    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(spark_connect, "_warm_workers_up", lambda *args: None)
    with pytest.raises(_Started):
        spark_connect.up(tmp_path / "spark")
    assert jvm_archive.options_for(None) == [] and jvm_archive.options_for(tmp_path / "absent.jsa") == []
