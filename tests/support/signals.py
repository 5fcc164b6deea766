"""Commands started with the signals a shell with job control gives them: a test that interrupts a command must not
depend on how the suite itself was started (a non-interactive shell's background job inherits SIGINT ignored, and
an ignored signal stays ignored across exec: the command would never see Ctrl-C, warm or cold)."""

from __future__ import annotations

import sys

_RESET = (
    "import os, signal, sys\n"
    "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGTSTP):\n"
    "    signal.signal(s, signal.SIG_DFL)\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


def with_default_signals(command: list[str]) -> list[str]:
    """``command`` run through exec from a process that set SIGINT, SIGTERM, SIGQUIT and SIGTSTP to their default."""
    return [sys.executable, "-c", _RESET, *command]
