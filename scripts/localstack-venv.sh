#!/usr/bin/env bash
# Creates .localstack-venv/: LocalStack (localstack-core) in its own virtualenv, to run on the host without Docker.
#
# Why a separate venv: localstack-core 2026.3.0 (the last release on PyPI, no auth token check) needs Python >= 3.13
# in practice (its metadata says >= 3.10, but it imports `warnings.deprecated`, new in 3.13: on 3.12 the runtime
# finds no service and exits) and pins of its own, while the kit's venv is on 3.11. Why the `runtime` extra: the bare package holds no service
# (no S3, no gateway server). Why the constraints file: without those pins the newest cbor2/pyopenssl/cryptography
# releases stop it from starting (see localstack/README.md).
#
# Idempotent: a venv whose stamp matches the interpreter, packages and constraints is left as it is; anything
# else (a half-finished install, changed pins) is rebuilt. Prints the interpreter used.
# No interpreter >= 3.13 on this machine: says so, leaves no venv and exits 0 (the LocalStack tests then skip).
# The install itself failing (an interpreter exists): prints why and exits 1.
#
# Interpreter search order (mlops/local/localstack.py's find_interpreter() follows the same one):
#   $LOCALSTACK_PYTHON, then python3.13, python3.14, python3 on PATH, then pyenv's
#   ~/.pyenv/versions/3.1[3-9]*/bin/python3 (oldest first); the first that really runs as >= 3.13 wins.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.localstack-venv
CONSTRAINTS=localstack/constraints.txt
PACKAGES=("localstack-core[runtime]==2026.3.0" service-identity)
STAMP="$VENV/.mlops-kit-stamp"
export PATH="$HOME/.local/bin:$PATH"
export UV_COMPILE_BYTECODE=1   # LocalStack imports hundreds of modules at start: compiled once here, not per start

# Prints the real path of an interpreter >= 3.13 (pyenv shims resolve to the version they would run), or fails.
real_interpreter() {
    "$1" -c 'import sys; assert sys.version_info >= (3, 13); print(sys.executable)' 2>/dev/null
}

find_interpreter() {
    local candidate found
    local candidates=()
    [ -n "${LOCALSTACK_PYTHON:-}" ] && candidates+=("$LOCALSTACK_PYTHON")
    for name in python3.13 python3.14 python3; do
        command -v "$name" >/dev/null 2>&1 && candidates+=("$(command -v "$name")")
    done
    for candidate in $(ls -d "$HOME"/.pyenv/versions/3.1[3-9]*/bin/python3 2>/dev/null | sort -V); do
        candidates+=("$candidate")
    done
    for candidate in "${candidates[@]}"; do
        if found=$(real_interpreter "$candidate"); then
            echo "$found"
            return 0
        fi
    done
    return 1
}

if ! interpreter=$(find_interpreter); then
    echo "localstack-venv: no Python >= 3.13 found (tried \$LOCALSTACK_PYTHON, python3.13/3.14/python3 on PATH," \
         "~/.pyenv/versions/3.1[3-9]*): LocalStack needs one, so no venv was created and its tests will skip."
    exit 0
fi

wanted="$("$interpreter" -c 'import sys; print(sys.version.split()[0])') ${interpreter} ${PACKAGES[*]} $(sha256sum "$CONSTRAINTS" | cut -c1-16)"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ]; then
    echo "localstack-venv: up to date ($VENV, Python $interpreter)"
    exit 0
fi

echo "localstack-venv: installing ${PACKAGES[*]} into $VENV with $interpreter"
started=$(date +%s)
rm -rf "$VENV"
fail() {
    echo "localstack-venv: FAILED to $1 (interpreter $interpreter); see the output above. LocalStack tests cannot run." >&2
    rm -rf "$VENV"
    exit 1
}
if command -v uv >/dev/null 2>&1; then
    uv venv --quiet --python "$interpreter" "$VENV" || fail "create the venv with uv"
    uv pip install --quiet --python "$VENV/bin/python" "${PACKAGES[@]}" -c "$CONSTRAINTS" || fail "install with uv"
else
    "$interpreter" -m venv "$VENV" || fail "create the venv with $interpreter -m venv"
    "$VENV/bin/python" -m pip install --quiet "${PACKAGES[@]}" -c "$CONSTRAINTS" || fail "install with pip"
fi
# The check that matters: the runtime finds its service components (on Python 3.12 it imports fine, finds none
# and exits at start-up).
"$VENV/bin/python" -c 'from plux import PluginManager; assert PluginManager("localstack.runtime.components").load_all()' \
    || fail "load LocalStack's runtime components after the install"
echo "$wanted" >"$STAMP"
echo "localstack-venv: ready in $(( $(date +%s) - started )) s: $VENV/bin/python (from $interpreter)"
