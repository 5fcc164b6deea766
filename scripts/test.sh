#!/usr/bin/env bash
# The whole test suite: lint, types, then every test (unit and emulator/Spark/server integration tests).
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not spark" -x`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

echo "==> ruff"
ruff check .
ruff format --check .
# mypy checks on one core for minutes on a clean checkout (no cache yet) while the tests keep both cores busy for
# much longer: it runs alongside them, its report printed and its status counted when they end.
echo "==> mypy (alongside the tests; its report comes after theirs)"
mypy_log="$(mktemp)"
mypy > "$mypy_log" 2>&1 &
mypy_pid=$!
trap 'kill "$mypy_pid" 2>/dev/null || true; rm -f "$mypy_log"' EXIT
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
echo "==> mypy"
mypy_code=0
wait "$mypy_pid" || mypy_code=$?
cat "$mypy_log"
if [ "$code" -eq 5 ]; then
    echo "pytest collected no tests: treated as a failure" >&2
    exit 1
fi
if [ "$mypy_code" -ne 0 ]; then
    echo "mypy failed (exit $mypy_code)" >&2
    exit "$mypy_code"
fi
exit "$code"
