"""``cloud: gcp`` through the wiring, on the session's Google emulators: the platform capability code receives
builds the GCP adapters from the settings alone, lays the lake out in ``gs://`` URIs, and every port built so far
round-trips through it (metrics through the kit's store: Cloud Monitoring has no emulator); a capability without a
GCP implementation is refused by name."""

from __future__ import annotations

import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from mlops.adapters.gcp.clients import GcpClients
from mlops.platform import Platform
from mlops.ports.events import OutgoingEvent
from mlops.settings import Settings
from mlops.wiring import container_platform

pytestmark = pytest.mark.server


@pytest.fixture
def gcp_platform(gcp_settings: Settings, gcp_clients: GcpClients, tmp_path: Path) -> Platform:
    from mlops.adapters.gcp.pubsub import create_stream

    suffix = uuid.uuid4().hex[:8]
    outputs = {
        "raw_bucket": f"raw-{suffix}",
        "features_bucket": f"features-{suffix}",
        "online_feature_table": f"online-{suffix}",
        "stream_name": f"events-{suffix}",
        "checkpoint_table": f"checkpoints-{suffix}",
        "metrics_namespace": f"MlopsKit/{suffix}",
    }
    for zone in ("raw", "features"):  # what the infra program would create
        gcp_clients.storage().create_bucket(outputs[f"{zone}_bucket"])
    create_stream(gcp_clients, outputs["stream_name"], partitions=2)
    return container_platform(gcp_settings.model_copy(update={"state_dir": tmp_path}), **outputs)


def test_the_wired_gcp_ports_round_trip_in_gs_uris(gcp_platform: Platform) -> None:
    services, layout = gcp_platform.services, gcp_platform.layout
    raw = layout.zone_uri("raw", "d/file.csv")
    assert raw == f"gs://{gcp_platform.outputs.raw_bucket}/d/file.csv"
    services.object_store.put(gcp_platform.outputs.raw_bucket, "d/file.csv", b"a,b\n1,2\n")
    assert services.object_store.list_keys(gcp_platform.outputs.raw_bucket) == ["d/file.csv"]

    table = layout.feature_table_uri("d")
    assert table.startswith("gs://")
    version = services.table_store.write(table, pa.table({"k": [1, 2]}), "append", {"source": raw})
    read = services.table_store.read(table)
    assert (read.uri, read.version, read.data.num_rows) == (table, version, 2)
    assert services.table_store.commit_metadata(table)[version] == {"source": raw}

    services.online_store.write("d", [{"id": "e1", "x": 1.5}], "id")
    assert services.online_store.read("d", ["e1", "e2"]) == {"e1": {"x": 1.5}}

    services.events.put([OutgoingEvent("e1", b"1"), OutgoingEvent("e1", b"2")])
    with services.events.subscribe("features", "owner-a") as subscription:
        got = []
        for _ in range(20):
            got += subscription.poll()
            if len(got) == 2:
                break
        assert [d.data for d in got] == [b"1", b"2"]
        subscription.commit({got[-1].partition: got[-1].position})
        assert subscription.committed[got[-1].partition].records == 2


def test_metrics_go_to_the_kits_store_and_a_capability_with_no_gcp_implementation_is_refused(
    gcp_platform: Platform,
) -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    gcp_platform.services.metrics.publish({"rows_in": 3.0}, {"Dataset": "d"}, timestamp=start)
    points = gcp_platform.services.metrics.datapoints(
        "rows_in", {"Dataset": "d"}, start, start + timedelta(minutes=1), 60
    )
    assert [p.value for p in points] == [3.0]


def test_the_catalog_is_the_kits_store_in_the_firestore_emulator(gcp_platform: Platform) -> None:
    from mlops.local.gcp_catalog import FirestoreEmulatorCatalog

    catalog = gcp_platform.services.catalog
    assert isinstance(catalog, FirestoreEmulatorCatalog)  # BigQuery has no emulator
    table = gcp_platform.layout.feature_table_uri("d")
    database = f"db_{uuid.uuid4().hex[:8]}"
    catalog.register_delta_table(
        database=database, name="d_features", location=table, schema=pa.schema([("k", pa.int64())]), version=3
    )
    entry = catalog.get_table(database, "d_features")
    assert (entry.location, entry.columns, entry.version) == (table, (("k", "bigint"),), 3)
