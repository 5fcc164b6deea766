"""The consumer's memory: each entity's recent events, bounded by the definition's longest window.

The online store keeps only the latest features per entity, so rolling features need the events themselves.
The consumer keeps, per entity, the events inside the longest rolling window before that entity's newest event
(and always the newest one, which ``time_since_last`` needs). A run starts from the history the previous run saved
with its last commit (:mod:`pipelines.stream.history_store`), and may be seeded from curated
(``seed_from_curated``): without either, until an entity has a window's worth of events, its features undercount.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from mlops.datasets import DatasetDefinition
from mlops.features.online import online_features_timed, to_micros
from mlops.features.spec import window_micros
from pipelines.stream.events import encode_event


def longest_window(definition: DatasetDefinition) -> timedelta:
    """The longest rolling window in the definition (zero when it has none)."""
    windows = [f.window for f in definition.features if f.window is not None]
    return max(windows, default=timedelta(0))


class EntityHistory:
    """Per-entity recent events (rows typed per the definition), keyed by primary key so replays replace."""

    def __init__(self, definition: DatasetDefinition) -> None:
        self.definition = definition
        self.keep_micros = window_micros(longest_window(definition))
        self._events: dict[str, dict[tuple[Any, ...], tuple[int, Mapping[str, Any]]]] = {}
        # Per entity, (time, key) of every event added, oldest first: expiry pops only what it drops, instead of
        # scanning the entity's events at every add. An entry whose key was replayed at another time is skipped.
        self._by_time: dict[str, list[tuple[int, tuple[Any, ...]]]] = {}
        self._newest: dict[str, int] = {}
        # Each remembered event's wire form, made once: the history is saved with every commit (history_store).
        self._wire: dict[tuple[str, tuple[Any, ...]], tuple[Mapping[str, Any], bytes]] = {}

    def __len__(self) -> int:
        return sum(len(events) for events in self._events.values())

    @property
    def entities(self) -> int:
        return len(self._events)

    def newest(self, entity: str) -> int | None:
        """Microseconds of the entity's newest event seen so far, ``None`` for an unknown entity."""
        return self._newest.get(entity)

    def add(self, row: Mapping[str, Any]) -> None:
        """Remember an event and forget the entity's events that fell out of the longest window."""
        definition = self.definition
        entity = str(row[definition.entity_key])
        moment = to_micros(row[definition.event_time], definition.event_time)
        events = self._events.setdefault(entity, {})
        key = tuple(row[k] for k in definition.primary_key)
        events[key] = (moment, row)
        by_time = self._by_time.setdefault(entity, [])
        heapq.heappush(by_time, (moment, key))
        newest = max(moment, self._newest.get(entity, moment))
        self._newest[entity] = newest
        # The window is (t - window, t]: an event at exactly newest - window can no longer count for any event
        # at or after ``newest``; the newest event itself always stays for time_since_last.
        cutoff = min(newest - self.keep_micros, newest - 1)
        while by_time and by_time[0][0] <= cutoff:
            stale_time, stale_key = heapq.heappop(by_time)
            held = events.get(stale_key)
            if held is not None and held[0] == stale_time:  # not replayed at another time since
                del events[stale_key]
                self._wire.pop((entity, stale_key), None)

    def extend(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Add many events; returns how many."""
        count = 0
        for row in rows:
            self.add(row)
            count += 1
        return count

    def events(self, entity: str) -> list[Mapping[str, Any]]:
        """The entity's remembered events (what a saved history holds)."""
        return [event for _, event in self._events.get(entity, {}).values()]

    def encoded(self, entity: str) -> list[bytes]:
        """The entity's remembered events as the stream carries them (:func:`encode_event`), each encoded once."""
        encoded = []
        for key, (_, row) in self._events.get(entity, {}).items():
            cached = self._wire.get((entity, key))
            if cached is None or cached[0] is not row:  # new, or replaced by a replay of the same key
                cached = (row, encode_event(row))
                self._wire[(entity, key)] = cached
            encoded.append(cached[1])
        return encoded

    def features(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The features of ``row`` from the entity's history (``row`` itself is skipped by its primary key)."""
        entity = str(row[self.definition.entity_key])
        return online_features_timed(self.definition, row, self._events.get(entity, {}).values())
