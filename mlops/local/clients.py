"""The local runtime's AWS clients for a platform: the runners talk to the emulator's control plane directly."""

from __future__ import annotations

from mlops.adapters.aws.clients import ClientFactory
from mlops.platform import Platform


def clients_of(platform: Platform) -> ClientFactory:
    """The platform's client factory when the wiring built one, else one for its settings."""
    from mlops.wiring import client_factory

    found = getattr(platform.services, "clients", None)
    return found if isinstance(found, ClientFactory) else client_factory(platform.settings)
