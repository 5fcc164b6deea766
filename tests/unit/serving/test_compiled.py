"""The compiled inference path: the shipped pipeline compiles to ONNX with the same answers as sklearn (to 1e-6,
missing values, unknown and missing categories included), what does not compile says why, registration stores a
compiled model only when it passes parity on the holdout, and the server scores with it (the plain model as
fallback) through the one scoring function."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops.modeling import onnx_trees as compiled_module
from mlops.modeling.compiled import CompiledClassifier, NotCompilableError, load, parity
from mlops.modeling.onnx_trees import compile_model
from mlops.modeling.scoring import Scorer
from mlops.outputs import parse_outputs
from mlops.platform import Platform
from mlops.registry import compiled as registry_compiled
from mlops.wiring import memory_platform
from serving.model import load_model
from tests.unit.serving.model_support import RegisteredModel, feature_frame, holdout_frame, train_and_register
from tests.unit.test_outputs import complete_outputs

CATEGORICAL = ["category", "channel"]


def _pipeline(estimator: Any, native: bool, unknown: str = "use_encoded_value") -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encoder = (
        OrdinalEncoder(handle_unknown=unknown, unknown_value=np.nan, encoded_missing_value=np.nan)
        if unknown == "use_encoded_value"
        else OrdinalEncoder(handle_unknown=unknown, encoded_missing_value=np.nan)
    )
    numeric = [name for name in feature_frame(1).columns if name not in CATEGORICAL]
    columns = ColumnTransformer([("categorical", encoder, CATEGORICAL), ("numeric", "passthrough", numeric)])
    if native:
        estimator.set_params(categorical_features=[True, True] + [False] * len(numeric))
    return Pipeline([("columns", columns), ("model", estimator)])


def _training(rows: int = 1000) -> pd.DataFrame:
    frame = feature_frame(rows, seed=3)
    frame.loc[::17, "seconds_since_last_txn"] = np.nan
    frame.loc[::23, "category"] = None
    return frame


@pytest.mark.parametrize("native", [True, False], ids=["native-categorical", "ordinal-numbers"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_the_shipped_pipeline_compiles_with_the_same_answers(task: str, native: bool) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    frame = _training()
    targets = {
        "binary": ((frame["amount"] > 90) & (frame["channel"] == "online")) | (frame["category"] == "travel"),
        "multiclass": (frame["amount"] // 60).clip(0, 3),
        "regression": frame["amount"] * 2 + frame["hour_of_day"],
    }
    estimator = (HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier)(
        max_iter=25, random_state=1
    )
    model = _pipeline(estimator, native).fit(frame, targets[task].astype(float if task == "regression" else int))
    compiled = load(compile_model(model))
    unseen = holdout_frame(11, 600)  # unknown and missing categories, missing numbers
    measured = parity(model, compiled, unseen)
    assert measured.passed, measured.describe()
    assert measured.max_difference < 1e-9


def test_the_compiled_model_is_scored_by_the_same_scoring_function() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame = _training()
    model = _pipeline(HistGradientBoostingClassifier(max_iter=20), native=True).fit(frame, frame["amount"] > 80)
    rows = holdout_frame(5, 50)
    plain, fast = Scorer.of(model).score(rows), Scorer.of(load(compile_model(model))).score(rows)
    assert fast.predictions == plain.predictions
    assert np.allclose(fast.probabilities or [], plain.probabilities or [], rtol=0, atol=1e-12)


def test_an_unknown_category_is_an_error_where_sklearn_refuses_it_too() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame = _training().dropna(subset=["category"])
    model = _pipeline(HistGradientBoostingClassifier(max_iter=5), native=True, unknown="error")
    model.fit(frame, frame["amount"] > 80)
    rows = frame.head(2).assign(category=["grocery", "unseen"])
    with pytest.raises(ValueError, match="unknown categor"):
        model.predict_proba(rows)
    with pytest.raises(ValueError, match=r"column 'category': category 'unseen' was not seen in training"):
        compiled = load(compile_model(model))
        assert isinstance(compiled, CompiledClassifier)
        compiled.predict_proba(rows)


def test_what_does_not_compile_is_named() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    frame = feature_frame(200)[["amount", "hour_of_day"]]
    label = frame["amount"] > 80
    with pytest.raises(NotCompilableError, match=r"^step 'model' is a LogisticRegression; only HistGradient"):
        compile_model(Pipeline([("model", LogisticRegression())]).fit(frame, label))
    from sklearn.ensemble import HistGradientBoostingClassifier

    guarded = Pipeline([("guard", FunctionTransformer()), ("model", HistGradientBoostingClassifier(max_iter=3))])
    with pytest.raises(NotCompilableError, match=r"^step 'guard' is a FunctionTransformer; only a ColumnTransformer"):
        compile_model(guarded.fit(frame, label))


# -- registration and serving -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def platform() -> Platform:
    return memory_platform(parse_outputs(complete_outputs(), "unit"))


def _register(platform: Platform, tmp_path: Path, *, with_holdout: bool = True) -> tuple[str, int]:
    """Register a model as the training pipeline does, its holdout written where the version's tag says."""
    from tests.support.registry import job_model, registration

    job = job_model(tmp_path, f"compiled_{secrets.token_hex(3)}")
    key = f"training-jobs/{job.definition.name}/input/validation"
    holdout_uri = platform.layout.zone_uri("models", f"{key}/")
    if with_holdout:
        filesystem = platform.services.object_store.filesystem()
        bucket = platform.outputs.bucket_for_zone("models")
        job.holdout.to_parquet(f"{bucket}/{key}/part-0.parquet", filesystem=filesystem, index=False)
    request = registration(job, "job-1", holdout_uri=holdout_uri)
    return job.definition.name, platform.services.model_registry.register(request).model_version


