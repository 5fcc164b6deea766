"""Consumer checkpoints: the last processed sequence number per (consumer, shard) in the stack's DynamoDB table.

The table (``outputs.checkpoint_table``) has the hash key ``consumer`` and the range key ``shard_id``, as the
infra program declares it. A consumer writes a shard's checkpoint only after the online store holds the features
of every record up to it, so a crash replays records rather than losing them (at-least-once); replays rewrite the
same items (idempotent writes).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from botocore.exceptions import ClientError

from mlops.adapters.aws.clients import ClientFactory
from mlops.errors import StreamError

HASH_KEY = "consumer"
RANGE_KEY = "shard_id"


class Checkpoints(Protocol):
    """Where each shard of a consumer got to."""

    def load(self, consumer: str) -> dict[str, str]:
        """``{shard_id: sequence_number}`` of every shard the consumer has checkpointed."""
        ...

    def save(self, consumer: str, shard_id: str, sequence_number: str, records: int) -> None:
        """Record that every record of ``shard_id`` up to ``sequence_number`` is processed."""
        ...


class DynamoDBCheckpoints:
    """``Checkpoints`` on the stack's checkpoint table."""

    def __init__(self, clients: ClientFactory, table: str) -> None:
        self._clients = clients
        self.table = table

    def load(self, consumer: str) -> dict[str, str]:
        client = self._clients.client("dynamodb")
        found: dict[str, str] = {}
        kwargs: dict[str, object] = {
            "TableName": self.table,
            "KeyConditionExpression": "#c = :c",
            "ExpressionAttributeNames": {"#c": HASH_KEY},
            "ExpressionAttributeValues": {":c": {"S": consumer}},
            "ConsistentRead": True,
        }
        while True:
            try:
                answer = client.query(**kwargs)
            except ClientError as exc:
                raise StreamError(
                    f"reading checkpoints of {consumer!r} from table {self.table!r} failed: {exc}"
                ) from exc
            for item in answer["Items"]:
                found[item[RANGE_KEY]["S"]] = item["sequence_number"]["S"]
            if "LastEvaluatedKey" not in answer:
                return found
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def save(self, consumer: str, shard_id: str, sequence_number: str, records: int) -> None:
        client = self._clients.client("dynamodb")
        item = {
            HASH_KEY: {"S": consumer},
            RANGE_KEY: {"S": shard_id},
            "sequence_number": {"S": sequence_number},
            "records": {"N": str(records)},
            "updated_at": {"S": datetime.now(UTC).isoformat()},
        }
        try:
            client.put_item(TableName=self.table, Item=item)
        except ClientError as exc:
            raise StreamError(
                f"writing checkpoint {consumer!r}/{shard_id!r} to table {self.table!r} failed: {exc}"
            ) from exc
