#!/usr/bin/env bash
# Sets everything up, then runs the bot: SQLite embedded store, the shipped knowledge base,
# SIP on UDP ${IVR_LISTEN:-0.0.0.0:5060} (override with IVR_LISTEN=addr:port or --listen).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec target/release/ivr serve --listen "${IVR_LISTEN:-0.0.0.0:5060}" "$@"
