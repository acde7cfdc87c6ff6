#!/usr/bin/env bash
# Intent submission throughput: `POST /v1/intents` (schema validation, agent check,
# idempotency key, intent + audit record in one transaction), then `GET /v1/intents/{id}`.
#   bench/intents.sh                       # SQLite
#   DATABASE_URL=postgres://postgres@127.0.0.1/test bench/intents.sh
# The agent is new (T0), so the shipped policy sends every intent to the approval queue;
# TIER=T2 pins it to T2, whose medium-risk invoices are auto-approved.
# WEBHOOK=1 subscribes a local receiver (bench/receiver.py) to intent.submitted: every
# submission then also writes an outbox event, and the receiver reports delivery latency.
[ -z "${WEBHOOK:-}" ] || export INTENDEDOPS_OUTBOUND_ALLOW_PRIVATE=true
source "$(dirname "$0")/lib.sh"
if [ -n "${WEBHOOK:-}" ]; then
  receiver_port=$((port + 1))
  python3 bench/receiver.py "$receiver_port" > "$work/receiver.log" &
  receiver=$!
  sleep 0.5
  curl -sf -X POST "$base/v1/webhooks" -H "x-api-key: $key" -H 'content-type: application/json' \
    -d "{\"url\": \"http://127.0.0.1:$receiver_port/hook\", \"events\": [\"intent.submitted\"]}" >/dev/null
fi
curl -sf -X POST "$base/v1/agents" -H "x-api-key: $key" -H 'content-type: application/json' \
  -d '{"name": "Billing Agent", "domains": ["billing"]}' >/dev/null
if [ -n "${TIER:-}" ]; then
  curl -sf -X PATCH "$base/v1/agents/billing-agent" -H "x-api-key: $key" -H 'content-type: application/json' \
    -d "{\"pinnedTier\": \"$TIER\"}" >/dev/null
fi
echo "--- POST /v1/intents"
loadgen /v1/intents --body '{"type":"billing.send_invoice","domain":"billing","agentId":"billing-agent","params":{"customerId":"cust_{n}","amount":99.99},"description":"Monthly invoice","idempotencyKey":"bench-{n}"}'
if [ -n "${WEBHOOK:-}" ]; then
  sleep 5  # let the worker drain the outbox
  kill -TERM $receiver; wait $receiver 2>/dev/null || true
  cat "$work/receiver.log"
fi
id=$(curl -sf "$base/v1/intents?pageSize=1" -H "x-api-key: $key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["items"][0]["id"])')
echo "--- GET /v1/intents/$id"
loadgen "/v1/intents/$id"
