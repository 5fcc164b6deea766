"""Snapshot and restore of a stack's data in the emulator: moto keeps everything in memory, so a killed or
restarted emulator comes back empty (lake, tables, online store, model packages). ``mlops local snapshot DIR``
writes the stack's buckets (every object, with its content type) and DynamoDB tables (every item, typed as
DynamoDB stores it) to ``DIR``; ``mlops local restore DIR`` puts them back into the running emulator after
``mlops local up`` re-created the resources (``mlops local up`` says when the emulator it finds is not the one
that held the data).

What is NOT in a snapshot: Kinesis records (a stream cannot be given back its sequence numbers) and therefore
the consumers' checkpoints, which name them: after a restore the stream starts empty and the consumer starts
from its oldest record, with the per-entity history it saved in the features bucket. Nor the registry: the model
packages, and the MLflow tracking store that names them, which is moved aside with the emulator's data
(:mod:`mlops.local.tracking_stores`); after a restore, train and promote again.

Layout of ``DIR``: ``manifest.json`` (what was saved, when), ``s3/<bucket>/<n>`` (the n-th object's bytes) with
``s3/<bucket>.index.json`` (each object's key, file and content type), ``dynamodb/<table>.jsonl`` (one item a
line, binary attributes base64).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops.adapters.aws.clients import ClientFactory
from mlops.errors import EmulatorError
from mlops.outputs import StackOutputs
from mlops.private_files import private_dir, write_private

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class SnapshotSummary:
    """What a snapshot or restore moved."""

    directory: Path
    buckets: list[str]
    tables: list[str]
    objects: int
    items: int


def snapshot(
    clients: ClientFactory, directory: Path, *, buckets: Sequence[str], tables: Sequence[str]
) -> SnapshotSummary:
    """Write every object of ``buckets`` and every item of ``tables`` below ``directory``."""
    private_dir(directory)
    objects = sum(_save_bucket(clients.client("s3"), bucket, directory) for bucket in buckets)
    items = sum(_save_table(clients.client("dynamodb"), table, directory) for table in tables)
    manifest = {"buckets": list(buckets), "tables": list(tables), "objects": objects, "items": items}
    write_private(directory / MANIFEST, json.dumps({**manifest, "taken_at": time.time()}, indent=2))
    return SnapshotSummary(directory, list(buckets), list(tables), objects, items)


def restore(clients: ClientFactory, directory: Path) -> SnapshotSummary:
    """Put a snapshot's objects and items back (into buckets and tables that exist again: run ``up`` first)."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise EmulatorError(f"{directory} is not a snapshot of `mlops local snapshot` ({exc})") from exc
    buckets, tables = list(manifest["buckets"]), list(manifest["tables"])
    objects = sum(_restore_bucket(clients.client("s3"), bucket, directory) for bucket in buckets)
    items = sum(_restore_table(clients.client("dynamodb"), table, directory) for table in tables)
    return SnapshotSummary(directory, buckets, tables, objects, items)


def _call(what: str, action: Any, **kwargs: Any) -> Any:
    try:
        return action(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise EmulatorError(f"{what}: {exc}") from exc


def _keys(s3: Any, bucket: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            yield str(entry["Key"])


def _save_bucket(s3: Any, bucket: str, directory: Path) -> int:
    index = []
    root = directory / "s3" / bucket
    private_dir(root)
    for number, key in enumerate(_keys(s3, bucket)):
        answer = _call(f"reading s3://{bucket}/{key}", s3.get_object, Bucket=bucket, Key=key)
        name = f"{number:08d}"  # not the key: keys may hold "/", "..", or end in "/"
        (root / name).write_bytes(answer["Body"].read())
        index.append({"key": key, "file": name, "content_type": answer.get("ContentType")})
    write_private(directory / "s3" / f"{bucket}.index.json", json.dumps(index))
    return len(index)


def _restore_bucket(s3: Any, bucket: str, directory: Path) -> int:
    index = json.loads((directory / "s3" / f"{bucket}.index.json").read_text())
    for entry in index:
        body = (directory / "s3" / bucket / entry["file"]).read_bytes()
        extra = {"ContentType": entry["content_type"]} if entry.get("content_type") else {}
        _call(
            f"restoring s3://{bucket}/{entry['key']}",
            s3.put_object,
            Bucket=bucket,
            Key=entry["key"],
            Body=body,
            **extra,
        )
    return len(index)


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"__b64__": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__b64__"}:
            return base64.b64decode(value["__b64__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _save_table(dynamodb: Any, table: str, directory: Path) -> int:
    lines = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        lines += [json.dumps(_encode(item)) for item in page.get("Items", [])]
    write_private(directory / "dynamodb" / f"{table}.jsonl", "".join(line + "\n" for line in lines))
    return len(lines)


def _restore_table(dynamodb: Any, table: str, directory: Path) -> int:
    count = 0
    for line in (directory / "dynamodb" / f"{table}.jsonl").read_text().splitlines():
        _call(
            f"restoring an item of DynamoDB table {table}",
            dynamodb.put_item,
            TableName=table,
            Item=_decode(json.loads(line)),
        )
        count += 1
    return count


def stack_data(outputs: StackOutputs) -> tuple[list[str], list[str]]:
    """The buckets and DynamoDB tables holding a stack's data (not the stream checkpoints: see the module docs)."""
    buckets = [str(value) for name, value in outputs.model_dump().items() if name.endswith("_bucket") and value]
    return buckets, [outputs.online_feature_table]
