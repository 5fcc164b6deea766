"""The suite's xdist scheduling (tests/support/scheduling.py): files that share a costly session process run on one
worker; any other file's tests stay together on one worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.scheduling import FileOrGroupScheduling, group_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("path", "fixtures", "group"),
    [
        ("tests/contract/test_events.py", {"backend", "tmp_path"}, "emulators"),  # asked for with getfixturevalue
        ("tests/integration/gcp/test_x.py", {"gcp_clients", "gcp_settings", "gcp_emulator_set"}, "emulators"),
        ("tests/integration/localstack/test_x.py", {"localstack_endpoint", "localstack_handle"}, "emulators"),
        ("tests/integration/jobs/test_x.py", {"spark", "warm_spark", "emulator_state_dir"}, "warm-spark"),
        ("tests/integration/x/test_x.py", {"warm_spark", "localstack_handle"}, "emulators+warm-spark"),
        ("tests/integration/test_demo.py", {"emulator_state_dir", "platform", "tmp_path"}, None),
    ],
)
def test_a_file_is_grouped_by_the_session_processes_its_tests_use(
    path: str, fixtures: set[str], group: str | None
) -> None:
    assert group_of(path, fixtures) == group


@pytest.mark.parametrize(
    ("nodeid", "scope"),
    [
        ("tests/unit/test_a.py::test_one", "tests/unit/test_a.py"),
        ("tests/unit/test_a.py::Case::test_one[p::q]", "tests/unit/test_a.py"),
        ("tests/contract/test_b.py::test_two[aws-localstack]", "emulators"),
    ],
)
def test_a_tests_scope_is_its_files_group_else_its_file(nodeid: str, scope: str, tmp_path: Path) -> None:
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps({"tests/contract/test_b.py": "emulators"}))
    scheduler = object.__new__(FileOrGroupScheduling)  # the scope needs only the groups, not xdist's config
    scheduler.groups_file, scheduler._groups = groups, None
    assert scheduler._split_scope(nodeid) == scope


def test_without_the_workers_groups_each_file_is_its_own_scope(tmp_path: Path) -> None:
    scheduler = object.__new__(FileOrGroupScheduling)
    scheduler.groups_file, scheduler._groups = tmp_path / "never-written.json", None
    assert scheduler._split_scope("tests/contract/test_b.py::test_two") == "tests/contract/test_b.py"


def test_on_two_workers_the_files_sharing_a_session_process_run_on_one_worker(tmp_path: Path) -> None:
    """Three of twelve files use a session fixture named as the warm Spark server's: the three run on one worker,
    which alone builds the fixture, and each other file's tests run on one worker."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(
        textwrap.dedent(
            """
            import os
            from pathlib import Path

            import pytest

            pytest_plugins = ["tests.support.scheduling"]
            LOG = Path(__file__).parent / "ran.log"


            def _log(line):
                with LOG.open("a") as log:
                    log.write(f"{os.environ['PYTEST_XDIST_WORKER']} {line}\\n")


            @pytest.fixture(scope="session")
            def warm_spark():
                _log("started")


            @pytest.fixture
            def record(request):
                _log(request.node.path.name)
            """
        )
    )
    for n in range(6):
        uses = "record, warm_spark" if n % 2 == 0 else "record"
        body = "".join(f"def test_{t}({uses}):\n    pass\n\n" for t in range(3))
        (suite / f"test_file_{n}.py").write_text(body)
        (suite / f"test_other_{n}.py").write_text("".join(f"def test_{t}(record):\n    pass\n\n" for t in range(2)))
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(temp)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile", "-q"],
        cwd=tmp_path / "suite",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    workers_of: dict[str, set[str]] = {}
    for line in (suite / "ran.log").read_text().splitlines():
        worker, what = line.split()
        workers_of.setdefault(what, set()).add(worker)
    users = [f"test_file_{n}.py" for n in (0, 2, 4)]
    assert len(workers_of["started"]) == 1  # one worker built the shared fixture, once
    assert all(workers_of[name] == workers_of["started"] for name in users)
    assert all(len(workers_of[name]) == 1 for name in workers_of)  # a file's tests on one worker
    assert len(set().union(*workers_of.values())) == 2  # both workers ran tests
    assert list(temp.glob("test-groups-*")) == []  # the controller removed the groups file
