#!/usr/bin/env bash
# Runs the console's browser tests: playwright-core (npm, pinned in package-lock.json; it
# downloads no browser) drives Debian's chromium against the server binary.
#
#   tests/console/run.sh
#
# Environment:
#   INTENDEDOPS_BIN    server binary (default target/debug/intendedops; build it first)
#   CHROMIUM           browser (default /usr/bin/chromium: `apt-get install chromium`)
#   CONSOLE_NODE_DIR   where the npm packages are installed (default target/console-node)
#   SCREENSHOTS        where page screenshots go (default target/console-screenshots)
#   TEST_DATABASE_URL  a postgres:// URL runs the server on a fresh schema there; otherwise SQLite
#   TEST_REDIS_URL     Redis for the server's rate limits
set -euo pipefail
cd "$(dirname "$0")/../.."

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  echo "tests/console: no browser at $chromium (apt-get install chromium, or set CHROMIUM)" >&2
  exit 2
fi
command -v node >/dev/null || { echo "tests/console: node is not installed" >&2; exit 2; }

modules_dir="${CONSOLE_NODE_DIR:-target/console-node}"
mkdir -p "$modules_dir"
# (Re)install when the directory is new or the pins changed since the last install.
if ! cmp -s tests/console/package-lock.json "$modules_dir/package-lock.json" \
  || [ ! -d "$modules_dir/node_modules/playwright-core" ]; then
  cp tests/console/package.json tests/console/package-lock.json "$modules_dir/"
  (cd "$modules_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

bin="${INTENDEDOPS_BIN:-target/debug/intendedops}"
if [ ! -x "$bin" ]; then
  echo "tests/console: no server binary at $bin (run cargo build first, or set INTENDEDOPS_BIN)" >&2
  exit 2
fi

INTENDEDOPS_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" \
CONSOLE_NODE_MODULES="$(cd "$modules_dir" && pwd)/node_modules" \
CHROMIUM="$chromium" \
SCREENSHOTS="${SCREENSHOTS:-$PWD/target/console-screenshots}" \
  exec node --test-reporter=spec tests/console/console.test.mjs
