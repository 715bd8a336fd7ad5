#!/usr/bin/env bash
# Runs callqa's whole test suite against the real models, a real RabbitMQ
# and a real PostgreSQL (set up first by scripts/setup.sh --test).
# Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh --test
export CALLQA_TEST_POSTGRES="${CALLQA_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/callqa_test}"
export CALLQA_TEST_AMQP="${CALLQA_TEST_AMQP:-amqp://guest:guest@127.0.0.1:5672/%2f}"
cargo test --locked "$@"
