#!/usr/bin/env bash
# Sets up everything the bot and its tests need on a Debian machine, idempotently:
# apt packages (only the missing ones), the Whisper models (fetched from registries,
# converted, checked by sha256), the release build, and the rendered prompts.
# Quiet on a second run: it only prints what it had to do.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

# Packages the service and the test suite use. Keep one per line with the reason.
APT_PACKAGES=(
  build-essential pkg-config   # C/C++ for whisper.cpp and sqlite
  libclang-dev cmake           # whisper-rs-sys bindgen + cmake build
  python3 python3-pip unzip    # model supply reads registry wheels
  sip-tester                   # SIPp: scripted SIP/RTP peer for end-to-end tests and load bench
  baresip                      # a real softphone for end-to-end tests
  asterisk-core-sounds-fr-wav  # real French 8 kHz speech for the ASR benchmark and tests
  asterisk-core-sounds-fr      # their transcripts
  libttspico-utils libttspico-dev  # SVOX Pico French voice (Debian non-free) for prompt rendering
  espeak-ng                    # fallback prompt voice when SVOX Pico is missing (run as a process, GPL)
  sox                          # audio fixture conversion in tests
  postgresql                   # PostgreSQL server for the accounting tests
  chromium chromium-driver     # headless browser for the console's browser test (ivr/console/tests/browser.rs)
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

ensure_nonfree() {
  # SVOX Pico lives in Debian's non-free component.
  local f=/etc/apt/sources.list.d/debian.sources
  if [ -f "$f" ] && ! grep -q '^Components:.*non-free' "$f"; then
    log "enabling contrib non-free in $f (SVOX Pico)"
    $SUDO sed -i 's/^Components: main$/Components: main contrib non-free/' "$f"
    APT_UPDATED=""
  elif [ -f /etc/apt/sources.list ] && grep -q '^deb .* main$' /etc/apt/sources.list; then
    $SUDO sed -i 's/^\(deb .* main\)$/\1 contrib non-free/' /etc/apt/sources.list
    APT_UPDATED=""
  fi
}

APT_UPDATED=""
ensure_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  ensure_nonfree
  log "installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 || { log "cargo not found: install Rust (rustup) first"; exit 1; }
}

build() {
  # One profile (release) for the binary and the tests: everything compiles once.
  if [ ! -x target/release/ivr ]; then
    log "building the release binary (whisper.cpp, tantivy, sqlx, axum...): the first build takes about 15 minutes on 2 cores; later runs take seconds"
    local t0=$SECONDS
    cargo build --release --locked -q -p ivr
    log "built in $((SECONDS - t0)) s"
  else
    cargo build --release --locked -q -p ivr
  fi
}

ensure_models() {
  bash models/fetch.sh
}

ensure_prompts() {
  if target/release/ivr prompts --help >/dev/null 2>&1; then
    target/release/ivr prompts render --quiet
  fi
}

ensure_apt
ensure_rust
build
ensure_models
ensure_prompts
