"""The local endpoints' routing tables: which model processes serve an endpoint, with what weight.

One JSON file per endpoint (``<state_dir>/endpoints/<endpoint>.json``), written atomically by the endpoint runner
(deploy, traffic shift, rollback, stop) and read by the front door on every invocation (a ``stat`` decides whether
to re-read it), so a weight change reaches the very next request with no call between the two processes.

The table also carries what SageMaker keeps with an endpoint and the front door applies per request: the endpoint
config's ``DataCaptureConfig`` (per fleet, as each endpoint config has its own) and the deployment's state
(what ``mlops endpoint status`` shows: updating, rolled back and why).
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_VARIANT = "AllTraffic"


class RoutingTableError(ValueError):
    """A routing table file cannot be read; the message names the file."""


@dataclass(frozen=True)
class Fleet:
    """One model process serving production variant ``variant`` with a share of the endpoint's traffic.

    During a blue/green update SageMaker runs two fleets under the same variant name (the old, *blue*, and the new,
    *green*) and shifts traffic between them; metrics and capture carry the variant name, so the rollback alarms
    see both fleets' invocations, as on AWS.
    """

    fleet: str
    variant: str
    pid: int
    host: str
    port: int
    model_uri: str
    version: str
    weight: float
    started_at: float
    log_file: str
    model_name: str = ""
    endpoint_config: str = ""
    data_capture: dict[str, Any] | None = None
    """The endpoint config's ``DataCaptureConfig`` (None: no capture)."""
    module: str = ""
    """The container's module (``python -m <module> serve``), to recognise the process as ours."""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class DeploymentState:
    """The last deployment of an endpoint: SageMaker's ``EndpointStatus`` plus what a rollback records."""

    status: str = "InService"
    """``Updating`` during a blue/green shift, ``InService`` when done, ``RollingBack`` then ``InService`` with
    ``rolled_back`` set after an automatic rollback."""
    stage: str = ""
    """Where the shift is: ``baking``, ``canary 10%``, ``linear 3/5``, ``complete``, ``rolled back``."""
    target_version: str = ""
    previous_version: str = ""
    traffic_routing: str = ""
    rolled_back: bool = False
    reason: str = ""
    alarms: tuple[str, ...] = ()
    updated_at: float = 0.0
    history: tuple[str, ...] = ()
    deployer_pid: int = 0
    """The process running the shift while ``Updating``/``RollingBack`` (0 when none): a second deploy waits."""


@dataclass(frozen=True)
class EndpointTable:
    """What serves ``endpoint``: its fleets (weights are relative, as SageMaker's variant weights)."""

    endpoint: str
    fleets: tuple[Fleet, ...]
    deployment: DeploymentState = field(default_factory=DeploymentState)

    def fleet(self, name: str) -> Fleet | None:
        return next((f for f in self.fleets if f.fleet == name), None)

    def has_variant(self, variant: str) -> bool:
        return any(f.variant == variant for f in self.fleets)

    @property
    def primary(self) -> Fleet:
        """The fleet taking most traffic (the newest among equals): what ``status`` reports as serving."""
        if not self.fleets:
            raise RoutingTableError(f"endpoint {self.endpoint!r} has no fleet")
        return max(self.fleets, key=lambda f: (f.weight, f.started_at))

    def choose(
        self,
        rng: random.Random | None = None,
        *,
        variant: str | None = None,
        excluding: frozenset[str] = frozenset(),
    ) -> Fleet | None:
        """A fleet (of ``variant``, when given: ``TargetVariant``) drawn by weight; ``None`` when none takes traffic."""
        live = [
            f
            for f in self.fleets
            if f.weight > 0 and f.fleet not in excluding and (variant is None or f.variant == variant)
        ]
        if not live:
            return None
        if len(live) == 1:
            return live[0]
        return (rng or random).choices(live, weights=[f.weight for f in live], k=1)[0]

    def with_weights(self, weights: dict[str, float]) -> EndpointTable:
        """The table with the fleets' weights replaced (fleets not named keep theirs)."""
        return replace(self, fleets=tuple(replace(f, weight=weights.get(f.fleet, f.weight)) for f in self.fleets))

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> EndpointTable:
        if "fleets" not in raw and "pid" in raw:
            return _legacy(raw)
        deployment = raw.get("deployment") or {}
        return cls(
            endpoint=str(raw["endpoint"]),
            fleets=tuple(Fleet(**f) for f in raw["fleets"]),
            deployment=DeploymentState(
                **{
                    **deployment,
                    "alarms": tuple(deployment.get("alarms", ())),
                    "history": tuple(deployment.get("history", ())),
                }
            ),
        )


def _legacy(raw: dict[str, Any]) -> EndpointTable:
    """A route file of the single-process runner (one process, all traffic), as a one-fleet table."""
    fleet = Fleet(
        fleet="blue",
        variant=DEFAULT_VARIANT,
        pid=int(raw["pid"]),
        host=str(raw["host"]),
        port=int(raw["port"]),
        model_uri=str(raw["model_uri"]),
        version=str(raw["version"]),
        weight=1.0,
        started_at=float(raw["started_at"]),
        log_file=str(raw.get("log_file", "")),
    )
    return EndpointTable(str(raw["endpoint"]), (fleet,))


def table_path(directory: Path, endpoint: str) -> Path:
    return directory / f"{endpoint}.json"


def read_table(directory: Path, endpoint: str) -> EndpointTable | None:
    """The table of ``endpoint``, ``None`` when nothing is deployed there."""
    path = table_path(directory, endpoint)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return EndpointTable.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise RoutingTableError(f"endpoint routing table {path} is corrupt ({exc}); run `mlops endpoint stop`") from exc


def write_table(directory: Path, table: EndpointTable) -> None:
    """Replace the table atomically: a reader sees the old or the new one, never half."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{table.endpoint}.{os.getpid()}.json.tmp"
    tmp.write_text(json.dumps(table.as_json(), indent=2))
    tmp.replace(table_path(directory, table.endpoint))


def clear_table(directory: Path, endpoint: str) -> None:
    table_path(directory, endpoint).unlink(missing_ok=True)


class TableCache:
    """The front door's view of the tables: re-read a file only when it was replaced (inode, time or size)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, tuple[tuple[int, int, int], EndpointTable]] = {}

    def get(self, endpoint: str) -> EndpointTable | None:
        if not endpoint or "/" in endpoint or endpoint.startswith("."):
            return None
        path = table_path(self.directory, endpoint)
        try:
            stat = path.stat()
        except FileNotFoundError:
            self._cache.pop(endpoint, None)
            return None
        # every write is a rename of a new file: the inode changes even when the clock's granularity does not
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(endpoint)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        table = read_table(self.directory, endpoint)
        if table is None:
            return None
        self._cache[endpoint] = (stamp, table)
        return table
