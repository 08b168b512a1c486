#!/usr/bin/env bash
# Runs the whole suite (scripts/test.sh) beside CPU hogs: busy loops at nice 0, as a
# database, a backup or a report would load a shared host. The end-to-end tests wait for
# events, not fixed times, so they must pass here too. Usage: scripts/test-under-load.sh [HOGS]
set -euo pipefail
cd "$(dirname "$0")/.."
hogs="${1:-2}"
source scripts/cpu-hogs.sh
start_hogs "$hogs"
echo "test-under-load: $hogs busy loop(s) at nice 0 beside the suite (pids ${hog_pids[*]})" >&2
start=$(date +%s)
rc=0
bash scripts/test.sh || rc=$?
echo "test-under-load: suite rc=$rc in $(( $(date +%s) - start )) s beside $hogs busy loop(s)" >&2
exit "$rc"
