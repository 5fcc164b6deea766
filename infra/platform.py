"""The platform of one stack: :func:`define_platform` declares it on the stack's cloud.

The one place the program branches on the cloud. Each cloud's program is imported only for its stacks: the AWS
one imports every pulumi_aws module it declares (4.4 s), which a GCP stack's apply has no use for.
"""

from __future__ import annotations

from typing import Any

import pulumi

from infra.config import StackConfig

PlatformOutputs = dict[str, pulumi.Output[Any] | Any]


def define_platform(config: StackConfig) -> PlatformOutputs:
    """Declare every component of the stack described by ``config`` and return its outputs: the AWS program
    (:mod:`infra.aws_platform`), or for ``cloud: gcp`` stacks :func:`infra.gcp.platform.define_gcp_platform`."""
    if config.cloud == "gcp":
        from infra.gcp.platform import define_gcp_platform

        return define_gcp_platform(config)
    from infra.aws_platform import define_aws_platform

    return define_aws_platform(config)
