"""The warm Spark Connect server's lifecycle pieces that need no JVM: command, environment, state, choice."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mlops.local import spark_connect
from mlops.local.glue_runner import warm_spark_env
from mlops.settings import load_settings


def _state(pid: int, port: int) -> spark_connect.SparkConnectState:
    return spark_connect.SparkConnectState(pid, "127.0.0.1", port, "secret-token", "1g", 2, time.time())


def test_the_server_listens_on_loopback_on_its_port_with_bounded_memory() -> None:
    command = spark_connect.server_command(Path("/opt/spark"), 15002, "768m", 2)
    assert command[0] == "/opt/spark/bin/spark-submit"
    assert command[-1] == str(spark_connect.DRIVER_PROGRAM)  # its session starts the Connect service
    assert f"spark.plugins={spark_connect.CONNECT_PLUGIN}" in command
    joined = " ".join(command)
    assert "--master local[2]" in joined
    assert "--driver-memory 768m" in joined
    assert "spark.connect.grpc.binding.address=127.0.0.1" in command
    assert "spark.connect.grpc.binding.port=15002" in command
    assert "spark.ui.enabled=false" in command
    assert "spark.python.daemon.module=mlops.local.spark_daemon" in command  # its workers fork warm
    assert "secret" not in joined  # the token never goes on a command line (ps shows it to every user)


def test_the_servers_temporary_files_go_where_it_is_told() -> None:
    command = spark_connect.server_command(Path("/opt/spark"), 15002, "768m", 2, Path("/state/spark/tmp"))
    java = command[command.index("--driver-java-options") + 1].split()
    assert java == ["-Djava.io.tmpdir=/state/spark/tmp", "-XX:+UseSerialGC", spark_connect.QUICK_COMPILER_OPTION]
    assert "spark.local.dir=/state/spark/tmp" in command


def test_job_runs_share_compiled_code_no_session_gets_a_class_loader_of_its_own() -> None:
    command = spark_connect.server_command(Path("/opt/spark"), 15002, "1g", 2)
    assert "spark.sql.artifact.isolation.enabled=false" in command
    assert "spark.sql.artifact.isolation.alwaysApplyClassloader=false" in command
    assert "--class" not in command  # SparkConnectServer's main would force both on


def test_the_server_workers_run_this_venv_with_the_kit_importable_and_no_caller_aws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone-elses")
    monkeypatch.setenv("MLOPS_TARGET", "aws")
    env = spark_connect.server_env(Path("/opt/spark"), "tok")
    assert env["PYSPARK_PYTHON"] == sys.executable
    assert env[spark_connect.TOKEN_ENV] == "tok"
    assert str(Path(spark_connect.__file__).resolve().parents[2]) in env["PYTHONPATH"].split(os.pathsep)
    assert "AWS_PROFILE" not in env and "MLOPS_TARGET" not in env


def test_a_caller_with_a_spark_connect_session_of_its_own_passes_no_client_mode_to_jobs_or_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pyspark marks a process that opened a Spark Connect session in its environment; a cold job started from it
    then failed at its classic session ("define the remote URL by setting either the 'spark.remote' option")."""
    from mlops.local.job_process import job_environment

    monkeypatch.setenv("SPARK_CONNECT_MODE_ENABLED", "1")
    monkeypatch.setenv("SPARK_REMOTE", "sc://localhost:15002")
    monkeypatch.setenv("SPARK_LOCAL_REMOTE", "1")
    job = job_environment({}, master="local[1]")
    server = spark_connect.server_env(Path("/opt/spark"), "tok")
    for env in (job, server):
        assert not set(spark_connect.CLIENT_MODE_ENV) & set(env), env
    assert job["MLOPS_SPARK_MASTER"] == "local[1]"


def test_the_state_file_is_private_and_round_trips(tmp_path: Path) -> None:
    state = _state(12345, 15002)
    spark_connect._write_state(tmp_path, state)
    assert spark_connect.read_state(tmp_path) == state
    assert stat.S_IMODE((tmp_path / spark_connect.STATEFILE).stat().st_mode) == 0o600  # it holds the token
    assert state.remote_url == "sc://localhost:15002"
    assert spark_connect.client_env(state) == {
        spark_connect.REMOTE_ENV: "sc://localhost:15002",
        spark_connect.TOKEN_ENV: "secret-token",
    }


