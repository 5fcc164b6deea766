"""``statistics.json`` in Model Monitor's schema, from a DataFrame. Pure.

Shape (``version`` 0; one entry per feature)::

    {"version": 0.0, "dataset": {"item_count": N},
     "features": [
       {"name": f, "inferred_type": "Integral" | "Fractional",
        "numerical_statistics": {"common": {"num_present": n, "num_missing": m},
                                 "mean", "sum", "std_dev", "min", "max",
                                 "distribution": {"kll": {"buckets": [{"lower_bound", "upper_bound", "count"}],
                                                          "sketch": {"parameters": {"c", "k"}, "data": [[...]]}}}}},
       {"name": g, "inferred_type": "String",
        "string_statistics": {"common": {...}, "distinct_count": d,
                              "distribution": {"categorical": {"buckets": [{"value", "count"}]}}}}]}

Buckets: 10 equal-width buckets between min and max, as Model Monitor materialises them. Sketch: a KLL-shaped
quantile summary. ``data[i]`` is the compactor of level ``i`` and each item there stands for ``2**i`` values.
The kit keeps every value at level 0 up to ``k`` values. Above that it keeps one level holding every ``2**L``-th
sorted value, so the sketch is a deterministic compaction with the same reading rule (weighted ranks). Monitoring
jobs rebuild the reference distribution from it (:func:`sketch_values`), so a run needs the baseline files only,
never the training data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

InferredType = Literal["Integral", "Fractional", "String", "Unknown"]
BUCKETS = 10
SKETCH_K = 2048
SKETCH_C = 0.64
VERSION = 0.0


def inferred_type(values: pd.Series, categorical: bool = False) -> InferredType:
    """Model Monitor's type of a column: ``String`` for categoricals or text, ``Integral`` when every present
    value is a whole number, ``Fractional`` for other numbers, ``Unknown`` when nothing is present."""
    present = values.dropna()
    if present.empty:
        return "Unknown"
    if categorical:
        return "String"
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.isna().any():
        return "String"
    array = numbers.to_numpy(dtype=float)
    return "Integral" if bool(np.all(np.isfinite(array) & (array == np.round(array)))) else "Fractional"


def sketch(values: np.ndarray[Any, Any], k: int = SKETCH_K) -> dict[str, Any]:
    """A KLL-shaped sketch of ``values`` (module docstring): ``data[level]`` items weigh ``2**level``."""
    ordered = np.sort(values.astype(float))
    if ordered.size <= k:
        levels: list[list[float]] = [ordered.tolist()]
    else:
        level = math.ceil(math.log2(ordered.size / k))
        stride = 2**level
        levels = [[] for _ in range(level)] + [ordered[stride // 2 :: stride].tolist()]
    return {"parameters": {"c": SKETCH_C, "k": k}, "data": levels}


def sketch_values(kll: dict[str, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The sketch's items and their weights (``2**level``), sorted by value."""
    items: list[float] = []
    weights: list[float] = []
    for level, compactor in enumerate(kll["sketch"]["data"]):
        items.extend(float(v) for v in compactor)
        weights.extend([float(2**level)] * len(compactor))
    order = np.argsort(np.asarray(items, dtype=float), kind="stable")
    return np.asarray(items, dtype=float)[order], np.asarray(weights, dtype=float)[order]


def equal_width_buckets(values: np.ndarray[Any, Any], buckets: int = BUCKETS) -> list[dict[str, float]]:
    """``buckets`` equal-width buckets between min and max with their counts (the last one closed)."""
    if values.size == 0:
        return []
    low, high = float(values.min()), float(values.max())
    if low == high:
        return [{"lower_bound": low, "upper_bound": high, "count": float(values.size)}]
    counts, edges = np.histogram(values, bins=buckets, range=(low, high))
    return [
        {"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": float(counts[i])}
        for i in range(buckets)
    ]


def _common(values: pd.Series) -> dict[str, int]:
    present = int(values.notna().sum())
    return {"num_present": present, "num_missing": len(values) - present}


def numeric_statistics(values: pd.Series) -> dict[str, Any]:
    numbers = pd.to_numeric(values, errors="coerce")
    array = numbers.dropna().to_numpy(dtype=float)
    empty = array.size == 0
    return {
        "common": _common(numbers),
        "mean": 0.0 if empty else float(array.mean()),
        "sum": float(array.sum()),
        "std_dev": 0.0 if empty else float(array.std()),
        "min": 0.0 if empty else float(array.min()),
        "max": 0.0 if empty else float(array.max()),
        "distribution": {"kll": {"buckets": equal_width_buckets(array), "sketch": sketch(array)}},
    }


def string_statistics(values: pd.Series) -> dict[str, Any]:
    present = values.dropna().astype(str)
    counts = present.value_counts()
    return {
        "common": _common(values),
        "distinct_count": float(len(counts)),
        "distribution": {
            "categorical": {"buckets": [{"value": str(v), "count": float(c)} for v, c in sorted(counts.items())]}
        },
    }


def feature_statistics(name: str, values: pd.Series, categorical: bool = False) -> dict[str, Any]:
    """One feature's entry; numbers get ``numerical_statistics``, strings ``string_statistics``."""
    kind = inferred_type(values, categorical)
    entry: dict[str, Any] = {"name": name, "inferred_type": kind}
    if kind in ("Integral", "Fractional"):
        entry["numerical_statistics"] = numeric_statistics(values)
    else:
        entry["string_statistics"] = string_statistics(values)
    return entry


def dataset_statistics(frame: pd.DataFrame, features: Sequence[str], categorical: Sequence[str] = ()) -> dict[str, Any]:
    """``statistics.json`` of ``frame``'s ``features`` (each must be a column)."""
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise KeyError(f"statistics: feature column(s) missing from the frame: {', '.join(missing)}")
    return {
        "version": VERSION,
        "dataset": {"item_count": len(frame)},
        "features": [feature_statistics(f, frame[f], f in categorical) for f in features],
    }


def by_name(statistics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The statistics' feature entries keyed by feature name."""
    return {str(f["name"]): f for f in statistics["features"]}


def completeness(entry: dict[str, Any]) -> float:
    """Share of present values of one feature entry (1.0 for an empty dataset: nothing is missing)."""
    stats = entry.get("numerical_statistics") or entry.get("string_statistics") or {}
    common = stats.get("common", {"num_present": 0, "num_missing": 0})
    total = common["num_present"] + common["num_missing"]
    return 1.0 if total == 0 else float(common["num_present"]) / total
