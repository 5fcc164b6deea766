"""Naming functions: exact names and the limits they enforce."""

from __future__ import annotations

import pytest

from infra import naming
from mlops.errors import ConfigError


def test_bucket_name_carries_project_env_zone_and_account() -> None:
    assert naming.bucket_name("mlops-kit", "prod", "raw", "123456789012") == "mlops-kit-prod-raw-123456789012"
    assert naming.bucket_name("mlops-kit", "staging", "access-logs", "123456789012") == (
        "mlops-kit-staging-access-logs-123456789012"
    )


def test_bucket_name_rejects_unknown_zone() -> None:
    with pytest.raises(ConfigError, match="unknown data-lake zone 'gold'"):
        naming.bucket_name("mlops-kit", "prod", "gold", "123456789012")


def test_bucket_name_rejects_names_over_63_chars() -> None:
    with pytest.raises(
        ConfigError, match=r"bucket name 'a-very-long-project-name-for-s3-prod-quarantine-123456789012x+' is invalid"
    ):
        naming.bucket_name("a-very-long-project-name-for-s3", "prod", "quarantine", "123456789012" + "x" * 10)


def test_prefix_rejects_uppercase_project() -> None:
    with pytest.raises(ConfigError, match="prefix name 'MLOps-prod' is invalid"):
        naming.prefix("MLOps", "prod")


def test_glue_names() -> None:
    assert naming.glue_database_name("mlops-kit", "dev") == "mlops_kit_dev"
    assert naming.glue_job_name("mlops-kit", "dev", "build_features") == "mlops-kit-dev-build_features"
    digest = "0123456789abcdef" * 4
    assert naming.glue_script_key("build_features", digest) == "glue/scripts/0123456789abcdef/build_features.py"
    assert naming.glue_wheel_key(digest) == "glue/packages/0123456789abcdef/mlops_kit-0.1.0-py3-none-any.whl"


def test_image_names() -> None:
    assert naming.ecr_repository_name("mlops-kit", "prod", "serving") == "mlops-kit-prod/serving"
    assert naming.image_uri("123456789012", "eu-west-1", "mlops-kit-prod/serving", "ctx-0a") == (
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-kit-prod/serving:ctx-0a"
    )
    with pytest.raises(ConfigError, match="ECR repository name 'mlops-kit-prod/Serving' is invalid"):
        naming.ecr_repository_name("mlops-kit", "prod", "Serving")
    repository = naming.ecr_repository_name("mlops-kit", "prod", "serving")
    assert naming.ecr_repository_arn(naming.image_uri("123456789012", "eu-west-1", repository, "ctx-0a")) == (
        "arn:aws:ecr:eu-west-1:123456789012:repository/mlops-kit-prod/serving"
    )


def test_glue_job_name_requires_snake_case_stem() -> None:
    with pytest.raises(ConfigError, match=r"jobs/Build-Features.py: the file stem must be lowercase snake_case"):
        naming.glue_job_name("mlops-kit", "dev", "Build-Features")


def test_sagemaker_and_role_names() -> None:
    assert naming.sagemaker_name("mlops-kit", "prod", "endpoint") == "mlops-kit-prod-endpoint"
    assert naming.role_name("mlops-kit", "prod", "glue") == "mlops-kit-prod-glue-role"
    with pytest.raises(ConfigError, match="SageMaker name"):
        naming.sagemaker_name("mlops-kit", "prod", "x" * 60)


def test_locations() -> None:
    assert naming.release_model_uri("models-b", "prod") == "s3://models-b/releases/prod/model.tar.gz"
    assert naming.data_capture_uri("mon-b", "ep") == "s3://mon-b/data-capture/ep"
    assert naming.mlflow_artifact_uri("models-b") == "s3://models-b/mlflow"
    assert naming.metrics_namespace("prod") == "MLOpsKit/prod"
    assert naming.log_group_name("mlops-kit", "prod", "glue") == "/mlops-kit/prod/glue"
    assert naming.endpoint_log_group("ep") == "/aws/sagemaker/Endpoints/ep"
    assert naming.kms_alias("mlops-kit", "dev") == "alias/mlops-kit-dev"
    assert naming.oidc_provider_arn("123456789012") == (
        "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    )
