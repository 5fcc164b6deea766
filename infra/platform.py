"""The platform: every component of one stack, wired together, and the stack outputs they produce.

The output keys are exactly those of :class:`mlops.outputs.StackOutputs`.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.base import StackIdentity
from infra.components.datalake import DataLake, DataLakeArgs
from infra.components.security import SecurityBase, SecurityBaseArgs
from infra.config import StackConfig
from infra.lifecycle import Retention


def define_platform(config: StackConfig) -> dict[str, pulumi.Output[Any] | Any]:
    """Declare every component of the stack described by ``config`` and return its outputs."""
    identity = StackIdentity(
        project=config.project,
        environment=config.environment,
        owner=config.owner,
        region=config.region,
        account_id=aws.get_caller_identity_output().account_id,
    )
    security = SecurityBase("security", SecurityBaseArgs(identity=identity))
    lake = DataLake(
        "datalake",
        DataLakeArgs(
            identity=identity,
            kms_key_arn=security.key_arn,
            retention=Retention(
                noncurrent_version_expiration_days=config.noncurrent_version_expiration_days,
                raw_expiration_days=config.raw_expiration_days,
                quarantine_expiration_days=config.quarantine_expiration_days,
                access_log_expiration_days=config.access_log_expiration_days,
                infrequent_access_after_days=config.infrequent_access_after_days,
            ),
        ),
    )
    outputs: dict[str, pulumi.Output[Any] | Any] = {
        "stack": config.stack,
        "environment": config.environment,
        "region": config.region,
        "project": config.project,
        "kms_key_arn": security.key_arn,
        "kms_key_id": security.key_id,
        "access_logs_bucket": lake.access_logs_bucket,
        "glue_database": lake.database_name,
    }
    outputs.update({f"{zone}_bucket": name for zone, name in lake.buckets.items()})
    return outputs
