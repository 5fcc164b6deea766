"""A platform whose local blue/green deploys do not bake: every stage still runs and checks the rollback alarms
once, but the stack's 5-minute canaries (cut to 10 s locally by default) do not make a test wait 30 s per
redeploy (nor 3 s at a 1 s cap: two bakes and blue's termination wait)."""

from __future__ import annotations

from mlops.platform import Platform
from mlops.wiring import build_platform


def with_short_bakes(platform: Platform, seconds: float = 0.0) -> Platform:
    """The same stack and emulator, its services built anew with ``local_max_wait_seconds`` = ``seconds``."""
    settings = platform.settings
    endpoint = settings.services.endpoint.model_copy(update={"local_max_wait_seconds": seconds})
    services = settings.services.model_copy(update={"endpoint": endpoint})
    return build_platform(settings.model_copy(update={"services": services}), platform.outputs)
