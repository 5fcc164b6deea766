"""The platform as pipeline code sees it: settings, the client factory and the stack's outputs."""

from __future__ import annotations

from dataclasses import dataclass

from mlops.clients import ClientFactory
from mlops.outputs import StackOutputs
from mlops.settings import Settings


@dataclass(frozen=True)
class Platform:
    """Everything a pipeline step needs to find and reach the stack's resources."""

    settings: Settings
    clients: ClientFactory
    outputs: StackOutputs
