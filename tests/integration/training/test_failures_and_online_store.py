"""Against the emulator: a failing training job is recorded Failed and registers nothing; materialization."""

from __future__ import annotations

import secrets

import pytest
from deltalake import write_deltalake

from mlops.adapters.feature_store import DynamoDBOnlineStore
from mlops.errors import FeatureStoreError, TrainingJobFailedError
from mlops.local.platform import Platform
from mlops.local.training_runner import REASON_TAG, STATUS_TAG, describe_job
from pipelines.feature_store.materialize import materialize
from pipelines.feature_store.offline import feature_table_uri, load_features
from pipelines.registry.promotion import list_models
from pipelines.training.workflow import train_dataset
from tests.unit.training.synthetic import definition, end_time, feature_frame

pytestmark = pytest.mark.emulator


def test_single_class_training_set_fails_the_job_and_registers_nothing(platform: Platform) -> None:
    name = f"fail_{secrets.token_hex(3)}"
    frame = feature_frame(300).assign(is_fraud=0)
    write_deltalake(feature_table_uri(platform, name), frame, storage_options=platform.clients.storage_options())
    with pytest.raises(TrainingJobFailedError, match="holds a single class") as caught:
        train_dataset(platform, definition(name), cutoff=end_time(frame))
    job = caught.value.job_name
    record = describe_job(platform, job)
    assert record.status == "Failed"
    assert record.model_artifact == ""
    assert "holds a single class (0) of label 'is_fraud'" in record.failure_reason
    sagemaker = platform.clients.client("sagemaker")
    tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=record.job_arn)["Tags"]}
    assert tags[STATUS_TAG] == "Failed"
    # tag values allow a restricted character set: quotes and parentheses become spaces
    assert tags[REASON_TAG].startswith("channel  train  holds a single class  0  of label  is_fraud")
    assert list_models(platform, name) == []


def test_materialize_writes_the_latest_row_per_entity(platform: Platform) -> None:
    name = f"online_{secrets.token_hex(3)}"
    frame = feature_frame(400)
    write_deltalake(feature_table_uri(platform, name), frame, storage_options=platform.clients.storage_options())
    result = materialize(platform, definition(name))
    latest = frame.sort_values("event_time").groupby("customer_id").tail(1).set_index("customer_id")
    assert (result.entities, result.table_version) == (len(latest), 0)
    store = DynamoDBOnlineStore(platform.clients, platform.outputs.online_feature_table)
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
    write_deltalake(uri, feature_frame(50), storage_options=platform.clients.storage_options())
    with pytest.raises(FeatureStoreError) as unknown:
        load_features(platform, definition(name), version=3)
    assert str(unknown.value) == f"Delta table {uri} has no version 3; its versions are 0..0"
