#!/usr/bin/env bash
# Utterances per second through the text models (benches/embed.rs), with
# the load average before and after, since other work on a shared 2-core
# machine skews the figure. Needs scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "cores: $(nproc); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench --locked --bench embed -- "$@"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
