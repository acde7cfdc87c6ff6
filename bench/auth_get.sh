#!/usr/bin/env bash
# Authenticated GET throughput: a release server on a fresh database, one admin key,
# `GET /v1/keys` from the repo's load generator.
#   bench/auth_get.sh                      # SQLite
#   DATABASE_URL=postgres://postgres@127.0.0.1/test bench/auth_get.sh
# CONCURRENCY and SECONDS override the load shape.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin intendedops --example loadgen
work=$(mktemp -d)
export DATABASE_URL="${DATABASE_URL:-sqlite://$work/bench.db}"
export OPENINTENT_LOG_LEVEL=warn
bin=target/release/intendedops
tenant="bench-$(date +%s)"
$bin tenant create "$tenant" >/dev/null
key=$($bin key create --tenant "$tenant" --name bench --scope admin)
port=${PORT:-18080}
$bin serve --port "$port" --host 127.0.0.1 2>"$work/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
echo "server RSS before: $(ps -o rss= -p $server) KiB"
target/release/examples/loadgen --url "http://127.0.0.1:$port/v1/keys" --header "x-api-key: $key" \
  --concurrency "${CONCURRENCY:-32}" --seconds "${SECONDS_RUN:-10}"
echo "server RSS after: $(ps -o rss= -p $server) KiB"
