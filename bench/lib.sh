# Shared by the bench scripts: build release binaries, start a server on a fresh database
# with one admin key. Sets $base (server URL), $key (admin key), $server (pid).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --quiet --bin intendedops --example loadgen
work=$(mktemp -d)
export DATABASE_URL="${DATABASE_URL:-sqlite://$work/bench.db}"
schema=""
if [[ $DATABASE_URL == postgres* ]]; then
  # A fresh schema per run, dropped on exit, like the tests.
  schema="bench_$(date +%s)"
  psql "$DATABASE_URL" -qc "CREATE SCHEMA $schema"
  admin_url=$DATABASE_URL
  DATABASE_URL="$DATABASE_URL?options=-c%20search_path%3D$schema"
fi
# The level the product ships with (every request line logged); LOG_LEVEL=warn drops them.
export OPENINTENT_LOG_LEVEL=${LOG_LEVEL:-info}
bin=${BIN:-target/release/intendedops}  # BIN=path compares another build side by side
# Seals stored secrets; a server over PostgreSQL does not start without one.
INTENDEDOPS_SECRET_KEY="${INTENDEDOPS_SECRET_KEY:-$($bin secrets generate-key --id bench)}"
export INTENDEDOPS_SECRET_KEY
tenant="bench-$(date +%s)"
$bin tenant create "$tenant" >/dev/null
# The load is far over the default 1000/min per key: lift the limit, keep the counting.
$bin tenant rate-limit "$tenant" --per-minute 4000000000 >/dev/null
key=$($bin key create --tenant "$tenant" --name bench --scope admin)
port=${PORT:-18080}
base="http://127.0.0.1:$port"
$bin serve --port "$port" --host 127.0.0.1 2>"$work/server.log" &
server=$!
cleanup() {
  kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"
  [ -z "$schema" ] || psql "$admin_url" -qc "DROP SCHEMA $schema CASCADE"
}
trap cleanup EXIT
for _ in $(seq 50); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done
echo "database: ${DATABASE_URL%%\?*}  redis: ${REDIS_URL:-none}  server RSS before: $(ps -o rss= -p $server) KiB"

# The server's CPU time so far (user + system), in clock ticks.
server_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }

# loadgen <path> [loadgen flags...]: drive the server with the admin key (RATE=n: open loop).
# Besides the generator's figures it prints the server's CPU time per request, which other load
# on the machine disturbs far less than throughput does.
loadgen() {
  local path=$1; shift
  local ticks_before output requests
  ticks_before=$(server_ticks)
  output=$(target/release/examples/loadgen --url "$base$path" --header "x-api-key: $key" \
    --concurrency "${CONCURRENCY:-32}" --seconds "${SECONDS_RUN:-10}" ${RATE:+--rate "$RATE"} "$@")
  echo "$output"
  requests=$(awk '/^requests/ {print $2}' <<<"$output")
  awk -v ticks=$(($(server_ticks) - ticks_before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN { printf "server CPU %.1f s = %.0f us per request\n", ticks / hz, n ? ticks / hz * 1e6 / n : 0 }'
  echo "server RSS after: $(ps -o rss= -p $server) KiB"
}
