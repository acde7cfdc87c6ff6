#!/usr/bin/env bash
# OpenIntent face throughput (the reference Python server: ~370 authenticated GETs/s and ~85
# intent creations/s on the same 2-core machine).
#   bench/openintent.sh             # GET /api/v1/intents/{id}
#   MODE=create bench/openintent.sh # POST /api/v1/intents
#   MODE=patch bench/openintent.sh  # POST /api/v1/intents/{id}/events (a logged event)
# DATABASE_URL, CONCURRENCY, SECONDS_RUN and RATE (open loop) as in lib.sh.
source "$(dirname "$0")/lib.sh"
# The acting agent, registered as a production tenant would (unknown agents are refused there).
curl -sf "$base/v1/agents" -H "x-api-key: $key" -H 'content-type: application/json' \
  -d '{"name":"bench"}' >/dev/null
intent=$(curl -sf "$base/api/v1/intents" -H "x-api-key: $key" -H 'X-Agent-ID: bench' \
  -H 'content-type: application/json' -d '{"title":"bench","state":{"n":0}}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
case "${MODE:-get}" in
  get) loadgen "/api/v1/intents/$intent" --header 'X-Agent-ID: bench' ;;
  create) loadgen /api/v1/intents --header 'X-Agent-ID: bench' \
    --body '{"title":"bench {n}","state":{"step":"{n}"}}' ;;
  patch) loadgen "/api/v1/intents/$intent/events" --header 'X-Agent-ID: bench' \
    --body '{"event_type":"comment","payload":{"n":"{n}"}}' ;;
  *) echo "MODE is get, create or patch" >&2; exit 2 ;;
esac
