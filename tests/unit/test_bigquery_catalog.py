"""The catalog on BigQuery (``target: gcp``; BigQuery has no emulator, so the contract suite runs the kit's Firestore
catalog instead): the table resource the adapter creates or updates for a Delta table, and the entry it reads back."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

pytest.importorskip("google.cloud.bigquery", reason="the gcp extra is not installed")

from google.cloud import bigquery

from mlops.adapters.gcp.bigquery_catalog import DESCRIPTION_PREFIX, entry_of, table_resource
from mlops.adapters.gcp.clients import GcpClients
from mlops.errors import EmulatorError
from mlops.lake.columns import delta_table_entry
from mlops.ports.catalog import CatalogError
from mlops.settings import load_settings

CONNECTION = "projects/my-project-1/locations/us-central1/connections/mlops-kit-dev-biglake"
SCHEMA = pa.schema([("customer_id", pa.string()), ("amount", pa.float64()), ("day", pa.date32())])


def _entry(location: str = "gs://features/tables/cards") -> dict[str, object]:
    return {
        "database": "mlops_kit_dev",
        "name": "cards_features",
        "location": location,
        "schema": SCHEMA,
        "version": 4,
        "parameters": {"source_table": "gs://curated/tables/cards"},
    }


def test_a_delta_table_is_a_biglake_table_over_its_gs_root_with_the_entry_in_its_description() -> None:
    entry = delta_table_entry(**_entry())  # type: ignore[arg-type]
    resource = table_resource("my-project-1", entry, CONNECTION)
    stored = {
        "columns": [["customer_id", "string"], ["amount", "double"], ["day", "date"]],
        "parameters": {
            "classification": "delta",
            "table_type": "DELTA",
            "delta_version": "4",
            "source_table": "gs://curated/tables/cards",
        },
    }
    assert resource == {
        "tableReference": {"projectId": "my-project-1", "datasetId": "mlops_kit_dev", "tableId": "cards_features"},
        "description": DESCRIPTION_PREFIX + json.dumps(stored, sort_keys=True),
        "labels": {"delta_version": "4", "managed_by": "mlops-kit"},
        "externalDataConfiguration": {
            "sourceFormat": "DELTA_LAKE",  # BigQuery reads the schema from the Delta log
            "sourceUris": ["gs://features/tables/cards"],
            "autodetect": True,
            "connectionId": CONNECTION,
        },
    }
    table = bigquery.Table.from_api_repr(resource)  # what create_table/update_table send
    assert table.to_api_repr()["externalDataConfiguration"] == resource["externalDataConfiguration"]
    assert entry_of("mlops_kit_dev", "cards_features", table.to_api_repr()) == entry


def test_bigquery_reads_cloud_storage_only_and_the_error_names_the_table() -> None:
    entry = delta_table_entry(**_entry("s3://features/tables/cards"))  # type: ignore[arg-type]
    with pytest.raises(CatalogError, match=r"mlops_kit_dev\.cards_features: BigQuery reads Delta tables on Cloud"):
        table_resource("my-project-1", entry, CONNECTION)


def test_a_table_the_kit_did_not_register_reads_with_bigquerys_types_and_labels() -> None:
    resource = {
        "externalDataConfiguration": {"sourceFormat": "DELTA_LAKE", "sourceUris": ["gs://features/tables/x"]},
        "schema": {"fields": [{"name": "k", "type": "INT64"}]},
        "labels": {"team": "risk"},
    }
    entry = entry_of("d", "x_features", resource)
    assert (entry.location, entry.columns, entry.parameters, entry.version) == (
        "gs://features/tables/x",
        (("k", "int64"),),
        {"team": "risk"},
        None,
    )


def test_on_the_emulators_the_bigquery_client_is_refused_naming_the_local_catalog() -> None:
    clients = GcpClients(load_settings(cloud="gcp", target="gcp-emulators"))
    with pytest.raises(EmulatorError, match=r"MLOPS_SERVICES__CATALOG__TYPE=local"):
        clients.bigquery()
