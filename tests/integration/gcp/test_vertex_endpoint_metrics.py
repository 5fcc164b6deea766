"""Endpoint alerting on local Google Cloud: requests through the endpoint port of a local Vertex endpoint publish
Vertex's endpoint metrics (``aiplatform.googleapis.com/prediction/online/*``, label ``endpoint_id``) into the local
metrics store, where the infra program's endpoint-errors alert policy, judged by the local alert-policy runner, opens
its incident once the container's server errors breach it (rather than staying without data)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlops.adapters.gcp.clients import GcpClients
from mlops.local.gcp_alert_runner import LocalAlertPolicies, put_policy
from mlops.local.gcp_metrics import FirestoreEmulatorMetrics
from mlops.local.vertex_metrics import NAMESPACE
from mlops.platform import Platform
from mlops.ports.endpoint import EndpointInvocationError
from mlops.settings import Settings
from mlops.wiring import build_platform
from serving.deploy import deploy_model
from tests.support.gcp import vertex_outputs
from tests.unit.serving.model_support import DATASET, RegisteredModel, train_and_register

pytestmark = [pytest.mark.server]

ENDPOINT_ID = "5151"


@pytest.fixture
def served(gcp_settings: Settings, tmp_path: Path) -> Iterator[tuple[Platform, RegisteredModel]]:
    """A model that fails (500) on a negative amount, deployed to a local Vertex endpoint on the emulators."""
    model = train_and_register(tmp_path / "mlflow", alias=None, refuse_negative=True)
    outputs = vertex_outputs(
        model.tracking_uri, endpoint_name=f"kit-endpoint-{uuid.uuid4().hex[:6]}", vertex_endpoint_id=ENDPOINT_ID
    )
    settings = gcp_settings.model_copy(update={"state_dir": tmp_path / "state"})
    platform = build_platform(settings, outputs)
    deploy_model(platform, DATASET, model.version)
    try:
        yield platform, model
    finally:
        platform.services.hosting.stop(platform.outputs.endpoint_name)


def _body(model: RegisteredModel, amount: float) -> bytes:
    rows = json.loads(model.sample.head(2).to_json(orient="records"))
    return json.dumps({"instances": [{**row, "amount": amount} for row in rows]}).encode()


def test_server_errors_breaching_the_programs_error_policy_open_its_incident(
    served: tuple[Platform, RegisteredModel], gcp_clients: GcpClients
) -> None:
    from infra.gcp.components.monitoring import condition
    from infra.thresholds import Thresholds, alarm_specs

    platform, model = served
    endpoint = platform.services.endpoint
    spec = alarm_specs(Thresholds(800, 2, 0.2, 0.15, 0.05, 1))["endpoint_errors"]  # more than 2 in a minute
    policy = f"kit-{uuid.uuid4().hex[:6]}-endpoint-errors"
    threshold = condition(spec, "it", ENDPOINT_ID)["condition_threshold"]
    put_policy(
        gcp_clients,
        {
            "displayName": policy,
            "combiner": "OR",
            "conditions": [{"displayName": spec.description, "conditionThreshold": _camel(threshold)}],
        },
    )
    runner = LocalAlertPolicies(gcp_clients, FirestoreEmulatorMetrics(gcp_clients, NAMESPACE))

    endpoint.invoke(_body(model, 40.0), "application/json")  # answered: counted, no error
    (quiet,) = runner.evaluate([policy], datetime.now(UTC) + timedelta(seconds=1))
    assert quiet.state == "OK"  # judged on Vertex's figures: the error series reads 0, not "no data"
    for _ in range(3):
        with pytest.raises(EndpointInvocationError) as failed:
            endpoint.invoke(_body(model, -1.0), "application/json")
        assert failed.value.status == 500
    (opened,) = runner.evaluate([policy], datetime.now(UTC) + timedelta(seconds=1))
    assert (opened.previous_state, opened.state, opened.applied) == ("OK", "ALARM", True)
    assert "datapoint(s) [3] breaching" in opened.reason and f"endpoint_id={ENDPOINT_ID}]" in opened.reason

    store = FirestoreEmulatorMetrics(gcp_clients, NAMESPACE)
    now = datetime.now(UTC) + timedelta(seconds=1)
    labels = {"endpoint_id": ENDPOINT_ID}
    counted = store.series("prediction_count", labels, now - timedelta(minutes=5), now, 300, statistic="Sum")
    latencies = store.series("prediction_latencies", labels, now - timedelta(minutes=5), now, 300, statistic="Maximum")
    assert [p.value for points in counted.values() for p in points] == [1.0]
    assert all(p.value > 0 for points in latencies.values() for p in points) and latencies


def _camel(value: Any) -> Any:
    """The program's snake_case condition as the REST JSON the local apply declares."""
    if isinstance(value, dict):
        return {
            "".join(w.capitalize() if i else w for i, w in enumerate(k.split("_"))): _camel(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value
