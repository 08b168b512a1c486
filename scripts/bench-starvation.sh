#!/usr/bin/env bash
# Recognition under other load on the host: runs `ivr bench call` on a quiet machine, then
# again beside CPU hogs (busy loops at nice 0, as a database, a backup or a report would
# be), and prints the answer latency and the jitter of the bot's RTP for both, so the ratio
# loaded/quiet can be read. Aim: latency under the hogs within 2x quiet, jitter p99 <= 5 ms.
#   bash scripts/bench-starvation.sh [HOGS=2] [extra ivr bench call options...]
set -euo pipefail
cd "$(dirname "$0")/.."
hogs="${1:-2}"; shift || true
opts=(--callers 1 --questions "${QUESTIONS:-6}" --no-baseline "$@")
bin=target/release/ivr
[ -x "$bin" ] || { echo "build first: bash scripts/setup.sh" >&2; exit 1; }

source scripts/cpu-hogs.sh

echo "== quiet"
"$bin" bench call "${opts[@]}" | tee /tmp/ivr-starvation-quiet.txt
echo "== beside $hogs busy loop(s) at nice 0"
start_hogs "$hogs"
"$bin" bench call "${opts[@]}" | tee /tmp/ivr-starvation-hog.txt
stop_hogs
echo "== summary (latency and jitter lines, quiet then loaded)"
grep -Ei 'p50|p95|jitter' /tmp/ivr-starvation-quiet.txt | sed 's/^/quiet:  /' || true
grep -Ei 'p50|p95|jitter' /tmp/ivr-starvation-hog.txt | sed 's/^/hogs:   /' || true
