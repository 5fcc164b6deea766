"""The Vertex AI custom-job contract of the training entry point (:mod:`pipelines.training.entry_point`).

SageMaker stages the channels into ``/opt/ml/input/data/<channel>`` and uploads ``/opt/ml/model`` itself. Vertex
does neither: it hands the container object URIs in its environment and the code reads and writes them.

- ``AIP_MODEL_DIR``: where the model goes (a ``gs://`` prefix); required, its presence is what says "Vertex";
- ``AIP_TRAINING_DATA_URI``, ``AIP_VALIDATION_DATA_URI``, ``AIP_TEST_DATA_URI``: the data, each a prefix
  (``.../train/``: every object under it), one object, or a pattern with ``*`` in its last segment
  (``.../training-*``, as Vertex writes a managed dataset's split); train and validation are required, the test
  split is optional and unused (the pipeline evaluates on the holdout in its own step);
- ``AIP_CHECKPOINT_DIR``: where checkpoints could go (one fit per job: none are written);
- ``CLOUD_ML_JOB_ID``: the custom job's id (printed in the log);
- hyperparameters are the container's arguments, ``--name=value`` or ``--name value`` (what a custom job's
  ``args`` and a tuning job's trials pass).

This module parses that contract and moves the data through the object-store port (never a cloud SDK): the channels
are staged into the SageMaker-shaped root the entry point trains from, and the model directory it writes is uploaded
file by file under ``AIP_MODEL_DIR`` plus ``model.tar.gz`` (the archive the pipeline's Evaluate and Register steps
and the model package point at, as on SageMaker).
"""

from __future__ import annotations

import fnmatch
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlops.contracts import VERTEX_CHECKPOINT_DIR_ENV, VERTEX_DATA_ENV, VERTEX_JOB_ID_ENV, VERTEX_MODEL_DIR_ENV
from mlops.errors import TrainingDataError
from mlops.layout import split_uri
from mlops.ports.object_store import ObjectStore

MODEL_DIR_ENV = VERTEX_MODEL_DIR_ENV
DATA_ENV = VERTEX_DATA_ENV
CHECKPOINT_ENV = VERTEX_CHECKPOINT_DIR_ENV
JOB_ID_ENV = VERTEX_JOB_ID_ENV
REQUIRED_CHANNELS = ("train", "validation")
ARCHIVE = "model.tar.gz"


@dataclass(frozen=True)
class VertexContract:
    """What Vertex handed the container: the model location, the data URIs by channel, the job id."""

    model_dir: str
    data: Mapping[str, str]
    checkpoint_dir: str = ""
    job_id: str = ""

    @property
    def model_archive(self) -> str:
        """Where the model's archive goes (the artifact the pipeline's later steps read)."""
        return f"{self.model_dir.rstrip('/')}/{ARCHIVE}"


def from_environment(env: Mapping[str, str]) -> VertexContract | None:
    """The Vertex contract when ``AIP_MODEL_DIR`` is set, ``None`` otherwise (the SageMaker contract applies).

    A set ``AIP_MODEL_DIR`` without the train or validation URI, or any value that is not an object URI, raises
    :class:`TrainingDataError` naming the variable.
    """
    model_dir = env.get(MODEL_DIR_ENV, "").strip()
    if not model_dir:
        return None
    _check_uri(MODEL_DIR_ENV, model_dir)
    data: dict[str, str] = {}
    for channel, variable in DATA_ENV.items():
        value = env.get(variable, "").strip()
        if not value:
            if channel in REQUIRED_CHANNELS:
                raise TrainingDataError(f"{variable} is not set: the Vertex contract needs the {channel} data URI")
            continue
        _check_uri(variable, value)
        data[channel] = value
    checkpoint = env.get(CHECKPOINT_ENV, "").strip()
    if checkpoint:
        _check_uri(CHECKPOINT_ENV, checkpoint)
    return VertexContract(model_dir, data, checkpoint, env.get(JOB_ID_ENV, "").strip())


