"""Benchmark: the embedded emulator's fixes for moto's costs that grow with the data (mlops/local/moto_fixes.py)
vs moto's own methods, on the same requests, in one process.

    .venv/bin/python benchmarks/moto_fixes.py [--events 30000] [--items 5600]

moto runs in this process (``mock_aws``) so the figures are its work plus boto3's, without a network hop:

1. Kinesis: ``--events`` events of ~350 bytes put in PutRecords calls of 500 into a new 2-shard stream (the
   producer's way), then read back with GetRecords of 1,000 per call (the consumer's way);
2. DynamoDB: ``--items`` online-store items of 16 attributes written with BatchWriteItem in 25s.

Each is run first with moto's methods, then with the fixes applied; the answers are checked to be the same.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

import boto3

STREAM_SHARDS = 2
PUT_BATCH = 500
GET_LIMIT = 1_000
WRITE_BATCH = 25


def kinesis_round(events: list[bytes]) -> tuple[float, float, list[bytes]]:
    """Seconds to put ``events`` and to read them all back; what was read, in shard order."""
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName="events", ShardCount=STREAM_SHARDS)
    started = time.perf_counter()
    for start in range(0, len(events), PUT_BATCH):
        batch = events[start : start + PUT_BATCH]
        records = [{"Data": data, "PartitionKey": f"customer-{start + n}"} for n, data in enumerate(batch)]
        kinesis.put_records(StreamName="events", Records=records)
    put_seconds = time.perf_counter() - started
    started, read = time.perf_counter(), []
    for shard in kinesis.list_shards(StreamName="events")["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName="events", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while True:
            answer = kinesis.get_records(ShardIterator=iterator, Limit=GET_LIMIT)
            read += [record["Data"] for record in answer["Records"]]
            if not answer["Records"]:
                break
            iterator = answer["NextShardIterator"]
    return put_seconds, time.perf_counter() - started, read


def dynamodb_round(items: list[dict[str, Any]]) -> tuple[float, int]:
    """Seconds to write ``items``; how many the table then holds."""
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="online",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    started = time.perf_counter()
    for start in range(0, len(items), WRITE_BATCH):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + WRITE_BATCH]]
        dynamodb.batch_write_item(RequestItems={"online": requests})
    seconds = time.perf_counter() - started
    pages = dynamodb.get_paginator("scan").paginate(TableName="online", Select="COUNT")
    return seconds, sum(int(page["Count"]) for page in pages)


def measured(events: list[bytes], items: list[dict[str, Any]]) -> dict[str, Any]:
    from moto import mock_aws

    with mock_aws():
        put_s, get_s, read = kinesis_round(events)
        write_s, stored = dynamodb_round(items)
    return {"put": put_s, "get": get_s, "write": write_s, "read": sorted(read), "stored": stored}


def inputs(event_count: int, item_count: int) -> tuple[list[bytes], list[dict[str, Any]]]:
    events = [
        json.dumps(
            {"transaction_id": f"t-{n}", "customer_id": f"c-{n % 750}", "amount": n * 1.5, "note": "x" * 250}
        ).encode()
        for n in range(event_count)
    ]
    items = [
        {"pk": {"S": f"card_transactions#c-{n}"}, **{f"f{j}": {"N": str(n * j * 1.1)} for j in range(15)}}
        for n in range(item_count)
    ]
    return events, items


def row(label: str, baseline: float, fixed: float) -> str:
    return f"{label:<44}{baseline:>12.2f}{fixed:>12.2f}{baseline / fixed:>9.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=30_000, help="Kinesis events put then read back.")
    parser.add_argument("--items", type=int, default=5_600, help="DynamoDB items written.")
    args = parser.parse_args()
    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    events, items = inputs(args.events, args.items)
    baseline = measured(events, items)
    from mlops.local import moto_fixes

    moto_fixes.apply()
    fixed = measured(events, items)
    same: Callable[[str], bool] = lambda key: baseline[key] == fixed[key]  # noqa: E731
    if not (same("read") and same("stored")):
        raise SystemExit("the fixed emulator answered differently from moto's own methods")
    print(f"{'seconds (in-process moto + boto3)':<44}{'moto':>12}{'kit fixes':>12}{'speed-up':>10}")
    print(row(f"Kinesis PutRecords, {args.events:,} events", baseline["put"], fixed["put"]))
    print(row("Kinesis GetRecords, the same events", baseline["get"], fixed["get"]))
    print(row(f"DynamoDB BatchWriteItem, {args.items:,} items", baseline["write"], fixed["write"]))
    print(f"same answers: {len(fixed['read']):,} events read back, {fixed['stored']:,} items stored, both ways")


if __name__ == "__main__":
    main()
