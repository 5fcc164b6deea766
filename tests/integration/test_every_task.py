"""A new dataset of each supervised task, brought as a new user brings it, through the whole platform with no code
change: `mlops data init` drafts each definition from a sample file (binary with string labels and a declared
positive class that sorts first, multiclass, regression), `mlops local up` deploys them from MLOPS_DATASETS_DIR,
then per dataset ingest -> validate -> curate -> features -> train -> promote -> deploy -> predict ->
batch-predict -> (a newer batch) -> monitor performance and drift.

The three datasets share ONE emulator session (started here, in its own state directory, because the stack must
deploy the new definitions) and hold a few hundred rows each: the Spark jobs dominate the time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.datasets import load_definition
from mlops.local import emulator
from tests.support.task_datasets import LABELS, TASKS, sample

pytestmark = [pytest.mark.emulator, pytest.mark.spark, pytest.mark.server]

ROWS, FIRST = 300, 210  # the first batch trains; the newer rows arrive later and are monitored
FAST = ["--hp", "max_iter=40", "--hp", "search_learning_rate=0.2", "--hp", "search_max_leaf_nodes=7"]


class Kit:
    """The `mlops` CLI with one state dir and datasets dir, as a user's shell would have them."""

    def __init__(self, state_dir: Path, datasets_dir: Path, work: Path) -> None:
        self.work = work
        self.env = {
            "MLOPS_STATE_DIR": str(state_dir),
            "MLOPS_TARGET": "moto",
            "MLOPS_STACK": "local",
            "MLOPS_DATASETS_DIR": str(datasets_dir),
            # The warm Spark server of `local up` runs the dozen Glue jobs, as for a user (the suite's autouse
            # setting turns it off for each test: `local up` started a server the job runs then did not use).
            "MLOPS_LOCAL_SPARK__ENABLED": "true",
            # ...and its warm command server the model servers of `deploy` and `batch-predict` (and the training
            # steps) fork from.
            "MLOPS_LOCAL_CLI__ENABLED": "true",
        }

    def __call__(self, *args: str, expect: int = 0) -> Any:
        result = CliRunner().invoke(app, list(args), env=self.env)
        assert result.exit_code == expect, f"mlops {' '.join(args)}:\n{result.output}\n{result.exception!r}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    """Samples written, definitions drafted by `mlops data init` (before any platform exists), then `local up`."""
    work = tmp_path_factory.mktemp("every-task")
    state_dir, datasets_dir = work / "state", work / "datasets"
    kit = Kit(state_dir, datasets_dir, work)
    for name in TASKS:
        frame = sample(name, ROWS)
        frame.to_csv(work / f"{name}.csv", index=False)
        frame.iloc[:FIRST].to_csv(work / f"{name}-1.csv", index=False)
        frame.iloc[FIRST:].to_parquet(work / f"{name}-2.parquet", index=False)
        label = ["--label", LABELS[name]] if name == "houses" else []  # the others' labels are guessed
        kit("data", "init", name, "--from", str(work / f"{name}.csv"), *label)
    saved = os.environ.get("MLOPS_DATASETS_DIR")
    try:
        kit("local", "up")
        yield kit
    finally:
        CliRunner().invoke(app, ["endpoint", "stop"], env=kit.env)
        CliRunner().invoke(app, ["local", "down"], env=kit.env)  # the emulator and the warm Spark server
        emulator.down(state_dir / "emulator")  # by PID, whatever the command did
        if saved is None:
            os.environ.pop("MLOPS_DATASETS_DIR", None)
        else:
            os.environ["MLOPS_DATASETS_DIR"] = saved


def _load_batch(kit: Kit, name: str, path: Path) -> None:
    kit("data", "ingest", name, str(path))
    validated = kit.json("data", "validate", name, "--all-pending")
    assert [r["success"] for r in validated] == [True], validated
    for job in ("curate", "build_features"):
        kit("job", "run", job, "--arg", f"dataset={name}")


@pytest.mark.timeout(1200)  # ~8 min each on a busy 2-core machine (3 local Glue runs, a pipeline, an endpoint)
@pytest.mark.parametrize("name", ["tumours", "plants", "houses"])
def test_a_new_dataset_of_each_task_runs_end_to_end_with_no_code_change(kit: Kit, name: str) -> None:
    definition = load_definition(Path(kit.env["MLOPS_DATASETS_DIR"]) / f"{name}.yaml")
    assert (definition.task, definition.label.column) == (TASKS[name], LABELS[name])
    _load_batch(kit, name, kit.work / f"{name}-1.csv")

    trained = kit.json("train", "run", name, *FAST)
    assert trained["status"] == "Succeeded", trained
    promoted = kit.json("model", "promote", name)
    assert promoted["champion_version"] is None and promoted["challenger_version"] == trained["mlflow_version"]

    kit.json("deploy", name)
    rows = pd.read_csv(kit.work / f"{name}.csv").iloc[FIRST : FIRST + 3]
    request = kit.work / f"{name}-request.json"
    features = rows[definition.feature_names].to_dict(orient="records")
    request.write_text(json.dumps({"dataframe_records": features}))
    answer = json.loads(kit("predict", str(request)).stdout)
    _check_answer(name, answer)

    batch = kit.json("batch-predict", name)
    assert batch["rows"] == FIRST, batch

    _load_batch(kit, name, kit.work / f"{name}-2.parquet")
    performance = kit.json("monitor", "performance", name, "--window", "30d")
    _check_performance(name, performance)
    drift = kit.json("monitor", "drift", name)
    assert drift["current"]["rows"] == ROWS - FIRST and "drift_score" in drift
    kit("endpoint", "stop")


def _check_answer(name: str, answer: dict[str, Any]) -> None:
    predictions = answer["predictions"]
    assert len(predictions) == 3
    if name == "tumours":  # string classes as served; the probability is the declared positive class's
        assert set(predictions) <= {"cancer", "healthy"}
        assert all(0.0 <= p <= 1.0 for p in answer["probabilities"])
        assert all((p >= 0.5) == (c == "cancer") for p, c in zip(answer["probabilities"], predictions, strict=True))
    elif name == "plants":
        assert answer["classes"] == ["setosa", "versicolor", "virginica"]
        assert all(len(p) == 3 for p in answer["probabilities"])
    else:
        assert all(isinstance(v, float) for v in predictions) and "probabilities" not in answer


def _check_performance(name: str, report: dict[str, Any]) -> None:
    windows = report["windows"]
    assert windows, report
    expected_metric = {"tumours": "pr_auc", "plants": "log_loss", "houses": "rmse"}[name]
    assert report["metric"] == expected_metric
    newest = windows[-1]
    if name == "plants":
        assert set(newest["per_class"]) == {"setosa", "versicolor", "virginica"}
        assert {"recall", "precision", "support", "predicted_share"} <= set(newest["per_class"]["setosa"])
    if name == "houses":
        assert {"mean", "std", "p05", "p50", "p95", "abs_p90"} <= set(newest["errors"])
