#!/usr/bin/env bash
# The whole test suite: lint, types, then every test (unit and emulator/Spark/server integration tests).
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not spark" -x`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

echo "==> ruff"
ruff check .
ruff format --check .
echo "==> mypy"
mypy
echo "==> LocalStack venv"
# LocalStack's own venv (Python >= 3.13) for tests/integration/localstack. No such interpreter: it says so and the
# tests skip; an interpreter but a failed install: it prints why and the run fails (the tests could not run).
bash scripts/localstack-venv.sh
echo "==> pytest"
# On every core (PYTEST_WORKERS=0: in this process); a file's tests stay on one worker (--dist loadfile), so its
# module fixtures are built once; each worker has its own session fixtures (emulator, platform: own ports and
# state dirs). The 20 slowest tests are listed at the end (--durations=20 in pyproject's addopts).
# One worker per core: the suite keeps two cores ~92% busy, and a third worker was no faster (993 s vs 977 s).
set +e
started=$SECONDS
pytest -n "${PYTEST_WORKERS:-auto}" --dist loadfile "$@"
code=$?
set -e
echo "==> pytest took $((SECONDS - started)) s"
if [ "$code" -eq 5 ]; then
    echo "pytest collected no tests: treated as a failure" >&2
    exit 1
fi
exit "$code"
