"""A cold ``mlops`` command freezes its heap after every other exit handler, so the interpreter's last collections
do not walk what the command built (2.6 s after a `local up`); the command's own exit handlers still run first."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_cold_command_freezes_the_heap_after_its_own_exit_handlers() -> None:
    code = textwrap.dedent(
        """
        import atexit, gc, os, sys
        atexit.register(lambda: print("before the command", gc.get_freeze_count() > 0, flush=True))
        import mlops.cli.main

        def command(*_args, **_kwargs):
            atexit.register(lambda: print("the command's", gc.get_freeze_count() > 0, flush=True))
            return 0

        mlops.cli.main.run = command
        os.environ["MLOPS_LOCAL_CLI__ENABLED"] = "false"
        sys.argv = ["mlops", "local", "status"]
        from mlops.cli.entry import main
        main()
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["the command's False", "before the command True"]
