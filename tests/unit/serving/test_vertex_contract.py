"""Vertex AI's custom-container contract on the serving app: the port and routes come from ``AIP_*``, the predict
route answers ``{"instances": [...]}`` with one prediction object per instance (the same fields the SageMaker
JSON answer holds), other bodies on that route as ``/invocations`` does, and a bad instance is a 400 naming its
index and field. One app: ``/ping`` and ``/invocations`` keep answering beside the Vertex routes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient

from mlops.adapters.memory.online_store import MemoryOnlineStore
from mlops.modeling.scoring import Scorer
from serving.app import VertexRoutes, build_app
from serving.core import InferenceCore
from serving.model import LoadedModel
from serving.schema import ColumnSpec, InputSchema
from serving.server import port_from, vertex_routes

SCHEMA = InputSchema(
    (ColumnSpec("amount", "double"), ColumnSpec("channel", "string"), ColumnSpec("txn_count_1h", "long"))
)
SIGNATURE = "amount:double, channel:string, txn_count_1h:long"
HEALTH = "/v1/endpoints/1234/deployedModels/5678"
PREDICT = "/v1/endpoints/1234/deployedModels/5678:predict"


def _proba(frame: pd.DataFrame) -> Any:
    """A binary classifier: fraud probability grows with the amount (0.2 per unit, capped at 1)."""
    fraud = np.minimum(frame["amount"].to_numpy() * 0.2, 1.0)
    return np.column_stack([1.0 - fraud, fraud])


def _core(store: MemoryOnlineStore | None = None) -> InferenceCore:
    scorer = Scorer(predict_frame=lambda f: [0] * len(f), predict_proba_frame=_proba, classes=(0, 1))
    model = LoadedModel("models:/m/3", "m", "3", SCHEMA, 0.0, scorer)
    if store is None:
        return InferenceCore(model)
    return InferenceCore(model, dataset="card_transactions", entity_key="customer_id", online_store=store)


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = build_app(_core, vertex=VertexRoutes(health=HEALTH, predict=PREDICT))
    with TestClient(app) as test_client:
        yield test_client


def _predict(client: TestClient, document: Any, route: str = PREDICT) -> tuple[int, Any]:
    answer = client.post(route, content=json.dumps(document), headers={"Content-Type": "application/json"})
    return answer.status_code, answer.json()


def test_the_port_and_routes_come_from_vertexs_variables() -> None:
    env = {"AIP_HTTP_PORT": "7080", "SAGEMAKER_BIND_TO_PORT": "8080", "AIP_HEALTH_ROUTE": HEALTH}
    assert port_from(env) == 7080
    assert vertex_routes(env) == VertexRoutes(health=HEALTH, predict=None)
    assert vertex_routes({"AIP_PREDICT_ROUTE": PREDICT}) == VertexRoutes(predict=PREDICT)
    assert vertex_routes({}) == VertexRoutes()  # not on Vertex: SageMaker's routes only


def test_a_route_that_is_not_a_path_is_refused_naming_its_variable() -> None:
    with pytest.raises(ValueError, match=r"^AIP_PREDICT_ROUTE 'predict' is not an absolute URL path"):
        vertex_routes({"AIP_PREDICT_ROUTE": "predict"})
    with pytest.raises(ValueError, match=r"^port 'x' from AIP_HTTP_PORT is not a TCP port number"):
        port_from({"AIP_HTTP_PORT": "x"})


def test_instances_as_objects_or_lists_get_one_prediction_object_each(client: TestClient) -> None:
    by_name = {
        "instances": [
            {"channel": "web", "amount": 1.0, "txn_count_1h": 2},
            {"amount": 4.0, "channel": "pos", "txn_count_1h": 1},
        ]
    }
    in_order = {"instances": [[1.0, "web", 2], [4.0, "pos", 1]], "parameters": {}}
    expected = {"predictions": [{"prediction": 0, "probability": 0.2}, {"prediction": 1, "probability": 0.8}]}
    assert _predict(client, by_name) == (200, expected)
    assert _predict(client, in_order) == (200, expected)


def test_the_health_route_answers_as_ping_and_the_sagemaker_routes_stay(client: TestClient) -> None:
    health = client.get(HEALTH)
    assert (health.status_code, health.json()) == (200, {"status": "healthy", "model": "m", "version": "3"})
    assert client.get("/ping").status_code == 200
    # /invocations answers {"instances"} as it always did (MLflow's input, the kit's columnar answer)
    assert _predict(client, {"instances": [[4.0, "pos", 1]]}, "/invocations") == (
        200,
        {"predictions": [1], "probabilities": [0.8]},
    )


def test_other_bodies_on_the_predict_route_are_answered_as_invocations(client: TestClient) -> None:
    csv = client.post(
        PREDICT,
        content=b"amount,channel,txn_count_1h\n4.0,pos,1\n",
        headers={"Content-Type": "text/csv", "Accept": "text/csv"},
    )
    assert (csv.status_code, csv.text) == (200, "1,0.8\n")
    split = {"dataframe_split": {"columns": ["amount", "channel", "txn_count_1h"], "data": [[1.0, "web", 2]]}}
    assert _predict(client, split) == (200, {"predictions": [0], "probabilities": [0.2]})


@pytest.mark.parametrize(
    ("instances", "message"),
    [
        (
            [[1.0, "web", 2], [1.0, "web", "many"]],
            "field 'txn_count_1h' (instance 1) expects long, got str 'many'",
        ),
        (
            [
                {"amount": 1.0, "channel": "web", "txn_count_1h": 2},
                {"amount": "a lot", "channel": "web", "txn_count_1h": 2},
            ],
            "field 'amount' (instance 1) expects double, got str 'a lot'",
        ),
        (
            [{"amount": 1.0, "channel": "web", "txn_count_1h": 2}, {"amount": 1.0, "txn_count_1h": 2}],
            f"instance 1 lacks field channel (the model's signature is {SIGNATURE})",
        ),
        (
            [{"amount": 1.0, "channel": "web", "txn_count_1h": 2, "country": "FR"}],
            f"instance 0 has unexpected field country (the model's signature is {SIGNATURE})",
        ),
        ([[1.0, "web", 2], [1.0, "web"]], f"instance 1 has 2 values; the model needs 3 ({SIGNATURE})"),
        (
            [{"amount": 1.0, "channel": None, "txn_count_1h": 2}],
            "field 'channel' (instance 0) is null; the model needs a string value",
        ),
        (
            [[1.0, "web", 2], {"amount": 1.0}],
            "instance 1 is an object where instance 0 is a list: send every instance as an object keyed by feature "
            "name, or every one as a list in feature order",
        ),
        (
            ["1.0,web,2"],
            "instance 0 is a string: send every instance as an object keyed by feature name, or every one as a "
            "list in feature order",
        ),
        (
            [],
            '"instances" must be a non-empty list of instances (objects keyed by feature name, or lists in feature '
            "order), got a list",
        ),
    ],
)
def test_a_bad_instance_is_a_400_naming_its_index_and_field(
    client: TestClient, instances: list[Any], message: str
) -> None:
    status, body = _predict(client, {"instances": instances})
    assert (status, body["message"]) == (400, message)


def test_a_request_with_keys_vertex_does_not_send_is_refused() -> None:
    response = _core().invocations(
        b'{"instances": [[1.0, "web", 2]], "params": {}}', "application/json", None, vertex=True
    )
    assert response.status == 400
    assert json.loads(response.body)["message"] == (
        "a Vertex AI prediction request holds only 'instances' and 'parameters'; got ['params']"
    )


def test_instances_naming_only_the_entity_are_completed_from_the_online_store() -> None:
    store = MemoryOnlineStore()
    store.write(
        "card_transactions", [{"customer_id": "c1", "amount": 4.0, "channel": "pos", "txn_count_1h": 1}], "customer_id"
    )
    core = _core(store)
    answer = core.invocations(b'{"instances": [{"customer_id": "c1"}]}', "application/json", None, vertex=True)
    assert json.loads(answer.body) == {"predictions": [{"prediction": 1, "probability": 0.8}]}
    missing = core.invocations(b'{"instances": [{"customer_id": "c1"}, {}]}', "application/json", None, vertex=True)
    assert json.loads(missing.body)["message"] == (
        f"instance 1 lacks field customer_id (the model's signature is {SIGNATURE})"
    )


def test_a_multiclass_instance_holds_every_class_probability_and_the_classes() -> None:
    def proba(frame: pd.DataFrame) -> Any:
        return np.tile([0.1, 0.7, 0.2], (len(frame), 1))

    scorer = Scorer(predict_frame=lambda f: ["b"] * len(f), predict_proba_frame=proba, classes=("a", "b", "c"))
    core = InferenceCore(LoadedModel("models:/m/1", "m", "1", SCHEMA, 0.0, scorer))
    answer = core.invocations(b'{"instances": [[1.0, "web", 2]]}', "application/json", "text/csv", vertex=True)
    assert answer.content_type == "application/json"  # Vertex reads JSON whatever Accept says
    assert json.loads(answer.body) == {
        "predictions": [{"prediction": "b", "probability": [0.1, 0.7, 0.2], "classes": ["a", "b", "c"]}]
    }
