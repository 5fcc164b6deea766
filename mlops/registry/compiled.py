"""The compiled form of a registered version, chosen at registration.

When the version's model compiles (:func:`mlops.modeling.compiled.compile_model`) and the compiled model gives the
same predictions as the plain one on the version's holdout (to :data:`~mlops.modeling.compiled.PARITY_TOLERANCE`),
the ONNX file is logged with the version's run (``compiled/model.onnx``) and the version is tagged with its format,
URI and measured parity. Otherwise nothing is stored and ``compiled_model_skipped`` says why (the model does not
convert, there is no holdout to check it on, or parity failed with the measured difference). A compiled model is an
optional speed-up: nothing here fails a registration. Readers (the server) use the tags: :func:`compiled_uri`.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from mlops.modeling.compiled import FORMAT, NotCompilableError, load, parity
from mlops.modeling.onnx_trees import compile_model

log = logging.getLogger("mlops.registry.compiled")

FORMAT_TAG = "compiled_model"
URI_TAG = "compiled_model_uri"
PARITY_TAG = "compiled_model_parity"
SKIPPED_TAG = "compiled_model_skipped"
ARTIFACT_DIR = "compiled"
ARTIFACT_FILE = "model.onnx"
_TAG_LIMIT = 5000


def signature_frame(frame: pd.DataFrame, inputs: Any) -> pd.DataFrame:
    """The model's input columns of ``frame`` as the model is trained and served: text columns as ``str`` (nulls
    kept), floating columns as float64, the rest as they are. ``inputs`` is the MLflow signature's input schema."""
    out = pd.DataFrame(index=frame.index)
    for spec in inputs.inputs:
        column = frame[spec.name]
        kind = str(getattr(spec.type, "name", spec.type))
        if kind == "string":
            out[spec.name] = column.map(lambda v: None if pd.isna(v) else str(v)).astype("object")
        elif kind in ("double", "float"):
            out[spec.name] = pd.to_numeric(column, errors="coerce").astype("float64")
        else:
            out[spec.name] = column
    return out


def compiled_tags(model_dir: Path, read_holdout: Callable[[], pd.DataFrame]) -> tuple[bytes | None, dict[str, str]]:
    """(ONNX bytes or ``None``, the tags saying what was chosen and why) for the MLflow model in ``model_dir``."""
    import mlflow.sklearn
    from mlflow.models import Model

    model = mlflow.sklearn.load_model(str(model_dir))
    try:
        onnx_bytes = compile_model(model)
    except NotCompilableError as exc:
        return None, {SKIPPED_TAG: f"the model does not compile: {exc}"}
    signature = Model.load(str(model_dir)).signature
    if signature is None:
        return None, {SKIPPED_TAG: "the model has no signature: its holdout columns cannot be chosen"}
    try:
        holdout = signature_frame(read_holdout(), signature.inputs)
    except Exception as exc:  # any storage or format failure: the version is registered without a compiled form
        return None, {SKIPPED_TAG: f"no holdout to check parity on: {type(exc).__name__}: {exc}"}
    measured = parity(model, load(onnx_bytes), holdout)
    if not measured.passed:
        return None, {SKIPPED_TAG: f"parity failed: {measured.describe()}"}
    return onnx_bytes, {FORMAT_TAG: FORMAT, PARITY_TAG: measured.describe()}


def log_compiled(model_dir: Path, read_holdout: Callable[[], pd.DataFrame]) -> dict[str, str]:
    """Compile, check and log the artifact to the active run; returns the version tags to set."""
    import mlflow

    try:
        onnx_bytes, tags = compiled_tags(model_dir, read_holdout)
        if onnx_bytes is not None:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / ARTIFACT_FILE
                path.write_bytes(onnx_bytes)
                mlflow.log_artifact(str(path), artifact_path=ARTIFACT_DIR)
            tags[URI_TAG] = f"{mlflow.get_artifact_uri(ARTIFACT_DIR)}/{ARTIFACT_FILE}"
    except Exception as exc:  # compiling is an optional speed-up: the plain model is registered whatever happens
        log.warning("no compiled model", extra={"error": f"{type(exc).__name__}: {exc}"})
        tags = {SKIPPED_TAG: f"compiling failed: {type(exc).__name__}: {exc}"}
    return {key: value[:_TAG_LIMIT] for key, value in tags.items()}


def compiled_uri(tags: Mapping[str, str]) -> str | None:
    """The compiled artifact's URI a version's tags name, ``None`` when it has none (or one of another format)."""
    if tags.get(FORMAT_TAG) != FORMAT:
        return None
    return tags.get(URI_TAG) or None
