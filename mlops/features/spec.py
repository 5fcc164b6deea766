"""What a feature means, written once and read by every engine.

Conventions every engine keeps (the parity test holds them to it):

- event times are UTC; a ``date`` event time counts as midnight UTC;
- a ``rolling`` feature aggregates ``source`` over the entity's events whose time lies in the half-open
  interval ``(t - window, t]``: the current event and every event at the same time are in, an event exactly
  ``window`` earlier is out. Nulls in ``source`` are skipped; ``count`` counts non-null values, ``std`` is the
  sample standard deviation (null below two values), the other aggregations are null when no value is non-null;
- ``time_since_last`` is the seconds since the entity's most recent *other* event at or before ``t``: ``0.0``
  when another event shares the time, null when there is none;
- ``calendar`` parts: ``hour`` 0-23, ``day_of_week`` 0 = Monday .. 6 = Sunday, ``day_of_month`` 1-31,
  ``month`` 1-12.
"""

from __future__ import annotations

from datetime import timedelta

from mlops.datasets import DatasetDefinition, Feature
from mlops.errors import ConfigError

MICROS_PER_SECOND = 1_000_000


def window_micros(window: timedelta) -> int:
    """The window length in whole microseconds (the resolution of every timestamp the kit stores)."""
    return (window.days * 86_400 + window.seconds) * MICROS_PER_SECOND + window.microseconds


def output_type(definition: DatasetDefinition, feature: Feature) -> str:
    """The column type (in the definition's type names) a feature produces."""
    if feature.kind == "column":
        assert feature.source is not None  # guaranteed by Feature's validator
        return definition.column(feature.source).type
    if feature.kind == "calendar":
        return "int"
    if feature.kind == "time_since_last":
        return "double"
    if feature.aggregation == "count":
        return "int"
    if feature.aggregation in ("min", "max", "sum"):
        assert feature.source is not None
        source_type = definition.column(feature.source).type
        return source_type if source_type in ("int", "double") else "double"
    return "double"


def feature_table_columns(definition: DatasetDefinition) -> list[str]:
    """Columns of the feature table, in order: entity key, event time, primary key(s), features, label.

    A ``column`` feature named like its source key column appears once; any other feature named like an entity,
    time, key or label column would overwrite that column, so it is refused.
    """
    reserved = {definition.entity_key, definition.event_time, *definition.primary_key, definition.label.column}
    for feature in definition.features:
        if feature.name in reserved and not (feature.kind == "column" and feature.source == feature.name):
            raise ConfigError(
                f"dataset {definition.name!r}: feature {feature.name!r} is named like a key, time or label column; "
                "rename the feature"
            )
    ordered: list[str] = []
    for name in (
        definition.entity_key,
        definition.event_time,
        *definition.primary_key,
        *definition.feature_names,
        definition.label.column,
    ):
        if name not in ordered:
            ordered.append(name)
    return ordered
