#!/usr/bin/env bash
# Intent submission throughput: `POST /v1/intents` (schema validation, agent check,
# idempotency key, intent + audit record in one transaction), then `GET /v1/intents/{id}`.
#   bench/intents.sh                       # SQLite
#   DATABASE_URL=postgres://postgres@127.0.0.1/test bench/intents.sh
source "$(dirname "$0")/lib.sh"
curl -sf -X POST "$base/v1/agents" -H "x-api-key: $key" -H 'content-type: application/json' \
  -d '{"name": "Billing Agent", "domains": ["billing"]}' >/dev/null
echo "--- POST /v1/intents"
loadgen /v1/intents --body '{"type":"billing.send_invoice","domain":"billing","agentId":"billing-agent","params":{"customerId":"cust_{n}","amount":99.99},"description":"Monthly invoice","idempotencyKey":"bench-{n}"}'
id=$(curl -sf "$base/v1/intents?pageSize=1" -H "x-api-key: $key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["items"][0]["id"])')
echo "--- GET /v1/intents/$id"
loadgen "/v1/intents/$id"
