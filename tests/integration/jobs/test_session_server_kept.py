"""A test's `mlops local up` against the session's platform keeps the warm Spark server that the jobs tests of the
same worker run on (tests/support/session_cli.py). Before, it stopped the server, and the next test's session
waited ten minutes for it in vain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.local import spark_connect
from mlops.platform import Platform
from tests.support.session_cli import session_env

pytestmark = [pytest.mark.emulator, pytest.mark.spark, pytest.mark.pulumi]


def test_local_up_on_the_sessions_platform_keeps_its_warm_spark_server(
    platform: Platform, warm_spark: Any, emulator_state_dir: Path
) -> None:
    result = CliRunner().invoke(app, ["local", "up", "--json"], env=session_env(emulator_state_dir))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["spark_connect"] == {"pid": warm_spark.pid, "url": warm_spark.remote_url}
    kept = spark_connect.running_state(spark_connect.spark_dir(emulator_state_dir))
    assert kept is not None and kept.pid == warm_spark.pid
