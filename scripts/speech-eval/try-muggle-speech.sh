#!/usr/bin/env bash
# Measures muggle-speech 0.1.1 (麻瓜语音, PyPI; a Mandarin Transformer ASR
# trained on AISHELL-1/-3 and MAGICDATA, shipped as complete ONNX files) on
# the scored Mandarin clips of scripts/fetch-speech-eval.sh, at 16 kHz and as
# 8 kHz µ-law telephone audio, with the package's own front end and greedy
# decoding re-implemented in scripts/speech-eval/muggle_run.py (the package
# imports resampy, numba, librosa and pydub at import time; none is needed).
# Prints the CER per clip and overall over Chinese characters and digits
# (a simpler normalisation than callqa eval-asr's, which also folds traditional
# characters and Chinese numerals; the references and outputs here have
# neither, so the counts are the same). The figures are in docs/speech-eval.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
CACHE="${CALLQA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/callqa}"
PY="${PYTHON:-python3}"
log() { printf 'callqa: %s\n' "$*" >&2; }
die() { printf 'callqa: error: %s\n' "$*" >&2; exit 1; }
for tool in "$PY" sox soxi sha256sum curl; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required (scripts/setup.sh --test)"
done

SDIST_URL=https://files.pythonhosted.org/packages/e9/f3/7d5d3862afff11e1e1b4f58cb8cfebc47c2d30faf484ced6a686d32a5f43/muggle_speech-0.1.1.tar.gz
SDIST_SHA=587ea4e57d81a3f280c86becd4373766076e3181c55df97e60e293885835c656
PKG="$CACHE/downloads/muggle-speech-0.1.1"
if [ ! -f "$PKG/.complete" ]; then
  log "download muggle-speech==0.1.1 (sdist, 65 MB)"
  rm -rf "$PKG"; mkdir -p "$PKG"
  curl -fsSL -o "$PKG/sdist.tar.gz" "$SDIST_URL"
  [ "$(sha256sum < "$PKG/sdist.tar.gz" | cut -d' ' -f1)" = "$SDIST_SHA" ] || die "muggle_speech-0.1.1.tar.gz does not match its pinned sha256"
  tar -xzf "$PKG/sdist.tar.gz" -C "$PKG"
  touch "$PKG/.complete"
fi

. scripts/bench/pinned-venv.sh
pinned_venv muggle scripts/speech-eval/muggle_requirements.txt

EVAL="$(scripts/fetch-speech-eval.sh --print-dir)"
[ -f "$EVAL/refs.tsv" ] || scripts/fetch-speech-eval.sh
exec "$VENV/bin/python" scripts/speech-eval/muggle_run.py "$PKG/muggle_speech-0.1.1/muggle_speech" "$EVAL"
