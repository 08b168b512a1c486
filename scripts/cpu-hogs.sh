# Sourced by scripts that measure or test beside other load on the host: busy loops at
# nice 0, as a database, a backup or a report would be. start_hogs N starts them,
# stop_hogs ends them (and runs on exit).
hog_pids=()
start_hogs() {
  local _
  for _ in $(seq "$1"); do
    nice -n 0 sh -c 'while :; do :; done' &
    hog_pids+=("$!")
  done
}
stop_hogs() { for p in "${hog_pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; hog_pids=(); }
trap stop_hogs EXIT
