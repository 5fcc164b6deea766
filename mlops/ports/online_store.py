"""Online feature store port: the latest feature values per entity, written by materialization and the stream
consumer, read by serving (DynamoDB, Firestore/Bigtable, memory)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from mlops.errors import FeatureStoreError
from mlops.ports.errors import NotFoundError, PortError


class OnlineStoreError(PortError, FeatureStoreError):
    """Writing or reading the online store failed; the message names the table and the entity or feature."""


class OnlineTableNotFoundError(OnlineStoreError, NotFoundError):
    """The online store's table does not exist."""


class OnlineStore(Protocol):
    """Latest feature values per entity of a dataset; several datasets share one store without clashing."""

    def write(self, dataset: str, rows: Sequence[Mapping[str, Any]], entity_key: str) -> int:
        """Upsert one item per row (keyed by ``row[entity_key]``); returns how many were written."""
        ...

    def read(self, dataset: str, entities: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Feature values of each known entity (unknown entities are absent from the result)."""
        ...
