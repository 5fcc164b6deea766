"""The grid search's candidates fitted side by side, on the cores that OpenMP leaves idle.

Each candidate of the search is an independent fit. With OpenMP held to one thread per process (the local
runtime's ``OMP_NUM_THREADS=1``, :data:`mlops.contracts.LOCAL_THREAD_ENV`), one fit uses one core, so on a
2-core machine a search of four fits left the other core idle (benchmarks/training_search.py). The candidates
then run in processes forked from this one, at most one per core: the frames are inherited, not sent through a
pipe, and the scores come back in the grid's order, so the choice is the one a sequential search makes.

With more OpenMP threads per process (SageMaker's default: every core) the threads already use the cores, and
forking a process whose OpenMP runtime runs a thread team can hang the child (GNU libgomp): the candidates are
then fitted here, one after another.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from mlops.errors import TrainingError

_work: Callable[[int], float] | None = None
"""The forked workers' task: set before the pool forks them, so they inherit it (and the frames it holds)."""


def search_workers(candidates: int, environ: Mapping[str, str] = os.environ) -> int:
    """How many processes fit the ``candidates``: one per usable core when OpenMP runs one thread, else 1."""
    if environ.get("OMP_NUM_THREADS", "").strip() != "1" or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(candidates, _usable_cores()))


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):  # the cores this process may run on (a container's CPU set)
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _call(index: int) -> float:
    if _work is None:  # only a process that did not fork from fit_each's caller gets here
        raise TrainingError("a search worker started without its task")
    return _work(index)


def fit_each(work: Callable[[int], float], count: int, workers: int) -> list[float]:
    """``work(i)`` for each ``i`` below ``count``, in order: in ``workers`` forked processes when above 1.

    An error a candidate raises is raised here, as a sequential search raises it; a worker that dies (killed,
    out of memory) raises a :class:`TrainingError` that says so.
    """
    if workers <= 1 or count <= 1:
        return [work(index) for index in range(count)]
    global _work  # noqa: PLW0603 (the fork hands the task over; a pickled closure would copy the frames)
    _work = work
    try:
        with ProcessPoolExecutor(min(workers, count), mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_call, range(count)))
    except BrokenProcessPool as exc:
        raise TrainingError(
            f"a process of the grid search ended without a result ({exc}); it may have run out of memory: "
            "set OMP_NUM_THREADS to more than 1 to fit the candidates one after another in one process"
        ) from exc
    finally:
        _work = None
