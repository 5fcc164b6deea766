"""The same features for a whole pandas frame: small batches, tests and the benchmark's pandas baseline.

Semantics are those of :mod:`mlops.features.spec`. Rolling windows use pandas' time-based rolling with
``closed="right"`` (the half-open ``(t - window, t]``); pandas only looks back by position, so every event
that shares its time with others then takes the value of the last of them, whose window holds them all.
"""

from __future__ import annotations

import pandas as pd  # no pandas-stubs in the dev group

from mlops.datasets import DatasetDefinition, Feature
from mlops.errors import ConfigError
from mlops.features.spec import MICROS_PER_SECOND, feature_table_columns, window_micros

_TIME = "_mlops_time"
_MICROS = "_mlops_micros"


def _calendar(part: str, time: pd.Series) -> pd.Series:
    parts = {
        "hour": time.dt.hour,
        "day_of_week": time.dt.dayofweek,
        "day_of_month": time.dt.day,
        "month": time.dt.month,
    }
    return parts[part].astype("int64")


def _rolling(frame: pd.DataFrame, entity: str, feature: Feature) -> pd.Series:
    assert feature.source is not None and feature.window is not None and feature.aggregation is not None
    window = pd.Timedelta(microseconds=window_micros(feature.window))
    rolling = frame.groupby(entity, sort=False).rolling(window, on=_TIME, closed="right")[feature.source]
    method = {"mean": "mean", "std": "std", "count": "count", "sum": "sum", "min": "min", "max": "max"}
    values = getattr(rolling, method[feature.aggregation])()
    # groupby().rolling() returns (entity, original index); the frame is sorted by entity, so order matches.
    values = pd.Series(values.to_numpy(), index=frame.index)
    last_of_peers = values.groupby([frame[entity], frame[_MICROS]], sort=False).transform("last")
    if feature.aggregation == "count":
        return last_of_peers.astype("int64")
    return last_of_peers


def _time_since_last(frame: pd.DataFrame, entity: str) -> pd.Series:
    previous = frame.groupby(entity, sort=False)[_MICROS].shift(1)
    gap = (frame[_MICROS] - previous) / MICROS_PER_SECOND
    peers = frame.groupby([entity, _MICROS], sort=False)[_MICROS].transform("size")
    return gap.where(peers == 1, 0.0)


def frame_features(definition: DatasetDefinition, events: pd.DataFrame) -> pd.DataFrame:
    """The feature table of ``events``, sorted by entity and event time (ties keep their input order)."""
    missing = [name for name in definition.column_names if name not in events.columns]
    if missing:
        raise ConfigError(f"dataset {definition.name!r}: the events lack columns {', '.join(missing)}")
    entity = definition.entity_key
    frame = events.copy()
    frame[_TIME] = pd.to_datetime(frame[definition.event_time], utc=True)
    frame[_MICROS] = (frame[_TIME] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)
    frame = frame.sort_values([entity, _MICROS], kind="stable").reset_index(drop=True)
    features: dict[str, pd.Series] = {}
    for feature in definition.features:
        if feature.kind == "column":
            assert feature.source is not None
            features[feature.name] = frame[feature.source]
        elif feature.kind == "calendar":
            assert feature.part is not None
            features[feature.name] = _calendar(feature.part, frame[_TIME])
        elif feature.kind == "time_since_last":
            features[feature.name] = _time_since_last(frame, entity)
        else:
            features[feature.name] = _rolling(frame, entity, feature)
    columns = {name: features.get(name, frame.get(name)) for name in feature_table_columns(definition)}
    return pd.DataFrame(columns)
