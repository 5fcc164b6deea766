"""Offline feature store: the versioned feature Delta table and point-in-time correct training-set retrieval.

The feature table (``tables/<dataset>`` in the features zone, :meth:`mlops.layout.Layout.feature_table_uri`) is
THE offline feature store: a Delta table the ``build_features`` job writes through the table store and catalogs as
``<dataset>_features``. It holds one row per event with the entity key, the event time, the primary key, every
feature (values as of that event) and the label. A training set is read at a fixed table version, so a model
records exactly which data it saw.

Point-in-time correctness has two halves:

- features: a spine row at time ``t`` gets the entity's latest feature row at or before ``t`` (never a later one);
- labels: a label is used only if it was known at the training cutoff, i.e. ``event_time + label.arrival_delay
  <= cutoff`` (a fraud chargeback arrives weeks after the transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from mlops.datasets import DatasetDefinition
from mlops.errors import DatasetError, FeatureStoreError
from mlops.platform import Platform


def feature_table_uri(platform: Platform, dataset: str) -> str:
    """Where the dataset's feature Delta table lives (features zone, ``tables/<dataset>``)."""
    return platform.layout.feature_table_uri(dataset)


@dataclass(frozen=True)
class FeatureSnapshot:
    """The feature table read at one Delta version."""

    frame: pd.DataFrame
    version: int
    uri: str


def load_features(platform: Platform, definition: DatasetDefinition, version: int | None = None) -> FeatureSnapshot:
    """Read the feature table at ``version`` (latest when ``None``); event times come back as UTC timestamps."""
    uri = feature_table_uri(platform, definition.name)
    tables = platform.services.table_store
    if tables.version(uri) is None:
        raise FeatureStoreError(
            f"no feature table for dataset {definition.name!r} at {uri}"
            + (f" version {version}" if version is not None else "")
            + ": run the feature pipeline first"
        )
    try:
        table = tables.read(uri, version)
    except DatasetError as exc:
        raise FeatureStoreError(str(exc)) from exc
    frame = table.data.to_pandas()
    missing = [c for c in required_columns(definition) if c not in frame.columns]
    if missing:
        raise FeatureStoreError(f"feature table {uri} lacks column(s) {', '.join(missing)}")
    frame[definition.event_time] = _utc(frame[definition.event_time])
    return FeatureSnapshot(frame=frame, version=table.version, uri=uri)


def required_columns(definition: DatasetDefinition) -> list[str]:
    """Columns every feature table of ``definition`` holds (contract shared with the feature pipeline)."""
    keys = [definition.entity_key, definition.event_time, *definition.primary_key]
    ordered = dict.fromkeys([*keys, *definition.feature_names, definition.label.column])
    return list(ordered)


def _utc(series: pd.Series) -> pd.Series:
    converted = pd.to_datetime(series, utc=True)
    return converted.astype("datetime64[ns, UTC]")


def labelled_rows(frame: pd.DataFrame, definition: DatasetDefinition, cutoff: datetime) -> pd.DataFrame:
    """Feature rows usable for training at ``cutoff``: label known by then and not null, oldest first.

    Feature values in the table are already as of each row's own event (the feature job guarantees it), so
    only the label's arrival needs filtering here.
    """
    known = label_known(frame[definition.event_time], definition, cutoff)
    rows = frame[known & frame[definition.label.column].notna()]
    return rows.sort_values([definition.event_time, *definition.primary_key], kind="stable").reset_index(drop=True)


def label_known(event_times: pd.Series, definition: DatasetDefinition, cutoff: datetime) -> pd.Series:
    """Whether the label of an event at each time had arrived by ``cutoff``."""
    limit = pd.Timestamp(_aware(cutoff)) - pd.Timedelta(definition.label.arrival_delay)
    return _utc(event_times) <= limit


def point_in_time_join(
    features: pd.DataFrame, spine: pd.DataFrame, definition: DatasetDefinition, cutoff: datetime
) -> pd.DataFrame:
    """For each spine row (entity, event_time[, label]) the entity's latest features at or before its time.

    Labels in the spine are kept only where known at ``cutoff`` (others become null). Spine rows with no
    feature row at or before their time get null features. The result keeps the spine's row order.
    """
    entity, time, label = definition.entity_key, definition.event_time, definition.label.column
    missing = [c for c in (entity, time) if c not in spine.columns]
    if missing:
        raise FeatureStoreError(f"spine lacks column(s) {', '.join(missing)}")
    left = spine[[c for c in (entity, time, label) if c in spine.columns]].copy()
    left[time] = _utc(left[time])
    left["_spine_row"] = range(len(left))
    right = features[[entity, time, *definition.feature_names]].copy()
    right[time] = _utc(right[time])
    right = right.rename(columns={time: "_feature_time"})
    joined = pd.merge_asof(
        left.sort_values(time, kind="stable"),
        right.sort_values("_feature_time", kind="stable"),
        left_on=time,
        right_on="_feature_time",
        by=entity,
        direction="backward",
        allow_exact_matches=True,
    )
    joined = joined.sort_values("_spine_row").drop(columns=["_spine_row"]).reset_index(drop=True)
    if label in joined.columns:
        known = label_known(joined[time], definition, cutoff)
        joined[label] = joined[label].where(known)
    return joined


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def latest_per_entity(frame: pd.DataFrame, definition: DatasetDefinition) -> pd.DataFrame:
    """The newest row of every entity (ties broken by primary key so the choice is deterministic)."""
    order = [definition.event_time, *definition.primary_key]
    ordered = frame.sort_values(order, kind="stable")
    return ordered.groupby(definition.entity_key, sort=True).tail(1).reset_index(drop=True)


def describe(snapshot: FeatureSnapshot) -> dict[str, Any]:
    """A short summary of a snapshot for logs and JSON output."""
    return {"uri": snapshot.uri, "version": snapshot.version, "rows": len(snapshot.frame)}
