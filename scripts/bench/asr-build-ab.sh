#!/usr/bin/env bash
# CPU cost of two callqa revisions on the two sample calls, side by side:
# builds each revision (a git worktree under $TMPDIR, the dev profile, whose
# dependencies are optimised) and runs scripts/bench/asr-config-ab.sh with
# each binary in turn (the default settings, one ASR thread per window),
# alternating, RUNS rounds. For changes that no setting switches, such as
# the encoder context in multiples of 16 frames and the even windows in
# docs/calls.md:
#   scripts/bench/asr-build-ab.sh 3 c75a36e f982815
#   scripts/bench/asr-build-ab.sh 3 f982815 05e5fe5
# Needs the models (scripts/fetch-models.sh). Builds share this checkout's
# target directory, so only callqa itself is compiled again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[ $# -eq 3 ] || { echo "usage: $0 RUNS REV_A REV_B" >&2; exit 2; }
RUNS="$1"; shift
work=$(mktemp -d)
trap 'for r in a b; do git worktree remove --force "$work/$r" 2>/dev/null || true; done; rm -rf "$work"' EXIT
target="${CARGO_TARGET_DIR:-$PWD/target}"
: > "$work/none.toml"
names=(a b)
for i in 0 1; do
  rev="${@:i+1:1}"; n="${names[$i]}"
  git worktree add -q --detach "$work/$n" "$rev"
  (cd "$work/$n" && CARGO_TARGET_DIR="$target" cargo build --locked -q --bin callqa)
  cp "$target/debug/callqa" "$work/callqa-$n"
  echo "$n = $rev ($(git rev-parse --short "$rev"))"
done
for r in $(seq "$RUNS"); do
  for n in a b; do
    CALLQA_BIN="$work/callqa-$n" scripts/bench/asr-config-ab.sh 1 "$work/none.toml" | sed "s/^run 1 /run $r $n /"
  done
done
