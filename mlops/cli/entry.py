"""The ``mlops`` command's entry point: the command runs in the local platform's warm command server when one
serves this state dir (:mod:`mlops.local.warm_cli`: its libraries already imported), else in this process.
Nothing heavy is imported before that is known."""

from __future__ import annotations

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
        from mlops.process_exit import skip_final_collections

        skip_final_collections()  # before the command: its own exit handlers run first
        from mlops.cli.main import run

        code = run()
    sys.exit(code)
