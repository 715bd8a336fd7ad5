#!/usr/bin/env bash
# Synthesises a call recording from a script with espeak-ng and sox: the
# sample calls in samples/calls/ and the recordings the tests and the ASR
# benchmark transcribe are made with it, so anyone can regenerate them.
#
# Usage: scripts/synth-call.sh SCRIPT OUT [--mono] [--rate HZ] [--encoding E]
#   SCRIPT     one line per utterance, tab-separated:
#                speaker  start  voice  text
#              speaker: agent | customer
#              start:   seconds from the start (12.5), or +S to start S seconds
#                       after the previous line ends, or -S to start S seconds
#                       before it ends (talk-over)
#              voice:   an espeak-ng voice (en-us, en-gb, cmn-latn-pinyin, …);
#                       an optional "+sN" suffix sets the speed (words per minute)
#              Lines starting with # and empty lines are skipped.
#   OUT        output file; the extension picks the format (.wav, .flac, .mp3, .ogg)
#   --mono     both speakers on one channel (default: agent left, customer right)
#   --rate     sample rate of OUT (default 16000; telephony is 8000)
#   --encoding sox encoding of OUT for .wav (signed-integer, mu-law, a-law, …)
# Prints one line per utterance to stdout: speaker, start, end (seconds), text.
set -euo pipefail

die() { printf 'synth-call: error: %s\n' "$*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: scripts/synth-call.sh SCRIPT OUT [--mono] [--rate HZ] [--encoding E]"
SCRIPT="$1"; OUT="$2"; shift 2
MONO=0; RATE=16000; ENC=""
while [ $# -gt 0 ]; do
  case "$1" in
    --mono) MONO=1; shift ;;
    --rate) RATE="$2"; shift 2 ;;
    --encoding) ENC="$2"; shift 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done
for tool in espeak-ng sox soxi; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed (Debian packages espeak-ng, sox; scripts/setup.sh --test installs them)"
done
[ -f "$SCRIPT" ] || die "script $SCRIPT not found"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0; prev_end=0
agent=(); customer=()
while IFS=$'\t' read -r speaker start voice text || [ -n "${speaker:-}" ]; do
  [ -z "${speaker// /}" ] && continue
  case "$speaker" in \#*) continue ;; esac
  [ -n "${text:-}" ] || die "line $((n + 1)) of $SCRIPT: needs speaker, start, voice and text separated by tabs"
  case "$speaker" in agent|customer) ;; *) die "speaker must be agent or customer, not '$speaker'" ;; esac
  speed=150
  if [[ "$voice" == *+s* ]]; then speed="${voice##*+s}"; voice="${voice%+s*}"; fi
  n=$((n + 1))
  raw="$tmp/raw$n.wav"
  espeak-ng -v "$voice" -s "$speed" -w "$raw" -- "$text" 2>/dev/null || die "espeak-ng failed on line $n (voice $voice)"
  # Trim espeak's leading and trailing silence so the script's times are the speech's times.
  sox "$raw" -r 16000 -c 1 -b 16 "$tmp/u$n.wav" silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse norm -6
  dur=$(soxi -D "$tmp/u$n.wav")
  case "$start" in
    +*) at=$(awk -v p="$prev_end" -v d="${start#+}" 'BEGIN { printf "%.3f", p + d }') ;;
    -*) at=$(awk -v p="$prev_end" -v d="${start#-}" 'BEGIN { x = p - d; if (x < 0) x = 0; printf "%.3f", x }') ;;
    *) at=$(awk -v s="$start" 'BEGIN { printf "%.3f", s }') ;;
  esac
  end=$(awk -v a="$at" -v d="$dur" 'BEGIN { printf "%.3f", a + d }')
  sox "$tmp/u$n.wav" "$tmp/p$n.wav" pad "$at"
  if [ "$speaker" = agent ]; then agent+=("$tmp/p$n.wav"); else customer+=("$tmp/p$n.wav"); fi
  printf '%s\t%s\t%s\t%s\n' "$speaker" "$at" "$end" "$text"
  prev_end="$end"
done < "$SCRIPT"
[ "$n" -gt 0 ] || die "$SCRIPT has no utterances"

# One track per speaker, padded to the same length (a second of tail).
total=$(for f in "${agent[@]}" "${customer[@]}"; do soxi -D "$f"; done | sort -g | tail -1)
total=$(awk -v t="$total" 'BEGIN { printf "%.3f", t + 1.0 }')
track() { # OUT FILES...
  local out="$1"; shift
  sox -n -r 16000 -c 1 -b 16 "$tmp/silence.wav" trim 0 "$total"
  if [ $# -eq 0 ]; then cp "$tmp/silence.wav" "$out"; return; fi
  local args=() f
  for f in "$@"; do args+=(-v 1 "$f"); done
  sox -m -v 1 "$tmp/silence.wav" "${args[@]}" "$out" trim 0 "$total"
}
track "$tmp/agent.wav" "${agent[@]+"${agent[@]}"}"
track "$tmp/customer.wav" "${customer[@]+"${customer[@]}"}"
if [ "$MONO" = 1 ]; then
  sox -m -v 1 "$tmp/agent.wav" -v 1 "$tmp/customer.wav" "$tmp/mix.wav"
else
  sox -M "$tmp/agent.wav" "$tmp/customer.wav" "$tmp/mix.wav"
fi
opts=(-r "$RATE")
[ -n "$ENC" ] && opts+=(-e "$ENC")
sox "$tmp/mix.wav" "${opts[@]}" "$OUT"
