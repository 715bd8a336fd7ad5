#!/usr/bin/env bash
# Whisper threads per window against CPU cost when the machine is
# oversubscribed: COPIES analyses of one recording start at once, first
# with `CALLQA_ASR_THREADS=2`, then with 1, and each copy's CPU seconds
# (user + system) and wall seconds are printed with the load average.
# whisper.cpp's threads spin while they wait for each other, so with more
# threads than cores the CPU per job grows (docs/calls.md, "One Whisper
# thread per window").
#
# Usage: scripts/bench-threads.sh [COPIES] [RECORDING LANGUAGE]
#   default: 8 copies of the mono call of tests/calls.rs, voiced by
#   scripts/synth-call.sh (English)
# Env: CALLQA_BIN (default target/release/callqa, built if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
COPIES="${1:-8}"
BIN="${CALLQA_BIN:-target/release/callqa}"
[ -n "${CALLQA_BIN:-}" ] || cargo build --release --locked >&2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
if [ $# -ge 3 ]; then
  rec="$2"; lang="$3"
else
  printf '%s\n' \
    $'agent\t0.3\ten-us\tGood morning, thank you for calling Acme support, how can I help you?' \
    $'customer\t+0.8\ten-gb\tI want to cancel my subscription please.' \
    $'agent\t+0.8\ten-us\tI can help with that. May I have your account name?' \
    $'customer\t+0.8\ten-gb\tIt is John Smith.' > "$work/mono.tsv"
  scripts/synth-call.sh "$work/mono.tsv" "$work/mono.flac" --mono > /dev/null
  rec="$work/mono.flac"; lang=en
fi
for threads in 2 1; do
  echo "== $COPIES copies at once, $threads Whisper thread(s) per window; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  for i in $(seq 1 "$COPIES"); do
    CALLQA_ASR_THREADS=$threads /usr/bin/time -f "%U %S %e" -o "$work/time.$i" \
      "$BIN" analyze "$rec" --language "$lang" --rules-only --no-store --json --concurrency 1 \
      > "$work/out.$i.json" 2> "$work/err.$i" &
  done
  wait
  for i in $(seq 1 "$COPIES"); do
    read -r u s e < <(tail -n 1 "$work/time.$i")
    turns=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r=r[0] if isinstance(r,list) else r; print(len(r["turns"]))' "$work/out.$i.json")
    awk -v i="$i" -v u="$u" -v s="$s" -v e="$e" -v t="$turns" \
      'BEGIN { printf "copy %d: CPU %.1f s, wall %s s, %s turns\n", i, u + s, e, t }'
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
