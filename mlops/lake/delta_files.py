"""The driver's half of distributed Delta I/O, through delta-rs: which files make a version, and one commit of
files the executors wrote.

Reading: :func:`table_files` lists the data files of a version from the Delta log (with their partition values
and row counts), pruned by partition filters; the executors read them (:mod:`mlops.lake.arrow_files`).

Writing: the executors write Parquet files below the table root and return their metadata; :func:`commit_files`
commits them as ONE Delta version. The commit is conditional: with ``based_on=N`` it must become version
``N + 1`` (the job's result depended on version ``N``, e.g. the keys it de-duplicated against) and fails with
:class:`~mlops.ports.table_store.TableCommitConflictError` when another writer got there first; with
``based_on=None`` it must create the table; with ``based_on="latest"`` (an overwrite that depends on nothing it
read) it lands on top of whatever is latest. Each commit records the ``mlops.*`` metadata the table store
records, and may record Delta application transactions (``txn`` actions: one identifier per input batch), so
what a version ingested is in the log itself. Files of a commit that fails are deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from mlops.lake import arrow_files
from mlops.lake.arrow_files import WrittenFile
from mlops.lake.delta import commit_info, open_table
from mlops.ports.table_store import TableCommitConflictError, TableStoreError

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

# Reader features whose semantics a plain Parquet read of the data files would get wrong.
UNSUPPORTED_READER_FEATURES = ("columnMapping", "deletionVectors")
# A filter on a partition column: (column, "=" | "!=" | "in" | "not in", value or values).
PartitionFilter = tuple[str, str, Any]
BLIND_COMMIT_ATTEMPTS = 5


@dataclass(frozen=True)
class DataFile:
    """One data file of a version: its URI, its partition values (as the log spells them) and its rows."""

    uri: str
    partition_values: dict[str, str | None]
    rows: int | None


@dataclass(frozen=True)
class TableFiles:
    """The files of one version of a table, its Arrow schema and partition columns."""

    uri: str
    version: int
    schema: pa.Schema
    partition_columns: list[str]
    files: list[DataFile]

    @property
    def rows(self) -> int | None:
        """Rows of the listed files from the log's statistics; ``None`` if a file carries none."""
        counts = [f.rows for f in self.files]
        return None if any(c is None for c in counts) else sum(c for c in counts if c is not None)


def table_files(
    uri: str,
    options: dict[str, str],
    version: int | None = None,
    partition_filters: Sequence[PartitionFilter] = (),
) -> TableFiles:
    """The data files of ``version`` (default: the latest) whose partition values pass every filter."""
    import pyarrow as pa

    table = open_table(uri, options, version)
    _check_readable(uri, table)
    partition_columns = list(table.metadata().partition_columns)
    unknown = [f[0] for f in partition_filters if f[0] not in partition_columns]
    if unknown:
        raise TableStoreError(f"Delta table {uri}: {', '.join(unknown)} are not partition columns {partition_columns}")
    actions = pa.table(table.get_add_actions(flatten=False)).to_pylist()
    files = []
    for action in actions:
        values: dict[str, str | None] = {
            k: (None if v is None else str(v)) for k, v in (action.get("partition") or {}).items()
        }
        if all(_passes(values.get(column), op, wanted) for column, op, wanted in partition_filters):
            rows = action.get("num_records")
            files.append(DataFile(arrow_files.join(uri, unquote(action["path"])), values, rows))
    schema = pa.schema(table.schema().to_arrow())
    return TableFiles(uri, int(table.version()), schema, partition_columns, files)


def _check_readable(uri: str, table: DeltaTable) -> None:
    protocol = table.protocol()
    features = set(protocol.reader_features or [])
    if protocol.min_reader_version == 2:
        features.add("columnMapping")
    refused = sorted(features.intersection(UNSUPPORTED_READER_FEATURES))
    if refused:
        raise TableStoreError(
            f"Delta table {uri} uses {', '.join(refused)}, which the executors' reader does not apply"
        )


def _passes(value: str | None, op: str, wanted: Any) -> bool:
    def text(v: Any) -> str | None:
        return None if v is None else str(v).lower() if isinstance(v, bool) else str(v)

    if op == "=":
        return value == text(wanted)
    if op == "!=":
        return value != text(wanted)
    if op == "in":
        return value in {text(v) for v in wanted}
    if op == "not in":
        return value not in {text(v) for v in wanted}
    raise TableStoreError(f"partition filter operator {op!r} is not one of =, !=, in, not in")


def commit_files(
    uri: str,
    options: dict[str, str],
    files: Sequence[WrittenFile],
    schema: pa.Schema,
    mode: Literal["append", "overwrite"],
    *,
    metadata: Mapping[str, Any],
    based_on: int | Literal["latest"] | None = "latest",
    transactions: Sequence[str] = (),
) -> int:
    """Commit ``files`` (written below ``uri`` with ``schema``) as one version and return that version.

    ``overwrite`` replaces the rows and the schema; ``append`` refuses files whose schema is not the table's.
    ``transactions`` are application ids recorded as Delta ``txn`` actions whose version is the committed one.
    See the module docstring for ``based_on``. Whatever fails, the files are deleted and nothing is committed.
    """
    try:
        return _commit(
            uri, options, files, schema, mode=mode, metadata=metadata, based_on=based_on, transactions=transactions
        )
    except BaseException:
        arrow_files.delete_files(uri, options, files)
        raise


