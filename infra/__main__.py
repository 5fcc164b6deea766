"""Pulumi entry point (`pulumi up -s <stack>`): load the stack's typed config, declare the platform, export."""

from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from infra.config import decode_config_env, load_stack_config
from infra.platform import define_platform

# The language host hands the stack's config over as PULUMI_CONFIG (JSON); values set in-process win.
engine_config = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
config = load_stack_config(pulumi.get_stack(), decode_config_env(engine_config))
for key, value in define_platform(config).items():
    pulumi.export(key, value)
