"""A platform whose local blue/green deploys bake 1 s per stage: every stage and alarm check still runs, but the
stack's 5-minute canaries (cut to 10 s locally by default) do not make a test wait 30 s per redeploy."""

from __future__ import annotations

from mlops.platform import Platform
from mlops.wiring import build_platform


def with_short_bakes(platform: Platform, seconds: float = 1.0) -> Platform:
    """The same stack and emulator, its services built anew with ``local_max_wait_seconds`` = ``seconds``."""
    settings = platform.settings
    endpoint = settings.services.endpoint.model_copy(update={"local_max_wait_seconds": seconds})
    services = settings.services.model_copy(update={"endpoint": endpoint})
    return build_platform(settings.model_copy(update={"services": services}), platform.outputs)
