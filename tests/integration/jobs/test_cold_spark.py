"""The jobs on Spark's classic engine, as on Glue: the end-to-end checks of ``test_jobs_end_to_end`` again, on a
dataset of this module, with the warm server turned off for the session's platform (the local Glue runner then
starts a JVM of its own for each run)."""

from __future__ import annotations

from typing import Any

import pytest

from mlops.platform import Platform
from tests.integration.jobs import test_jobs_end_to_end as e2e

pytestmark = [pytest.mark.emulator, pytest.mark.spark]


@pytest.fixture(scope="module")
def lake(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    assert not platform.settings.local_spark.enabled  # the session's platform: every run starts its own JVM
    return e2e.new_lake(platform, tmp_path_factory)


def test_curate_and_build_features_on_jvms_of_their_own_match_the_warm_runs(lake: dict[str, Any]) -> None:
    e2e.check_curate_twice_then_build_features(lake)
