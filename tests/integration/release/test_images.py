"""Each image's contract, proven without Docker: its build context's set installed alone in a fresh virtualenv
(from ``uv.lock``, hashes required, wheels only), its entry script run on the ``/opt/ml`` layout with the
environment its Dockerfile declares. ``train`` trains on a tiny channel; ``serve`` serves that model from
``/opt/ml/model`` on a free port and answers ``/ping`` and ``/invocations``.

Sizes of each set next to the full install are printed (``pytest -s``) and checked to be ordered.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.config import REPO_ROOT
from mlops.local import loopback
from mlops.local.emulator import free_port
from mlops.modeling.spec import ModelSpec
from mlops.release.images import IMAGES, build_context, requirement_names
from pipelines.training.hyperparameters import to_strings
from tests.integration.release.images_support import ImageRuntime, install_alone, site_packages_bytes
from tests.unit.training.synthetic import definition, feature_frame

pytestmark = [pytest.mark.server, pytest.mark.timeout(600)]

SPEC = ModelSpec.from_definition(definition("image_test"))
HYPERPARAMETERS = {"max_iter": "20", "search_learning_rate": "0.2", "search_max_leaf_nodes": "7"}


@pytest.fixture(scope="module")
def runtimes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ImageRuntime]:
    root = tmp_path_factory.mktemp("images")
    built = {}
    for name, spec in IMAGES.items():
        context = build_context(spec, REPO_ROOT, root / "context" / name)
        seconds = install_alone(context, root / "venv" / name)
        built[name] = ImageRuntime(context=context, venv=root / "venv" / name, install_seconds=seconds)
    return built


@pytest.fixture(scope="module")
def trained(runtimes: dict[str, ImageRuntime], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``/opt/ml`` after the training image's ``train`` ran on a tiny channel."""
    root = tmp_path_factory.mktemp("opt-ml-training")
    frame = feature_frame(600)
    for channel, rows in (("train", frame.iloc[:450]), ("validation", frame.iloc[450:])):
        (root / "input" / "data" / channel).mkdir(parents=True)
        rows.to_parquet(root / "input" / "data" / channel / "part-0.parquet")
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps({**to_strings(SPEC), **HYPERPARAMETERS}))
    image = runtimes["training"]
    done = subprocess.run(
        [str(image.script("train"))],
        env=image.env(MLOPS_SM_ROOT=str(root)),
        cwd=image.program,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "validation:pr_auc=" in done.stdout
    return root


def test_each_set_leaves_out_what_the_image_does_not_run(runtimes: dict[str, ImageRuntime]) -> None:
    for name, image in runtimes.items():
        installed = requirement_names((image.context.path / "requirements.txt").read_text())
        assert not installed & set(IMAGES[name].forbidden_packages), name
    serving = runtimes["serving"]
    assert not (serving.program / "pipelines" / "training").exists()
    assert not (serving.program / "mlops" / "local").exists()
    assert (serving.program / "pipelines" / "datasets" / "card_transactions.yaml").is_file()
    for module in ("pyspark", "pulumi", "great_expectations", "pipelines.training", "mlops.local", "jobs"):
        assert serving.python(f"import {module}").returncode != 0, f"the serving image can import {module}"
    training = runtimes["training"]
    for module in ("pyspark", "pulumi", "great_expectations", "serving", "mlops.local", "infra"):
        assert training.python(f"import {module}").returncode != 0, f"the training image can import {module}"
    # The pipeline's processing steps run in the training image: their modules import there.
    steps = "import pipelines.training.prepare, pipelines.training.evaluate, pipelines.training.register_step"
    done = training.python(steps)
    assert done.returncode == 0, done.stderr[-2000:]


def test_sets_are_smaller_than_the_full_install(runtimes: dict[str, ImageRuntime]) -> None:
    full = site_packages_bytes(REPO_ROOT / ".venv")
    sizes = {name: site_packages_bytes(image.venv) for name, image in runtimes.items()}
    for name, image in runtimes.items():
        print(
            f"\n{name}: {image.context.requirements} distributions, {sizes[name] / 2**20:.0f} MiB installed "
            f"in {image.install_seconds:.1f}s (tag {image.context.tag})"
        )
    print(f"full install (.venv): {full / 2**20:.0f} MiB")
    assert sizes["serving"] < sizes["training"] < full


def test_training_image_trains_on_the_opt_ml_layout(trained: Path) -> None:
    model = trained / "model"
    assert (model / "mlflow_model" / "MLmodel").is_file()
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["train_rows"] == 450
    assert not (trained / "output" / "failure").exists()


def test_training_image_reports_a_missing_channel_as_the_failure_reason(
    runtimes: dict[str, ImageRuntime], tmp_path: Path
) -> None:
    (tmp_path / "input" / "config").mkdir(parents=True)
    (tmp_path / "input" / "config" / "hyperparameters.json").write_text(json.dumps(to_strings(SPEC)))
    image = runtimes["training"]
    done = subprocess.run(
        [str(image.script("train"))],
        env=image.env(MLOPS_SM_ROOT=str(tmp_path)),
        cwd=image.program,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "input channel 'train' is missing" in (tmp_path / "output" / "failure").read_text()


@pytest.fixture
def serving(runtimes: dict[str, ImageRuntime], trained: Path, tmp_path: Path) -> Iterator[str]:
    """The serving image's ``serve`` on a free port, its model in ``/opt/ml/model`` as SageMaker extracts it."""
    shutil.copytree(trained / "model", tmp_path / "model")
    image = runtimes["serving"]
    port = free_port()
    process = subprocess.Popen(
        [str(image.script("serve"))],
        env=image.env(MLOPS_SM_ROOT=str(tmp_path), SAGEMAKER_BIND_TO_PORT=str(port), SERVING_HOST="127.0.0.1"),
        cwd=image.program,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                pytest.fail(f"serve exited with {process.returncode}: {output}")
            try:
                if loopback.get(f"{url}/ping", timeout=2).status_code == 200:  # one client for every poll
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("serve did not answer /ping within 90 s")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_serving_image_serves_the_trained_model_from_opt_ml_model(serving: str) -> None:
    rows = feature_frame(5, seed=11)[list(SPEC.features)]
    body = {"dataframe_split": {"columns": list(rows.columns), "data": rows.astype(object).values.tolist()}}
    answer = httpx.post(f"{serving}/invocations", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert len(result["predictions"]) == 5
    assert len(result["probabilities"]) == 5
    assert all(0.0 <= p <= 1.0 for p in result["probabilities"])
    csv = httpx.post(
        f"{serving}/invocations",
        content=rows.to_csv(index=False, header=False),
        headers={"Content-Type": "text/csv", "Accept": "text/csv"},
        timeout=30,
    )
    assert csv.status_code == 200, csv.text
    assert len(csv.text.strip().splitlines()) == 5


def test_serve_without_a_model_names_what_it_looked_for(runtimes: dict[str, ImageRuntime], tmp_path: Path) -> None:
    image = runtimes["serving"]
    done = subprocess.run(
        [str(image.script("serve"))],
        env=image.env(MLOPS_SM_ROOT=str(tmp_path)),
        cwd=image.program,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert f"{tmp_path}/model holds no MLflow model" in done.stderr
