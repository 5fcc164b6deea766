"""``OnlineStore`` on Firestore: one document per (dataset, entity) in the collection named by the stack's online
table (``outputs.online_feature_table``).

The document id is ``<dataset>#<entity>`` (the entity percent-encoded: ids may not hold ``/``), so several datasets
share one collection; features sit in a ``features`` map, so no feature name can clash with the document's own
fields (``dataset``, ``entity``, ``expires_at``: a Firestore TTL policy on ``expires_at`` ages items out as DynamoDB
TTL does). Writes go in atomic batches of at most 500 (Firestore's limit), every row checked before the first is
sent; reads fetch the documents in groups of 100. A collection exists as soon as it holds a document, so unlike a
DynamoDB table it cannot be missing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from google.api_core import exceptions as google_errors

from mlops.adapters.gcp.clients import GcpClients
from mlops.ports.errors import ThrottledError, UnavailableError
from mlops.ports.online_store import OnlineStoreError

WRITE_BATCH = 500  # Firestore's limit of writes per batch
READ_BATCH = 100
TTL_FIELD = "expires_at"


class OnlineStoreThrottledError(OnlineStoreError, ThrottledError):
    """Firestore refused for rate or contention after the client's retries."""


class OnlineStoreUnavailableError(OnlineStoreError, UnavailableError):
    """Firestore (or its emulator) did not answer."""


class FirestoreOnlineStore:
    """``OnlineStore`` on a Firestore collection."""

    def __init__(self, clients: GcpClients, collection: str, ttl: timedelta = timedelta(days=30)) -> None:
        self._clients = clients
        self.collection = collection
        self.ttl = ttl

    def document_id(self, dataset: str, entity: str) -> str:
        return f"{quote(dataset, safe='')}#{quote(entity, safe='')}"

    def _collection(self) -> Any:
        return self._clients.firestore().collection(self.collection)

    def write(self, dataset: str, rows: Sequence[Mapping[str, Any]], entity_key: str) -> int:
        expires = datetime.now(UTC) + self.ttl
        documents = [self._document(dataset, row, entity_key, expires) for row in rows]  # all checked first
        client, collection = self._clients.firestore(), self._collection()
        for start in range(0, len(documents), WRITE_BATCH):
            batch = client.batch()
            for entity, document in documents[start : start + WRITE_BATCH]:
                batch.set(collection.document(self.document_id(dataset, entity)), document)
            try:
                batch.commit()
            except google_errors.GoogleAPIError as exc:
                raise self._error(f"writing {len(documents)} row(s) of dataset {dataset!r}", exc) from exc
        return len(documents)

    def read(self, dataset: str, entities: Sequence[str]) -> dict[str, dict[str, Any]]:
        client, collection = self._clients.firestore(), self._collection()
        unique = list(dict.fromkeys(str(e) for e in entities))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(unique), READ_BATCH):
            refs = [collection.document(self.document_id(dataset, e)) for e in unique[start : start + READ_BATCH]]
            try:
                snapshots = list(client.get_all(refs))
            except google_errors.GoogleAPIError as exc:
                raise self._error(f"reading {len(refs)} entities of dataset {dataset!r}", exc) from exc
            for snapshot in snapshots:
                if snapshot.exists:
                    data = snapshot.to_dict()
                    found[str(data["entity"])] = dict(data.get("features") or {})
        return found

    def _document(
        self, dataset: str, row: Mapping[str, Any], entity_key: str, expires: datetime
    ) -> tuple[str, dict[str, Any]]:
        if entity_key not in row or row[entity_key] is None:
            raise OnlineStoreError(
                f"online collection {self.collection!r}: a row for dataset {dataset!r} has no value for entity key "
                f"{entity_key!r}"
            )
        entity = str(_plain(row[entity_key]))
        features = {name: _value(value, name) for name, value in row.items() if name != entity_key}
        return entity, {"dataset": dataset, "entity": entity, TTL_FIELD: expires, "features": features}

    def _error(self, action: str, exc: Exception) -> OnlineStoreError:
        where = f"online collection {self.collection!r}: {action}"
        if isinstance(exc, google_errors.TooManyRequests | google_errors.ResourceExhausted | google_errors.Aborted):
            return OnlineStoreThrottledError(f"{where} throttled: {exc}")
        if isinstance(exc, google_errors.ServiceUnavailable | google_errors.DeadlineExceeded):
            return OnlineStoreUnavailableError(f"{where}: Firestore did not answer: {exc}")
        return OnlineStoreError(f"{where} failed: {exc}")


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python scalar it holds."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()
    return value


def _value(value: Any, name: str) -> Any:
    """A Firestore field value: missing numbers (None/NaN/inf) are null, timestamps ISO 8601 strings (as on
    DynamoDB, so serving reads the same values from either store)."""
    value = _plain(value)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise OnlineStoreError(f"feature {name!r} has a value of unsupported type {type(value).__name__}")
