#!/usr/bin/env bash
# How well mono calls' words land on the right speaker: two-channel calls
# (agent left, customer right) are mixed down and run through callqa's mono
# path (`callqa eval-diarize`); the channels are the truth.
#
# Inputs, all built here (rerun to reproduce; nothing is tuned to them):
#   synthetic  the sample call scripts (samples/calls/*.tsv) voiced by
#              espeak-ng twice: the customer in the agent's own voice (a
#              stress test no voice model can pass) and in a female
#              variant (en+f3, cmn-latn-pinyin+f3)
#   samples    the dual-channel sample calls as shipped (samples/calls)
#   real       real speech from the evaluation recordings
#              (scripts/fetch-speech-eval.sh): two different people's
#              clips cut into alternating turns; real3: three people, the
#              third on the customer's channel
# each at 16 kHz and as 8 kHz µ-law telephone audio.
#
# Usage: scripts/eval-diarize.sh [--quick]   (--quick: 16 kHz only)
# Env: CALLQA_BIN (a built callqa binary), CALLQA_CACHE, CALLQA_EVAL_DIR (keep
# the recordings there instead of a temporary directory).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
QUICK=0; [ "${1:-}" = "--quick" ] && QUICK=1
# Reproducible inputs: no dither (sox dithers with a random seed whenever it
# writes 16 bits after mixing, so every run built slightly different mixes
# and the figures moved by up to 19 words a mix), fixed seeds. Exported, so
# scripts/synth-call.sh takes it too.
export SOX_OPTS="${SOX_OPTS:-} -D -R"
CACHE="${CALLQA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/callqa}"
SPEECH="$CACHE/speech-eval/16k"
[ -d "$SPEECH" ] || scripts/fetch-speech-eval.sh >&2
# CALLQA_BIN: a callqa binary already built (default: a release build).
BIN="${CALLQA_BIN:-target/release/callqa}"
[ -n "${CALLQA_BIN:-}" ] || cargo build --release --locked >&2
if [ -n "${CALLQA_EVAL_DIR:-}" ]; then work="$CALLQA_EVAL_DIR"; mkdir -p "$work"
else work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
mkdir -p "$work/en" "$work/zh"

