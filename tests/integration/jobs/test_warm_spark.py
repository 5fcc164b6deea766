"""The jobs on the warm Spark Connect server of ``mlops local up``: the end-to-end checks of
``test_jobs_end_to_end`` again, on a dataset of this module, with the server running for the session's platform
(the local Glue runner then gives each run its own session there instead of a JVM of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mlops.platform import Platform
from mlops.settings import LocalSparkSettings
from mlops.wiring import build_platform
from tests.integration.jobs import test_jobs_end_to_end as e2e
from tests.integration.jobs.conftest import warm_spark_server

pytestmark = [pytest.mark.emulator, pytest.mark.spark]

lake = e2e.lake  # the fixture: a dataset of this module, its Glue jobs declared on the session's emulator


@pytest.fixture(scope="module")
def platform(platform: Platform) -> Platform:
    """The session's platform with the warm server turned on (the suite turns it off for `mlops local up`)."""
    settings = platform.settings.model_copy(update={"local_spark": LocalSparkSettings(enabled=True)})
    return build_platform(settings, platform.outputs)


@pytest.fixture(scope="module", autouse=True)
def warm_spark(platform: Platform) -> Iterator[Any]:
    with warm_spark_server(platform.settings.state_dir) as state:
        yield state


def test_curate_and_build_features_on_the_server_match_the_cold_runs(lake: dict[str, Any], warm_spark: Any) -> None:
    e2e.test_curate_twice_then_build_features_from_a_recorded_version(lake)
    run, lines = e2e._run(lake, "build_features")
    assert run.state == "SUCCEEDED"
    assert f"spark: a session of the Spark Connect server at {warm_spark.remote_url}" in lines
    assert run.counts["rows_out"] == 40  # both curated versions' rows
