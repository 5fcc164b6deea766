"""File formats the data plane reads and writes: CSV, JSON lines and Parquet, chosen by suffix or by name."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from mlops.errors import DatasetError


class FileFormat(StrEnum):
    """A batch file's format; the value is the suffix batches are stored under in the raw zone."""

    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"


SUFFIXES = {
    ".csv": FileFormat.CSV,
    ".jsonl": FileFormat.JSONL,
    ".ndjson": FileFormat.JSONL,
    ".parquet": FileFormat.PARQUET,
    ".pq": FileFormat.PARQUET,
}


def format_of(path: Path, explicit: str | None = None) -> FileFormat:
    """The format named by ``explicit`` or else by the file's suffix; anything else is an error naming both."""
    if explicit is not None:
        try:
            return FileFormat(explicit.lower())
        except ValueError:
            allowed = ", ".join(f.value for f in FileFormat)
            raise DatasetError(f"unknown file format {explicit!r} for {path}; use one of: {allowed}") from None
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        known = ", ".join(sorted(SUFFIXES))
        raise DatasetError(
            f"cannot tell the format of {path} from its suffix {path.suffix!r}; known: {known}"
        ) from None
