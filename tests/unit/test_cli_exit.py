"""A cold ``mlops`` command and the kit's entry points freeze their heap after every other exit handler, so the
interpreter's last collections do not walk what they built (2.6 s after a `local up`); their own exit handlers
still run first (mlops/process_exit.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


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


ENTRY_POINTS = (
    "pipelines.training.prepare",
    "pipelines.training.entry_point",
    "pipelines.training.evaluate",
    "pipelines.training.register_step",
    "jobs.curate",
    "jobs.build_features",
)


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_an_entry_point_run_as_a_program_skips_the_final_collections(module: str) -> None:
    # Run as `python -m`: with no arguments each one refuses to start, and exits; the heap is frozen by then.
    code = (
        "import atexit, gc, runpy, sys; "
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0, flush=True)); "
        f"sys.argv = [{module!r}]; runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0  # it did refuse: no arguments
    assert done.stdout.splitlines()[-1] == "frozen at exit: True", done.stderr[-2000:]