def _commit(
    uri: str,
    options: dict[str, str],
    files: Sequence[WrittenFile],
    schema: pa.Schema,
    *,
    mode: Literal["append", "overwrite"],
    metadata: Mapping[str, Any],
    based_on: int | Literal["latest"] | None,
    transactions: Sequence[str],
) -> int:
    from deltalake import DeltaTable
    from deltalake.exceptions import CommitFailedError, DeltaError

    what = f"committing {len(files)} files ({sum(f.num_records for f in files)} rows) to Delta table {uri} ({mode})"
    actions = _add_actions(sorted(files, key=lambda f: (f.task, f.seq)))
    attempts = BLIND_COMMIT_ATTEMPTS if based_on == "latest" else 1
    for attempt in range(attempts):
        exists = DeltaTable.is_deltatable(uri, storage_options=options)
        if based_on is None and exists:
            raise TableCommitConflictError(f"{what}: the table was created meanwhile by another writer")
        if isinstance(based_on, int) and not exists:
            raise TableStoreError(f"{what}: the table (read at version {based_on}) no longer exists")
        try:
            if not exists:
                return _create(uri, options, actions, schema, metadata=metadata, transactions=transactions)
            table = DeltaTable(uri, storage_options=options)
            current = int(table.version())
            if isinstance(based_on, int) and current != based_on:
                raise TableCommitConflictError(
                    f"{what}: the job read version {based_on} but version {current} is now the latest"
                )
            _check_transactions_new(what, table, transactions)
            if mode == "append":
                _check_append_schema(uri, table, schema)
            table.create_write_transaction(
                actions,
                mode,
                schema,
                commit_properties=_properties(metadata, transactions, current + 1),
            )
            return current + 1
        except CommitFailedError as exc:
            if attempt + 1 < attempts:
                continue
            raise TableCommitConflictError(f"{what} lost to a concurrent commit: {exc}") from exc
        except (DeltaError, ValueError) as exc:
            raise TableStoreError(f"{what} failed: {exc}") from exc
    raise AssertionError("unreachable: the last attempt returns or raises")


def _create(
    uri: str,
    options: dict[str, str],
    actions: list[Any],
    schema: pa.Schema,
    *,
    metadata: Mapping[str, Any],
    transactions: Sequence[str],
) -> int:
    from deltalake import DeltaTable, Schema
    from deltalake.exceptions import DeltaError
    from deltalake.transaction import create_table_with_add_actions

    try:
        create_table_with_add_actions(
            uri,
            Schema.from_arrow(schema),
            actions,
            mode="error",
            storage_options=options,
            commit_properties=_properties(metadata, transactions, 0),
        )
    except DeltaError as exc:
        if DeltaTable.is_deltatable(uri, storage_options=options):
            raise TableCommitConflictError(f"creating Delta table {uri}: another writer created it first") from exc
        raise
    return 0


def _add_actions(files: Sequence[WrittenFile]) -> list[Any]:
    from deltalake.transaction import AddAction

    return [AddAction(f.path, f.size, {}, f.modification_time, True, f.stats) for f in files]


def _properties(metadata: Mapping[str, Any], transactions: Sequence[str], version: int) -> Any:
    from deltalake import CommitProperties
    from deltalake.transaction import Transaction

    return CommitProperties(
        custom_metadata=commit_info(metadata),
        max_commit_retries=0,  # conditional: this version or nothing (the caller decides whether to retry)
        app_transactions=[Transaction(app_id, version) for app_id in transactions] or None,
    )


def _check_transactions_new(what: str, table: DeltaTable, transactions: Sequence[str]) -> None:
    """Refuse to commit an application transaction (an input batch) the table already holds: whatever version a
    writer read, a batch lands once (a concurrent commit of it after this check fails the version's put)."""
    for app_id in transactions:
        version = table.transaction_version(app_id)
        if version is not None:
            raise TableCommitConflictError(f"{what}: batch transaction {app_id} is already in version {version}")


def _check_append_schema(uri: str, table: DeltaTable, schema: pa.Schema) -> None:
    import pyarrow as pa

    current = pa.schema(table.schema().to_arrow())
    ours = [(f.name, str(_plain(f.type))) for f in schema]
    theirs = [(f.name, str(_plain(f.type))) for f in current]
    if ours != theirs:
        raise TableStoreError(f"appending to Delta table {uri}: the rows' columns {ours} are not the table's {theirs}")
    if table.metadata().partition_columns:
        raise TableStoreError(f"appending to Delta table {uri}: partitioned tables are not written by the executors")


def _plain(data_type: pa.DataType) -> pa.DataType:
    import pyarrow as pa

    if pa.types.is_large_string(data_type) or pa.types.is_string_view(data_type):
        return pa.string()
    if pa.types.is_large_binary(data_type) or pa.types.is_binary_view(data_type):
        return pa.binary()
    return data_type


def transaction_versions(uri: str, options: dict[str, str], app_ids: Sequence[str]) -> dict[str, int]:
    """The version recorded for each application id that has a ``txn`` in the table's latest state."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(uri, storage_options=options):
        return {}
    table = DeltaTable(uri, storage_options=options)
    found = {app_id: table.transaction_version(app_id) for app_id in app_ids}
    return {app_id: int(v) for app_id, v in found.items() if v is not None}
