"""Google's emulators for tests: GCS (fake-gcs-server), Pub/Sub and Firestore, one set per test session, started on
first use and stopped by PID at the end (``mlops/local/gcp_emulators.py``).

Registered in tests/conftest.py (``pytest_plugins``). A test that asks for them is skipped, with the reason, only
where they cannot run (no Java, no gcloud emulator component, the ``gcp`` extra not installed); under CI that is a
failure instead: CI machines have them, so a skip there would hide a missing install.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from mlops.adapters.gcp.clients import GcpClients
from mlops.local import gcp_emulators
from mlops.outputs import StackOutputs
from mlops.settings import Settings, load_settings


def require_gcp_emulators() -> None:
    reason = gcp_emulators.unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"Google's emulators cannot start: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def gcp_emulator_set(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gcp_emulators.GcpEmulators]:
    """The session's GCS, Pub/Sub and Firestore emulators (logs under the session's temp dir)."""
    require_gcp_emulators()
    directory = tmp_path_factory.mktemp("gcp-emulators")
    emulators = gcp_emulators.start(directory, tied_to_caller=True)  # gone with the session, even if it is killed
    try:
        yield emulators
    finally:
        gcp_emulators.stop(directory)


@pytest.fixture(scope="session")
def gcp_settings(gcp_emulator_set: gcp_emulators.GcpEmulators) -> Settings:
    """The kit's settings for ``cloud: gcp`` on the session's emulators."""
    hosts = gcp_emulator_set.hosts()
    return load_settings(
        cloud="gcp",
        target="gcp-emulators",
        gcp={
            "project": gcp_emulator_set.project,
            "storage_emulator_host": f"http://{hosts['gcs']}",
            "pubsub_emulator_host": hosts["pubsub"],
            "firestore_emulator_host": hosts["firestore"],
        },
    )


@pytest.fixture(scope="session")
def gcp_clients(gcp_settings: Settings) -> GcpClients:
    """The kit's Google Cloud client factory for the session's emulators, built as the wiring builds it."""
    from mlops.wiring import gcp_client_factory

    return gcp_client_factory(gcp_settings)


def vertex_outputs(tracking_uri: str, **overrides: Any) -> StackOutputs:
    """The stack outputs a Vertex hosting test needs (a gcp-local stack's names), with ``overrides``."""
    values: dict[str, Any] = {
        "stack": "gcp-local",
        "endpoint_name": "kit-endpoint",
        "sagemaker_model_name": "kit-model",
        "endpoint_config_name": "kit-config",
        "sagemaker_role_arn": "vertex@mlops-local.iam.gserviceaccount.com",
        "data_capture_prefix": "gs://kit-monitoring/data-capture/kit-endpoint",
        "alarm_names": {"endpoint_errors": "kit-endpoint-errors", "endpoint_latency": "kit-endpoint-latency"},
        "mlflow_tracking_uri": tracking_uri,
        "online_feature_table": "online-features",
        "model_package_group": "kit-models",
    }
    return StackOutputs.model_construct(**{**values, **overrides})
