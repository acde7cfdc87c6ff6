#!/usr/bin/env bash
# The first journey: governance in a few calls. Run it after `cargo run --release` (SQLite,
# development mode) and read along; every step prints the call and what came back.
#
#   examples/quickstart.sh                     # against http://localhost:8000 as the dev admin
#   BASE=http://127.0.0.1:9000 KEY=intendedops_acme_… examples/quickstart.sh
#
# With the shipped default policy it shows the three outcomes a governed intent can have:
#   queued for a human  – a new (T0) agent's invoice needs one approver;
#   blocked             – agents below T2 may not bill more than 10,000 in one intent;
#   auto-approved       – a T2 agent's medium-risk invoice goes straight through;
# then a human approves the queued one, the agent reports the outcome, and the audit chain
# verifies. The agents submit with their own key, bound to them; the admin key decides
# (whoever submits an intent may not approve it). Needs curl and jq.
set -euo pipefail

BASE=${BASE:-http://localhost:8000}
KEY=${KEY:-dev-user-key} # development mode's admin key (tenant `dev`)
run=$(date +%s)          # agent ids are unique per run, so the script can be run again

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# call METHOD PATH [JSON]: prints the call, returns the response body; fails on a non-2xx.
# Sent with $KEY, or with the key in $AS when set (AS=$agent_key call …).
call() {
  local method=$1 path=$2 body=${3:-}
  printf '$ curl -X %s %s %s\n' "$method" "$path" "${body:+-d $body}" >&2
  local response status
  response=$(curl -sS -X "$method" "$BASE$path" -H "x-api-key: ${AS:-$KEY}" \
    ${body:+-H 'content-type: application/json' -d "$body"} -w '\n%{http_code}')
  status=${response##*$'\n'}
  response=${response%$'\n'*}
  if [[ $status != 2* ]]; then
    printf 'HTTP %s: %s\n' "$status" "$response" >&2
    exit 1
  fi
  printf '%s' "$response"
}

invoice() { # invoice AGENT AMOUNT
  printf '{"type":"billing.send_invoice","domain":"billing","agentId":"%s","params":{"customerId":"cus_123","amount":%s,"currency":"USD","dueDate":"2026-12-31","lineItems":[{"description":"Consulting","quantity":1,"unitPrice":%s}]}}' \
    "$1" "$2" "$2"
}

curl -sf "$BASE/health" >/dev/null || {
  echo "no server at $BASE: start one with 'cargo run --release' first" >&2
  exit 1
}

step "1. Register two agents (every agent starts at trust tier T0) and a key bound to them."
bot=$(call POST /v1/agents "{\"name\":\"Billing Bot $run\"}" | jq -r '.data.id')
call GET "/v1/agents/$bot" | jq '.data | {id, trustTier, trustScore, status}'
trusted=$(call POST /v1/agents "{\"name\":\"Trusted Bot $run\"}" | jq -r '.data.id')
agent_key=$(call POST /v1/keys "{\"name\":\"billing bots $run\",\"scopes\":[\"agent\"],\"agents\":[\"$bot\",\"$trusted\"]}" |
  jq -r '.data.key')
echo "The agents' key may act only as $bot and $trusted."

step "2. Queued: a T0 agent's invoice waits for a human (rule new-agents-are-reviewed)."
queued=$(AS=$agent_key call POST /v1/intents "$(invoice "$bot" 1200)" | jq -r '.data.intentId')
call GET "/v1/intents/$queued" | jq '.data | {id, status, decision}'
echo "The approval queue shows what to decide by:"
call GET /v1/approvals | jq --arg id "$queued" \
  '.data.items[] | select(.intentId == $id) | {id, intentType, agentId, risk, paramsSummary, routingReason, expiresAt}'

step "3. Blocked: the same agent may not bill 25,000 in one intent (rule large-sums-need-a-trusted-agent)."
blocked=$(AS=$agent_key call POST /v1/intents "$(invoice "$bot" 25000)" | jq -r '.data.intentId')
call GET "/v1/intents/$blocked" | jq '.data | {id, status, blockReason: .decision.blockReason}'

step "4. Auto-approved: an agent at T2 sends the same invoice straight through."
echo "(Trust is earned by completed intents; an admin pins a tier here to skip the wait.)"
call PATCH "/v1/agents/$trusted" '{"pinnedTier":"T2"}' | jq '.data | {id, trustTier}'
auto=$(AS=$agent_key call POST /v1/intents "$(invoice "$trusted" 1200)" | jq -r '.data.intentId')
call GET "/v1/intents/$auto" | jq '.data | {id, status, rule: .decision.rule}'

step "5. A human (here the admin key) approves the queued intent; the agent carries it out."
approval=$(call GET "/v1/intents/$queued" | jq -r '.data.approvals[0].id')
call POST "/v1/approvals/$approval/approve" '{"comment":"customer confirmed the order"}' |
  jq '.data | {id, status, decisions}'
AS=$agent_key call POST "/v1/intents/$queued/complete" '{"valueCents":120000}' |
  jq '.data | {id, status, valueCents}'

step "6. Every step is in the tenant's hash-chained audit trail."
records=$(call GET '/v1/audit?pageSize=1' | jq '.data.total')
call GET "/v1/audit?pageSize=10&page=$(((records + 9) / 10))" |
  jq -r '.data.items[] | "\(.sequence)\t\(.eventType)\t\(.subject)"'
call GET /v1/audit/verify | jq '.data'

step "Done. Next: the API docs at $BASE/docs, the policy in force at GET /v1/policies."
