"""Export of scikit-learn's diabetes data (the copy installed on disk) in the columns of ``diabetes.yaml``.

The source has neither an identifier nor a time, so both are derived from row order, deterministically (the
definition file documents this): ``patient_id`` is ``patient-`` + the zero-padded 1-based row number and
``visit_time`` is ``start`` + (row number - 1) days.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

SOURCE_ROWS = 442
DEFAULT_START = datetime(2020, 1, 1, tzinfo=UTC)


def export_diabetes(rows: int | None = None, start: datetime = DEFAULT_START) -> pd.DataFrame:
    """The first ``rows`` rows (all 442 when ``None`` or more) with the derived key and time in front."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(scaled=False, as_frame=True).frame
    count = SOURCE_ROWS if rows is None else min(rows, SOURCE_ROWS)
    if count < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    frame = frame.iloc[:count].reset_index(drop=True)
    number = np.arange(1, count + 1)
    frame.insert(0, "patient_id", [f"patient-{i:04d}" for i in number])
    frame.insert(1, "visit_time", pd.Timestamp(start) + pd.to_timedelta(number - 1, unit="D"))
    frame["sex"] = frame["sex"].astype(np.int64)  # stored as 1.0/2.0 floats in the source
    return frame
