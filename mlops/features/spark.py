"""The batch engine: every feature of a definition as Spark window functions over the entity's events.

Semantics are those of :mod:`mlops.features.spec`. Rolling windows are range windows over the event time in
microseconds, ``rangeBetween(-(window - 1 us), 0)``: the half-open ``(t - window, t]`` including every event that
shares the current time. pyspark is imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops.datasets import DatasetDefinition, Feature
from mlops.errors import ConfigError
from mlops.features.spec import MICROS_PER_SECOND, feature_table_columns, output_type, window_micros

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

_TIME = "_mlops_event_micros"
_SPARK_TYPES = {
    "string": "string",
    "int": "bigint",
    "double": "double",
    "bool": "boolean",
    "timestamp": "timestamp",
    "date": "date",
}
_AGGREGATIONS = {"count": "count", "sum": "sum", "mean": "avg", "min": "min", "max": "max", "std": "stddev_samp"}


def spark_type(column_type: str) -> str:
    """The Spark SQL type name of a definition column type (``int`` is 64-bit everywhere in the kit)."""
    return _SPARK_TYPES[column_type]


def _require_utc(frame: DataFrame) -> None:
    # Calendar parts and date -> timestamp casts follow the session time zone; the kit's times are UTC.
    zone = frame.sparkSession.conf.get("spark.sql.session.timeZone")
    if zone not in ("UTC", "Etc/UTC", "+00:00", "Z"):
        raise ConfigError(f"spark.sql.session.timeZone is {zone!r}; feature computation needs 'UTC'")


def _calendar(part: str, time: Column) -> Column:
    from pyspark.sql import functions as F

    if part == "hour":
        return F.hour(time)
    if part == "day_of_week":
        return (F.dayofweek(time) + 5) % 7  # Spark: 1 = Sunday .. 7 = Saturday; the kit: 0 = Monday .. 6 = Sunday
    if part == "day_of_month":
        return F.dayofmonth(time)
    return F.month(time)


def _feature_column(definition: DatasetDefinition, feature: Feature, time: Column) -> Column:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    by_entity = Window.partitionBy(definition.entity_key).orderBy(F.col(_TIME))
    if feature.kind == "column":
        assert feature.source is not None  # guaranteed by Feature's validator
        return F.col(feature.source)
    if feature.kind == "calendar":
        assert feature.part is not None
        return _calendar(feature.part, time)
    if feature.kind == "time_since_last":
        previous = F.max(F.col(_TIME)).over(by_entity.rangeBetween(Window.unboundedPreceding, -1))
        peers = F.count(F.lit(1)).over(Window.partitionBy(definition.entity_key, _TIME))
        gap = (F.col(_TIME) - previous) / F.lit(float(MICROS_PER_SECOND))
        return F.when(peers > 1, F.lit(0.0)).otherwise(gap)
    assert feature.source is not None and feature.window is not None and feature.aggregation is not None
    trailing = by_entity.rangeBetween(-(window_micros(feature.window) - 1), 0)
    aggregate: Any = getattr(F, _AGGREGATIONS[feature.aggregation])
    result: Column = aggregate(F.col(feature.source)).over(trailing)
    return result


def spark_features(definition: DatasetDefinition, events: DataFrame) -> DataFrame:
    """The feature table of ``events`` (rows with the definition's columns), one row per event.

    Columns (see :func:`mlops.features.spec.feature_table_columns`): entity key, event time, primary key,
    every feature by name (typed per :func:`mlops.features.spec.output_type`), label.
    """
    from pyspark.sql import functions as F

    _require_utc(events)
    missing = [name for name in definition.column_names if name not in events.columns]
    if missing:
        raise ConfigError(f"dataset {definition.name!r}: the events lack columns {', '.join(missing)}")
    time = F.col(definition.event_time).cast("timestamp")
    staged = events.withColumn(_TIME, F.unix_micros(time))
    feature_columns = {
        feature.name: _feature_column(definition, feature, time)
        .cast(spark_type(output_type(definition, feature)))
        .alias(feature.name)
        for feature in definition.features
    }
    selected = [
        feature_columns[name] if name in feature_columns else F.col(name) for name in feature_table_columns(definition)
    ]
    return staged.select(*selected)
