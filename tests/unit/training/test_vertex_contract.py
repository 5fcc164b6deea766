"""The Vertex custom-job contract of the training entry point: which contract applies, the ``AIP_*`` variables and
their refusals, hyperparameters as arguments, and the data and model moved through the object-store port (the
in-memory store here; the GCS emulator in tests/integration/gcp/test_vertex_training.py)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from mlops.adapters.memory.object_store import MemoryObjectStore
from mlops.errors import TrainingDataError
from mlops.local.vertex_training import vertex_environment
from mlops.ports.training import TrainingJobError, TrainingJobRequest
from pipelines.training import vertex_contract
from pipelines.training.vertex_contract import VertexContract, from_environment, hyperparameters_from_args

FULL = {
    "AIP_MODEL_DIR": "memory://models/out/job-1/model/",
    "AIP_TRAINING_DATA_URI": "memory://features/train/",
    "AIP_VALIDATION_DATA_URI": "memory://features/validation/part-*.parquet",
    "AIP_TEST_DATA_URI": "memory://features/test/part-0.parquet",
    "AIP_CHECKPOINT_DIR": "memory://models/out/job-1/checkpoints/",
    "CLOUD_ML_JOB_ID": "123",
}


def test_without_aip_model_dir_the_sagemaker_contract_applies() -> None:
    assert from_environment({"AIP_TRAINING_DATA_URI": "memory://features/train/"}) is None


def test_the_vertex_contract_reads_every_variable() -> None:
    contract = from_environment(FULL)
    assert contract == VertexContract(
        model_dir="memory://models/out/job-1/model/",
        data={
            "train": "memory://features/train/",
            "validation": "memory://features/validation/part-*.parquet",
            "test": "memory://features/test/part-0.parquet",
        },
        checkpoint_dir="memory://models/out/job-1/checkpoints/",
        job_id="123",
    )
    assert contract.model_archive == "memory://models/out/job-1/model/model.tar.gz"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"AIP_VALIDATION_DATA_URI": ""}, "AIP_VALIDATION_DATA_URI is not set"),
        ({"AIP_TRAINING_DATA_URI": "/local/train"}, "AIP_TRAINING_DATA_URI '/local/train' is not an object URI"),
        ({"AIP_MODEL_DIR": "gs://"}, "AIP_MODEL_DIR 'gs://' is not an object URI"),
        ({"AIP_CHECKPOINT_DIR": "checkpoints"}, "AIP_CHECKPOINT_DIR 'checkpoints' is not an object URI"),
    ],
)
def test_a_missing_or_malformed_variable_is_refused_by_name(change: dict[str, str], message: str) -> None:
    with pytest.raises(TrainingDataError, match=message):
        from_environment({**FULL, **change})


def test_hyperparameters_arrive_as_arguments_in_both_spellings() -> None:
    assert hyperparameters_from_args(["--max_iter=30", "--learning-rate", "0.2", "--features=a,b=c"]) == {
        "max_iter": "30",
        "learning_rate": "0.2",
        "features": "a,b=c",
    }
    with pytest.raises(TrainingDataError, match="'stray' is not a hyperparameter"):
        hyperparameters_from_args(["stray"])
    with pytest.raises(TrainingDataError, match="--seed has no value"):
        hyperparameters_from_args(["--seed", "--max_iter=3"])


def _store() -> MemoryObjectStore:
    store = MemoryObjectStore(buckets=("features", "models"))
    for key in ("train/a/part-0.parquet", "train/part-1.parquet", "validation/part-0.parquet"):
        store.put("features", key, key.encode())
    store.put("features", "validation/other.parquet", b"not matched")
    return store


def test_the_data_uris_are_staged_through_the_store_prefix_pattern_and_object(tmp_path: Path) -> None:
    store = _store()
    contract = VertexContract(
        "memory://models/m/",
        {"train": "memory://features/train/", "validation": "memory://features/validation/part-*.parquet"},
    )
    vertex_contract.stage(store, contract, tmp_path, ("train", "validation"))

    staged = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert staged == [
        "input/data/train/a/part-0.parquet",
        "input/data/train/part-1.parquet",
        "input/data/validation/part-0.parquet",
    ]
    assert vertex_contract.matching_keys(store, "memory://features/validation/part-0.parquet") == [
        "validation/part-0.parquet"
    ]


def test_a_uri_naming_nothing_or_of_another_store_is_refused(tmp_path: Path) -> None:
    store = _store()
    empty = VertexContract("memory://models/m/", {"train": "memory://features/nothing-*"})
    with pytest.raises(TrainingDataError, match="AIP_TRAINING_DATA_URI 'memory://features/nothing-\\*' names no"):
        vertex_contract.stage(store, empty, tmp_path, ("train",))
    elsewhere = VertexContract("gs://models/m/", {"train": "gs://features/train/"})
    with pytest.raises(TrainingDataError, match=r"not in the object store's scheme \(memory://\)"):
        vertex_contract.stage(store, elsewhere, tmp_path, ("train",))


def test_the_model_goes_under_aip_model_dir_as_files_and_as_the_archive(tmp_path: Path) -> None:
    store = _store()
    model = tmp_path / "model"
    (model / "mlflow_model").mkdir(parents=True)
    (model / "mlflow_model" / "MLmodel").write_text("flavors: {}\n")
    (model / "metrics.json").write_text("{}")

    archive = vertex_contract.upload_model(store, VertexContract("memory://models/out/j/model/", {}), model)

    assert archive == "memory://models/out/j/model/model.tar.gz"
    assert store.list_keys("models", "out/j/model/") == [
        "out/j/model/metrics.json",
        "out/j/model/mlflow_model/MLmodel",
        "out/j/model/model.tar.gz",
    ]
    store.download_file("models", "out/j/model/model.tar.gz", tmp_path / "got.tar.gz")
    with tarfile.open(tmp_path / "got.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["metrics.json", "mlflow_model", "mlflow_model/MLmodel"]


def _request(**channels: str) -> TrainingJobRequest:
    return TrainingJobRequest(
        job_name="pipelines-abc-train",
        entry_point=["python3", "-m", "pipelines.training.entry_point"],
        channels=channels,
        hyperparameters={"max_iter": "30"},
        output_path="gs://models/training/output/",
    )


def test_a_runner_sets_the_contract_from_a_sagemaker_shaped_request() -> None:
    env = vertex_environment(_request(train="gs://f/train/", validation="gs://f/validation/"), "42")
    assert env == {
        "AIP_MODEL_DIR": "gs://models/training/output/pipelines-abc-train/model/",
        "AIP_CHECKPOINT_DIR": "gs://models/training/output/pipelines-abc-train/checkpoints/",
        "CLOUD_ML_JOB_ID": "42",
        "AIP_TRAINING_DATA_URI": "gs://f/train/",
        "AIP_VALIDATION_DATA_URI": "gs://f/validation/",
    }
    assert from_environment(env) is not None  # what a runner sets is what the entry point accepts
    with pytest.raises(TrainingJobError, match="channel 'extra' has no Vertex data URI"):
        vertex_environment(_request(train="gs://f/t/", validation="gs://f/v/", extra="gs://f/x/"), "42")
