"""The grid search's candidates in forked processes: as many as the cores OpenMP leaves idle, the same choice as a
sequential search, a candidate's error raised as such and a dead worker named."""

from __future__ import annotations

import os
import signal

import pytest

from mlops.errors import TrainingDataError, TrainingError
from mlops.modeling.spec import ModelSpec
from pipelines.training import search_pool, steps
from pipelines.training.hyperparameters import parse_hyperparameters
from tests.unit.training.synthetic import feature_frame

SPEC = ModelSpec("binary", "is_fraud", "event_time", ("amount", "category", "hour_of_day"), ("category",), "1")


@pytest.mark.parametrize(
    ("environ", "candidates", "expected"),
    [
        ({"OMP_NUM_THREADS": "1"}, 4, 2),  # one OpenMP thread per process: one process per core
        ({"OMP_NUM_THREADS": " 1 "}, 1, 1),  # a single candidate needs no second process
        ({}, 4, 1),  # OpenMP's default (every core) already uses the cores
        ({"OMP_NUM_THREADS": "2"}, 4, 1),  # a thread team: forking could hang the child
    ],
)
def test_workers_are_the_cores_openmp_leaves_idle(
    environ: dict[str, str], candidates: int, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_pool, "_usable_cores", lambda: 2)
    assert search_pool.search_workers(candidates, environ) == expected


def test_each_candidate_runs_in_a_forked_process_and_the_results_keep_their_order() -> None:
    parent = os.getpid()
    pids = search_pool.fit_each(lambda index: float(os.getpid()), 4, workers=2)
    assert parent not in pids
    assert search_pool.fit_each(lambda index: index * 1.5, 5, workers=2) == [0.0, 1.5, 3.0, 4.5, 6.0]


def test_a_candidates_error_is_raised_as_the_sequential_search_raises_it() -> None:
    def work(index: int) -> float:
        if index == 2:
            raise TrainingDataError("evaluation set holds a single class of label 'y'")
        return float(index)

    with pytest.raises(TrainingDataError, match="single class of label 'y'"):
        search_pool.fit_each(work, 4, workers=2)


def test_a_worker_that_dies_is_named_in_a_training_error() -> None:
    def work(index: int) -> float:
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's out-of-memory killer would
        return float(index)

    with pytest.raises(TrainingError, match=r"ended without a result .*OMP_NUM_THREADS"):
        search_pool.fit_each(work, 2, workers=2)


def test_the_search_in_processes_scores_and_chooses_as_the_sequential_one() -> None:
    frame = feature_frame(1500)
    params = parse_hyperparameters(
        {"max_iter": "20", "search_learning_rate": "0.05,0.3", "search_max_leaf_nodes": "4,15"}
    )
    sequential = steps.search(frame, SPEC, params, workers=1)
    forked = steps.search(frame, SPEC, params, workers=2)
    assert forked == sequential
    assert len(forked.scores) == 4
