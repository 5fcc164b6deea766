"""Write a generated frame as CSV, JSON lines or Parquet (timestamps as ISO 8601 in UTC in the text formats)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pyarrow import csv as pacsv

from pipelines.ingest.formats import FileFormat


def write_frame(frame: pd.DataFrame, path: Path, file_format: FileFormat) -> None:
    """Write ``frame`` to ``path`` (parent directories are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if file_format is FileFormat.PARQUET:
        frame.to_parquet(path, index=False)
        return
    text = frame.copy()
    for name in text.columns:
        if isinstance(text[name].dtype, pd.DatetimeTZDtype):
            # numpy formats a million timestamps in milliseconds; strftime takes seconds
            naive = text[name].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
            formatted = np.char.add(np.datetime_as_string(naive, unit="s"), "Z").astype(object)
            formatted[text[name].isna().to_numpy()] = None
            text[name] = formatted
    if file_format is FileFormat.CSV:
        # pyarrow's writer is several times faster than pandas' for a million rows
        table = pa.Table.from_pandas(text, preserve_index=False)
        pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
    else:
        text.to_json(path, orient="records", lines=True)
