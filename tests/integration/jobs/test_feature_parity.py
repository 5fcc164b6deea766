from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest

from mlops.datasets import parse_definition
from mlops.errors import ConfigError
from mlops.features.spark import spark_features
from pipelines.lake.curation import conform
from tests.unit.features.synthetic import DEFINITION, definition, events, mismatches, online_reference

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.spark


def _spark_by_id(spark: SparkSession, rows: list[dict[str, Any]], spec: Any) -> dict[str, dict[str, Any]]:
    table = conform(pa.Table.from_pylist(rows), spec, "test events")
    result = spark_features(spec, spark.createDataFrame(table)).toArrow().to_pylist()
    return {str(r["transaction_id"]): r for r in result}


def test_spark_features_match_the_online_path(spark: SparkSession) -> None:
    rows = events()
    spec = definition()
    got = _spark_by_id(spark, rows, spec)
    assert len(got) == len(rows)
    assert mismatches(online_reference(spec, rows), got, spec.feature_names) == []


def test_a_spark_window_one_microsecond_wider_would_be_caught(spark: SparkSession) -> None:
    rows = events()
    wider = {
        **DEFINITION,
        "features": [
            {**f, "window": 3600.000001} if f["name"] in ("count_1h", "sum_1h") else f for f in DEFINITION["features"]
        ],
    }
    got = _spark_by_id(spark, rows, parse_definition(wider, "wider"))
    problems = mismatches(online_reference(definition(), rows), got, ["count_1h", "sum_1h"])
    assert problems != []


def test_spark_feature_columns_and_types_follow_the_contract(spark: SparkSession) -> None:
    spec = definition()
    table = conform(pa.Table.from_pylist(events(entities=1, per_entity=3)), spec, "test events")
    schema = spark_features(spec, spark.createDataFrame(table)).schema
    assert [f.name for f in schema.fields][:3] == ["customer_id", "event_time", "transaction_id"]
    assert schema.fieldNames()[-1] == "is_fraud"
    types = {f.name: f.dataType.simpleString() for f in schema.fields}
    assert (types["count_1h"], types["items_sum_2h"], types["std_1d"], types["hour_of_day"]) == (
        "bigint",
        "bigint",
        "double",
        "bigint",
    )


def test_a_session_outside_utc_is_refused(spark: SparkSession) -> None:
    spec = definition()
    frame = spark.createDataFrame(conform(pa.Table.from_pylist(events(1, 2)), spec, "test events"))
    spark.conf.set("spark.sql.session.timeZone", "Europe/Paris")
    try:
        with pytest.raises(ConfigError, match=r"spark.sql.session.timeZone is 'Europe/Paris'; feature computation"):
            spark_features(spec, frame)
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
