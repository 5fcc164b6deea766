"""The environment of a command run against the test session's own platform (tests/conftest.py:
``emulator_state_dir``), which other tests on the same worker keep using after it."""

from __future__ import annotations

from pathlib import Path


def session_env(state_dir: Path) -> dict[str, str]:
    """``MLOPS_STATE_DIR``, and the warm Spark server's switch set to what the worker runs there now.

    The tests turn the server off (tests/conftest.py), and `mlops local up` with it off stops the one recorded in
    the state dir: the server the jobs tests of this worker run on (tests/integration/jobs/conftest.py), whose
    next session then waits ten minutes for a server that is gone. With the switch on, `up` reuses it.
    """
    from mlops.local import spark_connect

    running = spark_connect.running_state(spark_connect.spark_dir(state_dir)) is not None
    return {"MLOPS_STATE_DIR": str(state_dir), "MLOPS_LOCAL_SPARK__ENABLED": str(running).lower()}
