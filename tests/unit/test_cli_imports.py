"""The CLI's start-up imports no heavy library: each command imports what it needs when it runs.

A correctness check, not a timed one: ``mlops --help`` (and every command before its work starts) must not load
MLflow, the SageMaker SDK, Great Expectations, Spark, pandas, scikit-learn, Pulumi, Arrow, boto3 or pydantic.
Measured start-up times are in ``benchmarks/cli.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "mlflow",
    "sagemaker",
    "great_expectations",
    "pyspark",
    "pandas",
    "sklearn",
    "pulumi",
    "pulumi_aws",
    "pyarrow",
    "deltalake",
    "numpy",
    "boto3",
    "botocore",
    "pydantic",
    "httpx",
)


def _loaded_after(code: str) -> set[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert sorted(_loaded_after("import mlops.cli.main") & set(HEAVY)) == []


def test_the_root_help_loads_no_heavy_library() -> None:
    code = (
        "import contextlib, io\nfrom mlops.cli.main import app\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    app(['--help'])"
    )
    assert sorted(_loaded_after(code) & set(HEAVY)) == []


def test_the_probe_sees_a_heavy_import() -> None:
    # The check above would pass vacuously if the probe could not see modules: it does see them.
    assert "pyarrow" in _loaded_after("import pyarrow")
