#!/usr/bin/env bash
# Prepares a machine to build and run callqa: Debian packages the build and
# the tests need, then the models (scripts/fetch-models.sh, cached) and the
# sentiment head trained on them (scripts/train-sentiment.sh, cached).
#
# Usage: scripts/setup.sh [--test]
#   --test   also install what the tests need (espeak-ng, sox, chromium) and
#            make sure RabbitMQ and PostgreSQL run (scripts/services.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'callqa: %s\n' "$*"; }
die() { printf 'callqa: error: %s\n' "$*" >&2; exit 1; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

TEST=0
[ "${1:-}" = "--test" ] && TEST=1

command -v cargo >/dev/null || die "cargo not found: install Rust from https://rustup.rs first"

# Debian packages: command to look for, package providing it.
need=()
check() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
check cmake cmake            # whisper.cpp is built from source by whisper-rs
check cc gcc
check c++ g++
check python3 python3        # model conversion (scripts/fetch-models.sh)
check pip3 python3-pip
check espeak-ng espeak-ng    # sample and test recordings
check sox sox
# whisper-rs generates its bindings to whisper.cpp with bindgen: libclang.
ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang*.so >/dev/null 2>&1 \
  || need+=(libclang-dev)
# MP3 for sox (tests write MP3 recordings; decoding them is callqa's own).
if [ "$TEST" = 1 ] && ! { command -v sox >/dev/null && sox -h 2>/dev/null | grep -qw mp3; }; then
  need+=(libsox-fmt-mp3)
fi
if [ "$TEST" = 1 ]; then
  check chromium chromium    # end-to-end test of the review page
  check chromedriver chromium-driver
  # Chinese glyphs in the page's screenshots (docs/*.png), not tofu boxes.
  fc-list 2>/dev/null | grep -qi "wenquanyi zen hei" || need+=(fonts-wqy-zenhei)
fi
if [ ${#need[@]} -gt 0 ]; then
  log "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null \
    || die "apt-get install ${need[*]} failed"
fi

scripts/fetch-models.sh
# The sentiment head is trained here (once; cached by corpora, encoder and
# code checksums), not downloaded: see docs/models.md.
scripts/train-sentiment.sh

if [ "$TEST" = 1 ]; then
  # Real recordings with reference transcripts (tests/asr.rs, callqa eval-asr).
  scripts/fetch-speech-eval.sh >/dev/null
  scripts/services.sh
fi
