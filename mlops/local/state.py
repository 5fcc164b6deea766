"""On-disk record of the embedded emulator: pidfile and state file under ``<state_dir>/emulator``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from mlops.errors import EmulatorError
from mlops.private_files import write_private

PIDFILE = "moto.pid"
STATEFILE = "state.json"
LOGFILE = "moto.log"


@dataclass(frozen=True)
class EmulatorState:
    """What ``mlops local up`` recorded about the server it started."""

    pid: int
    host: str
    port: int
    started_at: float
    instance_id: str | None = None  # marked in the server at start: a restarted, empty server lacks it
    frontdoor_pid: int | None = None
    frontdoor_port: int | None = None

    @property
    def endpoint_url(self) -> str:
        """moto's own URL (the front door passes every non-runtime request there)."""
        return f"http://{self.host}:{self.port}"

    @property
    def frontdoor_url(self) -> str | None:
        return f"http://{self.host}:{self.frontdoor_port}" if self.frontdoor_port else None

    @property
    def public_url(self) -> str:
        """THE endpoint URL clients are handed: the front door's, moto's when none is recorded."""
        return self.frontdoor_url or self.endpoint_url


def read_state(emulator_dir: Path) -> EmulatorState | None:
    """The recorded state, or ``None`` when no emulator was started from this directory."""
    path = emulator_dir / STATEFILE
    if not path.is_file():
        return None
    try:
        return EmulatorState(**json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as exc:
        raise EmulatorError(
            f"emulator state file {path} is corrupt ({exc}); remove it and run `mlops local up`"
        ) from exc


def write_state(emulator_dir: Path, state: EmulatorState) -> None:
    write_private(emulator_dir / PIDFILE, f"{state.pid}\n")
    write_private(emulator_dir / STATEFILE, json.dumps(asdict(state)))


def clear_state(emulator_dir: Path) -> None:
    for name in (PIDFILE, STATEFILE):
        (emulator_dir / name).unlink(missing_ok=True)


def applied_stacks(outputs_dir: Path) -> list[str]:
    """The stacks applied to the emulator from this state dir, sorted: those whose outputs file has a ledger next
    to it. Several stacks (dev, staging, prod) coexist in one emulator, each under its own names; an outputs file
    without a ledger came from ``pulumi stack output`` (a cloud stack) and is not the emulator's."""
    from mlops.local.apply.ledger import ledger_path

    if not outputs_dir.is_dir():
        return []
    return sorted(
        path.stem
        for path in outputs_dir.glob("*.json")
        if not path.name.endswith(".resources.json") and ledger_path(path).is_file()
    )


def forget_applied_stacks(outputs_dir: Path) -> list[str]:
    """Remove the outputs and ledger of every stack applied to the emulator (its resources are gone after a
    reset); returns the stacks forgotten. Cloud stacks' outputs files stay."""
    from mlops.local.apply.ledger import ledger_path

    stacks = applied_stacks(outputs_dir)
    for stack in stacks:
        outputs = outputs_dir / f"{stack}.json"
        ledger_path(outputs).unlink(missing_ok=True)
        outputs.unlink(missing_ok=True)
    return stacks