def _check_uri(variable: str, value: str) -> None:
    try:
        _, bucket, _ = split_uri(value)
    except ValueError:
        bucket = ""
    if not bucket:
        raise TrainingDataError(f"{variable} {value!r} is not an object URI (scheme://bucket/path)")


def hyperparameters_from_args(args: Sequence[str]) -> dict[str, str]:
    """``--name=value`` / ``--name value`` arguments as the string map SageMaker's ``hyperparameters.json`` holds."""
    found: dict[str, str] = {}
    items = list(args)
    index = 0
    while index < len(items):
        item = items[index]
        if not item.startswith("--") or item == "--":
            raise TrainingDataError(f"argument {item!r} is not a hyperparameter (--name=value or --name value)")
        name, sep, value = item[2:].partition("=")
        if not sep:
            if index + 1 >= len(items) or items[index + 1].startswith("--"):
                raise TrainingDataError(f"hyperparameter --{name} has no value")
            index += 1
            value = items[index]
        found[name.replace("-", "_")] = value
        index += 1
    return found


def matching_keys(store: ObjectStore, uri: str) -> list[str]:
    """The objects a data URI names: everything under a prefix ending in ``/``, the objects whose name matches a
    ``*`` pattern, else the one object (or, if none has that key, everything under it as a prefix)."""
    _, bucket, path = split_uri(uri)
    if path.endswith("/") or not path:
        return store.list_keys(bucket, path)
    directory, _, name = path.rpartition("/")
    if "*" in name:
        base = f"{directory}/" if directory else ""
        keys = store.list_keys(bucket, base)
        return [key for key in keys if "/" not in key[len(base) :] and fnmatch.fnmatchcase(key[len(base) :], name)]
    if store.exists(bucket, path):
        return [path]
    return store.list_keys(bucket, f"{path}/")


def _directory(path: str) -> str:
    """The directory part of an object path, with its ``/`` (empty at the bucket's root)."""
    return path.rpartition("/")[0] + "/" if "/" in path else ""


def _check_scheme(store: ObjectStore, variable: str, uri: str) -> None:
    scheme = split_uri(uri)[0]
    if scheme != store.scheme:
        raise TrainingDataError(f"{variable} {uri!r} is not in the object store's scheme ({store.scheme}://)")


def stage(store: ObjectStore, contract: VertexContract, root: Path, channels: Sequence[str]) -> None:
    """Download each channel's objects to ``root/input/data/<channel>/`` (their paths under the URI's directory
    kept); a channel naming no object raises :class:`TrainingDataError` naming the variable and the URI."""
    for channel in channels:
        uri = contract.data[channel]
        _check_scheme(store, DATA_ENV[channel], uri)
        _, bucket, path = split_uri(uri)
        base = path if path.endswith("/") else _directory(path)
        keys = matching_keys(store, uri)
        if not keys:
            raise TrainingDataError(f"{DATA_ENV[channel]} {uri!r} names no object")
        target = root / "input" / "data" / channel
        for key in keys:
            relative = PurePosixPath(key[len(base) :] if key.startswith(base) else PurePosixPath(key).name)
            destination = (target / relative).resolve()
            if not destination.is_relative_to(target.resolve()):
                raise TrainingDataError(f"object {key!r} of {uri!r} would be staged outside {target}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            store.download_file(bucket, key, destination)


def upload_model(store: ObjectStore, contract: VertexContract, model_dir: Path) -> str:
    """Upload every file of ``model_dir`` under ``AIP_MODEL_DIR`` and the directory as ``model.tar.gz`` beside
    them; returns the archive's URI."""
    _check_scheme(store, MODEL_DIR_ENV, contract.model_dir)
    _, bucket, prefix = split_uri(contract.model_dir)
    base = prefix.rstrip("/")
    files = sorted(p for p in model_dir.rglob("*") if p.is_file())
    for path in files:
        store.put_file(bucket, f"{base}/{path.relative_to(model_dir).as_posix()}".lstrip("/"), path)
    archive = model_dir.parent / ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)
    store.put_file(bucket, f"{base}/{ARCHIVE}".lstrip("/"), archive)
    return contract.model_archive
