"""Completing entity-key-only requests from the online feature store.

``mlops/adapters/feature_store.py`` did not exist when this was written, so serving states the one method it
needs as :class:`OnlineStore`; any adapter with that method plugs in (the DynamoDB one is in this module).
Feature names come from the shared dataset definition, so online values line up with the training columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from serving.errors import BadPayloadError
from serving.schema import InputSchema


class OnlineStore(Protocol):
    """Latest feature values per entity."""

    def get_features(self, entity_ids: Sequence[str], feature_names: Sequence[str]) -> list[dict[str, Any] | None]:
        """One mapping of feature name to value per entity id, ``None`` for an entity the store does not hold."""
        ...


class DynamoDbOnlineStore:
    """The online feature table (``outputs.online_feature_table``): hash key ``entity_id``, one attribute a feature."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    def get_features(self, entity_ids: Sequence[str], feature_names: Sequence[str]) -> list[dict[str, Any] | None]:
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(entity_ids))
        for start in range(0, len(unique), 100):  # BatchGetItem reads at most 100 keys
            keys = [{"entity_id": {"S": entity}} for entity in unique[start : start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys}}
            while request:
                answer = self._dynamodb.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self._table, []):
                    values = {key: deserializer.deserialize(value) for key, value in item.items()}
                    found[str(values["entity_id"])] = {
                        name: float(v) if isinstance(v, Decimal) else v for name, v in values.items()
                    }
                request = answer.get("UnprocessedKeys") or {}
        return [found.get(entity) for entity in entity_ids]


def complete_from_store(
    schema: InputSchema, entity_key: str, entity_ids: Sequence[Any], store: OnlineStore
) -> list[list[Any]]:
    """Rows in signature order for each entity; an entity without features, or a feature missing, is a 400."""
    ids = [str(entity) for entity in entity_ids]
    records = store.get_features(ids, schema.names)
    rows: list[list[Any]] = []
    for entity, record in zip(ids, records, strict=True):
        if record is None:
            raise BadPayloadError(f"{entity_key} {entity!r} has no features in the online store")
        rows.append(_row(schema, entity_key, entity, record))
    return rows


def _row(schema: InputSchema, entity_key: str, entity: str, record: Mapping[str, Any]) -> list[Any]:
    missing = [name for name in schema.names if name not in record]
    if missing:
        raise BadPayloadError(
            f"{entity_key} {entity!r}: the online store holds no value for {', '.join(missing)}; "
            "materialize the features or send them in the request"
        )
    return [record[name] for name in schema.names]
