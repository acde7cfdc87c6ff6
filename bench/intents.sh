#!/usr/bin/env bash
# Intent submission throughput: `POST /v1/intents` (schema validation, agent check,
# idempotency key, intent + audit record in one transaction), then `GET /v1/intents/{id}`.
#   bench/intents.sh                       # SQLite
#   DATABASE_URL=postgres://postgres@127.0.0.1/test bench/intents.sh
# The agent is new (T0), so the shipped policy sends every intent to the approval queue;
# TIER=T2 pins it to T2, whose medium-risk invoices are auto-approved.
source "$(dirname "$0")/lib.sh"
curl -sf -X POST "$base/v1/agents" -H "x-api-key: $key" -H 'content-type: application/json' \
  -d '{"name": "Billing Agent", "domains": ["billing"]}' >/dev/null
if [ -n "${TIER:-}" ]; then
  curl -sf -X PATCH "$base/v1/agents/billing-agent" -H "x-api-key: $key" -H 'content-type: application/json' \
    -d "{\"pinnedTier\": \"$TIER\"}" >/dev/null
fi
echo "--- POST /v1/intents"
loadgen /v1/intents --body '{"type":"billing.send_invoice","domain":"billing","agentId":"billing-agent","params":{"customerId":"cust_{n}","amount":99.99},"description":"Monthly invoice","idempotencyKey":"bench-{n}"}'
id=$(curl -sf "$base/v1/intents?pageSize=1" -H "x-api-key: $key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["items"][0]["id"])')
echo "--- GET /v1/intents/$id"
loadgen "/v1/intents/$id"
