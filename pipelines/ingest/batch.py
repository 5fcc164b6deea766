"""``mlops data ingest``: store batch files in the raw zone, once each, with a manifest.

A file is identified by its SHA-256: it is stored at ``<raw>/<dataset>/ingest_date=<day>/<sha256>.<format>``
and described by ``<raw>/<dataset>/_manifests/<sha256>.json`` (source, checksum, row count, schema, time,
batch id), through the platform's object store (keys from :mod:`mlops.layout`). The manifest is written last,
so a batch is only visible once its data is stored; a file whose manifest exists is reported as already
ingested and not stored again, whatever its name or ingestion day.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from mlops import layout
from mlops.datasets import DatasetDefinition, find_definition
from mlops.errors import DatasetError
from mlops.layout import Layout
from mlops.platform import Platform
from mlops.ports.object_store import ObjectStore
from pipelines.ingest.formats import FileFormat, format_of
from pipelines.ingest.records import read_records


@dataclass(frozen=True)
class Manifest:
    """What the raw zone knows about one stored batch file."""

    dataset: str
    batch_id: str
    checksum: str
    source: str
    file_format: str
    size_bytes: int
    row_count: int
    parse_failures: int
    schema: dict[str, str]
    key: str
    ingested_at: str

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Manifest:
        try:
            raw: dict[str, Any] = json.loads(data)
            return cls(**raw)
        except (json.JSONDecodeError, TypeError) as exc:
            raise DatasetError(f"manifest {where} is not a valid batch manifest: {exc}") from exc


@dataclass(frozen=True)
class IngestOutcome:
    """One file's ingestion: ``ingested`` now or ``already_ingested`` earlier (then nothing was stored)."""

    status: Literal["ingested", "already_ingested"]
    manifest: Manifest


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ingest_file(
    definition: DatasetDefinition,
    path: Path,
    store: ObjectStore,
    lake: Layout,
    *,
    file_format: str | None = None,
    now: datetime | None = None,
) -> IngestOutcome:
    """Store ``path`` as a batch of ``definition``'s dataset unless the same bytes were ingested before."""
    raw_bucket = lake.bucket("raw")
    fmt: FileFormat = format_of(path, file_format)
    if not path.is_file():
        raise DatasetError(f"cannot ingest {path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise DatasetError(f"cannot ingest {path}: the file is empty (0 bytes)")
    checksum = sha256_of(path)
    manifest_key = layout.manifest_key(definition.name, checksum)
    if store.exists(raw_bucket, manifest_key):
        return IngestOutcome("already_ingested", load_manifest(store, lake, manifest_key))
    # the row count and schema are read now, so a manifest describes its batch without a second download
    records = read_records(path.read_bytes(), fmt, str(path))
    moment = now or datetime.now(UTC)
    key = layout.raw_key(definition.name, moment.date(), checksum, fmt.value)
    manifest = Manifest(
        dataset=definition.name,
        batch_id=layout.batch_id_of(checksum),
        checksum=checksum,
        source=str(path.resolve()),
        file_format=fmt.value,
        size_bytes=size,
        row_count=records.rows_in,
        parse_failures=len(records.failures),
        schema=records.schema,
        key=key,
        ingested_at=moment.isoformat(),
    )
    store.put_file(raw_bucket, key, path)
    store.put(raw_bucket, manifest_key, manifest.to_json(), content_type="application/json")
    return IngestOutcome("ingested", manifest)


def load_manifest(store: ObjectStore, lake: Layout, key: str) -> Manifest:
    """The manifest stored under ``key`` in the raw zone."""
    return Manifest.from_json(store.get(lake.bucket("raw"), key), lake.zone_uri("raw", key))


def list_manifests(store: ObjectStore, lake: Layout, dataset: str) -> list[Manifest]:
    """Every batch of ``dataset`` in the raw zone, oldest ingestion first."""
    keys = [k for k in store.list_keys(lake.bucket("raw"), layout.manifest_prefix(dataset)) if k.endswith(".json")]
    manifests = [load_manifest(store, lake, key) for key in keys]
    return sorted(manifests, key=lambda m: (m.ingested_at, m.batch_id))


def find_manifest(store: ObjectStore, lake: Layout, dataset: str, batch_id: str) -> Manifest:
    """The manifest of batch ``batch_id``; an unknown id is an error naming where the manifests are."""
    prefix = layout.manifest_prefix(dataset)
    for key in store.list_keys(lake.bucket("raw"), prefix):
        checksum = key.rsplit("/", 1)[-1].removesuffix(".json")
        if layout.batch_id_of(checksum) == batch_id:
            return load_manifest(store, lake, key)
    raise DatasetError(f"dataset {dataset!r} has no batch {batch_id!r} in {lake.zone_uri('raw', prefix)}")


def ingest(platform: Platform, dataset: str, paths: list[Path], file_format: str | None = None) -> list[IngestOutcome]:
    """Ingest each file as a batch of ``dataset`` (its definition must exist) into the stack's raw zone."""
    definition = find_definition(dataset, platform.settings.datasets_dir)
    store = platform.services.object_store
    return [ingest_file(definition, path, store, platform.layout, file_format=file_format) for path in paths]
