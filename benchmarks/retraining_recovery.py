"""Benchmark: what a retrain after the ``fraud_pattern`` drift wins back, offline (pandas features, no emulator).

    .venv/bin/python benchmarks/retraining_recovery.py [--rows 12000]

The demo's data (a quarter from 1 January, seed 1; a quarter from 1 April, seed 2, every drift kind from 25 May,
the rows with the category validation quarantines dropped) and the loop's training: the definition's ``training``
split (holdout: the newest 14 days; recency weights), the training entry point's search and fit with the small
grid the loop test uses. Prints the champion's PR-AUC on its own pre-drift holdout, the champion and the retrain
on the retrain's post-drift holdout, and the ratio after / pre-drift next to the issue's bar (0.8) and the figures
before the generator's drift was made learnable (the baseline).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from mlops.datasets import find_definition
from mlops.features.frame import frame_features
from mlops.modeling.spec import ModelSpec
from pipelines.generate.card_transactions import CATEGORIES, CardOptions, DriftKind, generate_card_transactions
from pipelines.training import steps
from pipelines.training.hyperparameters import parse_hyperparameters
from pipelines.training.window import window_split

LIGHT = {"max_iter": "80", "search_learning_rate": "0.1", "search_max_leaf_nodes": "15"}
BAR = 0.8
# before the fix: the same measure at 12,000 rows a quarter (pre-drift, champion after drift, retrain)
BASELINE = {"pre": 0.391, "before": 0.0072, "after": 0.142}


def _quarters(rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    first = generate_card_transactions(CardOptions(rows=rows, seed=1, start=datetime(2024, 1, 1, tzinfo=UTC)))
    second = generate_card_transactions(
        CardOptions(
            rows=rows,
            seed=2,
            start=datetime(2024, 4, 1, tzinfo=UTC),
            drift_start=datetime(2024, 5, 25, tzinfo=UTC),
            drift=frozenset(DriftKind),
        )
    )
    return first, second[second["category"].isin(CATEGORIES)]


def _train(frame: pd.DataFrame, spec: ModelSpec, training: Any) -> tuple[Any, steps.Split]:
    params = parse_hyperparameters(LIGHT)
    split = window_split(frame, spec, training, 0.2)
    best = steps.search(split.train, spec, params).best
    return steps.fit(steps.build_model(spec, params, best), split.train, spec), split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=12_000, help="rows per quarter")
    args = parser.parse_args()
    definition = find_definition("card_transactions")
    spec = ModelSpec.from_definition(definition)
    first, second = _quarters(args.rows)
    champion, own = _train(frame_features(definition, first), spec, definition.training)
    both = frame_features(definition, pd.concat([first, second], ignore_index=True))
    retrained, present = _train(both, spec, definition.training)
    figures = {
        "pre": steps.evaluate(champion, own.validation, spec)["pr_auc"],
        "before": steps.evaluate(champion, present.validation, spec)["pr_auc"],
        "after": steps.evaluate(retrained, present.validation, spec)["pr_auc"],
    }
    positives = int(present.validation[spec.label].sum())
    print(f"{args.rows} rows a quarter; post-drift holdout from {present.boundary:%Y-%m-%d}: {positives} positives")
    print(f"{'PR-AUC':<34}{'now':>8}{'baseline':>10}")
    for key, label in (
        ("pre", "champion, own pre-drift holdout"),
        ("before", "champion, post-drift"),
        ("after", "retrain, post-drift"),
    ):
        print(f"{label:<34}{figures[key]:>8.3f}{BASELINE[key]:>10.3f}")
    ratio, was = figures["after"] / figures["pre"], BASELINE["after"] / BASELINE["pre"]
    print(
        f"{'ratio after / pre-drift':<34}{ratio:>8.2f}{was:>10.2f}   bar {BAR} {'met' if ratio >= BAR else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
