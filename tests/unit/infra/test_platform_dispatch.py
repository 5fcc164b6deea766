"""``define_platform`` imports only the program of the stack's cloud: a GCP stack's apply does not import the AWS
program's components and the pulumi_aws modules they declare (4.4 s). The AWS path is the one every apply of the
suite's platform takes (tests/integration/local_apply)."""

from __future__ import annotations

import subprocess
import sys


def test_the_gcp_program_is_reached_without_importing_the_aws_one() -> None:
    code = (
        "import sys; from infra.platform import define_platform; import infra.gcp.platform; "
        "print(sorted(m for m in ('infra.aws_platform', 'infra.resource_types', 'infra.components.serving') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]"
