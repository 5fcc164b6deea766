"""The framework-free core: every content type, Accept negotiation and each bad payload's exact answer."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import pytest

from mlops.adapters.memory.online_store import MemoryOnlineStore
from mlops.modeling.scoring import Scorer
from serving.core import InferenceCore
from serving.model import LoadedModel
from serving.schema import ColumnSpec, InputSchema

SCHEMA = InputSchema(
    (ColumnSpec("amount", "double"), ColumnSpec("channel", "string"), ColumnSpec("txn_count_1h", "long"))
)
SIGNATURE = "amount:double, channel:string, txn_count_1h:long"


def _predict(frame: pd.DataFrame) -> list[float]:
    assert list(frame.columns) == ["amount", "channel", "txn_count_1h"]
    assert str(frame["txn_count_1h"].dtype) == "int64"
    return [a * n for a, n in zip(frame["amount"], frame["txn_count_1h"], strict=True)]


def _store(records: dict[str, dict[str, Any]], dataset: str = "card_transactions") -> MemoryOnlineStore:
    store = MemoryOnlineStore()
    store.write(dataset, [{"customer_id": entity, **values} for entity, values in records.items()], "customer_id")
    return store


def _core(store: MemoryOnlineStore | None = None) -> InferenceCore:
    model = LoadedModel("models:/m/1", "m", "1", SCHEMA, 0.0, Scorer(_predict))
    if store is None:
        return InferenceCore(model)
    return InferenceCore(model, dataset="card_transactions", entity_key="customer_id", online_store=store)


def _call(body: str | bytes, content_type: str = "application/json", accept: str | None = None) -> tuple[int, Any]:
    raw = body.encode() if isinstance(body, str) else body
    response = _core().invocations(raw, content_type, accept)
    if response.content_type == "application/json":
        return response.status, json.loads(response.body)
    return response.status, response.body.decode()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"dataframe_split": {"columns": ["channel", "amount", "txn_count_1h"], "data": [["web", 2.5, 2]]}}', None),
        ('{"dataframe_records": [{"amount": 2.5, "channel": "web", "txn_count_1h": 2}]}', None),
        ('{"instances": [{"amount": 2.5, "channel": "web", "txn_count_1h": 2}]}', None),
        ('{"instances": [[2.5, "web", 2]]}', None),
        ('{"inputs": {"amount": [2.5], "channel": ["web"], "txn_count_1h": [2]}}', None),
        ('{"amount": 2.5, "channel": "web", "txn_count_1h": 2}\n', "application/jsonlines"),
        ('[2.5, "web", 2]\n', "application/x-jsonlines"),
        ("amount,channel,txn_count_1h\n2.5,web,2\n", "text/csv"),
        ("2.5,web,2\n", "text/csv; charset=utf-8"),
    ],
)
def test_every_format_predicts_the_same(body: str, content_type: str | None) -> None:
    assert _call(body, content_type or "application/json") == (200, {"predictions": [5.0]})


def test_accept_chooses_csv_and_unknown_accept_is_406() -> None:
    body = (
        '{"dataframe_records": [{"amount": 1.5, "channel": "a", "txn_count_1h": 2}, '
        '{"amount": 2.0, "channel": "b", "txn_count_1h": 3}]}'
    )
    assert _call(body, accept="text/csv") == (200, "3.0\n6.0\n")
    assert _call(body, accept="application/xml") == (
        406,
        {
            "error_code": "BAD_REQUEST",
            "message": "cannot answer with 'application/xml'; this server writes application/json, text/csv",
        },
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (
            "a=1",
            "application/x-www-form-urlencoded",
            415,
            "content type 'application/x-www-form-urlencoded' is not supported; send one of: text/csv, "
            "application/json, application/jsonlines, application/x-jsonlines, application/jsonl, application/x-ndjson",
        ),
        ("", "application/json", 400, "the request body is empty; send at least one row"),
        (
            '{"dataframe_records": [',
            "application/json",
            400,
            "the JSON body is not valid JSON: Expecting value at line 1 column 24",
        ),
        (
            '{"records": []}',
            "application/json",
            400,
            "the JSON body must hold exactly one of the keys dataframe_split, dataframe_records, instances, inputs "
            "(and optionally 'params'); got records",
        ),
        (
            '{"dataframe_records": [{"amount": 1.0, "channel": "a"}]}',
            "application/json",
            400,
            f"missing columns: txn_count_1h (the model's signature is {SIGNATURE})",
        ),
        (
            '{"dataframe_records": [{"amount": 1.0, "channel": "a", "txn_count_1h": 1, "zip": "x"}]}',
            "application/json",
            400,
            f"unexpected columns: zip (the model's signature is {SIGNATURE})",
        ),
        (
            '{"dataframe_records": [{"amount": "lots", "channel": "a", "txn_count_1h": 1}]}',
            "application/json",
            400,
            "column 'amount' (row 0) expects double, got str 'lots'",
        ),
        (
            '{"instances": [[1.0, "a", 1.5]]}',
            "application/json",
            400,
            "column 'txn_count_1h' (row 0) expects long, got float 1.5",
        ),
        (
            '{"instances": [[1.0, "a"]]}',
            "application/json",
            400,
            f"row 0 has 2 values; the model needs 3 ({SIGNATURE})",
        ),
        ("amount,channel,txn_count_1h\n1.0,a\n", "text/csv", 400, "CSV row 0 has 2 fields; the header has 3"),
        (
            "amount,channel,txn_count_1h\nx,a,1\n",
            "text/csv",
            400,
            "column 'amount' (row 0) expects double, got str 'x'",
        ),
        (
            '{"amount": 1}\n{oops\n',
            "application/jsonlines",
            400,
            "JSON line 1 is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        ),
        (
            b"\xff\xfe",
            "text/csv",
            400,
            "the request body is not UTF-8 text: "
            "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
        ),
        (
            '{"dataframe_records": [{"amount": 1.0, "channel": null, "txn_count_1h": 1}]}',
            "application/json",
            400,
            "column 'channel' (row 0) is null; the model needs a string value",
        ),
    ],
)
def test_bad_payloads_get_the_right_status_and_message(
    body: str | bytes, content_type: str, status: int, message: str
) -> None:
    code, answer = _call(body, content_type)
    assert (code, answer["message"]) == (status, message)


def test_oversized_body_is_413() -> None:
    body = b"1.0,a,1\n" * (6 * 1024 * 1024 // 8 + 1)
    code, answer = _call(body, "text/csv")
    assert code == 413
    assert answer["message"] == f"the request body has {len(body)} bytes; the limit is 6291456 bytes (6 MB)"


def test_null_double_is_nan_for_the_model() -> None:
    code, answer = _call('{"instances": [[null, "a", 1]]}')
    assert code == 200
    assert math.isnan(answer["predictions"][0])


def test_entity_key_only_request_is_completed_from_the_online_store() -> None:
    store = _store({"c1": {"amount": 4.0, "channel": "web", "txn_count_1h": 3, "other": 1}})
    response = _core(store).invocations(b'{"instances": [{"customer_id": "c1"}]}', "application/json", None)
    assert (response.status, json.loads(response.body)) == (200, {"predictions": [12.0]})
    unknown = _core(store).invocations(b"customer_id\nc9\n", "text/csv", None)
    assert (unknown.status, json.loads(unknown.body)["message"]) == (
        400,
        "customer_id 'c9' has no features in the online store",
    )


def test_features_of_another_dataset_are_not_this_servers() -> None:
    store = _store({"c1": {"amount": 4.0, "channel": "web", "txn_count_1h": 3}}, dataset="other_dataset")
    response = _core(store).invocations(b"customer_id\nc1\n", "text/csv", None)
    assert (response.status, json.loads(response.body)["message"]) == (
        400,
        "customer_id 'c1' has no features in the online store",
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('{"dataframe_records": [', "INVALID_PARAMETER_VALUE"),  # unreadable: MLflow's invalid-input code
        ('{"records": []}', "INVALID_PARAMETER_VALUE"),
        ('{"dataframe_records": [{"amount": 1.0, "channel": "a"}]}', "BAD_REQUEST"),  # does not fit the signature
        ('{"instances": [[1.0, "a", 1.5]]}', "BAD_REQUEST"),
    ],
)
def test_errors_carry_mlflows_error_codes(body: str, code: str) -> None:
    assert _call(body)[1]["error_code"] == code


def test_deeply_nested_json_is_a_400_naming_the_nesting() -> None:
    status, answer = _call('{"instances": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert (status, answer) == (
        400,
        {
            "error_code": "INVALID_PARAMETER_VALUE",
            "message": "the JSON body nests arrays or objects too deeply to be a model input",
        },
    )


def test_mlflow_params_are_accepted_next_to_the_data_key() -> None:
    body = '{"dataframe_split": {"columns": ["amount", "channel", "txn_count_1h"], "data": [[2.5, "w", 2]]}, '
    assert _call(body + '"params": {"threshold": 0.5}}') == (200, {"predictions": [5.0]})
    assert _call(body + '"params": [1]}') == (
        400,
        {
            "error_code": "INVALID_PARAMETER_VALUE",
            "message": '"params" must be an object of parameter names to values, got list',
        },
    )


def test_an_unknown_response_format_is_refused_by_name() -> None:
    response = _core().invocations(b'{"instances": [[2.5, "w", 2]]}', "application/json", None, "xml")
    assert (response.status, json.loads(response.body)["message"]) == (
        400,
        "response format 'xml' is not one of kit, mlflow",
    )