def test_registration_stores_a_compiled_model_that_passed_parity_and_the_server_scores_with_it(
    platform: Platform, tmp_path: Path
) -> None:
    name, version = _register(platform, tmp_path)
    tags = platform.services.model_registry.version(name, str(version)).tags
    assert tags[registry_compiled.FORMAT_TAG] == "onnx"
    assert tags[registry_compiled.URI_TAG].endswith("/compiled/model.onnx")
    assert tags[registry_compiled.PARITY_TAG].startswith("max |difference| ")
    assert registry_compiled.SKIPPED_TAG not in tags
    tracking = platform.services.model_registry.environment()["MLFLOW_TRACKING_URI"]
    fast = load_model(f"models:/{name}/{version}", tracking)
    plain = load_model(f"models:/{name}/{version}", tracking, engine="plain")
    assert (fast.engine, plain.engine) == ("onnx", "sklearn")


def test_without_a_holdout_no_compiled_model_is_stored_and_the_reason_is_recorded(
    platform: Platform, tmp_path: Path
) -> None:
    name, version = _register(platform, tmp_path, with_holdout=False)
    tags = platform.services.model_registry.version(name, str(version)).tags
    assert registry_compiled.FORMAT_TAG not in tags
    assert tags[registry_compiled.SKIPPED_TAG].startswith("no holdout to check parity on: ")


