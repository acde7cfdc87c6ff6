#!/usr/bin/env bash
# Authenticated GET throughput: `GET /v1/keys` with one admin key.
#   bench/auth_get.sh                      # SQLite
#   DATABASE_URL=postgres://postgres@127.0.0.1/test bench/auth_get.sh
# CONCURRENCY and SECONDS_RUN override the load shape.
source "$(dirname "$0")/lib.sh"
loadgen /v1/keys
