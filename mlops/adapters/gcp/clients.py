"""One factory for everything that talks to Google Cloud: Cloud Storage, Firestore, Pub/Sub, BigQuery and Dataproc
clients, pyarrow's GCS filesystem.

On ``target: gcp`` the clients use Application Default Credentials and Google's endpoints. On ``target:
gcp-emulators`` each client is pointed at its emulator (the hosts are handed in by the wiring, from the settings or
from what ``mlops/local/gcp_emulators.py`` recorded) with anonymous credentials, as the ``*_EMULATOR_HOST``
variables would do, but without changing the process's environment. Clients are created on first use and cached.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from mlops.errors import EmulatorError
from mlops.settings import Settings

DEFAULT_DATABASE = "(default)"
"""The id Firestore gives a project's default database."""


@dataclass(frozen=True)
class EmulatorHosts:
    """``host:port`` (or ``http://host:port`` for GCS) of each emulator; ``None`` for Google's own endpoints."""

    storage: str | None = None
    pubsub: str | None = None
    firestore: str | None = None


@dataclass
class GcpClients:
    """Google Cloud clients for one project, at Google's endpoints or at the emulators in ``hosts``."""

    settings: Settings
    hosts: EmulatorHosts = field(default_factory=EmulatorHosts)
    firestore_database: str = DEFAULT_DATABASE
    """The Firestore database every Firestore-backed adapter opens: on ``target: gcp`` the stack's (output
    ``firestore_database``), which the program declares as a named database, not the project's ``(default)``."""
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @property
    def project(self) -> str:
        return self.settings.gcp.project

    @property
    def is_emulated(self) -> bool:
        return self.settings.target != "gcp"

    def _host(self, service: str) -> str | None:
        host: str | None = getattr(self.hosts, service)
        if host is None and self.is_emulated:
            raise EmulatorError(
                f"no {service} emulator is recorded for target 'gcp-emulators' (set gcp.{service}_emulator_host, "
                f"or start them: mlops/local/gcp_emulators.py under {self.settings.gcp_emulator_dir})"
            )
        return host

    def _cached(self, name: str, build: Any) -> Any:
        with self._lock:
            if name not in self._clients:
                self._clients[name] = build()
            return self._clients[name]

    def storage(self) -> Any:
        """A ``google.cloud.storage.Client``."""
        return self._cached("storage", self._storage)

    def _storage(self) -> Any:
        from google.cloud import storage

        host = self._host("storage")
        if host is None:
            return storage.Client(project=self.project)

        return storage.Client(
            project=self.project,
            credentials=_anonymous(),
            client_options={"api_endpoint": _url(host)},
        )

    def firestore(self) -> Any:
        """A ``google.cloud.firestore.Client`` on :attr:`firestore_database`."""
        return self._cached("firestore", self._firestore)

    def _firestore(self) -> Any:
        from google.cloud import firestore

        host = self._host("firestore")
        if host is None:
            return firestore.Client(project=self.project, database=self.firestore_database)
        from google.api_core.client_options import ClientOptions

        # the emulator serves any database id as it is first used
        return _emulated_firestore(
            firestore, self.project, _anonymous(), ClientOptions, host, database=self.firestore_database
        )

    def publisher(self) -> Any:
        """A ``pubsub_v1.PublisherClient`` with message ordering on (ordering keys keep one entity's order)."""
        return self._cached("publisher", self._publisher)

    def _publisher(self) -> Any:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        options = pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
        host = self._host("pubsub")
        if host is None:
            return pubsub_v1.PublisherClient(publisher_options=options)
        from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

        transport = PublisherGrpcTransport(channel=_insecure(host), credentials=_anonymous())
        return pubsub_v1.PublisherClient(publisher_options=options, transport=transport)

    def subscriber(self) -> Any:
        """A ``pubsub_v1.SubscriberClient`` (synchronous pulls)."""
        return self._cached("subscriber", self._subscriber)

    def _subscriber(self) -> Any:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        host = self._host("pubsub")
        if host is None:
            return pubsub_v1.SubscriberClient()
        from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

        return pubsub_v1.SubscriberClient(
            transport=SubscriberGrpcTransport(channel=_insecure(host), credentials=_anonymous())
        )

    def bigquery(self) -> Any:
        """A ``google.cloud.bigquery.Client`` in the settings' location. BigQuery has no emulator: on
        ``gcp-emulators`` this refuses (the catalog there is the kit's store in the Firestore emulator)."""
        return self._cached("bigquery", self._bigquery)

    def _bigquery(self) -> Any:
        if self.is_emulated:
            raise EmulatorError(
                "BigQuery has no emulator (target 'gcp-emulators'): choose catalog type 'local', the kit's catalog "
                "in the Firestore emulator (MLOPS_SERVICES__CATALOG__TYPE=local)"
            )
        from google.cloud import bigquery

        return bigquery.Client(project=self.project, location=self.settings.gcp.location)

    def dataproc_batches(self) -> Any:
        """A ``dataproc_v1.BatchControllerClient`` on the settings' regional endpoint (Dataproc has no emulator:
        on ``gcp-emulators`` the kit's local runner plays it, :mod:`mlops.local.dataproc_runner`)."""
        return self._cached("dataproc_batches", self._dataproc_batches)

    def _dataproc_batches(self) -> Any:
        if self.is_emulated:
            raise EmulatorError(
                "Dataproc has no emulator (target 'gcp-emulators'): choose jobs type 'local', the kit's local "
                "Dataproc runner (MLOPS_SERVICES__JOBS__TYPE=local)"
            )
        from google.cloud import dataproc_v1

        endpoint = f"{self.settings.gcp.location}-dataproc.googleapis.com:443"
        return dataproc_v1.BatchControllerClient(client_options={"api_endpoint": endpoint})

    def subprocess_env(self) -> dict[str, str]:
        """The ``MLOPS_*`` variables that give a child process (a job script) these settings' cloud, target,
        project and emulator hosts: its own settings then wire the same services."""
        gcp = self.settings.gcp
        env = {
            "MLOPS_CLOUD": "gcp",
            "MLOPS_TARGET": self.settings.target,
            "MLOPS_GCP__PROJECT": gcp.project,
            "MLOPS_GCP__LOCATION": gcp.location,
        }
        hosts = {"STORAGE": self.hosts.storage, "PUBSUB": self.hosts.pubsub, "FIRESTORE": self.hosts.firestore}
        env.update({f"MLOPS_GCP__{name}_EMULATOR_HOST": host for name, host in hosts.items() if host})
        return env

    def arrow_filesystem(self) -> Any:
        """``pyarrow.fs.GcsFileSystem`` over the same store (paths ``bucket/key``)."""
        from pyarrow import fs

        host = self._host("storage")
        if host is None:
            return fs.GcsFileSystem(project_id=self.project)
        return fs.GcsFileSystem(
            anonymous=True, endpoint_override=_url(host).removeprefix("http://"), scheme="http", project_id=self.project
        )


def _anonymous() -> Any:
    """Credentials that send no token: the emulators accept any caller."""
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials()  # type: ignore[no-untyped-call]


def _url(host: str) -> str:
    return host if host.startswith(("http://", "https://")) else f"http://{host}"


def _emulated_firestore(
    module: Any, project: str, credentials: Any, options: Any, host: str, *, database: str = DEFAULT_DATABASE
) -> Any:
    """A Firestore client on the emulator: what FIRESTORE_EMULATOR_HOST does (a plain gRPC channel and the
    emulator's owner token), set on this client alone rather than on the whole process."""
    client = module.Client(
        project=project, credentials=credentials, client_options=options(api_endpoint=host), database=database
    )
    client._emulator_host = host.removeprefix("http://")  # read lazily when the first call opens the channel
    return client


def _insecure(host: str) -> Any:
    """A plaintext gRPC channel to an emulator (what the ``*_EMULATOR_HOST`` variables make the clients open)."""
    import grpc

    return grpc.insecure_channel(host.removeprefix("http://"))
