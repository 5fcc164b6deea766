"""CrossGuard entry point: the engine starts this with the pack's runtime (``PulumiPolicy.yaml``)."""

from __future__ import annotations

import sys
from pathlib import Path

# The pack directory is infra/policypack; the kit (infra.guardrails) lives two levels up.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pulumi_policy import EnforcementLevel, PolicyPack

from infra.guardrails.crossguard import PACK_NAME, policy_pack_policies

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=policy_pack_policies())
