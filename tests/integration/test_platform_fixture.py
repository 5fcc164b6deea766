from __future__ import annotations

import pytest

from mlops.local.clients import clients_of
from mlops.platform import Platform

pytestmark = pytest.mark.emulator


def test_platform_outputs_name_buckets_that_exist(platform: Platform) -> None:
    s3 = clients_of(platform).client("s3")
    for zone in ("raw", "curated", "features", "models", "monitoring", "quarantine"):
        bucket = platform.outputs.bucket_for_zone(zone)
        assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
