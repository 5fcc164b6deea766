"""Benchmark: the training job's grid search, its candidates one after another vs in forked processes.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/training_search.py [--rows 30000] [--repeat 2]

The demo's first quarter of card transactions (seed 1; the definition's features, computed with pandas), the
definition's ``training`` split, and the training entry point's search with its default grid (four gradient-boosting
fits, ``max_iter`` 200): sequentially in this process (the baseline: the search before
``pipelines/training/search_pool.py``) and with as many processes as ``search_workers`` chooses (one per core when
OpenMP runs one thread per process, as in the local runtime), alternating, ``--repeat`` times. Prints wall and
CPU seconds side by side and checks that both choose the same candidate with the same scores.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from datetime import UTC, datetime

from mlops.datasets import find_definition
from mlops.features.frame import frame_features
from mlops.modeling.spec import ModelSpec
from pipelines.generate.card_transactions import CardOptions, generate_card_transactions
from pipelines.training import search_pool, steps
from pipelines.training.hyperparameters import Hyperparameters
from pipelines.training.window import window_split


def _cpu_seconds() -> float:
    """This process's CPU and its reaped children's (the forked workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000, help="rows of card transactions")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each way, alternating")
    args = parser.parse_args()
    definition = find_definition("card_transactions")
    spec = ModelSpec.from_definition(definition)
    raw = generate_card_transactions(CardOptions(rows=args.rows, seed=1, start=datetime(2024, 1, 1, tzinfo=UTC)))
    train = window_split(frame_features(definition, raw), spec, definition.training, 0.2).train
    params = Hyperparameters()
    workers = search_pool.search_workers(len(params.grid()))
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"{len(train)} training rows, {len(params.grid())} candidates; OMP_NUM_THREADS={threads}")
    ways = {"one after another (baseline)": 1, f"{workers} processes": workers}
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    results = {}
    for _ in range(args.repeat):
        for name, count in ways.items():
            wall, cpu = time.perf_counter(), _cpu_seconds()
            results[name] = steps.search(train, spec, params, workers=count)
            figures[name].append((time.perf_counter() - wall, _cpu_seconds() - cpu))
    print(f"{'search':<32}{'run':>5}{'wall s':>10}{'CPU s':>10}")
    for name, runs in figures.items():
        for number, (wall, cpu) in enumerate(runs, 1):
            print(f"{name:<32}{number:>5}{wall:>10.2f}{cpu:>10.2f}")
    same = len({repr(result) for result in results.values()}) == 1
    print(f"same choice and scores: {'yes' if same else 'NO'} (best: {next(iter(results.values())).best})")


if __name__ == "__main__":
    main()
