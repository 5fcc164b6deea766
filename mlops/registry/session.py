"""How the kit reaches an MLflow tracking server: its URI plus the environment MLflow's artifact store reads.

MLflow takes its S3 endpoint and credentials from ``os.environ`` (not from a client object), so
:meth:`MlflowConnection.session` sets them for the duration of a block and restores the previous values after.
The wiring builds the connection (tracking URI from the stack outputs, artifact environment from the cloud's
client factory); nothing else in the kit decides where MLflow is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# Progress bars of artifact downloads would interleave with the CLI's own progress display.
QUIET = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


@dataclass(frozen=True)
class MlflowConnection:
    """A tracking (and registry) URI and the artifact store's environment (endpoint, region, credentials)."""

    tracking_uri: str
    artifact_env: Mapping[str, str] = field(default_factory=dict)
    credentials: Callable[[], Mapping[str, str]] | None = None
    """Variables that authenticate to the server (``MLFLOW_TRACKING_TOKEN``), asked for each time a process or a
    block needs them: tokens expire, and a connection that is never used fetches none."""

    def _env(self) -> dict[str, str]:
        return {**self.artifact_env, **(self.credentials() if self.credentials is not None else {})}

    def environment(self) -> dict[str, str]:
        """What a process (in process, ``mlflow ui``, a model server) needs to reach this MLflow."""
        return {**self._env(), **QUIET, "MLFLOW_TRACKING_URI": self.tracking_uri}

    @contextmanager
    def session(self) -> Iterator[Any]:
        """Point MLflow at this server for the block; yields an ``MlflowClient``."""
        from mlflow import MlflowClient

        with scoped_mlflow(self.tracking_uri, self._env()):
            yield MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)


@contextmanager
def scoped_mlflow(tracking_uri: str, env: Mapping[str, str] | None = None) -> Iterator[None]:
    """MLflow's process-wide state pointed at ``tracking_uri`` (tracking and registry) for the block, then put back.

    ``mlflow.set_tracking_uri``/``set_registry_uri`` set module globals AND the ``MLFLOW_TRACKING_URI`` /
    ``MLFLOW_REGISTRY_URI`` variables (so that child processes inherit them), and an ``MlflowClient(uri)`` built
    without a registry URI takes the global one before its own. Left set, one block's registry would receive a
    later block's registrations (another stack's, in `mlops release promote --from-stack`) and every process
    started afterwards would inherit it; so all four are restored, and ``env`` (the artifact store's variables)
    with them. A sqlite store that does not exist yet is made from the migrated template first
    (:mod:`mlops.registry.sqlite_store`).
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_state
    from mlflow.tracking._tracking_service import utils as tracking_state

    from mlops.registry.sqlite_store import ensure_store

    variables = {**(env or {}), **QUIET, "MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_REGISTRY_URI": tracking_uri}
    ensure_store(tracking_uri)
    saved_env = {name: os.environ.get(name) for name in variables}
    # MLflow has no public getter that tells "unset" from its default, hence its module globals
    saved_tracking: str | None = tracking_state._tracking_uri
    saved_registry: str | None = registry_state._registry_uri
    os.environ.update(variables)
    try:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        yield
    finally:
        mlflow.set_tracking_uri(saved_tracking)  # type: ignore[arg-type]  # None unsets, as MLflow's code does
        registry_state._registry_uri = saved_registry  # type: ignore[assignment]  # MLflow types it as None
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def ensure_experiment(client: Any, name: str, artifact_location: str) -> str:
    """The experiment id of ``name``, created with its artifacts at ``artifact_location`` if absent.

    Two registrations racing to create it both end with the same id (the loser reads the winner's).
    """
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location=artifact_location))
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return str(client.get_experiment_by_name(name).experiment_id)