def test_a_compiled_model_that_disagrees_is_not_stored(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = compiled_module.compile_model

    def off_by_a_little(model: Any) -> bytes:  # the baseline moved: every probability shifts
        model[-1]._baseline_prediction = model[-1]._baseline_prediction + 1e-3
        try:
            return real(model)
        finally:
            model[-1]._baseline_prediction = model[-1]._baseline_prediction - 1e-3

    monkeypatch.setattr(registry_compiled, "compile_model", off_by_a_little)
    name, version = _register(platform, tmp_path)
    tags = platform.services.model_registry.version(name, str(version)).tags
    assert registry_compiled.FORMAT_TAG not in tags
    assert tags[registry_compiled.SKIPPED_TAG].startswith("parity failed: max |difference| ")


def test_a_model_that_does_not_compile_serves_plain_and_says_why(tmp_path: Path) -> None:
    registered = train_and_register(tmp_path, refuse_negative=True, shipped=True, compiled=True)
    import mlflow

    tags = mlflow.MlflowClient(registered.tracking_uri).get_model_version(registered.name, registered.version).tags
    assert tags[registry_compiled.SKIPPED_TAG] == (
        "the model does not compile: pipeline steps guard, columns: only one column transformer may precede the model"
    )
    assert load_model(f"models:/{registered.name}/{registered.version}", registered.tracking_uri).engine == "sklearn"


@pytest.fixture(scope="module")
def compiled_version(tmp_path_factory: pytest.TempPathFactory) -> RegisteredModel:
    """One shipped model registered with its compiled twin, trained once for the tests that only read it (a test
    that changes its tags puts them back)."""
    return train_and_register(tmp_path_factory.mktemp("compiled-version"), shipped=True, compiled=True)


def test_an_unreadable_compiled_model_falls_back_to_the_plain_one(compiled_version: RegisteredModel) -> None:
    import mlflow

    registered = compiled_version
    client = mlflow.MlflowClient(registered.tracking_uri)
    uri = f"models:/{registered.name}/{registered.version}"
    assert load_model(uri, registered.tracking_uri).engine == "onnx"
    where = client.get_model_version(registered.name, registered.version).tags[registry_compiled.URI_TAG]
    client.set_model_version_tag(registered.name, registered.version, registry_compiled.URI_TAG, "file:///nowhere.onnx")
    try:
        assert load_model(uri, registered.tracking_uri).engine == "sklearn"
    finally:
        client.set_model_version_tag(registered.name, registered.version, registry_compiled.URI_TAG, where)


def test_the_server_core_answers_the_same_from_the_compiled_and_the_plain_model() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from serving.core import InferenceCore
    from serving.model import LoadedModel
    from serving.schema import ColumnSpec, InputSchema

    frame = _training()
    model = _pipeline(HistGradientBoostingClassifier(max_iter=20), native=True).fit(frame, frame["amount"] > 80)
    rows = holdout_frame(9, 30).dropna(subset=CATEGORICAL)  # the server refuses null text; "unseen" stays
    types = {name: "string" if name in CATEGORICAL else "double" for name in rows.columns}
    schema = InputSchema(tuple(ColumnSpec(name, types[name], required=False) for name in rows.columns))
    body = rows.assign(**{n: rows[n].astype(float) for n in rows.columns if n not in CATEGORICAL}).to_json(
        orient="split", index=False
    )
    request = ('{"dataframe_split": ' + body + "}").encode()
    answers = []
    for engine, estimator in (("sklearn", model), ("onnx", load(compile_model(model)))):
        core = InferenceCore(LoadedModel("models:/m/1", "m", "1", schema, 0.0, Scorer.of(estimator), engine))
        response = core.invocations(request, "application/json", None)
        assert response.status == 200, response.body
        answers.append(json.loads(response.body))
    plain, fast = answers
    assert fast["predictions"] == plain["predictions"]
    assert np.allclose(fast["probabilities"], plain["probabilities"], rtol=0, atol=1e-12)


def test_batch_inference_scores_with_the_compiled_model_through_the_serving_container(
    compiled_version: RegisteredModel,
) -> None:
    """Batch transform posts headerless CSV lines to the version's serving container (``in_process`` is that
    container in this process): with a compiled version it scores with the compiled model, answering as the plain
    model does."""
    from mlops.ports.hosting import MODEL_URI_ENV, Container
    from serving.server import build_core, in_process

    registered = compiled_version
    env = {
        MODEL_URI_ENV: f"models:/{registered.name}/{registered.version}",
        "MLFLOW_TRACKING_URI": registered.tracking_uri,
        "MLOPS_TARGET": "aws",
        "MLOPS_REGION": "us-east-1",
    }
    assert build_core(env[MODEL_URI_ENV], env).model.engine == "onnx"
    lines = holdout_frame(3, 40).dropna(subset=CATEGORICAL).to_csv(index=False, header=False).encode()
    answers = []
    for engine in ("auto", "plain"):
        handle = in_process(Container("serving", {**env, "SERVING_MODEL_ENGINE": engine}))
        status, body, content_type = handle(lines, "text/csv", "text/csv")
        assert (status, content_type) == (200, "text/csv"), body
        answers.append([line.split(",") for line in body.decode().splitlines()])
    fast, plain = answers
    assert [row[0] for row in fast] == [row[0] for row in plain]
    assert np.allclose([float(r[1]) for r in fast], [float(r[1]) for r in plain], rtol=0, atol=1e-12)
