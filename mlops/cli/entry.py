"""The ``mlops`` command's entry point: the command runs in the local platform's warm command server when one
serves this state dir (:mod:`mlops.local.warm_cli`: its libraries already imported), else in this process.
Nothing heavy is imported before that is known."""

from __future__ import annotations

import atexit
import gc
import os
import sys


def main() -> None:
    from mlops.contracts import with_local_threads
    from mlops.local.warm_cli import delegate

    # Before any model library loads: this command and every process it starts (entry points, endpoints)
    # share the machine's cores with the local stack (mlops.contracts.LOCAL_THREAD_ENV).
    os.environ.update(with_local_threads(dict(os.environ)))
    code = delegate(sys.argv[1:], os.environ)
    if code is None:
        # Registered first, so it runs after every other exit handler: the interpreter's last collections then
        # skip what the command built. They only free memory the process is about to give back, and on the
        # heap of a `local up` (the Pulumi SDK, the program, botocore's models) they took 2.6 s.
        atexit.register(gc.freeze)
        from mlops.cli.main import run

        code = run()
    sys.exit(code)
