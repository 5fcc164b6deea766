"""The SageMaker Processing contract shared by the pipeline's processing entry points.

A processing job downloads each ``ProcessingInput`` to ``/opt/ml/processing/input/<name>`` before the container
starts and uploads each ``/opt/ml/processing/output/<name>`` directory when it exits 0. The root is
``$MLOPS_PROCESSING_ROOT`` when set, so the same entry points run locally against a temporary directory (as the
training entry point does with ``MLOPS_SM_ROOT``).

The model spec reaches every step as the same five arguments the training step receives as hyperparameters
(``--task --label --event-time --features --categorical``); :func:`spec_of` parses them with the training
code's own parser.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from mlops.errors import MlopsError, TrainingDataError
from mlops.modeling.spec import ModelSpec
from pipelines.training.hyperparameters import parse_spec

ROOT_ENV = "MLOPS_PROCESSING_ROOT"
DEFAULT_ROOT = "/opt/ml/processing"
SPEC_ARGUMENTS = ("task", "label", "event_time", "features", "categorical", "positive_class")
_OPTIONAL = ("categorical", "positive_class")


def processing_root() -> Path:
    """``$MLOPS_PROCESSING_ROOT``, or SageMaker's ``/opt/ml/processing``."""
    return Path(os.environ.get(ROOT_ENV, DEFAULT_ROOT))


def input_dir(root: Path, name: str) -> Path:
    """The directory SageMaker filled from the input ``name``; a missing one names itself."""
    directory = root / "input" / name
    if not directory.is_dir():
        raise TrainingDataError(f"processing input {name!r} is missing (no directory {directory})")
    return directory


def output_dir(root: Path, name: str) -> Path:
    """The directory SageMaker uploads as the output ``name`` (created if absent, as SageMaker does)."""
    directory = root / "output" / name
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def read_parquet_dir(directory: Path, name: str) -> pd.DataFrame:
    """Every Parquet file under ``directory`` (recursively) as one frame; none at all names the input."""
    files = sorted(p for p in directory.rglob("*.parquet") if p.is_file())
    if not files:
        raise TrainingDataError(f"processing input {name!r} holds no Parquet files under {directory}")
    return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """The model spec as ``--task --label --event-time --features --categorical --positive-class`` (comma-separated
    lists; the positive class of a binary task as text)."""
    for key in SPEC_ARGUMENTS:
        parser.add_argument(f"--{key.replace('_', '-')}", dest=key, required=key not in _OPTIONAL, default="")


def spec_of(arguments: argparse.Namespace) -> ModelSpec:
    """The spec from parsed arguments, validated exactly as the training entry point validates it."""
    return parse_spec({key: str(getattr(arguments, key)) for key in SPEC_ARGUMENTS})


def run_step(name: str, body: Callable[[Path], object]) -> int:
    """Run ``body(root)``; 0 on success, 1 with a one-line reason on stderr (the job's log) on any error."""
    try:
        body(processing_root())
    except Exception as exc:  # the job must fail with a readable reason whatever went wrong
        reason = str(exc) if isinstance(exc, MlopsError) else f"{type(exc).__name__}: {exc}"
        print(f"{name} failed: {reason}", file=sys.stderr, flush=True)
        if not isinstance(exc, MlopsError):
            traceback.print_exc()
        return 1
    return 0
