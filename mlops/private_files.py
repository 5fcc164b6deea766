"""Files of the kit's local state (emulator state, stack outputs, ledgers) readable by their owner only.

They name endpoints, pids and resource ids next to credentials-adjacent state, so they are written like
credentials files: directories 0700, files 0600, each write atomic (a temporary file renamed over the old one).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` created (with its missing parents) and closed to everyone but its owner."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):  # a directory someone else owns keeps its mode
        path.chmod(DIR_MODE)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, mode 0600 (its directory 0700)."""
    private_dir(path.parent)
    tmp = path.with_name(f"{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.chmod(FILE_MODE)  # a leftover .tmp from an older write may have had another mode
    tmp.replace(path)
