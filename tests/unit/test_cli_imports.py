"""The CLI's start-up imports no heavy library: each command imports what it needs when it runs.

A correctness check, not a timed one: ``mlops --help`` (and every command before its work starts) must not load
MLflow, the SageMaker SDK, Great Expectations, Spark, pandas, scikit-learn, Pulumi, Arrow, boto3 or pydantic.
Measured start-up times are in ``benchmarks/cli.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from mlops.outputs import write_outputs
from tests.unit.test_outputs import complete_outputs

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


# What ``mlops predict`` on a local endpoint needs: settings, the stack's outputs and one HTTP call to the front door.
PREDICT_NEEDS_NONE_OF = ("boto3", "botocore", "mlflow", "pandas", "sklearn", "numpy", "sagemaker", "pyarrow")


def _loaded_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True, env=env
    )
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


class _FrontDoor(BaseHTTPRequestHandler):
    """The runtime API of the local front door, as far as one invocation goes: it records what it was asked."""

    calls: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.calls.append((self.path, self.headers["Content-Type"], body))
        answer = b'{"predictions": [0.25]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:  # quiet: the test reads calls, not the server's log
        pass


@contextmanager
def _local_stack(state_dir: Path) -> Iterator[dict[str, str]]:
    """A state dir whose recorded emulator has a front door (served here), and the environment of a CLI on it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FrontDoor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    record = {"pid": os.getpid(), "host": "127.0.0.1", "port": port, "started_at": time.time()}
    (state_dir / "emulator").mkdir(parents=True)
    (state_dir / "emulator" / "state.json").write_text(json.dumps({**record, "frontdoor_port": port}))
    write_outputs(state_dir / "outputs.json", complete_outputs())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "AWS_"))}
    env.update(MLOPS_STATE_DIR=str(state_dir), MLOPS_TARGET="moto", MLOPS_OUTPUTS_FILE=str(state_dir / "outputs.json"))
    try:
        yield env
    finally:
        server.shutdown()
        server.server_close()


def test_predict_on_a_local_endpoint_loads_no_aws_sdk_nor_model_library(tmp_path: Path) -> None:
    payload = tmp_path / "request.csv"
    payload.write_text("amount\n12.5\n")
    code = (
        "import contextlib, io\nfrom mlops.cli.main import app\nanswer = io.StringIO()\n"
        "with contextlib.redirect_stdout(answer), contextlib.suppress(SystemExit):\n"
        f"    app(['predict', {str(payload)!r}])\n"
    )
    _FrontDoor.calls.clear()
    with _local_stack(tmp_path / "state") as env:
        loaded = _loaded_after(code, env)
    # the command did score: through the front door's runtime API, on the stack's endpoint
    assert _FrontDoor.calls == [
        ("/endpoints/value-of-endpoint_name/invocations", "text/csv", b"amount\n12.5\n"),
    ]
    assert sorted(loaded & set(PREDICT_NEEDS_NONE_OF)) == []


def test_the_probe_sees_a_heavy_import() -> None:
    # The check above would pass vacuously if the probe could not see modules: it does see them.
    assert "pyarrow" in _loaded_after("import pyarrow")


def test_local_status_reads_the_ledger_without_the_pulumi_sdk(tmp_path: Path) -> None:
    """The ledger's outcomes were defined next to the handlers, whose module imported the Pulumi SDK (1.8 s of
    every `mlops local status`)."""
    code = (
        "import contextlib, io\nfrom mlops.cli.main import app\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    app(['local', 'status', '--json'])"
    )
    env = {**os.environ, "MLOPS_STATE_DIR": str(tmp_path), "MLOPS_CONFIG_FILE": str(tmp_path / "absent.yaml")}
    loaded = _loaded_after(code, env)
    assert "mlops" in loaded
    assert {"pulumi", "pulumi_aws"} & loaded == set()
