"""``CheckpointStore`` on the stack's DynamoDB checkpoint table (``outputs.checkpoint_table``).

The table has the hash key ``consumer`` and the range key ``shard_id``, as the infra program declares it; one
item per (consumer, shard) holds ``sequence_number`` (the last processed record), ``records`` (how many were
committed in all), ``updated_at``, and the lease: ``lease_owner`` and ``lease_expires`` (seconds since the epoch).
Every write is conditional, as the Kinesis Client Library's lease table is: a lease is taken only when it is
free, already ours or expired, and a checkpoint is written only by the lease's owner, so two consumers never both
advance a shard. Replays of a crashed owner's uncommitted records go to whoever takes the lease (at-least-once).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops.adapters.aws.clients import ClientFactory
from mlops.adapters.eventlog import THROTTLING_CODES
from mlops.ports.events import (
    Checkpoint,
    EventStreamError,
    LeaseHeldError,
    StreamNotFoundError,
    StreamThrottledError,
    StreamUnavailableError,
)

HASH_KEY = "consumer"
RANGE_KEY = "shard_id"
_NAMES = {
    "#owner": "lease_owner",
    "#expires": "lease_expires",
    "#position": "sequence_number",
    "#records": "records",
    "#updated": "updated_at",
}


def _number(value: float) -> dict[str, str]:
    return {"N": f"{value:.6f}"}


class DynamoDBCheckpoints:
    """``CheckpointStore`` on a DynamoDB table keyed (``consumer``, ``shard_id``)."""

    def __init__(self, clients: ClientFactory, table: str) -> None:
        self._clients = clients
        self.table = table

    def _key(self, consumer: str, partition: str) -> dict[str, Any]:
        return {HASH_KEY: {"S": consumer}, RANGE_KEY: {"S": partition}}

    def _error(self, action: str, exc: Exception) -> EventStreamError:
        if not isinstance(exc, ClientError):
            return StreamUnavailableError(f"checkpoint table {self.table!r}: {action}: DynamoDB did not answer: {exc}")
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "unknown"))
        detail = f"{code}: {error.get('Message', '') or exc}"
        if code == "ResourceNotFoundException":
            return StreamNotFoundError(f"checkpoint table {self.table!r} does not exist ({action}: {detail})")
        if code in THROTTLING_CODES or code == "RequestLimitExceeded":
            return StreamThrottledError(f"checkpoint table {self.table!r}: {action} throttled ({detail})")
        return EventStreamError(f"checkpoint table {self.table!r}: {action} failed: {detail}")

    def load(self, consumer: str) -> dict[str, Checkpoint]:
        client = self._clients.client("dynamodb")
        found: dict[str, Checkpoint] = {}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#c = :c",
            "ExpressionAttributeNames": {"#c": HASH_KEY},
            "ExpressionAttributeValues": {":c": {"S": consumer}},
            "ConsistentRead": True,
        }
        while True:
            try:
                answer = client.query(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise self._error(f"reading the checkpoints of consumer {consumer!r}", exc) from exc
            for item in answer["Items"]:
                checkpoint = _checkpoint(item)
                found[checkpoint.partition] = checkpoint
            if "LastEvaluatedKey" not in answer:
                return found
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def acquire(self, consumer: str, partition: str, owner: str, now: float, until: float) -> Checkpoint:
        client = self._clients.client("dynamodb")
        try:
            answer = client.update_item(
                TableName=self.table,
                Key=self._key(consumer, partition),
                UpdateExpression="SET #owner = :owner, #expires = :until",
                ConditionExpression="attribute_not_exists(#owner) OR #owner = :owner OR #expires < :now",
                ExpressionAttributeNames={"#owner": _NAMES["#owner"], "#expires": _NAMES["#expires"]},
                ExpressionAttributeValues={":owner": {"S": owner}, ":until": _number(until), ":now": _number(now)},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise self._held(consumer, partition, owner) from exc
            raise self._error(f"leasing {consumer!r}/{partition!r} for {owner!r}", exc) from exc
        except BotoCoreError as exc:
            raise self._error(f"leasing {consumer!r}/{partition!r} for {owner!r}", exc) from exc
        return _checkpoint(answer["Attributes"])

    def save(self, consumer: str, partition: str, owner: str, *, position: str, records: int, until: float) -> None:
        client = self._clients.client("dynamodb")
        try:
            client.update_item(
                TableName=self.table,
                Key=self._key(consumer, partition),
                UpdateExpression="SET #position = :position, #records = :records, #updated = :updated, "
                "#expires = :until",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames=_NAMES,
                ExpressionAttributeValues={
                    ":position": {"S": position},
                    ":records": {"N": str(records)},
                    ":updated": {"S": datetime.now(UTC).isoformat()},
                    ":until": _number(until),
                    ":owner": {"S": owner},
                },
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise self._held(consumer, partition, owner) from exc
            raise self._error(f"writing checkpoint {consumer!r}/{partition!r}", exc) from exc
        except BotoCoreError as exc:
            raise self._error(f"writing checkpoint {consumer!r}/{partition!r}", exc) from exc

    def release(self, consumer: str, partition: str, owner: str) -> None:
        client = self._clients.client("dynamodb")
        try:
            client.update_item(
                TableName=self.table,
                Key=self._key(consumer, partition),
                UpdateExpression="REMOVE #owner, #expires",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": _NAMES["#owner"], "#expires": _NAMES["#expires"]},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":  # not ours any more: nothing to give up
                raise self._error(f"releasing {consumer!r}/{partition!r}", exc) from exc
        except BotoCoreError as exc:
            raise self._error(f"releasing {consumer!r}/{partition!r}", exc) from exc

    def _held(self, consumer: str, partition: str, owner: str) -> LeaseHeldError:
        """The conflict, naming who holds the lease now (read back: the failed write does not say)."""
        client = self._clients.client("dynamodb")
        try:
            item = client.get_item(TableName=self.table, Key=self._key(consumer, partition), ConsistentRead=True)
        except (ClientError, BotoCoreError):
            item = {}
        current = _checkpoint(item["Item"]) if item.get("Item") else None
        holder = "nobody" if current is None or current.lease_owner is None else repr(current.lease_owner)
        until = "" if current is None or current.lease_expires is None else f" until {current.lease_expires:.3f}"
        return LeaseHeldError(
            f"checkpoint table {self.table!r}: consumer {consumer!r} shard {partition!r} is leased by {holder}"
            f"{until}, not by {owner!r}"
        )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _checkpoint(item: dict[str, Any]) -> Checkpoint:
    return Checkpoint(
        partition=item[RANGE_KEY]["S"],
        position=item["sequence_number"]["S"] if "sequence_number" in item else None,
        records=int(item["records"]["N"]) if "records" in item else 0,
        lease_owner=item["lease_owner"]["S"] if "lease_owner" in item else None,
        lease_expires=float(item["lease_expires"]["N"]) if "lease_expires" in item else None,
    )
