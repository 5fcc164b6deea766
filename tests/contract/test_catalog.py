"""The catalog port's contract, over every implementation: the in-memory fake, the Glue Data Catalog on the
session's moto server (LocalStack's free edition does not run Glue, so it has no parameter) and, for ``cloud: gcp``
on Google's emulators, the kit's catalog in the Firestore emulator (BigQuery has no emulator; the BigQuery adapter's
requests are unit-tested in tests/unit/test_bigquery_catalog.py).

Each test gets a database of its own, so table names never clash between tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pytest

from mlops.errors import DatasetError
from mlops.ports.catalog import Catalog, CatalogError, CatalogTableNotFoundError
from mlops.ports.errors import NotFoundError

SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("amount", pa.float64()),
        ("count_1h", pa.int64()),
        ("items", pa.int32()),
        ("is_weekend", pa.bool_()),
        ("day", pa.date32()),
    ]
)
COLUMNS = (
    ("customer_id", "string"),
    ("event_time", "timestamp"),
    ("amount", "double"),
    ("count_1h", "bigint"),
    ("items", "int"),
    ("is_weekend", "boolean"),
    ("day", "date"),
)


@dataclass
class Backend:
    catalog: Catalog
    database: str


@pytest.fixture(
    params=[
        "memory",
        pytest.param("aws-moto", marks=pytest.mark.emulator),
        pytest.param("gcp-emulator", marks=pytest.mark.server),
    ]
)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    database = f"contract_{uuid.uuid4().hex[:8]}"
    if request.param == "memory":
        from mlops.adapters.memory.catalog import MemoryCatalog

        yield Backend(MemoryCatalog(), database)
        return
    if request.param == "gcp-emulator":
        from mlops.local.gcp_catalog import FirestoreEmulatorCatalog

        yield Backend(FirestoreEmulatorCatalog(request.getfixturevalue("gcp_clients")), database)
        return
    from mlops.adapters.aws.glue_catalog import GlueCatalog

    clients = request.getfixturevalue("emulated_clients")
    glue = clients.client("glue")
    glue.create_database(DatabaseInput={"Name": database})
    yield Backend(GlueCatalog(clients), database)
    glue.delete_database(Name=database)


def test_an_absent_table_is_not_found_and_named(backend: Backend) -> None:
    with pytest.raises(CatalogTableNotFoundError) as missing:
        backend.catalog.get_table(backend.database, "cards_features")
    error = missing.value
    assert isinstance(error, NotFoundError) and isinstance(error, CatalogError) and isinstance(error, DatasetError)
    assert f"{backend.database}.cards_features" in str(error)
    with pytest.raises(CatalogTableNotFoundError):
        backend.catalog.get_table(f"absent_{uuid.uuid4().hex[:8]}", "cards_features")


def test_registering_creates_the_entry_with_location_columns_and_version(backend: Backend) -> None:
    backend.catalog.register_delta_table(
        database=backend.database,
        name="cards_features",
        location="s3://features-bucket/tables/cards",
        schema=SCHEMA,
        version=0,
        parameters={"source_table": "s3://curated-bucket/tables/cards", "source_version": "3"},
    )
    table = backend.catalog.get_table(backend.database, "cards_features")
    assert (table.database, table.name) == (backend.database, "cards_features")
    assert table.location == "s3://features-bucket/tables/cards"
    assert table.columns == COLUMNS
    assert table.version == 0
    assert table.parameters["classification"] == "delta"
    assert table.parameters["table_type"] == "DELTA"
    assert (table.parameters["source_table"], table.parameters["source_version"]) == (
        "s3://curated-bucket/tables/cards",
        "3",
    )


def test_registering_again_updates_the_entry_in_place(backend: Backend) -> None:
    catalog, database = backend.catalog, backend.database
    catalog.register_delta_table(
        database=database,
        name="cards_curated",
        location="s3://curated-bucket/tables/cards",
        schema=SCHEMA,
        version=0,
        parameters={"lineage": "first"},
    )
    wider = SCHEMA.append(pa.field("channel", pa.string()))
    catalog.register_delta_table(
        database=database,
        name="cards_curated",
        location="s3://curated-bucket/tables/cards",
        schema=wider,
        version=4,
        parameters={"lineage": "second"},
    )
    table = catalog.get_table(database, "cards_curated")
    assert table.version == 4
    assert table.columns == (*COLUMNS, ("channel", "string"))
    assert table.parameters["lineage"] == "second"


def test_tables_are_independent_per_name_and_per_database(backend: Backend) -> None:
    catalog, database = backend.catalog, backend.database
    catalog.register_delta_table(
        database=database, name="a_curated", location="s3://c/tables/a", schema=SCHEMA, version=1
    )
    catalog.register_delta_table(
        database=database, name="a_features", location="s3://f/tables/a", schema=SCHEMA, version=7
    )
    assert catalog.get_table(database, "a_curated").version == 1
    assert catalog.get_table(database, "a_features").location == "s3://f/tables/a"
    with pytest.raises(CatalogTableNotFoundError):
        catalog.get_table(database, "a")


def test_a_column_type_the_catalog_cannot_hold_is_refused_and_nothing_is_registered(backend: Backend) -> None:
    schema = pa.schema([("id", pa.string()), ("tags", pa.list_(pa.string()))])
    with pytest.raises(CatalogError, match=r"no Glue column type for Arrow type list<item: string>"):
        backend.catalog.register_delta_table(
            database=backend.database, name="bad", location="s3://c/tables/bad", schema=schema, version=0
        )
    with pytest.raises(CatalogTableNotFoundError):
        backend.catalog.get_table(backend.database, "bad")
