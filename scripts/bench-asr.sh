#!/usr/bin/env bash
# Speech recognition speed (benches/asr.rs): real-time factor of the whole
# call path and of plain whisper.cpp on the same 70-second dual-channel
# call, and peak memory, with the load average around it (other work on a
# shared 2-core machine skews the figures). Needs scripts/setup.sh --test.
# Env: CALLQA_BENCH_RUNS (3), CALLQA_ASR_MODEL (ggml-base.bin; ggml-tiny.en.bin).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "cores: $(nproc); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench --locked --bench asr
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
