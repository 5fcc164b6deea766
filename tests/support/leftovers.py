"""What a test session leaves running: its own children, and processes that left its tree but work in its
directories (a model server ``mlops deploy`` started detached, so the command returns, from a CLI process that
has exited: init is its parent then, so a walk of the session's children misses it)."""

from __future__ import annotations

import os
from pathlib import Path

import psutil


def _under(path: str, root: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(root)
    except (OSError, ValueError):
        return False


def running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def children() -> list[psutil.Process]:
    """This process's descendants still running."""
    return [child for child in psutil.Process().children(recursive=True) if running(child)]


def working_under(root: Path) -> list[psutil.Process]:
    """Processes other than this one (and its ancestors) with their working directory or an open file under
    ``root`` (a server's log under the session's state dirs)."""
    root = root.resolve()
    spared = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    found = []
    for process in psutil.process_iter():
        if process.pid in spared:
            continue
        try:
            paths = [process.cwd(), *(f.path for f in process.open_files())]
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if any(_under(path, root) for path in paths) and running(process):
            found.append(process)
    return found


def describe(processes: list[psutil.Process]) -> str:
    described = []
    for process in processes:
        try:
            described.append(f"{process.pid} ({' '.join(process.cmdline()[:5])})")
        except psutil.NoSuchProcess:
            described.append(f"{process.pid} (gone)")
    return ", ".join(described)
