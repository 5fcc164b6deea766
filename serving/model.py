"""Loading the served model from the MLflow registry (alias, version, or a model package: SageMaker or Vertex AI).

The model URI forms:

- ``models:/<name>@<alias>`` (``champion`` by default) or ``models:/<name>/<version>``;
- ``arn:aws:sagemaker:...:model-package/...``: the server resolves it through the hosting port first (the
  package's container environment names the MLflow model, ``MLFLOW_MODEL_URI``, or its ``ModelDataUrl`` is the
  model's artifact directory), see :func:`serving.server.build_core`; a Vertex AI Model Registry version
  (``projects/<p>/locations/<l>/models/<id>@<version>``) likewise.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlops.modeling.scores import Scores
from mlops.modeling.scoring import Scorer
from mlops.registry.session import scoped_mlflow
from serving.compiled import estimator_for, version_tags
from serving.errors import ModelLoadError
from serving.schema import InputSchema

DEFAULT_ALIAS = "champion"


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to predict: its input schema, where it came from and how long it took to load."""

    uri: str
    name: str
    version: str
    schema: InputSchema
    load_seconds: float
    scorer: Scorer
    engine: str = "pyfunc"  # what computes: "onnx" (the compiled model), "sklearn" or "pyfunc"
    predict_fn: str = "predict"  # the pyfunc's predict function (what MLflow's server answers with)

    def predict(self, frame: pd.DataFrame) -> list[Any]:
        """Predictions as JSON-ready Python values, one per row."""
        return self.scorer.predict(frame)

    def score(self, frame: pd.DataFrame) -> Scores:
        """Predictions, plus class probabilities for a classifier: the kit's one scoring function."""
        return self.scorer.score(frame)


def registry_uri(name: str, version: str | None = None, alias: str = DEFAULT_ALIAS) -> str:
    """``models:/name/version`` when a version is given, else ``models:/name@alias``."""
    return f"models:/{name}/{version}" if version else f"models:/{name}@{alias}"


def resolve_version(tracking_uri: str, uri: str) -> tuple[str, str]:
    """(name, version) a ``models:/`` URI points at now; an unknown model/alias/version names what exists."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(tracking_uri, registry_uri=tracking_uri)  # never MLflow's process-wide registry
    target = uri.removeprefix("models:/")
    try:
        if "@" in target:
            name, alias = target.split("@", 1)
            return name, str(client.get_model_version_by_alias(name, alias).version)
        name, _, version = target.partition("/")
        return name, str(client.get_model_version(name, version).version)
    except MlflowException as exc:
        raise ModelLoadError(f"model {uri!r} is not in the registry at {tracking_uri}: {exc.message}") from exc


def load_model(uri: str, tracking_uri: str | None, engine: str = "auto") -> LoadedModel:
    """Load the model at ``uri`` and its signature; the load time is recorded on the result.

    sklearn models predict through the raw estimator: MLflow's pyfunc wrapper re-checks the schema on every
    call, which the server has already done for the whole micro-batch. A classifier with ``predict_proba`` is
    scored with it (see :meth:`LoadedModel.score`), whatever ``pyfunc_predict_fn`` it was logged with.

    A version registered with a compiled model is scored by it unless ``engine`` is ``plain``
    (:mod:`serving.compiled`); the compiled model answers like the estimator, through the same scoring function.
    """
    import mlflow

    started = time.perf_counter()
    name, version = uri, ""
    if uri.startswith("models:/"):
        if tracking_uri is None:
            raise ModelLoadError(f"model {uri!r} needs a tracking URI (set MLFLOW_TRACKING_URI)")
        name, version = resolve_version(tracking_uri, uri)
        uri = f"models:/{name}/{version}"
    try:
        with scoped_mlflow(tracking_uri) if tracking_uri else nullcontext():
            pyfunc = mlflow.pyfunc.load_model(uri)
    except Exception as exc:  # MLflow raises many types (IO, pickle, registry): all mean "cannot load"
        raise ModelLoadError(f"model {uri!r} could not be loaded: {type(exc).__name__}: {exc}") from exc
    try:
        schema = InputSchema.from_mlflow(pyfunc.metadata.get_input_schema())
    except ValueError as exc:
        raise ModelLoadError(f"model {uri!r}: {exc}") from exc
    scorer = Scorer(predict_frame=pyfunc.predict)
    used = "pyfunc"
    if "sklearn" in pyfunc.metadata.flavors:
        tags = version_tags(tracking_uri, name, version)
        estimator, used = estimator_for(pyfunc.get_raw_model(), tags, engine)
        # a binary model names its positive class in its metadata (the training entry point writes it): the
        # served probability is that class's
        positive = (pyfunc.metadata.metadata or {}).get("positive_class")
        scorer = Scorer.of(estimator, positive)
    return LoadedModel(
        uri=uri,
        name=name,
        version=version,
        schema=schema,
        load_seconds=time.perf_counter() - started,
        scorer=scorer,
        engine=used,
        predict_fn=str(pyfunc.metadata.flavors.get("python_function", {}).get("predict_fn", "predict")),
    )
