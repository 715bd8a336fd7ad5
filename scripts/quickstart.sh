#!/usr/bin/env bash
# First run on a fresh machine: installs what the build needs, fetches the
# models, builds callqa, scores the sample calls and chats in samples/ into
# the embedded SQLite database (callqa.db) and lists the stored results.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
cargo build --release --locked
./target/release/callqa analyze samples/
./target/release/callqa results
# Personal data is masked in everything stored: the agent read out a card
# number in this chat, and the transcript shows **** **** **** 7894.
./target/release/callqa results --job chat-zh-04
