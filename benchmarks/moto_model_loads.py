"""Benchmark: the botocore model work moto's server does for the first apply of the local stack, moto's way vs
the embedded emulator's (mlops/local/moto_fixes.py: one loader, the backends' session on it, service names of
error responses looked up once).

    .venv/bin/python benchmarks/moto_model_loads.py [--errors 60]

Each way runs in a fresh interpreter (cold caches, as a new server is), doing what the server does per service
the apply uses: its service and pagination models loaded (``moto.core.utils``), its regions listed by the
backends' session (each backend's ``__init__``), and ``--errors`` error responses' service names looked up
(``moto.core.errors``; the apply's describe-before-create calls answer "not found"). Printed side by side: CPU
seconds per way, and whether both gave the same regions and names.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

# The services the local stack's apply calls (its resources' types).
SERVICES = ("s3", "kms", "iam", "ec2", "glue", "kinesis", "dynamodb", "sagemaker", "cloudwatch", "logs", "sns",
            "events", "ecr", "secretsmanager")  # fmt: skip


MOTO_WAY = "moto's own (a loader per load)"


def _work(fixed: bool, errors: int) -> dict[str, Any]:
    """In this (fresh) process: the server's model work, with the fixes installed or not."""
    from moto.core import utils
    from moto.core.base_backend import AccountSpecificBackend

    from mlops.local import moto_fixes

    if fixed:
        moto_fixes.apply()
    started = time.process_time()
    regions = {}
    for service in SERVICES:
        utils.get_service_model(service)
        utils.get_pagination_model(service)
        regions[service] = AccountSpecificBackend.get_session().get_available_regions(service)
    names = [utils.service_name_from_moto_package_name(SERVICES[n % len(SERVICES)]) for n in range(errors)]
    return {"cpu": time.process_time() - started, "regions": regions, "names": names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", type=int, default=60, help="error responses' service-name lookups")
    parser.add_argument("--way", choices=["moto", "kit"], help=argparse.SUPPRESS)  # one way, in a child
    args = parser.parse_args()
    if args.way:
        print(json.dumps(_work(args.way == "kit", args.errors)))
        return
    results = {}
    for way in ("moto", "kit"):
        command = [sys.executable, __file__, "--way", way, "--errors", str(args.errors)]
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
        results[way] = json.loads(done.stdout)
    print(f"{len(SERVICES)} services, {args.errors} error responses")
    print(f"{'way':<40}{'CPU s':>8}")
    print(f"{MOTO_WAY:<40}{results['moto']['cpu']:>8.2f}")
    print(f"{'the kit (moto_fixes)':<40}{results['kit']['cpu']:>8.2f}")
    same = all(results["moto"][key] == results["kit"][key] for key in ("regions", "names"))
    print(f"same regions and service names: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
