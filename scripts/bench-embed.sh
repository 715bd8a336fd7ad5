#!/usr/bin/env bash
# Both text encoders in one run (benches/embed.rs): utterances per second
# through USE and multilingual-e5-small, and 20-turn chats per second through
# the embed stage, with the load average before and after, since other work
# on a shared 2-core machine skews the figure. Needs scripts/setup.sh first.
# The time is spent in ONNX Runtime (a prebuilt library) and in dependencies
# that the dev profile already builds at opt-level 3, so PROFILE=dev (the
# default) measures the same inference without a release build of every
# dependency; PROFILE=bench gives the release build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "cores: $(nproc); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench --locked --profile "${PROFILE:-dev}" --bench embed -- "$@"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
