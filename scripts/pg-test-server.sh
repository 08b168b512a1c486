# Sourced by scripts/test.sh: starts a throw-away PostgreSQL for the accounting tests,
# exports IVR_TEST_PG_URL, and stops it (by its own data directory) when the shell exits.
# Does nothing when IVR_TEST_PG_URL is already set (a server provided from outside).
# initdb refuses to run as root, so as root the server runs as the `postgres` user.

_ivr_pg_start() {
  local bin ver
  for ver in $(ls /usr/lib/postgresql 2>/dev/null | sort -rn); do
    [ -x "/usr/lib/postgresql/$ver/bin/initdb" ] && { bin="/usr/lib/postgresql/$ver/bin"; break; }
  done
  if [ -z "${bin:-}" ]; then
    echo "pg-test-server: no PostgreSQL server binaries in /usr/lib/postgresql (apt package postgresql)" >&2
    return 1
  fi
  IVR_PG_DIR="$(mktemp -d /tmp/ivr-pg-test.XXXXXX)"
  local as=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$IVR_PG_DIR"
    as=(runuser -u postgres --)
  fi
  IVR_PG_AS=("${as[@]}")
  IVR_PG_BIN="$bin"
  "${as[@]}" "$bin/initdb" -D "$IVR_PG_DIR/data" -U ivr -A trust -E UTF8 --no-sync >"$IVR_PG_DIR/initdb.log" 2>&1 || {
    cat "$IVR_PG_DIR/initdb.log" >&2; return 1; }
  # A free port on 127.0.0.1: ask the kernel for one, retry if another process takes it first.
  local port tries=0
  while :; do
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    if "${as[@]}" "$bin/pg_ctl" -D "$IVR_PG_DIR/data" -l "$IVR_PG_DIR/server.log" -w -t 60 \
        -o "-p $port -k $IVR_PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null; then
      break
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 3 ]; then cat "$IVR_PG_DIR/server.log" >&2; return 1; fi
  done
  export IVR_TEST_PG_URL="postgres://ivr@127.0.0.1:$port/postgres"
  echo "pg-test-server: PostgreSQL $(basename "$(dirname "$bin")") on 127.0.0.1:$port (data in $IVR_PG_DIR)" >&2
}

_ivr_pg_stop() {
  if [ -n "${IVR_PG_DIR:-}" ] && [ -d "$IVR_PG_DIR/data" ]; then
    "${IVR_PG_AS[@]}" "$IVR_PG_BIN/pg_ctl" -D "$IVR_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$IVR_PG_DIR"
  fi
}

if [ -z "${IVR_TEST_PG_URL:-}" ]; then
  _ivr_pg_start
  trap _ivr_pg_stop EXIT
fi
