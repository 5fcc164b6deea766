"""The platform as capability code sees it: settings, the stack's outputs, the lake layout and the wired ports.

Capability code (``pipelines/``, ``jobs/``, ``serving/``, ``monitoring/``) takes a :class:`Platform` and reaches
every service through ``platform.services.<capability>``: it never holds a cloud client and never decides which
implementation it talks to. :mod:`mlops.wiring` builds the services from the settings' ``services`` choices.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from mlops.layout import Layout
from mlops.outputs import StackOutputs
from mlops.settings import Settings

if TYPE_CHECKING:  # the ports load with the implementation the wiring builds: a command pays for those it uses
    from mlops.ports.alarms import Alarms
    from mlops.ports.batch_transform import BatchTransform
    from mlops.ports.catalog import Catalog
    from mlops.ports.endpoint import Endpoint
    from mlops.ports.events import EventStream
    from mlops.ports.hosting import Hosting
    from mlops.ports.jobs import JobRunner
    from mlops.ports.metrics import MetricsPublisher
    from mlops.ports.model_registry import ModelRegistry
    from mlops.ports.object_store import ObjectStore
    from mlops.ports.online_store import OnlineStore
    from mlops.ports.table_store import TableStore
    from mlops.ports.training import PipelineRunner


class Services(Protocol):
    """One implementation per port, built on first use by the wiring."""

    @property
    def object_store(self) -> ObjectStore: ...

    @property
    def table_store(self) -> TableStore: ...

    @property
    def online_store(self) -> OnlineStore: ...

    @property
    def events(self) -> EventStream: ...

    @property
    def metrics(self) -> MetricsPublisher: ...

    def metrics_in(self, namespace: str) -> MetricsPublisher:
        """The metrics port on another namespace (Model Monitor's ``/aws/sagemaker/Endpoints/data-metrics``):
        the same implementation as :attr:`metrics`, one instance per namespace."""
        ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def jobs(self) -> JobRunner: ...

    @property
    def alarms(self) -> Alarms: ...

    @property
    def model_registry(self) -> ModelRegistry: ...

    @property
    def endpoint(self) -> Endpoint: ...

    @property
    def hosting(self) -> Hosting: ...

    @property
    def batch_transform(self) -> BatchTransform: ...

    @property
    def training(self) -> PipelineRunner: ...


@dataclass(frozen=True)
class Platform:
    """Everything a pipeline step needs to find and reach the stack's resources."""

    settings: Settings
    outputs: StackOutputs
    services: Services

    @cached_property
    def layout(self) -> Layout:
        """Every key and URI of the lake, in the object store's scheme."""
        return Layout(self.outputs, self.services.object_store.scheme)
