"""``OnlineStore`` on DynamoDB: ``DynamoDBOnlineStore`` keeps one item per (dataset, entity) in the table the
infra program declares (``outputs.online_feature_table``). The item key is ``"<dataset>#<entity>"`` under the
table's hash-key attribute (read from ``DescribeTable``, so it follows whatever the infra program declares), so
several datasets share one table without clashing. Items expire through DynamoDB TTL on ``expires_at``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from mlops.adapters.aws.clients import ClientFactory
from mlops.contracts import backoff as _backoff
from mlops.ports.online_store import OnlineStoreError as FeatureStoreError
from mlops.ports.online_store import OnlineTableNotFoundError

TTL_ATTRIBUTE = "expires_at"
WRITE_BATCH = 25  # BatchWriteItem limit
READ_BATCH = 100  # BatchGetItem limit
_RESERVED = ("dataset", "entity", TTL_ATTRIBUTE)


class DynamoDBOnlineStore:
    """``OnlineStore`` on a DynamoDB table: BatchWriteItem in 25s, BatchGetItem in 100s, unprocessed retried."""

    def __init__(
        self,
        clients: ClientFactory,
        table: str,
        ttl: timedelta = timedelta(days=30),
        max_attempts: int = 8,
        now: datetime | None = None,
    ) -> None:
        self._clients = clients
        self.table = table
        self.ttl = ttl
        self.max_attempts = max_attempts
        self._now = now
        self._key_attribute: str | None = None

    @property
    def key_attribute(self) -> str:
        """The table's hash-key attribute name, as declared by the infra program."""
        if self._key_attribute is None:
            client = self._clients.client("dynamodb")
            try:
                schema = client.describe_table(TableName=self.table)["Table"]["KeySchema"]
            except client.exceptions.ResourceNotFoundException as exc:
                raise OnlineTableNotFoundError(f"online feature table {self.table!r} does not exist") from exc
            self._key_attribute = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
        return self._key_attribute

    def item_key(self, dataset: str, entity: str) -> str:
        return f"{dataset}#{entity}"

    def write(self, dataset: str, rows: Sequence[Mapping[str, Any]], entity_key: str) -> int:
        now = self._now or datetime.now(UTC)
        expires = int((now + self.ttl).timestamp())
        requests = [{"PutRequest": {"Item": self._item(dataset, row, entity_key, expires)}} for row in rows]
        client = self._clients.client("dynamodb")
        for start in range(0, len(requests), WRITE_BATCH):
            pending: dict[str, list[Any]] = {self.table: requests[start : start + WRITE_BATCH]}
            for attempt in range(self.max_attempts):
                answer = client.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
                _backoff(attempt)
            else:
                left = len(pending.get(self.table, []))
                raise FeatureStoreError(
                    f"online feature table {self.table!r}: {left} item(s) still unprocessed after "
                    f"{self.max_attempts} BatchWriteItem attempts"
                )
        return len(requests)

    def read(self, dataset: str, entities: Sequence[str]) -> dict[str, dict[str, Any]]:
        client = self._clients.client("dynamodb")
        key = self.key_attribute
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(entities))
        for start in range(0, len(unique), READ_BATCH):
            keys = [{key: {"S": self.item_key(dataset, e)}} for e in unique[start : start + READ_BATCH]]
            pending: dict[str, Any] = {self.table: {"Keys": keys}}
            for attempt in range(self.max_attempts):
                answer = client.batch_get_item(RequestItems=pending)
                for item in answer.get("Responses", {}).get(self.table, []):
                    decoded = _decode(item)
                    entity = str(decoded.pop("entity"))
                    for name in (key, "dataset", TTL_ATTRIBUTE):
                        decoded.pop(name, None)
                    found[entity] = decoded
                pending = answer.get("UnprocessedKeys") or {}
                if not pending:
                    break
                _backoff(attempt)
            else:
                raise FeatureStoreError(
                    f"online feature table {self.table!r}: keys still unprocessed after "
                    f"{self.max_attempts} BatchGetItem attempts"
                )
        return found

    def _item(self, dataset: str, row: Mapping[str, Any], entity_key: str, expires: int) -> dict[str, Any]:
        if entity_key not in row or row[entity_key] is None:
            raise FeatureStoreError(f"row for dataset {dataset!r} has no value for entity key {entity_key!r}")
        entity = str(row[entity_key])
        clashes = [name for name in row if name in (*_RESERVED, self.key_attribute)]
        if clashes:
            raise FeatureStoreError(f"feature name(s) {', '.join(clashes)} clash with online store attributes")
        item: dict[str, Any] = {
            self.key_attribute: {"S": self.item_key(dataset, entity)},
            "dataset": {"S": dataset},
            "entity": {"S": entity},
            TTL_ATTRIBUTE: {"N": str(expires)},
        }
        for name, value in row.items():
            if name != entity_key:
                item[name] = _encode(value, name)
        return item


def _encode(value: Any, name: str) -> dict[str, Any]:
    """One DynamoDB attribute value; missing numbers (None/NaN) become NULL (DynamoDB has no NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return {"NULL": True}
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalar -> Python scalar
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
        if not number.is_finite():
            return {"NULL": True}
        return {"N": str(number)}
    if isinstance(value, str) or hasattr(value, "isoformat"):
        return {"S": value if isinstance(value, str) else value.isoformat()}
    raise FeatureStoreError(f"feature {name!r} has a value of unsupported type {type(value).__name__}")


def _decode(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, typed in item.items():
        ((kind, raw),) = typed.items()
        out[name] = _decode_value(kind, raw)
    return out


def _decode_value(kind: str, raw: Any) -> Any:
    if kind == "NULL":
        return None
    if kind == "N":
        number = Decimal(raw)
        return int(number) if number == number.to_integral_value() and "." not in raw else float(number)
    if kind in ("S", "BOOL"):
        return raw
    raise FeatureStoreError(f"unexpected DynamoDB attribute type {kind!r} in the online store")
