"""When a round of alarm cases may start, and when an evaluation compares: shared by every alarm cross-check.

Alarms have a 10 s (high-resolution) period; datapoints are put at ``period start + 1 s``. LocalStack evaluates an
alarm when it is created, over windows sliding back from that moment ``t`` and cut at whole seconds
(``[int(t) - PERIOD, int(t))``, ...); the kit's evaluators align periods to the epoch. Both put a datapoint into
the same period exactly when ``int(t)`` is past it: the evaluation happens at least 2 s into the period the data
was put for (at 1.9 s LocalStack's newest window ends at ``start + 1`` and holds the previous period's datapoint)
and before the period ends.
"""

from __future__ import annotations

import time

PERIOD = 10
EARLIEST_EVALUATION = 2  # s into the period
LATEST_START = PERIOD - 5  # s into the period: the round's puts and creations take up to a few seconds


def wait_for_aligned_start() -> int:
    """Start of the current period once the earliest evaluation (with half a second to spare) has passed."""
    while True:
        now = time.time()
        into = now % PERIOD
        if EARLIEST_EVALUATION + 0.5 <= into <= LATEST_START:
            return int(now - into)
        time.sleep(0.1)


def evaluated_in_period(start: int, evaluated_at: float) -> bool:
    """Whether an evaluation at ``evaluated_at`` saw the data put for the period starting at ``start``."""
    return start + EARLIEST_EVALUATION <= evaluated_at < start + PERIOD