def test_a_record_whose_process_is_gone_is_stale_and_down_only_clears_it(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    spark_connect._write_state(tmp_path, _state(gone.pid, 15002))
    current = spark_connect.status(tmp_path)
    assert current.health == "stale"
    assert f"pid {gone.pid}" in current.detail
    assert spark_connect.running_state(tmp_path) is None
    assert spark_connect.down(tmp_path).health == "stale"
    assert spark_connect.read_state(tmp_path) is None


def test_a_live_process_that_is_not_the_server_is_never_stopped(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        spark_connect._write_state(tmp_path, _state(other.pid, 15002))  # a reused pid
        spark_connect.down(tmp_path)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_a_corrupt_record_names_its_file(tmp_path: Path) -> None:
    (tmp_path / spark_connect.STATEFILE).write_text("{not json")
    with pytest.raises(spark_connect.SparkConnectError, match=r"state\.json is corrupt"):
        spark_connect.read_state(tmp_path)


def test_turned_off_the_local_platform_stops_its_server_and_starts_none(tmp_path: Path) -> None:
    off = load_settings(local_spark={"enabled": False}).local_spark
    assert spark_connect.up_for(tmp_path, off) is None
    assert not spark_connect.spark_dir(tmp_path).joinpath(spark_connect.STATEFILE).exists()


def test_the_server_compiles_with_the_quick_compiler_only_unless_told_otherwise() -> None:
    def java(quick_compiler: bool = True) -> list[str]:
        command = spark_connect.server_command(Path("/opt/spark"), 15002, "1g", 2, quick_compiler=quick_compiler)
        return command[command.index("--driver-java-options") + 1].split()

    assert java() == ["-XX:+UseSerialGC", spark_connect.QUICK_COMPILER_OPTION]
    assert java(quick_compiler=False) == ["-XX:+UseSerialGC"]  # the collector's choice stands either way


@pytest.mark.parametrize("quick", [None, False])
def test_the_local_platform_starts_its_server_with_the_compiler_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quick: bool | None
) -> None:
    started: list[dict[str, object]] = []

    def up(_directory: Path, **options: object) -> tuple[None, bool]:
        started.append(options)
        return None, True

    monkeypatch.setattr(spark_connect, "up", up)
    chosen = {} if quick is None else {"quick_compiler": quick}
    spark_connect.up_for(tmp_path, load_settings(local_spark={"enabled": True, **chosen}).local_spark)
    assert started[0]["quick_compiler"] is (quick is None), "on unless turned off"


def test_the_memory_setting_is_checked() -> None:
    from mlops.errors import ConfigError

    with pytest.raises(ConfigError, match=r"local_spark\.driver_memory"):
        load_settings(local_spark={"driver_memory": "lots"})


def test_job_runs_use_the_warm_server_only_when_one_runs_and_it_is_on(tmp_path: Path) -> None:
    from mlops.wiring import client_factory

    on = load_settings(target="moto", state_dir=tmp_path, endpoint_url="http://127.0.0.1:1", local_spark={})
    assert on.local_spark.enabled is False  # the suite's default (tests/conftest.py): no test's `up` starts a JVM
    clients = client_factory(on.model_copy(update={"local_spark": on.local_spark.model_copy(update={"enabled": True})}))
    assert warm_spark_env(clients) == {}  # on, but nothing recorded: the job starts its own JVM
    off = client_factory(
        load_settings(
            target="moto", state_dir=tmp_path, endpoint_url="http://127.0.0.1:1", local_spark={"enabled": False}
        )
    )
    assert warm_spark_env(off) == {}


def _fake_server(port: int, program: str = str(spark_connect.DRIVER_PROGRAM)) -> subprocess.Popen[bytes]:
    """A process whose command line reads as the recorded server's (the pid check looks at nothing else)."""
    argv = [sys.executable, "-c", "import time; time.sleep(60)", program]
    return subprocess.Popen([*argv, f"spark.connect.grpc.binding.port={port}"], start_new_session=True)


def test_a_server_an_earlier_version_started_with_its_main_class_is_still_recognised_and_stopped(
    tmp_path: Path,
) -> None:
    server = _fake_server(15005, program=spark_connect.SERVER_CLASS)
    try:
        directory = spark_connect.spark_dir(tmp_path)
        spark_connect._write_state(directory, _state(server.pid, 15005))
        assert spark_connect._is_our_server(_state(server.pid, 15005))
        spark_connect.down(directory)
        assert server.wait(timeout=15) is not None
    finally:
        server.kill()
        server.wait()


def test_stopping_the_emulator_stops_the_platforms_spark_server_too(tmp_path: Path) -> None:
    from mlops.local import emulator

    server = _fake_server(15003)
    try:
        spark_connect._write_state(spark_connect.spark_dir(tmp_path), _state(server.pid, 15003))
        before = spark_connect.status(spark_connect.spark_dir(tmp_path))
        emulator.down(tmp_path / "emulator")  # no emulator recorded: only the Spark server is there to stop
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            seen = psutil.Process(server.pid)
            pytest.fail(f"still running after down: {seen.cmdline()} ({seen.status()}); status before: {before}")
        assert spark_connect.read_state(spark_connect.spark_dir(tmp_path)) is None
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize(
    ("heap", "serial"), [("512m", True), ("1g", True), ("2048m", True), ("2g", True), ("3g", False), ("4096M", False)]
)
def test_a_small_servers_heap_gets_the_serial_collector_a_large_one_keeps_g1(heap: str, serial: bool) -> None:
    command = spark_connect.server_command(Path("/opt/spark"), 15002, heap, 2)
    java = command[command.index("--driver-java-options") + 1].split() if "--driver-java-options" in command else []
    assert ("-XX:+UseSerialGC" in java) is serial
