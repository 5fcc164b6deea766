"""Local Google Cloud as ``mlops local up|down|status`` run it with ``cloud: gcp``: the emulators of
:mod:`mlops.local.gcp_emulators`, started once and reused, recorded under ``<state_dir>/gcp-emulators``, stopped by
PID; the program applied to them by :mod:`mlops.local.gcp_apply.engine`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlops.local import gcp_emulators
from mlops.settings import Settings

Health = Literal["running", "stale", "stopped"]


@dataclass(frozen=True)
class GcpLocalStatus:
    """Whether the recorded emulators run: ``stale`` when a record exists but one of them no longer answers."""

    health: Health
    emulators: gcp_emulators.GcpEmulators | None

    @property
    def detail(self) -> str:
        if self.emulators is None:
            return "no Google emulators are recorded: run `mlops local up` with cloud gcp"
        listed = ", ".join(f"{p.name} pid {p.pid} at {p.host_port}" for p in self.emulators.processes)
        if self.health == "stale":
            return f"recorded but not all answering ({listed}): `mlops local down` clears the record"
        return f"project {self.emulators.project}: {listed}"


def status(settings: Settings) -> GcpLocalStatus:
    """The emulators recorded for ``settings`` and whether every one of them still runs and answers."""
    directory = settings.gcp_emulator_dir
    if gcp_emulators.running(directory) is not None:
        return GcpLocalStatus("running", gcp_emulators.read_state(directory))
    recorded = gcp_emulators.read_state(directory)
    return GcpLocalStatus("stale" if recorded is not None else "stopped", recorded)


def given_hosts(settings: Settings) -> dict[str, str] | None:
    """The emulators the settings name (``gcp.*_emulator_host``, all three): ones started otherwise, which ``up``
    applies to without starting or recording any; ``None`` when not all three are named."""
    gcp = settings.gcp
    hosts = {
        "gcs": gcp.storage_emulator_host,
        "pubsub": gcp.pubsub_emulator_host,
        "firestore": gcp.firestore_emulator_host,
    }
    named = {name: host for name, host in hosts.items() if host}
    return named if len(named) == len(hosts) else None


def up(settings: Settings) -> tuple[gcp_emulators.GcpEmulators, bool]:
    """The running emulators (reused, ``False``) or new ones (``True``); they serve any project id.

    A stale record (an emulator died) is cleared first: the survivors are stopped by PID and all three start
    again, empty, so the apply that follows recreates every resource."""
    directory = settings.gcp_emulator_dir
    current = gcp_emulators.running(directory)
    if current is not None:
        return current, False
    gcp_emulators.stop(directory)
    return gcp_emulators.start(directory, project=settings.gcp.project), True


def down(settings: Settings) -> GcpLocalStatus:
    """Stop the recorded emulators by PID (nothing else); the status they had before."""
    before = status(settings)
    gcp_emulators.stop(settings.gcp_emulator_dir)
    return before
