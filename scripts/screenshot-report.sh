#!/usr/bin/env bash
# Remakes docs/report-zh.png and docs/report-en.png: the sample chats and
# calls analysed into a scratch SQLite file, then `callqa report --format
# html` for 2026-11 in Chinese and English, photographed by headless
# Chromium (Debian's package; installed by scripts/setup.sh --test).
#
#   scripts/screenshot-report.sh [--bin PATH] [--rules-only]
#
# --bin defaults to target/release/callqa (built if missing);
# --rules-only skips the text models (the pictures then lack semantic flags).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=target/release/callqa
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --rules-only) extra+=(--rules-only); shift ;;
    *) echo "usage: $0 [--bin PATH] [--rules-only]" >&2; exit 2 ;;
  esac
done
if [ ! -x "$bin" ]; then
  cargo build --release --locked --bin callqa
fi
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "screenshot-report: Chromium is missing; run scripts/setup.sh --test (Debian package chromium)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db="sqlite://$work/qa.db"
"$bin" --database "$db" --rules rules analyze samples/ "${extra[@]}" >/dev/null
for lang in zh en; do
  "$bin" --database "$db" --rules rules report --period 2026-11 --lang "$lang" \
    --format html --out "$work/report-$lang.html"
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=1280,2400 --screenshot="$work/report-$lang.png" \
    "file://$work/report-$lang.html" >/dev/null 2>&1
  cp "$work/report-$lang.png" "docs/report-$lang.png"
  echo "screenshot-report: docs/report-$lang.png"
done
