"""Parquet data files of a Delta table, read and written with pyarrow where the rows are: in a Spark task.

The distributed jobs (:mod:`mlops.lake.spark_delta`) hand each executor task a few file URIs and the store's
storage options as a plain dict; the task opens its files through a ``pyarrow.fs`` filesystem built from them.
So no Spark jar or Hadoop connector is needed (Spark here cannot read ``s3a://``), and the rows never pass
through the driver. Nothing in this module imports Spark: it is plain pyarrow, tested on its own.

Reading yields record batches of a bounded size; writing streams batches into Parquet files (row groups of
``rows_per_group`` rows, a new file every ``rows_per_file`` rows) and returns only each file's Delta metadata
(path, size, row count, column statistics), which the driver commits (:mod:`mlops.lake.delta_files`).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlops.errors import DatasetError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyarrow import fs as pafs

# Delta readers expect string statistics to be prefixes of at most this many characters (Delta Spark's default).
STRING_STATS_PREFIX = 32
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def filesystem(uri: str, options: Mapping[str, str]) -> tuple[pafs.FileSystem, str]:
    """The Arrow filesystem holding ``uri`` and the path inside it.

    ``uri`` is an object-store URI (S3 through ``pyarrow.fs.S3FileSystem`` configured from delta-rs storage
    options: keys, session token, region, endpoint of an emulator; GCS through ``pyarrow.fs.GcsFileSystem``, at an
    emulator's URL when the options name one) or a local path (``file://`` or plain). Options with no keys leave
    S3 to the AWS default credential chain and GCS to Application Default Credentials.
    """
    from pyarrow import fs as pafs

    scheme, sep, rest = uri.partition("://")
    if not sep:
        return pafs.LocalFileSystem(), uri
    if scheme == "file":
        return pafs.LocalFileSystem(), rest
    if scheme in ("s3", "s3a"):
        return pafs.S3FileSystem(**s3_arguments(options)), rest
    if scheme == "gs":
        return pafs.GcsFileSystem(**gcs_arguments(options)), rest
    found, path = pafs.FileSystem.from_uri(uri)
    return found, path


def gcs_arguments(options: Mapping[str, str]) -> dict[str, Any]:
    """``pyarrow.fs.GcsFileSystem`` keyword arguments from delta-rs GCS storage options: none on Google Cloud
    (Application Default Credentials); an emulator's ``gcs_base_url`` (in ``google_service_account_key``, as
    :mod:`mlops.adapters.gcp.gcs_delta` writes it) becomes an anonymous plain-HTTP endpoint override."""
    upper = {key.upper(): value for key, value in options.items()}
    key = upper.get("GOOGLE_SERVICE_ACCOUNT_KEY")
    base = str(json.loads(key).get("gcs_base_url") or "") if key else ""
    if not base:
        return {}
    scheme, sep, host = base.partition("://")
    return {
        "anonymous": True,
        "endpoint_override": host.rstrip("/") if sep else scheme,
        "scheme": scheme if sep else "http",
    }


def s3_arguments(options: Mapping[str, str]) -> dict[str, Any]:
    """``pyarrow.fs.S3FileSystem`` keyword arguments from delta-rs storage options (``AWS_*`` keys, any case)."""
    upper = {key.upper(): value for key, value in options.items()}
    arguments: dict[str, Any] = {}
    names = {
        "access_key": "AWS_ACCESS_KEY_ID",
        "secret_key": "AWS_SECRET_ACCESS_KEY",
        "session_token": "AWS_SESSION_TOKEN",
        "region": "AWS_REGION",
    }
    for argument, key in names.items():
        if upper.get(key):
            arguments[argument] = upper[key]
    if "region" not in arguments and upper.get("AWS_DEFAULT_REGION"):
        arguments["region"] = upper["AWS_DEFAULT_REGION"]
    endpoint = upper.get("AWS_ENDPOINT_URL") or upper.get("AWS_ENDPOINT")
    if endpoint:
        scheme, sep, host = endpoint.partition("://")
        arguments["endpoint_override"] = host.rstrip("/") if sep else scheme
        arguments["scheme"] = scheme if sep else "https"
    return arguments


def join(root: str, relative: str) -> str:
    """``relative`` (a Delta add action's path, already decoded) below the table root ``root``."""
    return f"{root.rstrip('/')}/{relative.lstrip('/')}"


def cast_column(column: pa.ChunkedArray | pa.Array, target: pa.DataType, name: str, what: str) -> Any:
    """``column`` cast to ``target`` (a safe cast: no overflow, no truncation); the error names the column."""
    import pyarrow as pa

    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DatasetError(f"{what}: column {name!r} ({column.type}) does not cast to {target}: {exc}") from exc


# ---------------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class FileToRead:
    """One Parquet file and the values its rows get without storing them: Delta partition values (strings, as
    the log holds them) and constant columns (e.g. the order of a batch among the batches of a run)."""

    uri: str
    partition_values: Mapping[str, str | None] = field(default_factory=dict)
    constants: Mapping[str, Any] = field(default_factory=dict)


def read_file(
    source: FileToRead,
    options: Mapping[str, str],
    schema: pa.Schema,
    *,
    row_index: str | None = None,
    batch_rows: int = 65_536,
) -> Iterator[pa.RecordBatch]:
    """The rows of ``source`` as batches of ``schema`` (at most ``batch_rows`` rows each).

    Each field of ``schema`` comes from the file (cast to the field's type; a column the file lacks is null, as
    Delta reads a column added after the file was written), from a partition value or a constant, or is the
    row's position in the file (``row_index``). Only the file columns ``schema`` names are read.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    fs, path = filesystem(source.uri, options)
    derived = {*source.partition_values, *source.constants, *([row_index] if row_index else [])}
    with fs.open_input_file(path) as handle:
        parquet = pq.ParquetFile(handle)
        stored = set(parquet.schema_arrow.names)
        wanted = [f.name for f in schema if f.name not in derived and f.name in stored]
        offset = 0
        for batch in _file_batches(parquet, wanted, batch_rows):
            columns = []
            for target in schema:
                columns.append(_column(target, batch, source, offset, row_index))
            offset += batch.num_rows
            yield pa.RecordBatch.from_arrays(columns, schema=schema)


def _file_batches(parquet: Any, columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    if columns:
        yield from parquet.iter_batches(batch_size=batch_rows, columns=columns)
        return
    # Nothing to read from the file (only derived columns wanted): its row count still gives the rows.
    remaining = parquet.metadata.num_rows
    while remaining > 0:
        count = min(remaining, batch_rows)
        yield pa.RecordBatch.from_arrays([pa.nulls(count)], names=["_rows"])
        remaining -= count


def _column(target: pa.Field, batch: pa.RecordBatch, source: FileToRead, offset: int, row_index: str | None) -> Any:
    import pyarrow as pa

    rows = batch.num_rows
    if target.name == row_index:
        return pa.array(range(offset, offset + rows), target.type)
    if target.name in source.constants:
        return pa.array([source.constants[target.name]] * rows, target.type)
    if target.name in source.partition_values:
        value = source.partition_values[target.name]
        typed = cast_column(pa.array([value], pa.string()), target.type, target.name, f"partition of {source.uri}")
        return pa.repeat(typed[0], rows)
    if target.name not in batch.schema.names:
        return pa.nulls(rows, target.type)
    return cast_column(batch.column(target.name), target.type, target.name, source.uri)


# ---------------------------------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class WrittenFile:
    """A Parquet file a task wrote below a table root, described as a Delta add action needs it.

    ``task`` and ``seq`` order the files as the rows were ordered (task = Spark partition, seq = the file's rank
    within it), so the commit lists them in that order and a reader sees the rows as the job sorted them.
    """

    path: str
    size: int
    modification_time: int
    num_records: int
    stats: str
    task: int = 0
    seq: int = 0


class _Stats:
    """Delta column statistics (``numRecords``, ``nullCount``, ``minValues``, ``maxValues``) of one file.

    Spelled as delta-rs spells them, but never a bound that could make a reader skip a file holding a match:
    no float bounds when the column holds NaN, no maximum for a string longer than the stats prefix.
    """

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.rows = 0
        self.nulls = dict.fromkeys(schema.names, 0)
        self.low: dict[str, Any] = {}
        self.high: dict[str, Any] = {}
        self.unbounded: set[str] = set()  # columns whose min/max cannot be stated (NaN, a long string maximum)

    def add(self, table: pa.Table) -> None:
        import pyarrow.compute as pc

        self.rows += table.num_rows
        for f in self.schema:
            column = table.column(f.name)
            self.nulls[f.name] += column.null_count
            if _stat_kind(f.type) is None or column.null_count == column.length() or f.name in self.unbounded:
                continue
            if _stat_kind(f.type) == "float" and pc.any(pc.is_nan(column)).as_py():
                self.unbounded.add(f.name)  # min_max skips NaN, which Spark orders above every number
                continue
            found = pc.min_max(column)
            low, high = found["min"].as_py(), found["max"].as_py()
            self.low[f.name] = low if f.name not in self.low else min(self.low[f.name], low)
            self.high[f.name] = high if f.name not in self.high else max(self.high[f.name], high)

    def to_json(self) -> str:
        low: dict[str, Any] = {}
        high: dict[str, Any] = {}
        for f in self.schema:
            if f.name in self.unbounded or f.name not in self.low:
                continue
            kind = _stat_kind(f.type)
            low_value = _stat_value(kind, self.low[f.name], lower=True)
            high_value = _stat_value(kind, self.high[f.name], lower=False)
            if low_value is not None:
                low[f.name] = low_value
            if high_value is not None:
                high[f.name] = high_value
        stats = {"numRecords": self.rows, "minValues": low, "maxValues": high, "nullCount": self.nulls}
        return json.dumps(stats, sort_keys=True)


def _stat_kind(data_type: pa.DataType) -> str | None:
    """Which statistics rule a column type follows; ``None``: binaries, decimals, nested: a null count only."""
    import pyarrow as pa

    kinds = [
        (pa.types.is_boolean, "bool"),
        (pa.types.is_integer, "int"),
        (pa.types.is_floating, "float"),
        (pa.types.is_string, "string"),
        (pa.types.is_large_string, "string"),
        (pa.types.is_timestamp, "timestamp"),
        (pa.types.is_date32, "date"),
    ]
    return next((kind for check, kind in kinds if check(data_type)), None)


def _stat_value(kind: str | None, value: Any, lower: bool) -> Any:
    """A min/max as Delta's stats JSON spells it, or ``None`` when no safe bound can be written."""
    if kind == "float" and math.isinf(value):
        return None
    if kind == "string":
        if len(value) <= STRING_STATS_PREFIX:
            return value
        return value[:STRING_STATS_PREFIX] if lower else None  # a prefix bounds below, never above
    if kind == "timestamp":
        # Milliseconds, truncated, as delta-rs writes them (Delta readers widen a maximum by one millisecond).
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        micros = (moment - _EPOCH) // timedelta(microseconds=1)
        millis = (_EPOCH + timedelta(milliseconds=micros // 1000)).astimezone(UTC)
        return millis.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis.microsecond // 1000:03d}Z"
    if kind == "date":
        return value.isoformat()
    return value


class _FileSink:
    """One Parquet file being written: its writer, output stream and statistics."""

    def __init__(self, root: str, options: Mapping[str, str], schema: pa.Schema, task: int, seq: int) -> None:
        import pyarrow.parquet as pq
        from pyarrow.fs import LocalFileSystem

        self.name = f"part-{task:05d}-{uuid.uuid4()}-c000.snappy.parquet"
        self.fs, self.path = filesystem(join(root, self.name), options)
        if isinstance(self.fs, LocalFileSystem):  # object stores have no directories to make
            self.fs.create_dir(self.path.rsplit("/", 1)[0], recursive=True)
        self.stream = self.fs.open_output_stream(self.path)
        self.writer = pq.ParquetWriter(self.stream, schema, compression="snappy")
        self.stats = _Stats(schema)
        self.task, self.seq = task, seq

    def write(self, table: pa.Table) -> None:
        self.writer.write_table(table)
        self.stats.add(table)

    def close(self) -> WrittenFile:
        self.writer.close()
        self.stream.close()
        size = int(self.fs.get_file_info(self.path).size)
        return WrittenFile(
            path=self.name,
            size=size,
            modification_time=int(time.time() * 1000),
            num_records=self.stats.rows,
            stats=self.stats.to_json(),
            task=self.task,
            seq=self.seq,
        )


def write_files(
    batches: Iterable[pa.RecordBatch],
    root: str,
    options: Mapping[str, str],
    schema: pa.Schema,
    *,
    task: int = 0,
    rows_per_file: int = 2_000_000,
    rows_per_group: int = 131_072,
) -> list[WrittenFile]:
    """Write ``batches`` (cast to ``schema``) as Parquet files below ``root``; their metadata, in row order.

    Memory stays bounded by one row group whatever the number of rows. File names carry a UUID, so a retried or
    speculative task never overwrites another attempt's file: only the files the driver commits are in the
    table (the others are removed by ``VACUUM``). No rows, no file.
    """
    import pyarrow as pa

    written: list[WrittenFile] = []
    sink: _FileSink | None = None
    pending: list[pa.RecordBatch] = []
    pending_rows = 0

    def flush() -> None:
        nonlocal sink, pending, pending_rows
        if not pending_rows:
            return
        group = pa.Table.from_batches(pending, schema=schema)
        pending, pending_rows = [], 0
        while group.num_rows:
            if sink is None:
                sink = _FileSink(root, options, schema, task, len(written))
            room = rows_per_file - sink.stats.rows
            sink.write(group.slice(0, room))
            group = group.slice(room)
            if sink.stats.rows >= rows_per_file:
                written.append(sink.close())
                sink = None

    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(_conform_batch(batch, schema, root))
        pending_rows += batch.num_rows
        if pending_rows >= rows_per_group:
            flush()
    flush()
    if sink is not None:
        written.append(sink.close())
    return written


def _conform_batch(batch: pa.RecordBatch, schema: pa.Schema, root: str) -> pa.RecordBatch:
    import pyarrow as pa

    if batch.schema.equals(schema):
        return batch
    missing = [name for name in schema.names if name not in batch.schema.names]
    if missing:
        raise DatasetError(f"rows written to {root} lack columns {', '.join(missing)}")
    columns = [cast_column(batch.column(f.name), f.type, f.name, f"rows written to {root}") for f in schema]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def delete_files(root: str, options: Mapping[str, str], files: Iterable[WrittenFile]) -> None:
    """Remove written files a commit will not reference (best effort: an orphan is harmless, VACUUM drops it)."""
    for written in files:
        try:
            fs, path = filesystem(join(root, written.path), options)
            fs.delete_file(path)
        except OSError:
            continue
