"""The data plane on the in-memory platform: ingestion, validation, the curation inputs, the offline feature store
and materialization run against the ports' fakes (no emulator), with every key and URI from the layout."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops import layout
from mlops.adapters.memory.metrics import MemoryMetrics
from mlops.adapters.memory.online_store import MemoryOnlineStore
from mlops.datasets import find_definition
from mlops.errors import DatasetError, FeatureStoreError
from mlops.outputs import StackOutputs
from mlops.platform import Platform
from mlops.ports.object_store import ObjectNotFoundError
from mlops.wiring import memory_platform
from pipelines.feature_store.materialize import materialize
from pipelines.feature_store.offline import feature_table_uri, load_features
from pipelines.generate.produce import GenerateRequest, generate
from pipelines.ingest.batch import ingest
from pipelines.ingest.formats import FileFormat
from pipelines.lake.curation import list_validated_batches, read_validated_batch
from pipelines.validation.run import validate
from tests.unit.training.synthetic import definition, feature_frame

DATASETS = Path(__file__).resolve().parents[3] / "pipelines" / "datasets"


def _outputs() -> StackOutputs:
    values: dict[str, Any] = {}
    for name, field in StackOutputs.model_fields.items():
        values[name] = {} if str(field.annotation).startswith("dict") else f"unit-{name.replace('_', '-')}"
        if field.annotation is bool:
            values[name] = False
    return StackOutputs.model_validate(values)


@pytest.fixture
def lake() -> Platform:
    return memory_platform(_outputs(), datasets_dir=DATASETS)


def _cards(path: Path, rows: int, seed: int = 0) -> Path:
    generate(GenerateRequest("card_transactions", rows, path, FileFormat(path.suffix[1:]), seed=seed))
    return path


def test_ingest_stores_the_file_and_its_manifest_once_under_layout_keys(lake: Platform, tmp_path: Path) -> None:
    path = _cards(tmp_path / "cards.csv", 50)
    [first] = ingest(lake, "card_transactions", [path])
    [again] = ingest(lake, "card_transactions", [path])
    assert (first.status, again.status, again.manifest) == ("ingested", "already_ingested", first.manifest)
    m = first.manifest
    raw = lake.layout.bucket("raw")
    assert lake.services.object_store.list_keys(raw) == sorted(
        [layout.manifest_key("card_transactions", m.checksum), m.key]
    )
    assert m.key == layout.raw_key("card_transactions", datetime.fromisoformat(m.ingested_at).date(), m.checksum, "csv")
    assert lake.services.object_store.get(raw, m.key) == path.read_bytes()


def test_validation_writes_rows_result_and_metrics_through_the_ports(lake: Platform, tmp_path: Path) -> None:
    path = _cards(tmp_path / "cards.jsonl", 120, seed=3)
    with path.open("a") as handle:
        handle.write('{"transaction_id": "broken"\n')
    [outcome] = ingest(lake, "card_transactions", [path])
    [result] = validate(lake, "card_transactions", all_pending=True)
    batch = outcome.manifest.batch_id
    assert (result.success, result.rows_in, result.rows_valid, result.rows_quarantined) == (True, 121, 120, 1)
    valid_key = layout.validated_key("card_transactions", batch)
    quarantine_key = layout.quarantine_key("card_transactions", batch)
    assert result.source_key == f"memory://unit-raw-bucket/{outcome.manifest.key}"
    assert result.validated_key == f"memory://unit-curated-bucket/{valid_key}"
    assert result.quarantine_key == f"memory://unit-quarantine-bucket/{quarantine_key}"
    store = lake.services.object_store
    assert pq.read_table(io.BytesIO(store.get(lake.layout.bucket("curated"), valid_key))).num_rows == 120
    stored = json.loads(store.get(lake.layout.bucket("monitoring"), layout.result_key("card_transactions", batch)))
    assert (stored["rows_in"], stored["success"]) == (121, True)
    metrics = lake.services.metrics
    assert isinstance(metrics, MemoryMetrics) and metrics.namespace == "unit-metrics-namespace"
    published = {p.name: p.value for p in metrics.points}
    assert (published["rows_in"], published["rows_quarantined"], published["success"]) == (121.0, 1.0, 1.0)
    assert {dict(p.dimensions)["Stage"] for p in metrics.points} == {"validation"}
    assert validate(lake, "card_transactions", all_pending=True) == []
    with pytest.raises(DatasetError, match=r"has no batch 'feedfacefeedface' in memory://unit-raw-bucket/"):
        validate(lake, "card_transactions", batch_id="feedfacefeedface")


def test_curation_lists_and_reads_validated_batches_conformed(lake: Platform, tmp_path: Path) -> None:
    cards = _cards(tmp_path / "a.csv", 140, seed=1), _cards(tmp_path / "b.csv", 130, seed=2)
    outcomes = ingest(lake, "card_transactions", list(cards))
    assert all(result.success for result in validate(lake, "card_transactions", all_pending=True))
    store = lake.services.object_store
    store.put(lake.layout.bucket("curated"), "validated/card_transactions/notes.txt", b"not a batch folder")
    batches = list_validated_batches(store, lake.layout, "card_transactions")
    assert batches == sorted(o.manifest.batch_id for o in outcomes)
    cards_definition = find_definition("card_transactions", DATASETS)
    table = read_validated_batch(store, lake.layout, cards_definition, batches[0])
    assert table.column_names == cards_definition.column_names
    assert table.schema.field("event_time").type == pa.timestamp("us", tz="UTC")
    assert list_validated_batches(store, lake.layout, "no_such_dataset") == []
    with pytest.raises(ObjectNotFoundError, match=r"memory://unit-curated-bucket/validated/card_transactions/"):
        read_validated_batch(store, lake.layout, cards_definition, "0000000000000000")


def test_the_offline_store_is_the_feature_table_and_materialization_fills_the_online_store(lake: Platform) -> None:
    spec = definition("unit_online")
    uri = feature_table_uri(lake, spec.name)
    assert uri == lake.layout.table_uri("features", spec.name) == "memory://unit-features-bucket/tables/unit_online"
    with pytest.raises(FeatureStoreError, match=r"no feature table for dataset 'unit_online' at .* version 1"):
        load_features(lake, spec, version=1)
    frame = feature_frame(200)
    lake.services.table_store.write(uri, pa.Table.from_pandas(frame, preserve_index=False), "overwrite", {})
    snapshot = load_features(lake, spec)
    assert (snapshot.version, len(snapshot.frame), snapshot.uri) == (0, 200, uri)
    assert str(snapshot.frame["event_time"].dtype) == "datetime64[ns, UTC]"
    with pytest.raises(FeatureStoreError, match=r"has no version 4; its versions are 0\.\.0"):
        load_features(lake, spec, version=4)
    progress: list[tuple[int, int]] = []
    result = materialize(lake, spec, progress=lambda done, total: progress.append((done, total)))
    latest = frame.sort_values("event_time").groupby("customer_id").tail(1).set_index("customer_id")
    assert (result.entities, result.table_version, result.online_table) == (len(latest), 0, "unit-online-feature-table")
    assert progress[-1] == (len(latest), len(latest))
    online = lake.services.online_store
    assert isinstance(online, MemoryOnlineStore)
    entity = sorted(latest.index)[0]
    found = online.read(spec.name, [entity, "nobody"])
    assert list(found) == [entity]
    assert found[entity]["amount"] == pytest.approx(latest.loc[entity, "amount"])
    assert found[entity]["feature_table_version"] == 0
    assert found[entity]["feature_time"] == latest.loc[entity, "event_time"].isoformat()
