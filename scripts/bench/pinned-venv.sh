# Sourced by scripts that run a Python tool from pinned wheels
# (bench-asr.sh, speech-eval/try-muggle-speech.sh). Needs CACHE, PY, log, die.
# pinned_venv NAME REQ: a venv in $CACHE/bench/NAME-cpXY-<hash of REQ> with
# every package of REQ installed from wheels, no dependencies resolved;
# installed once, then reused. Sets VENV.
pinned_venv() {
  local name="$1" req="$2"
  VENV="$CACHE/bench/$name-$("$PY" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')-$(sha256sum < "$req" | cut -c1-12)"
  [ -f "$VENV/.complete" ] && return 0
  log "install  $name tools ($req) into $VENV"
  rm -rf "$VENV"; mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-cache-dir --only-binary :all: --no-deps \
      --progress-bar off -q -r "$req" > "$VENV.log" 2>&1 \
    || die "could not install $req from PyPI: $(grep -m2 ERROR "$VENV.log" | tr '\n' ' ') (log: $VENV.log)"
  touch "$VENV/.complete"
}
