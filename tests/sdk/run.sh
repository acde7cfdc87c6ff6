#!/usr/bin/env bash
# Runs the OpenIntent Python SDK (PyPI `openintent`) against the server binary.
#
#   tests/sdk/run.sh [pytest args...]
#
# Environment:
#   INTENDEDOPS_BIN    server binary (default target/debug/intendedops; build it first)
#   SDK_VENV           virtualenv for the SDK and pytest (default target/sdk-venv; created when absent)
#   TEST_DATABASE_URL  a postgres:// URL runs the server on a fresh schema there; otherwise SQLite
#   WEBHOOKS_NODE_DIR  where the npm `standardwebhooks` package is installed (default
#                      target/webhooks-node), for test_standard_webhooks.py
set -euo pipefail
cd "$(dirname "$0")/../.."

venv="${SDK_VENV:-target/sdk-venv}"
requirements=tests/sdk/requirements.txt
stamp="$venv/.sdk-requirements"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# (Re)install when the venv is new or the pins changed since the last install.
if ! cmp -s "$requirements" "$stamp"; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
fi

# The official JavaScript Standard Webhooks library (pinned in tests/webhooks/package-lock.json).
command -v npm >/dev/null || { echo "tests/sdk: npm is not installed" >&2; exit 2; }
modules_dir="${WEBHOOKS_NODE_DIR:-target/webhooks-node}"
mkdir -p "$modules_dir"
if ! cmp -s tests/webhooks/package-lock.json "$modules_dir/package-lock.json" \
  || [ ! -d "$modules_dir/node_modules/standardwebhooks" ]; then
  cp tests/webhooks/package.json tests/webhooks/package-lock.json "$modules_dir/"
  (cd "$modules_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
STANDARDWEBHOOKS_NODE_MODULES="$(cd "$modules_dir" && pwd)/node_modules"
export STANDARDWEBHOOKS_NODE_MODULES

bin="${INTENDEDOPS_BIN:-target/debug/intendedops}"
if [ ! -x "$bin" ]; then
  echo "tests/sdk: no server binary at $bin (run cargo build first, or set INTENDEDOPS_BIN)" >&2
  exit 2
fi
INTENDEDOPS_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
export INTENDEDOPS_BIN
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  export TEST_DATABASE_URL
fi

exec "$venv/bin/python" -m pytest -q tests/sdk "$@"
