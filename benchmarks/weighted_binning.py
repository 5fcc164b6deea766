"""Benchmark: the bin thresholds of the training job's weighted features, scikit-learn's way vs the kit's.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/weighted_binning.py [--rows 30000] [--repeat 3]

The demo's first quarter of card transactions (seed 1; the definition's features, computed with pandas) and the
definition's ``training`` split, whose rows are weighted by recency, as ``benchmarks/training_search.py`` builds
them. Printed side by side, each the best of ``--repeat``:

- per weighted numeric feature, the seconds to find its 254 thresholds: scikit-learn 1.9's own binning (one sort
  per threshold), one ``_weighted_percentile`` call for every threshold (what ``mlops/modeling/binning.py`` did
  before: one sort, a Python loop over the thresholds), and ``binning.find_binning_thresholds`` now; each checked
  to give scikit-learn's thresholds bit for bit;
- the training search (its four candidates fitted one after another in this process), wall and CPU seconds, with
  each of the three, and whether all choose the same candidate with the same scores.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from mlops.datasets import find_definition
from mlops.features.frame import frame_features
from mlops.modeling import binning
from mlops.modeling.spec import ModelSpec
from pipelines.generate.card_transactions import CardOptions, generate_card_transactions
from pipelines.training import steps
from pipelines.training.hyperparameters import Hyperparameters
from pipelines.training.window import window_split


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _one_call(column: Any, max_bins: int, sample_weight: Any = None) -> Any:
    """The thresholds from one ``_weighted_percentile`` call (the kit's binning before this benchmark)."""
    from sklearn.ensemble._hist_gradient_boosting.common import ALMOST_INF
    from sklearn.utils.stats import _weighted_percentile

    if sample_weight is None or len(np.unique(column)) <= max_bins:  # midpoints, as scikit-learn and the kit do
        return binning.original_thresholds(column, max_bins, sample_weight)
    kept = ~np.isnan(column) & (sample_weight != 0)  # as scikit-learn does: missing values and zero weights out
    order = np.argsort(column[kept])
    values, ordered = column[kept][order], sample_weight[kept][order]
    percentiles = np.linspace(0, 100, num=max_bins + 1)[1:-1]
    thresholds = np.unique(np.asarray(_weighted_percentile(values, ordered, percentiles, average=True)))
    return np.clip(thresholds, a_min=None, a_max=ALMOST_INF)


def _numeric(spec: ModelSpec) -> list[str]:
    return [feature for feature in spec.features if feature not in spec.categorical]


def _best_seconds(find: Callable[..., Any], column: Any, weights: Any, repeat: int) -> tuple[float, Any]:
    best, found = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        found = find(column, 255, weights)
        best = min(best, time.perf_counter() - started)
    return best, found


def _thresholds(frame: Any, spec: ModelSpec, repeat: int) -> None:
    weights = frame[steps.WEIGHT_COLUMN].to_numpy()
    ways = {"scikit-learn": binning.original_thresholds, "one call": _one_call, "kit": binning.find_binning_thresholds}
    print(f"{'feature':<28}" + "".join(f"{name + ' ms':>16}" for name in ways) + f"{'same':>6}")
    for feature in _numeric(spec):
        column = frame[feature].to_numpy(dtype=np.float64)
        timed = {name: _best_seconds(find, column, weights, repeat) for name, find in ways.items()}
        same = all(np.array_equal(found, timed["scikit-learn"][1]) for _, found in timed.values())
        cells = "".join(f"{seconds * 1000:>16.2f}" for seconds, _ in timed.values())
        print(f"{feature:<28}{cells}{'yes' if same else 'NO':>6}")


def _search(frame: Any, spec: ModelSpec, sklearns: Callable[..., Any] | None) -> tuple[float, float, Any]:
    """One sequential search with the kit's binning, or with ``sklearns`` (scikit-learn's own function) in its
    place (``steps.fit`` installs the kit's: kept from doing so for that search)."""
    from sklearn.ensemble._hist_gradient_boosting import binning as sklearn_binning

    install = binning.install
    if sklearns is not None:
        binning.install = lambda: False
        sklearn_binning._find_binning_thresholds = sklearns
    try:
        wall, cpu = time.perf_counter(), _cpu_seconds()
        result = steps.search(frame, spec, Hyperparameters(), workers=1)
        return time.perf_counter() - wall, _cpu_seconds() - cpu, result
    finally:
        binning.install = install
        sklearn_binning._find_binning_thresholds = binning.find_binning_thresholds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000, help="rows of card transactions")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each way (the best is printed)")
    args = parser.parse_args()
    from sklearn.ensemble._hist_gradient_boosting import binning as sklearn_binning

    sklearns = sklearn_binning._find_binning_thresholds
    if not binning.install():
        raise SystemExit("this scikit-learn release keeps its own binning: nothing to compare")
    definition = find_definition("card_transactions")
    spec = ModelSpec.from_definition(definition)
    raw = generate_card_transactions(CardOptions(rows=args.rows, seed=1, start=datetime(2024, 1, 1, tzinfo=UTC)))
    train = window_split(frame_features(definition, raw), spec, definition.training, 0.2).train
    print(f"{len(train)} training rows, {len(_numeric(spec))} numeric features, weighted by recency")
    _thresholds(train, spec, args.repeat)
    print(f"\n{'search (4 candidates, one process)':<38}{'wall s':>10}{'CPU s':>10}")
    results = {}
    for name, way in (("scikit-learn binning", sklearns), ("one call (the kit's before)", _one_call), ("kit", None)):
        wall, cpu, results[name] = _search(train, spec, way)
        print(f"{name:<38}{wall:>10.2f}{cpu:>10.2f}")
    same = len({repr(result) for result in results.values()}) == 1
    print(f"same choice and scores: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
