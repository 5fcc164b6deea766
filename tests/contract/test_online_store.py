"""The online-store port's contract, over every implementation: the in-memory fake and DynamoDB on the session's
moto server, in a table shaped as the infra program declares the online table (LocalStack's free edition does not
run DynamoDB here, so it has no parameter), and Firestore on the session's Firestore emulator.

Each test writes under a dataset name of its own, so tests never read each other's entities.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops.errors import FeatureStoreError
from mlops.ports.errors import NotFoundError
from mlops.ports.online_store import OnlineStore, OnlineStoreError, OnlineTableNotFoundError

WHEN = datetime(2026, 3, 1, 22, 30, 15, 123456, tzinfo=UTC)


@dataclass
class Backend:
    store: OnlineStore
    dataset: str
    missing_table: Callable[[], OnlineStore] | None  # a store whose table does not exist, where tables exist


@pytest.fixture(params=["memory", pytest.param("aws-moto", marks=pytest.mark.emulator), "gcp-emulator"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    dataset = f"contract_{uuid.uuid4().hex[:8]}"
    if request.param == "gcp-emulator":
        from mlops.adapters.gcp.firestore_online import FirestoreOnlineStore

        # a Firestore collection exists once it holds a document: it cannot be missing
        collection = f"contract-online-{uuid.uuid4().hex[:8]}"
        yield Backend(FirestoreOnlineStore(request.getfixturevalue("gcp_clients"), collection), dataset, None)
        return
    if request.param == "memory":
        from mlops.adapters.memory.online_store import MemoryOnlineStore

        yield Backend(MemoryOnlineStore(), dataset, None)
        return
    from mlops.adapters.aws.dynamodb_online import DynamoDBOnlineStore

    clients = request.getfixturevalue("emulated_clients")
    table = _online_table(clients)
    yield Backend(
        DynamoDBOnlineStore(clients, table),
        dataset,
        lambda: DynamoDBOnlineStore(clients, f"absent-{uuid.uuid4().hex[:8]}"),
    )


def _online_table(clients: Any) -> str:
    """A table shaped as infra/components/featurestore.py declares the online table (hash key, TTL)."""
    dynamodb = clients.client("dynamodb")
    name = f"contract-online-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "entity_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "entity_id", "AttributeType": "S"}],
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    return name


def _row(entity: str, **features: Any) -> dict[str, Any]:
    return {"customer_id": entity, **features}


def test_written_rows_read_back_by_entity_and_unknown_entities_are_absent(backend: Backend) -> None:
    store, dataset = backend.store, backend.dataset
    written = store.write(dataset, [_row("c1", amount=12.5, count=3), _row("c2", amount=1.0, count=0)], "customer_id")
    assert written == 2
    found = store.read(dataset, ["c2", "nobody", "c1"])
    assert found == {"c1": {"amount": 12.5, "count": 3}, "c2": {"amount": 1.0, "count": 0}}
    assert store.read(dataset, []) == {}
    assert store.read(dataset, ["nobody", "else"]) == {}


def test_values_keep_their_kind_and_missing_numbers_read_back_as_none(backend: Backend) -> None:
    store, dataset = backend.store, backend.dataset
    row = _row(
        "c1",
        nan=float("nan"),
        none=None,
        yes=True,
        no=False,
        text="online",
        empty_text="",
        whole=7,
        fraction=0.1,
        round_float=2.0,
        negative=-3,
        when=WHEN,
        pandas_when=pd.Timestamp(WHEN),
        np_int=np.int64(5),
        np_float=np.float64(0.25),
        np_nan=np.float64("nan"),
        np_bool=np.bool_(True),
    )
    store.write(dataset, [row], "customer_id")
    got = store.read(dataset, ["c1"])["c1"]
    assert (got["nan"], got["none"], got["np_nan"]) == (None, None, None)
    assert got["yes"] is True and got["no"] is False and got["np_bool"] is True  # booleans are not 1/0
    assert (got["text"], got["whole"], got["negative"], got["np_int"]) == ("online", 7, -3, 5)
    assert isinstance(got["whole"], int) and isinstance(got["np_int"], int)
    assert (got["fraction"], got["np_float"]) == (0.1, 0.25)
    assert got["round_float"] == 2.0 and not (isinstance(got["round_float"], float) and math.isnan(got["round_float"]))
    assert got["when"] == got["pandas_when"] == "2026-03-01T22:30:15.123456+00:00"  # timestamps as ISO 8601
    assert got["empty_text"] == ""


def test_more_rows_than_one_write_batch_and_more_entities_than_one_read_batch(backend: Backend) -> None:
    store, dataset = backend.store, backend.dataset
    rows = [_row(f"e{n:04d}", n=n, flag=n % 2 == 0, gap=None if n % 3 else float("nan")) for n in range(230)]
    assert store.write(dataset, rows, "customer_id") == 230  # DynamoDB: ten BatchWriteItem calls of <= 25
    wanted = [f"e{n:04d}" for n in range(230)] + ["e0001", "unknown-1", "unknown-2"]  # duplicates and strangers
    found = store.read(dataset, wanted)  # DynamoDB: three BatchGetItem calls of <= 100 keys
    assert sorted(found) == [f"e{n:04d}" for n in range(230)]
    assert found["e0229"] == {"n": 229, "flag": False, "gap": None}
    assert found["e0000"] == {"n": 0, "flag": True, "gap": None}


def test_a_second_write_replaces_the_entity_and_datasets_do_not_clash(backend: Backend) -> None:
    store, dataset = backend.store, backend.dataset
    other = f"{dataset}_other"
    store.write(dataset, [_row("c1", amount=1.0, old_feature="x")], "customer_id")
    store.write(other, [_row("c1", amount=99.0)], "customer_id")
    store.write(dataset, [_row("c1", amount=2.0)], "customer_id")
    assert store.read(dataset, ["c1"]) == {"c1": {"amount": 2.0}}  # the whole row is replaced: latest wins
    assert store.read(other, ["c1"]) == {"c1": {"amount": 99.0}}


def test_entity_keys_are_strings(backend: Backend) -> None:
    store, dataset = backend.store, backend.dataset
    store.write(dataset, [{"patient": 7, "bmi": 30.5}, {"patient": np.int64(8), "bmi": 21.0}], "patient")
    assert store.read(dataset, ["7", "8"]) == {"7": {"bmi": 30.5}, "8": {"bmi": 21.0}}


def test_a_row_without_its_entity_key_is_refused_and_nothing_of_the_batch_is_written(backend: Backend) -> None:
    store, dataset = backend.store, backend.dataset
    rows = [_row("c1", amount=1.0), {"amount": 2.0}, _row(None, amount=3.0)]  # type: ignore[arg-type]
    with pytest.raises(OnlineStoreError, match=r"has no value for entity key 'customer_id'") as refused:
        store.write(dataset, rows, "customer_id")
    assert isinstance(refused.value, FeatureStoreError)
    assert dataset in str(refused.value)
    assert store.read(dataset, ["c1"]) == {}


def test_a_missing_table_is_not_found(backend: Backend) -> None:
    if backend.missing_table is None:
        pytest.skip(
            "no table of this store can be missing (the in-memory fake; a Firestore collection needs no creation)"
        )
    store = backend.missing_table()
    with pytest.raises(OnlineTableNotFoundError) as missing:
        store.read(backend.dataset, ["c1"])
    assert isinstance(missing.value, NotFoundError) and "does not exist" in str(missing.value)
    with pytest.raises(OnlineTableNotFoundError):
        store.write(backend.dataset, [_row("c1", amount=1.0)], "customer_id")
