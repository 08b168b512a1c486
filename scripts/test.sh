#!/usr/bin/env bash
# Sets everything up, then runs every test: unit tests, the evaluation bar, and the
# end-to-end tests with real peers (SIPp, baresip, whisper, SQLite and a real PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# One formatting and lint standard (rustfmt.toml; clippy warnings are errors), before the tests.
echo "test: cargo fmt --check and cargo clippy -D warnings" >&2
cargo fmt --all --check
cargo clippy --workspace --all-targets --release --locked -q -- -D warnings
source scripts/pg-test-server.sh   # starts a throw-away PostgreSQL, exports IVR_TEST_PG_URL, stops it on exit
echo "test: building the test binaries (the first time about 10 minutes on 2 cores), then running them (about 15 minutes)" >&2
cargo test --release --locked --workspace -- --test-threads="${IVR_TEST_THREADS:-2}"
