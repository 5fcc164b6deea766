"""Registrations whose process died before they finished (``kill -9`` of ``mlops train run``): found and undone.

A registration undoes its own steps when it fails (:class:`~mlops.registry.undo.Undo`), but a process killed
outright runs no undo: it leaves an MLflow version without its package, tags and alias, and a run stuck in
RUNNING. Each registration run is tagged with its process (host, pid, start time); the next registration of the
model finds the RUNNING runs whose process is gone, rejects the package their version names (if it got one),
deletes the version and ends the run FAILED with the reason. A package created in the instant between its
creation and the version's tag is not found this way (no version names it): it stays PendingManualApproval.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops.registry.mlflow_models import PACKAGE_TAG

REGISTRAR_TAG = "mlops.registrar"
ERROR_TAG = "registration_error"  # the registry service's tag of a failed registration run


def _started(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux); ``?`` where /proc does not say."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return "?"


def this_process() -> str:
    """The registrar tag of this process: ``host/pid/start``."""
    return f"{socket.gethostname()}/{os.getpid()}/{_started(os.getpid())}"


def is_gone(marker: str) -> bool:
    """True when the process a registrar tag names has ended (on this host; another host's is never judged)."""
    host, _, rest = marker.partition("/")
    pid_text, _, started = rest.partition("/")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return started not in ("?", _started(pid))  # alive, unless the pid now belongs to a later process


def undo_abandoned(client: Any, name: str, experiment_id: str, reject: Callable[[str], None]) -> list[str]:
    """Undo the registrations of ``name`` whose process died; returns the runs ended FAILED.

    ``reject`` retires a model package by ARN (Rejected/Archived)."""
    ended = []
    for run in client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'"):
        marker = run.data.tags.get(REGISTRAR_TAG)
        if not marker or not is_gone(marker):
            continue
        run_id = run.info.run_id
        undone = []
        for version in client.search_model_versions(f"name='{name}' and run_id='{run_id}'"):
            arn = version.tags.get(PACKAGE_TAG)
            if arn:
                reject(arn)
                undone.append(f"package {arn} rejected")
            client.delete_model_version(name, version.version)
            undone.append(f"version {version.version} deleted")
        reason = f"its registering process ({marker}) died before registration finished"
        text = f"{reason}; undone: {', '.join(undone) or 'nothing was registered'}"
        client.set_tag(run_id, ERROR_TAG, text)
        client.set_terminated(run_id, "FAILED")
        ended.append(run_id)
    return ended
