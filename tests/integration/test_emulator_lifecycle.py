"""The embedded emulator's lifecycle: start, reuse, stop, stale records and port clashes (real processes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mlops.adapters.aws.clients import ClientFactory
from mlops.errors import EmulatorError, StalePidfileError
from mlops.local import emulator
from mlops.local.state import EmulatorState, read_state, write_state
from mlops.settings import load_settings

pytestmark = pytest.mark.emulator


@pytest.fixture
def emulator_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "emulator"
    try:
        yield directory
    finally:
        emulator.down(directory)


@pytest.fixture
def listener() -> Iterator[int]:
    """A plain TCP listener that is not moto, on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_up_starts_a_moto_server_out_of_process_and_records_it(emulator_dir: Path) -> None:
    state, started = emulator.up(emulator_dir)
    assert started
    assert state.pid != os.getpid()
    assert psutil.Process(state.pid).cmdline()[1:3] == ["-m", emulator.SERVER_MODULE]  # moto with the kit's fixes
    assert read_state(emulator_dir) == state
    assert (emulator_dir / "moto.pid").read_text().strip() == str(state.pid)
    assert emulator.answers_as_moto(state.endpoint_url)


def test_second_up_reuses_the_healthy_server(emulator_dir: Path) -> None:
    first, _ = emulator.up(emulator_dir)
    second, started = emulator.up(emulator_dir)
    assert not started
    assert second == first


def test_down_stops_exactly_that_process_and_clears_the_record(emulator_dir: Path) -> None:
    state, _ = emulator.up(emulator_dir)
    before = emulator.down(emulator_dir)
    assert before.health == "running"
    assert not psutil.pid_exists(state.pid) or psutil.Process(state.pid).status() == psutil.STATUS_ZOMBIE
    assert read_state(emulator_dir) is None
    assert emulator.status(emulator_dir).health == "stopped"


def test_reset_drops_resources_but_keeps_the_process(emulator_dir: Path) -> None:
    state, _ = emulator.up(emulator_dir)
    s3 = ClientFactory(load_settings(target="moto", endpoint_url=state.endpoint_url)).client("s3")
    s3.create_bucket(Bucket="before-reset")
    emulator.reset(emulator_dir)
    assert s3.list_buckets()["Buckets"] == []
    assert emulator.status(emulator_dir).state == state


def test_a_dead_pid_is_detected_explained_and_replaced(emulator_dir: Path) -> None:
    pid = dead_pid()
    write_state(emulator_dir, EmulatorState(pid=pid, host="127.0.0.1", port=emulator.free_port(), started_at=0.0))
    current = emulator.status(emulator_dir)
    assert current.health == "stale"
    assert current.detail == f"pid {pid} recorded in the pidfile is gone (crashed or killed)"
    state, started = emulator.up(emulator_dir)
    assert started and state.pid != pid


def test_a_reused_pid_is_not_mistaken_for_the_server(emulator_dir: Path) -> None:
    port = emulator.free_port()
    write_state(emulator_dir, EmulatorState(pid=os.getpid(), host="127.0.0.1", port=port, started_at=0.0))
    current = emulator.status(emulator_dir)
    assert current.health == "stale"
    assert "now belongs to another program" in current.detail
    emulator.down(emulator_dir)
    assert psutil.pid_exists(os.getpid()), "down must never signal a process that is not its moto server"


def test_recorded_port_taken_by_another_program_is_explained(emulator_dir: Path, listener: int) -> None:
    write_state(emulator_dir, EmulatorState(pid=dead_pid(), host="127.0.0.1", port=listener, started_at=0.0))
    current = emulator.status(emulator_dir)
    assert current.health == "stale"
    assert current.detail.endswith(f"port {listener} is now taken by something that is not moto")
    state, started = emulator.up(emulator_dir)
    assert started and state.port != listener


def test_explicit_port_clash_is_an_error(emulator_dir: Path, listener: int) -> None:
    with pytest.raises(EmulatorError, match=rf"port {listener} on 127.0.0.1 is already taken"):
        emulator.up(emulator_dir, port=listener)
    assert read_state(emulator_dir) is None


def test_reset_of_a_stale_record_is_refused(emulator_dir: Path) -> None:
    write_state(emulator_dir, EmulatorState(pid=dead_pid(), host="127.0.0.1", port=1, started_at=0.0))
    with pytest.raises(StalePidfileError):
        emulator.reset(emulator_dir)


