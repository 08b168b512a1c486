#!/usr/bin/env bash
# Runs the whole suite (scripts/test.sh) beside CPU hogs: busy loops at nice 0, as a
# database, a backup or a report would load a shared host. The end-to-end tests wait for
# events, not fixed times, so they must pass here too. Usage: scripts/test-under-load.sh [HOGS]
set -euo pipefail
cd "$(dirname "$0")/.."
hogs="${1:-2}"
pids=()
stop_hogs() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; pids=(); }
trap stop_hogs EXIT
for _ in $(seq "$hogs"); do
  nice -n 0 bash -c 'while :; do :; done' &
  pids+=("$!")
done
echo "test-under-load: $hogs busy loop(s) at nice 0 beside the suite (pids ${pids[*]})" >&2
start=$(date +%s)
rc=0
bash scripts/test.sh || rc=$?
echo "test-under-load: suite rc=$rc in $(( $(date +%s) - start )) s beside $hogs busy loop(s)" >&2
exit "$rc"
