"""The SageMaker model package names the drift-check baseline as SageMaker expects it (``DriftCheckBaselines``
and ``ModelMetrics.ModelDataQuality``), checked against moto's SageMaker in process."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops.adapters.aws.sagemaker_packages import SageMakerModelPackages

BASELINES = {"statistics": "s3://models/b/statistics.json", "constraints": "s3://models/b/constraints.json"}


class _Clients:
    def client(self, name: str) -> Any:
        return boto3.client(name, region_name="us-east-1")


def test_the_package_carries_the_baseline_files(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")):
        monkeypatch.setenv(name, value)
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_model_package_group(ModelPackageGroupName="unit")
        packages = SageMakerModelPackages(_Clients(), "unit")  # type: ignore[arg-type]
        package = packages.create(
            "s3://models/model.tar.gz",
            "image:1",
            metadata={},
            description="unit",
            metrics_url="s3://models/evaluation.json",
            drift_baselines=BASELINES,
        )
        raw = sagemaker.describe_model_package(ModelPackageName=package.arn)
    assert package.drift_check_baselines == BASELINES
    expected = {
        "Statistics": {"ContentType": "application/json", "S3Uri": BASELINES["statistics"]},
        "Constraints": {"ContentType": "application/json", "S3Uri": BASELINES["constraints"]},
    }
    assert raw["DriftCheckBaselines"] == {"ModelDataQuality": expected}
    assert raw["ModelMetrics"]["ModelDataQuality"] == expected
    assert raw["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == "s3://models/evaluation.json"
