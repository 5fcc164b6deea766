"""The promotion's declarations agree: each stack file's ``promotionSource`` is the ``promote-from`` release.yml
passes to deploy.yml for that environment, and the stack before it names it as its ``promotionTarget`` (the
grants exist on both sides or on neither); a stack cannot promote to itself; only the buckets the promotion reads
carry a grant."""

from __future__ import annotations

import pytest
import yaml

from infra import promotion
from infra.config import REPO_ROOT, load_stack_config, read_stack_file
from infra.naming import ZONES
from mlops.errors import ConfigError

STACKS = ("dev", "staging", "prod")


def _promote_from() -> dict[str, str | None]:
    jobs = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "release.yml").read_text())["jobs"]
    return {job["with"]["environment"]: job["with"].get("promote-from") for job in jobs.values() if "with" in job}


def test_each_stack_receives_from_the_environment_the_workflow_promotes_from_and_is_granted_by_it() -> None:
    configs = {stack: read_stack_file(stack, REPO_ROOT) for stack in STACKS}
    assert {stack: config.promotion_source for stack, config in configs.items()} == _promote_from()
    for stack, config in configs.items():
        if config.promotion_source is not None:
            assert configs[config.promotion_source].promotion_target == stack
        if config.promotion_target is not None:
            assert configs[config.promotion_target].promotion_source == stack
    assert configs["prod"].promotion_target is None, "nothing is promoted out of production"


@pytest.mark.parametrize("key", ["promotionSource", "promotionTarget"])
def test_a_stack_cannot_promote_to_or_from_itself(key: str) -> None:
    with pytest.raises(ConfigError, match=f"{key} 'staging' is this stack"):
        load_stack_config("staging", {f"mlops-kit:{key}": "staging"})


def test_only_the_buckets_the_promotion_reads_carry_a_grant() -> None:
    link = promotion.link(
        "mlops-kit",
        "us-east-1",
        source=promotion.PromotionPeer("dev"),
        target=promotion.PromotionPeer("staging", "222222222222"),
        account_id="111111111111",
    )
    granted = {zone for zone in ZONES if promotion.bucket_grants(link, zone)}
    assert granted == {"models", "features"}
    assert link.reader_role_arn == "arn:aws:iam::222222222222:role/mlops-kit-staging-deploy-role"
    assert link.bucket("models") == "mlops-kit-dev-models-111111111111"
