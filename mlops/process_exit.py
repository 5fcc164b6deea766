"""How the kit's own processes end: without the interpreter's last walk over everything they imported.

At exit CPython collects the whole heap once more, only to free memory the process is about to give back. After a
process imported pandas, scikit-learn, MLflow and boto3 that walk took 0.9 s; with the SageMaker SDK and Great
Expectations too, 2.7 s; after `mlops local up` (the Pulumi SDK and the program), 2.6 s. The ``mlops`` command, the
training pipeline's entry points and the Glue job scripts call :func:`skip_final_collections` when they run as a
program; their own exit handlers, and those of the libraries they load, still run first.
"""

from __future__ import annotations

import atexit
import gc


def skip_final_collections() -> None:
    """Freeze the heap once every exit handler registered after this call has run (exit handlers run last first):
    the interpreter's final collections then leave what it holds alone."""
    atexit.register(gc.freeze)
