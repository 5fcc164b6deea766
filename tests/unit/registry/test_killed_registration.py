"""A ``mlops train run`` killed outright leaves no half-registered model and no orphan (issue 10: an MLflow version
with no alias, package or lineage and a run stuck RUNNING; the entry point kept running). The registering process
is killed with SIGKILL in the middle of registration; the next registration undoes what it left."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from mlops.registry.mlflow_models import PACKAGE_TAG
from mlops.registry.service import ERROR_TAG
from tests.support.registry import JobModel, registration
from tests.unit.registry.conftest import Harness

REPO = Path(__file__).resolve().parents[3]

# Registers the pickled request over the same MLflow store, and dies (SIGKILL) when the package is created: after
# the version exists, before its package, tags and alias.
REGISTRAR = textwrap.dedent(
    """
    import os, pickle, signal, sys
    from mlops.adapters.memory.model_packages import MemoryModelPackages
    from mlops.adapters.memory.object_store import MemoryObjectStore
    from mlops.layout import Layout
    from mlops.outputs import parse_outputs
    from mlops.registry.service import MlflowModelRegistry
    from mlops.registry.session import MlflowConnection
    from pathlib import Path
    from tests.unit.test_outputs import complete_outputs

    class DiesCreatingThePackage(MemoryModelPackages):
        def create(self, *args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)

    uri, artifacts, request_file = sys.argv[1:4]
    request = pickle.loads(Path(request_file).read_bytes())
    outputs = parse_outputs(complete_outputs(), "unit")
    store = MemoryObjectStore()
    registry = MlflowModelRegistry(
        MlflowConnection(uri), DiesCreatingThePackage("unit-group"), store, Layout(outputs, store.scheme),
        lambda dataset: (Path(artifacts) / dataset).as_uri(),
    )
    registry.register(request)
    """
)


def test_a_registration_killed_midway_is_undone_by_the_next_one(
    unit: Harness, job: JobModel, name: str, tmp_path: Path
) -> None:
    request = registration(job, "job-killed", dataset=name)
    (tmp_path / "request.pickle").write_bytes(pickle.dumps(request))
    (tmp_path / "registrar.py").write_text(REGISTRAR)
    artifacts = str(unit.store.directory / "artifacts")
    env = {**os.environ, "PYTHONPATH": str(REPO), **unit.store.connection.environment()}
    killed = subprocess.run(
        [sys.executable, str(tmp_path / "registrar.py"), unit.store.connection.tracking_uri, artifacts,
         str(tmp_path / "request.pickle")],
        env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    with unit.store.connection.session() as client:
        [orphan] = client.search_model_versions(f"name='{name}'")
        assert PACKAGE_TAG not in orphan.tags  # what the kill left: a version without its package
        [run] = unit.runs(name)
        assert run.info.status == "RUNNING"

    done = unit.registry.register(registration(job, "job-next", dataset=name))

    with unit.store.connection.session() as client:
        versions = client.search_model_versions(f"name='{name}'")
        assert [int(v.version) for v in versions] == [done.model_version]  # the orphan version is gone
        statuses = {r.info.run_name: r.info.status for r in unit.runs(name)}
        assert statuses == {"job-killed": "FAILED", "job-next": "FINISHED"}
        killed_run = next(r for r in unit.runs(name) if r.info.run_name == "job-killed")
        assert "died" in killed_run.data.tags[ERROR_TAG]
