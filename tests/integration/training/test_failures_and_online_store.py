"""Against the emulator: materialization and reading the offline feature table. (A failing training job is
tested with the pipeline executor: tests/integration/training/test_pipeline_executor.py.)"""

from __future__ import annotations

import secrets

import pandas as pd
import pyarrow as pa
import pytest

from mlops.errors import FeatureStoreError
from mlops.platform import Platform
from pipelines.feature_store.materialize import materialize
from pipelines.feature_store.offline import feature_table_uri, load_features
from tests.unit.training.synthetic import definition, feature_frame

pytestmark = pytest.mark.emulator


def _write_features(platform: Platform, uri: str, frame: pd.DataFrame) -> None:
    """A feature table version, written through the platform's table store as the build_features job does."""
    platform.services.table_store.write(uri, pa.Table.from_pandas(frame, preserve_index=False), "overwrite", {})


def test_materialize_writes_the_latest_row_per_entity(platform: Platform) -> None:
    name = f"online_{secrets.token_hex(3)}"
    frame = feature_frame(400)
    _write_features(platform, feature_table_uri(platform, name), frame)
    result = materialize(platform, definition(name))
    latest = frame.sort_values("event_time").groupby("customer_id").tail(1).set_index("customer_id")
    assert (result.entities, result.table_version) == (len(latest), 0)
    store = platform.services.online_store
    entities = sorted(latest.index)
    found = store.read(name, [*entities, "nobody"])
    assert sorted(found) == entities  # 'nobody' absent; > 100 keys exercises BatchGetItem paging if present
    first = found[entities[0]]
    assert first["amount"] == pytest.approx(latest.loc[entities[0], "amount"])
    assert first["category"] == latest.loc[entities[0], "category"]
    assert first["feature_table_version"] == 0


def test_load_features_names_the_missing_table_and_version(platform: Platform) -> None:
    name = f"absent_{secrets.token_hex(3)}"
    uri = feature_table_uri(platform, name)
    with pytest.raises(FeatureStoreError) as missing:
        load_features(platform, definition(name), version=2)
    assert (
        str(missing.value)
        == f"no feature table for dataset {name!r} at {uri} version 2: run the feature pipeline first"
    )
    _write_features(platform, uri, feature_frame(50))
    with pytest.raises(FeatureStoreError) as unknown:
        load_features(platform, definition(name), version=3)
    assert str(unknown.value) == f"Delta table {uri} has no version 3; its versions are 0..0"
