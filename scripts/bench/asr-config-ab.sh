#!/usr/bin/env bash
# CPU cost of `[asr]` settings on the two sample calls, side by side: each
# config file (TOML, given through CALLQA_CONFIG) runs on en-call-01 and
# zh-call-01 as dual-channel 8 kHz G.711 µ-law (as scripts/bench-asr.sh
# makes them), one ASR thread, the configs alternating, RUNS rounds; prints
# CPU seconds (user + system) and wall seconds per run with the load average.
# The "Encoder context floor" figures in docs/calls.md come from it:
#   printf '[asr]\nmin_audio_ctx_s = 4.0\n' > /tmp/ctx4.toml
#   printf '[asr]\nmin_audio_ctx_s = 10.0\n' > /tmp/ctx10.toml
#   scripts/bench/asr-config-ab.sh 3 /tmp/ctx4.toml /tmp/ctx10.toml
# Env: CALLQA_BIN (default target/release/callqa).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[ $# -ge 2 ] || { echo "usage: $0 RUNS CONFIG.toml..." >&2; exit 2; }
RUNS="$1"; shift
BIN="${CALLQA_BIN:-target/release/callqa}"
[ -x "$BIN" ] || { echo "no $BIN (cargo build --release, or set CALLQA_BIN)" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
sox -D -q samples/calls/en-call-01.mp3 -r 8000 -c 2 -e mu-law -b 8 "$work/en.wav"
sox -D -q samples/calls/zh-call-01.flac -r 8000 -c 2 -e mu-law -b 8 "$work/zh.wav"
for r in $(seq "$RUNS"); do
  for c in "$@"; do
    for l in en zh; do
      /usr/bin/time -f "%U %S %e" -o "$work/t" env CALLQA_ASR_THREADS=1 CALLQA_CONFIG="$c" \
        "$BIN" analyze "$work/$l.wav" --language "$l" --rules-only --no-store --json --concurrency 1 >/dev/null 2>&1
      read -r u s e < "$work/t"
      printf 'run %s  %-24s %s  CPU %6.2f s  wall %6.2f s  load %s\n' "$r" "$(basename "$c")" "$l" \
        "$(echo "$u + $s" | bc)" "$e" "$(cut -d' ' -f1 /proc/loadavg)"
    done
  done
done