def test_cli_up_status_down_leaves_no_process_behind(tmp_path: Path) -> None:
    env = {**os.environ, "MLOPS_STATE_DIR": str(tmp_path / "state")}
    mlops = [sys.executable, "-m", "mlops.cli"]
    subprocess.run([*mlops, "local", "up", "--no-apply"], env=env, check=True, capture_output=True, timeout=120)
    state = read_state(tmp_path / "state" / "emulator")
    assert state is not None
    status = subprocess.run([*mlops, "local", "status", "--json"], env=env, capture_output=True, timeout=60)
    assert status.returncode == 0, status.stderr
    assert f'"pid": {state.pid}' in status.stdout.decode()
    subprocess.run([*mlops, "local", "down"], env=env, check=True, capture_output=True, timeout=60)
    deadline = time.monotonic() + 5
    while psutil.pid_exists(state.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not psutil.pid_exists(state.pid)
    stopped = subprocess.run([*mlops, "local", "status"], env=env, capture_output=True, timeout=60)
    assert stopped.returncode == 1


def _tracking_store(state_dir: Path, content: str) -> Path:
    database = state_dir / "mlflow" / "mlops-kit-local-mlflow" / "mlflow.db"
    database.parent.mkdir(parents=True)
    database.write_text(content)
    return database


def test_each_way_the_emulators_data_goes_retires_the_tracking_store_that_named_it(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    env = {**os.environ, "MLOPS_STATE_DIR": str(state_dir)}

    def mlops(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "mlops.cli", "local", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout if "--json" in args else " ".join(done.stderr.split())  # messages go to stderr

    def retired() -> list[str]:
        return sorted(path.read_text() for path in (state_dir / "mlflow-retired").glob("*/*/mlflow.db"))

    try:
        mlops("up", "--no-apply")
        _tracking_store(state_dir, "killed")
        first = read_state(state_dir / "emulator")
        assert first is not None
        psutil.Process(first.pid).kill()
        psutil.Process(first.pid).wait(timeout=10)
        assert "retired the MLflow tracking store" in mlops("up", "--no-apply")  # found the emulator restarted
        _tracking_store(state_dir, "reset")
        mlops("reset")
        database = _tracking_store(state_dir, "down")
        stopped = json.loads(mlops("down", "--json"))
        _tracking_store(state_dir, "leftover")  # no emulator runs: as a kit that retired nothing left it
        started = json.loads(mlops("up", "--no-apply", "--json"))
    finally:
        subprocess.run([sys.executable, "-m", "mlops.cli", "local", "down"], env=env, capture_output=True, timeout=60)
    assert retired() == ["down", "killed", "leftover", "reset"]
    assert not database.exists()
    assert [Path(path).parent.parent.name for path in stopped["retired_tracking_stores"]] == ["mlflow-retired"]
    assert len(started["retired_tracking_stores"]) == 1


def test_cli_rejects_an_unknown_target_listing_the_allowed_ones(tmp_path: Path) -> None:
    env = {**os.environ, "MLOPS_TARGET": "nonsense"}
    result = subprocess.run([sys.executable, "-m", "mlops.cli", "local", "status"], env=env, capture_output=True)
    assert result.returncode == 2
    assert "allowed targets: moto, localstack, aws" in " ".join(result.stderr.decode().split())


def test_a_live_but_unresponsive_server_is_reported_and_never_stopped(
    emulator_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    state, _ = emulator.up(emulator_dir)
    monkeypatch.setattr(emulator, "PROBE_TIMEOUT_S", 0.2)
    monkeypatch.setattr(emulator, "PATIENT_PROBE_TIMEOUT_S", 0.2)
    os.kill(state.pid, signal.SIGSTOP)
    try:
        current = emulator.status(emulator_dir)
        assert current.health == "stale"
        assert current.detail == f"moto server pid {state.pid} is alive but does not answer on {state.endpoint_url}"
        with pytest.raises(StalePidfileError, match=r"stop it with `mlops local down`"):
            emulator.up(emulator_dir)
        assert psutil.pid_exists(state.pid)
        assert read_state(emulator_dir) == state
    finally:
        os.kill(state.pid, signal.SIGCONT)


def test_a_front_door_that_fails_to_start_stops_the_new_server_and_records_nothing(
    emulator_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.local.frontdoor import process as frontdoor

    doors: list[subprocess.Popen[bytes]] = []
    servers: list[subprocess.Popen[bytes]] = []
    wait_for_moto = emulator._wait_for_moto

    def failing_door(*_args: object) -> subprocess.Popen[bytes]:
        doors.append(subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"]))
        return doors[0]

    def seen_server(process: subprocess.Popen[bytes], state: EmulatorState, directory: Path) -> EmulatorState:
        servers.append(process)
        return wait_for_moto(process, state, directory)

    monkeypatch.setattr(frontdoor, "launch", failing_door)
    monkeypatch.setattr(emulator, "_wait_for_moto", seen_server)
    with pytest.raises(EmulatorError, match="front door exited with code 3"):
        emulator.up(emulator_dir)
    assert servers[0].poll() is not None  # the moto server it started is stopped, not left without a record
    assert read_state(emulator_dir) is None
    assert doors[0].poll() == 3