# Synthetic: each sample script as two-channel audio, voiced twice: the
# customer with the agent's own voice ("same": one voice model could
# separate; roles then come from what is said) and with a female variant
# ("f3").
for script in samples/calls/*.tsv; do
  name=$(basename "$script" .tsv)
  case "$name" in zh*) lang=zh ;; *) lang=en ;; esac
  for v in same f3; do
    awk -F'\t' -v v="$v" 'BEGIN { OFS = "\t" } /^#/ || NF < 4 { print; next }
      $1 == "customer" {
        zh = ($3 ~ /^cmn/); speed = ""; if (match($3, /\+s[0-9]+$/)) speed = substr($3, RSTART)
        if (v == "same") $3 = (zh ? "cmn-latn-pinyin" : "en-us") speed
        else $3 = (zh ? "cmn-latn-pinyin+f3" : "en+f3") speed
      } { print }' "$script" > "$work/$name-$v.tsv"
    scripts/synth-call.sh "$work/$name-$v.tsv" "$work/$lang/syn-$name-$v.wav" >/dev/null
  done
done

# The dual-channel sample calls themselves, as shipped (their two sides are
# espeak voices: en-call-01 en-us against a female British variant (until
# 2026-12-04 en-gb, the agent's own speaker with another accent, which the
# "same" rows still stress); zh-call-01 one Mandarin voice on both sides).
for f in samples/calls/en-call-01.mp3 samples/calls/zh-call-01.flac; do
  name=$(basename "${f%.*}")
  case "$name" in zh*) lang=zh ;; *) lang=en ;; esac
  sox "$f" -r 16000 -b 16 "$work/$lang/sample-$name.wav"
done

# Real speech: alternate pieces of two people's recordings, agent left.
# mix OUT SPEC...   SPEC = channel(0|1):file:start:length (seconds)
mix() {
  local out="$1"; shift
  local t=0.5 n=0 spec ch f s l d left=() right=()
  for spec in "$@"; do
    IFS=: read -r ch f s l <<< "$spec"
    n=$((n + 1))
    sox "$SPEECH/$f.wav" -r 16000 -c 1 -b 16 "$work/piece$n.wav" trim "$s" "$l"
    d=$(soxi -D "$work/piece$n.wav")
    sox "$work/piece$n.wav" "$work/pad$n.wav" pad "$t"
    if [ "$ch" = 0 ]; then left+=("$work/pad$n.wav"); else right+=("$work/pad$n.wav"); fi
    t=$(awk -v t="$t" -v d="$d" 'BEGIN { printf "%.3f", t + d + 0.6 }')
  done
  local total; total=$(awk -v t="$t" 'BEGIN { printf "%.3f", t + 0.5 }')
  sox -n -r 16000 -c 1 -b 16 "$work/silence.wav" trim 0 "$total"
  track() { local o="$1"; shift; local a=() x; for x in "$@"; do a+=(-v 1 "$x"); done
    sox -m -v 1 "$work/silence.wav" "${a[@]}" "$o" trim 0 "$total"; }
  track "$work/left.wav" "${left[@]}"
  track "$work/right.wav" "${right[@]}"
  sox -M "$work/left.wav" "$work/right.wav" "$out"
}
# The MFA author's spontaneous speech against a LibriVox reader.
mix "$work/en/real-mfa-librivox.wav" \
  0:en_mfa_acoustic_corpus:0:5.5 1:en_ps_librivox_0870:0:7.1 0:en_mfa_acoustic_corpus:5.5:6 \
  1:en_ps_librivox_0890:0:5.3 0:en_mfa_cold_corpus:0:6 1:en_ps_librivox_0920:0:6.05 \
  0:en_mfa_cold_corpus:6:5 1:en_ps_librivox_0880:0:2.99
# President Kennedy against a LibriSpeech speaker.
mix "$work/en/real-jfk-librispeech.wav" \
  1:en_mfa_61-70968-0000:0:2.4 0:en_asrfront_jfk:0:5.5 1:en_mfa_61-70968-0000:2.4:2.6 0:en_asrfront_jfk:5.5:5.5
# A phone recording of one reader against the AISHELL-1 speaker, and the
# same reader against the FunASR example's speaker.
mix "$work/zh/real-daobidao-aishell.wav" \
  0:zh_daobidao_chushibiao:0:5.3 1:zh_aishell_BAC009S0764W0121:0:4.2 0:zh_daobidao_chushibiao:5.3:5.3
mix "$work/zh/real-daobidao-funasr.wav" \
  0:zh_daobidao_long:6:6 1:zh_fasr_vad_example:0:7 0:zh_daobidao_long:12:6 \
  1:zh_fasr_vad_example:7:7 0:zh_daobidao_long:18:6 1:zh_fasr_vad_example:14:7

# Three people: the same two plus a third on the customer's side (a
# relative taking the phone), who should be a voice of their own and named
# customer: the MFA author against a LibriVox reader and President Kennedy;
# the phone reader against the FunASR speaker and the F5-TTS film line.
mix "$work/en/real3-mfa-librivox-jfk.wav" \
  0:en_mfa_acoustic_corpus:0:5.5 1:en_ps_librivox_0870:0:7.1 1:en_asrfront_jfk:0:5.5 \
  0:en_mfa_acoustic_corpus:5.5:6 1:en_ps_librivox_0890:0:5.3 1:en_asrfront_jfk:5.5:5.5 \
  0:en_mfa_cold_corpus:0:6
mix "$work/zh/real3-daobidao-funasr-f5.wav" \
  0:zh_daobidao_long:6:6 1:zh_fasr_vad_example:0:7 1:zh_f5_taiyi:0:3.4 \
  0:zh_daobidao_long:12:6 1:zh_fasr_vad_example:7:7 1:zh_f5_taiyi:3.4:3.36 \
  0:zh_daobidao_long:18:6

conditions="16k"; [ "$QUICK" = 1 ] || conditions="16k tel"
for lang in en zh; do
  for cond in $conditions; do
    files=()
    for f in "$work/$lang"/*.wav; do
      if [ "$cond" = tel ]; then
        t="$work/$lang/tel-$(basename "$f")"
        case "$f" in */tel-*) continue ;; esac
        sox "$f" -r 8000 -e mu-law "$t"
        files+=("$t")
      else
        case "$f" in */tel-*) continue ;; esac
        files+=("$f")
      fi
    done
    echo "## $lang, $cond (load average $(cut -d' ' -f1 /proc/loadavg))"
    "$BIN" eval-diarize --lang "$lang" "${files[@]}"
  done
done
