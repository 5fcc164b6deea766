"""Processing entry point ``Prepare``: features at a dataset version -> labelled rows -> time-based split.

Run as ``python -m pipelines.training.prepare`` (in a SageMaker processing container, or by the local pipeline
executor with ``MLOPS_PROCESSING_ROOT`` set): :func:`pipelines.feature_store.offline.labelled_rows` then
:func:`pipelines.training.steps.time_split` do the work.

Contract (paths under ``$MLOPS_PROCESSING_ROOT``, default ``/opt/ml/processing``):

- ``input/definition/``: the dataset definition, one ``<name>.yaml`` file;
- ``input/features/``: the feature Delta table (``s3://<features>/tables/<dataset>/`` copied whole, log included);
- ``output/train/part-0.parquet`` and ``output/validation/part-0.parquet``: the split, the columns of the
  training channels (primary key, event time, features, label);
- ``output/split/split.json``: dataset, table version read, cutoff, boundary, row counts and the definition's
  ``training`` settings applied (lineage).

The split is the definition's (:mod:`pipelines.training.window`): by default the newest fifth of the rows is the
holdout; ``training.holdout`` makes it the newest span instead (the present), ``training.window`` and
``training.recency_half_life`` limit and weight the training rows (weights in the train channel's
``sample_weight`` column).

Arguments: ``--dataset-version`` (a Delta version, or ``latest``), ``--cutoff`` (ISO time; empty or
``execution-start`` means ``--execution-start``, the pipeline execution's start), and the model spec, which must
agree with the definition.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from mlops.datasets import DatasetDefinition, load_definition
from mlops.errors import ConfigError, FeatureStoreError, TrainingDataError
from mlops.modeling.spec import ModelSpec
from pipelines.feature_store.offline import labelled_rows, required_columns
from pipelines.training import steps
from pipelines.training.graph import EXECUTION_START
from pipelines.training.processing import add_spec_arguments, input_dir, output_dir, run_step, spec_of
from pipelines.training.window import describe, window_split

LATEST = "latest"
VALIDATION_FRACTION = 0.2
"""The newest fifth of the labelled rows is the holdout, unless the definition's ``training.holdout`` sets a span."""


def read_definition(root: Path) -> DatasetDefinition:
    """The single dataset definition YAML of the ``definition`` input."""
    directory = input_dir(root, "definition")
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if len(files) != 1:
        found = ", ".join(p.name for p in files) or "none"
        raise ConfigError(f"processing input 'definition' must hold exactly one YAML file under {directory}: {found}")
    return load_definition(files[0])


def parse_version(text: str) -> int | None:
    """``latest`` (or empty) -> ``None``; otherwise a non-negative Delta table version."""
    if text.strip().lower() in ("", LATEST):
        return None
    if not text.strip().isdigit():
        raise ConfigError(f"dataset version {text!r} is neither {LATEST!r} nor a non-negative integer")
    return int(text)


def parse_cutoff(cutoff: str, execution_start: str) -> datetime:
    """The training cutoff: ``cutoff`` if it is a time, else the execution's start (ISO 8601, UTC if naive)."""
    given = cutoff.strip() not in ("", EXECUTION_START)
    text, field = (cutoff, "--cutoff") if given else (execution_start, "--execution-start")
    if not text.strip():
        raise ConfigError("no training cutoff: pass --cutoff or --execution-start")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{field} {text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def read_features(table: Path, definition: DatasetDefinition, version: int | None) -> tuple[pd.DataFrame, int]:
    """The feature Delta table at ``version`` (latest when ``None``) and the version actually read."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        delta = DeltaTable(str(table), version=version)
    except TableNotFoundError as exc:
        raise FeatureStoreError(f"processing input 'features' at {table} is not a Delta table") from exc
    except Exception as exc:
        # delta-rs raises a generic error for a version that does not exist; say which one.
        raise FeatureStoreError(f"cannot read feature table {table} at version {version}: {exc}") from exc
    frame = delta.to_pandas()
    missing = [c for c in required_columns(definition) if c not in frame.columns]
    if missing:
        raise FeatureStoreError(f"feature table {table} lacks column(s) {', '.join(missing)}")
    frame[definition.event_time] = pd.to_datetime(frame[definition.event_time], utc=True)
    return frame, int(delta.version())


def check_spec(definition: DatasetDefinition, given: ModelSpec) -> ModelSpec:
    """The definition's spec; the pipeline's spec parameters must match it (the training step reads those)."""
    expected = ModelSpec.from_definition(definition)
    for field in ("task", "label", "event_time", "features", "categorical", "positive_class"):
        if getattr(given, field) != getattr(expected, field):
            raise ConfigError(
                f"pipeline parameter for {field!r} is {getattr(given, field)!r} but dataset {definition.name!r} "
                f"defines {getattr(expected, field)!r}"
            )
    return expected


def prepare(
    root: Path, given: ModelSpec, version: int | None, cutoff: datetime, fraction: float = VALIDATION_FRACTION
) -> dict[str, Any]:
    """Read, filter to labels known at ``cutoff``, split by time, write the outputs; returns ``split.json``."""
    definition = read_definition(root)
    spec = check_spec(definition, given)
    frame, table_version = read_features(input_dir(root, "features"), definition, version)
    rows = labelled_rows(frame, definition, cutoff)
    if rows.empty:
        raise TrainingDataError(
            f"dataset {definition.name!r}: no labelled rows at feature table version {table_version} are known "
            f"at cutoff {cutoff.isoformat()} (label arrival delay {definition.label.arrival_delay})"
        )
    split = window_split(rows, spec, definition.training, fraction)
    # a holdout too small to score fails here, naming the setting, rather than in Evaluate
    steps.check_frame(
        split.validation,
        spec,
        f"validation (training.holdout {definition.training.holdout})",
        steps.MIN_VALIDATION_ROWS,
    )
    columns = list(dict.fromkeys([*definition.primary_key, definition.event_time, *spec.features, spec.label]))
    weights = [steps.WEIGHT_COLUMN] if steps.WEIGHT_COLUMN in split.train.columns else []
    for name, part, extra in (("train", split.train, weights), ("validation", split.validation, [])):
        part[columns + extra].to_parquet(output_dir(root, name) / "part-0.parquet", index=False)
    summary = {
        "dataset": definition.name,
        "dataset_version": str(table_version),  # a string: it becomes package metadata
        "cutoff": cutoff.isoformat(),
        "boundary": split.boundary.isoformat(),
        "train_rows": len(split.train),
        "validation_rows": len(split.validation),
        **describe(split, spec, definition.training),
    }
    (output_dir(root, "split") / "split.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipelines.training.prepare", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset-version", default=LATEST, help="Delta version of the feature table, or 'latest'.")
    parser.add_argument(
        "--cutoff", default="", help=f"Training cutoff (ISO 8601); empty or {EXECUTION_START!r}: --execution-start."
    )
    parser.add_argument("--execution-start", default="", help="The pipeline execution's start time (ISO 8601).")
    add_spec_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and run the contract; exit 0, or 1 with the reason on stderr."""
    arguments = parse_arguments(argv)

    def body(root: Path) -> object:
        cutoff = parse_cutoff(arguments.cutoff, arguments.execution_start)
        summary = prepare(root, spec_of(arguments), parse_version(arguments.dataset_version), cutoff)
        print(json.dumps(summary, sort_keys=True), flush=True)
        return summary

    return run_step("prepare", body)


if __name__ == "__main__":
    from mlops.process_exit import skip_final_collections

    skip_final_collections()
    sys.exit(main())
