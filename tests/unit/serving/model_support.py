"""Train and register a small fraud model in a throwaway MLflow, the way the training pipeline does.

A sklearn pipeline (ordinal-encoded categoricals + HistGradientBoosting) logged with ``mlflow.sklearn`` and a
signature, registered under the dataset's name and aliased ``champion``. Used by serving tests and benchmarks.
``refuse_negative=True`` puts :func:`refuse_negative_amounts` first in the pipeline: a model that fails on valid
input (a negative amount), for the server's 5xx answers. ``shipped=True`` builds the model as the training entry
point does (unknown and missing categories as NaN, native categorical splits, logged with ``predict_proba`` as its
pyfunc function); ``compiled=True`` then compiles it as registration does, checked on a holdout of the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops.registry.session import scoped_mlflow

DATASET = "card_transactions"
CATEGORIES = ["grocery", "restaurants", "travel", "electronics", "fuel"]
CHANNELS = ["card_present", "online", "contactless"]
FEATURES = [
    "amount",
    "category",
    "channel",
    "hour_of_day",
    "day_of_week",
    "seconds_since_last_txn",
    "txn_count_1h",
    "txn_count_24h",
    "amount_mean_7d",
    "amount_max_7d",
    "amount_std_30d",
    "amount_sum_24h",
]


@dataclass(frozen=True)
class RegisteredModel:
    tracking_uri: str
    name: str
    version: str
    sample: pd.DataFrame


def feature_frame(rows: int, seed: int = 7) -> pd.DataFrame:
    """Synthetic feature rows with the card_transactions feature names and dtypes."""
    rng = np.random.default_rng(seed)
    amount = rng.gamma(2.0, 40.0, rows).round(2)
    return pd.DataFrame(
        {
            "amount": amount,
            "category": rng.choice(CATEGORIES, rows),
            "channel": rng.choice(CHANNELS, rows),
            "hour_of_day": rng.integers(0, 24, rows),
            "day_of_week": rng.integers(0, 7, rows),
            "seconds_since_last_txn": rng.exponential(3600.0, rows),
            "txn_count_1h": rng.integers(1, 5, rows),
            "txn_count_24h": rng.integers(1, 20, rows),
            "amount_mean_7d": amount * rng.uniform(0.5, 1.5, rows),
            "amount_max_7d": amount * rng.uniform(1.0, 3.0, rows),
            "amount_std_30d": rng.uniform(0.0, 50.0, rows),
            "amount_sum_24h": amount * rng.uniform(1.0, 5.0, rows),
        }
    )


def refuse_negative_amounts(frame: pd.DataFrame) -> pd.DataFrame:
    """A pipeline step that fails on a negative amount (valid for the signature, so the server answers 500)."""
    if (frame["amount"] < 0).any():
        raise ValueError("amount must not be negative")
    return frame


def _pipeline(seed: int, refuse_negative: bool, shipped: bool) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    guard = [("guard", FunctionTransformer(refuse_negative_amounts))] if refuse_negative else []
    if not shipped:
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        columns = ColumnTransformer([("cat", encoder, ["category", "channel"])], remainder="passthrough")
        return Pipeline(
            [*guard, ("encode", columns), ("model", HistGradientBoostingClassifier(max_iter=30, random_state=seed))]
        )
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan)
    categorical = ["category", "channel"]
    numeric = [name for name in FEATURES if name not in categorical]
    columns = ColumnTransformer(
        [("categorical", encoder, categorical), ("numeric", "passthrough", numeric)], verbose_feature_names_out=False
    )
    mask = [True] * len(categorical) + [False] * len(numeric)
    estimator = HistGradientBoostingClassifier(max_iter=30, categorical_features=mask, random_state=seed)
    return Pipeline([*guard, ("columns", columns), ("model", estimator)])


def local_experiment(client: Any, name: str, artifacts: Path) -> str:
    """The id of an experiment for ``name`` whose artifacts stay on this machine (under ``artifacts``): a store
    shared with the session's platform may already hold an experiment of this name whose artifacts go to the
    emulator's S3 (a pipeline run created it), which this process has no endpoint for; such a store gets an
    experiment of its own."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None and not experiment.artifact_location.startswith("file:"):
        name = f"{name}-local-artifacts"
        experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    return str(client.create_experiment(name, artifact_location=artifacts.resolve().as_uri()))


def train_and_register(
    tracking_dir: Path,
    name: str = DATASET,
    alias: str | None = "champion",
    seed: int = 7,
    refuse_negative: bool = False,
    *,
    shipped: bool = False,
    compiled: bool = False,
) -> RegisteredModel:
    """Fit a small model, log it with a signature, register it as ``name`` and set ``alias`` on the version."""
    import mlflow
    from mlflow.models import infer_signature

    tracking_dir.mkdir(parents=True, exist_ok=True)
    tracking_uri = f"sqlite:///{(tracking_dir / 'mlflow.db').resolve()}"
    frame = feature_frame(600, seed)
    label = ((frame["amount"] > 120) & (frame["channel"] == "online")).astype(int)
    model = _pipeline(seed, refuse_negative, shipped).fit(frame, label)
    # MLflow's process-wide URIs only for this registration (left set, they would leak into later tests)
    with scoped_mlflow(tracking_uri):
        client = mlflow.MlflowClient(tracking_uri, registry_uri=tracking_uri)
        experiment_id = local_experiment(client, name, tracking_dir / "artifacts")
        predict_fn = "predict_proba" if shipped else "predict"
        with mlflow.start_run(experiment_id=experiment_id):
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(frame, getattr(model, predict_fn)(frame)),
                registered_model_name=name,
                serialization_format="cloudpickle",
                pyfunc_predict_fn=predict_fn,
                pip_requirements=["scikit-learn", "pandas"],  # given: inferring them exports the environment, slowly
            )
            version = str(info.registered_model_version)
            if compiled:
                _compile(client, info.model_uri, name, version, seed)
        if alias:
            client.set_registered_model_alias(name, alias, version)
    return RegisteredModel(tracking_uri=tracking_uri, name=name, version=version, sample=frame.head(5))


def _compile(client: Any, model_uri: str, name: str, version: str, seed: int) -> None:
    """Compile the logged model as registration does (the active run holds the artifact), tagging the version."""
    import mlflow.artifacts

    from mlops.registry.compiled import log_compiled

    local = Path(mlflow.artifacts.download_artifacts(model_uri))
    for key, value in log_compiled(local, lambda: holdout_frame(seed)).items():
        client.set_model_version_tag(name, version, key, value)


def holdout_frame(seed: int, rows: int = 400) -> pd.DataFrame:
    """Rows the model never saw, with what serving meets: missing values, unknown and missing categories."""
    frame = feature_frame(rows, seed + 1000)
    frame.loc[::7, "category"] = "unseen"
    frame.loc[::11, "channel"] = None
    frame.loc[::13, "seconds_since_last_txn"] = np.nan
    return frame
