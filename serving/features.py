"""Completing entity-key-only requests from the online feature store.

The store is the online store port (:class:`mlops.ports.online_store.OnlineStore`): materialization
writes the latest value of every feature of the dataset definition per entity, and serving reads them back by
feature name, so the columns the model was trained on line up with what the store holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlops.ports.online_store import OnlineStore
from serving.errors import BadPayloadError
from serving.schema import InputSchema


def complete_from_store(
    schema: InputSchema, dataset: str, entity_key: str, entity_ids: Sequence[Any], store: OnlineStore
) -> list[list[Any]]:
    """Rows in signature order for each entity; an entity without features, or a feature missing, is a 400."""
    ids = [str(entity) for entity in entity_ids]
    found = store.read(dataset, ids)
    rows: list[list[Any]] = []
    for entity in ids:
        record = found.get(entity)
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
