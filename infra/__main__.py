"""Pulumi entry point (`pulumi up -s <stack>`): load the stack's typed config, declare the platform, export."""

from __future__ import annotations

import pulumi

from infra.config import load_stack_config
from infra.platform import define_platform

config = load_stack_config(pulumi.get_stack(), pulumi.runtime.get_config_env())
for key, value in define_platform(config).items():
    pulumi.export(key, value)
