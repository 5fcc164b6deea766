"""``cloud: gcp`` in the settings and the wiring: which implementation ``auto`` means, and what is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops.errors import ConfigError
from mlops.settings import load_settings
from mlops.wiring import gcp_client_factory, resolve


def test_auto_follows_cloud_gcp_on_the_emulators_and_on_gcp() -> None:
    emulated = load_settings(cloud="gcp", target="gcp-emulators")
    chosen = {c: resolve(emulated, c) for c in ("object_store", "table_store", "online_store", "events")}
    assert chosen == {
        "object_store": "gcs",
        "table_store": "delta",
        "online_store": "firestore",
        "events": "pubsub",
    }
    assert resolve(load_settings(), "object_store") == "s3"  # cloud aws stays the default


def test_auto_picks_the_kits_runners_where_google_cloud_has_no_emulator() -> None:
    settings = load_settings(cloud="gcp", target="gcp-emulators")
    # Vertex AI endpoints; no Vertex emulator: the kit's runner on Vertex's container contract
    assert (resolve(settings, "endpoint"), resolve(load_settings(cloud="gcp", target="gcp"), "endpoint")) == (
        "local",
        "vertex",
    )
    # no Cloud Monitoring emulator: the kit's store and its alert-policy runner play it
    assert (resolve(settings, "metrics"), resolve(settings, "alarms")) == ("local", "local")
    on_gcp = load_settings(cloud="gcp", target="gcp")
    assert (resolve(on_gcp, "metrics"), resolve(on_gcp, "alarms")) == ("cloud-monitoring", "cloud-monitoring")
    explicit = load_settings(cloud="gcp", target="gcp-emulators", services={"endpoint": {"type": "memory"}})
    assert resolve(explicit, "endpoint") == "memory"


@pytest.mark.parametrize(("cloud", "target"), [("gcp", "moto"), ("aws", "gcp-emulators"), ("aws", "gcp")])
def test_a_target_of_another_cloud_is_refused(cloud: str, target: str) -> None:
    with pytest.raises(ConfigError, match=f"target '{target}' is not a target of cloud '{cloud}'") as refused:
        load_settings(cloud=cloud, target=target)
    assert "invalid setting 'cloud' (env MLOPS_CLOUD)" in str(refused.value)


def test_emulator_hosts_come_from_the_settings_before_the_recorded_emulators(tmp_path: Path) -> None:
    from mlops.local.gcp_emulators import EmulatorProcess, GcpEmulators, write_state

    settings = load_settings(
        cloud="gcp", target="gcp-emulators", state_dir=tmp_path, gcp={"pubsub_emulator_host": "127.0.0.1:1"}
    )
    settings.gcp_emulator_dir.mkdir(parents=True)
    recorded = tuple(EmulatorProcess(n, 10 + i, 9000 + i, 0.0, f"{n}.log") for i, n in enumerate(("gcs", "pubsub")))
    write_state(settings.gcp_emulator_dir, GcpEmulators("mlops-local", recorded))
    hosts = gcp_client_factory(settings).hosts
    assert (hosts.storage, hosts.pubsub, hosts.firestore) == ("http://127.0.0.1:9000", "127.0.0.1:1", None)


def test_on_gcp_firestore_opens_the_stacks_named_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """The program declares a named Firestore database (output ``firestore_database``): the online store and the
    stream's leases must land there, not in the project's ``(default)`` database."""
    from google.auth.credentials import AnonymousCredentials

    from mlops.outputs import StackOutputs
    from mlops.wiring import WiredServices

    anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
    monkeypatch.setattr("google.auth.default", lambda *a, **k: (anonymous, "mlops-test"))  # no ADC in tests
    settings = load_settings(cloud="gcp", target="gcp", gcp={"project": "mlops-test"})
    declared: dict[str, Any] = {"firestore_database": "mlops-kit-dev-online"}
    outputs = StackOutputs.model_construct(**declared)
    client = WiredServices(settings, outputs).gcp_clients.firestore()
    assert client._database_string == "projects/mlops-test/databases/mlops-kit-dev-online"
    assert (
        gcp_client_factory(settings).firestore()._database_string.endswith("/databases/(default)")
    )  # no stack outputs: the default


def test_on_gcp_the_mlflow_connection_sends_a_google_id_token_for_the_server_url_when_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stack's MLflow server is a Cloud Run service that admits callers with an ID token for its URL only."""
    from google.auth.credentials import AnonymousCredentials

    from mlops.adapters.gcp import id_token
    from mlops.outputs import StackOutputs
    from mlops.wiring import WiredServices

    anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
    monkeypatch.setattr("google.auth.default", lambda *a, **k: (anonymous, "mlops-test"))  # no ADC in tests
    audiences: list[str] = []

    def fetch(_request: Any, audience: str) -> str:
        audiences.append(audience)
        return f"token-{len(audiences)}"

    monkeypatch.setattr(id_token, "_fetch_with_adc", fetch)
    url = "https://mlops-kit-dev-mlflow-abc-uc.a.run.app"
    values: dict[str, Any] = {"mlflow_tracking_uri": url, "model_package_group": "m", "models_bucket": "b"}
    settings = load_settings(cloud="gcp", target="gcp", gcp={"project": "mlops-test"})
    registry = WiredServices(settings, StackOutputs.model_construct(**values)).model_registry
    assert audiences == []  # lazily: building the registry fetches no token
    environment = registry.environment()
    assert (environment["MLFLOW_TRACKING_URI"], environment["MLFLOW_TRACKING_TOKEN"]) == (url, "token-1")
    assert registry.environment()["MLFLOW_TRACKING_TOKEN"] == "token-2"  # asked again: tokens expire
    assert audiences == [url, url]

    emulated = load_settings(cloud="gcp", target="gcp-emulators", gcp={"storage_emulator_host": "http://h:1"})
    local = {**values, "mlflow_tracking_uri": "sqlite:////tmp/x/mlflow.db"}
    assert (
        "MLFLOW_TRACKING_TOKEN"
        not in WiredServices(emulated, StackOutputs.model_construct(**local)).model_registry.environment()
    )
    assert len(audiences) == 2
