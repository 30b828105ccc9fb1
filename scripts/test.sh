#!/usr/bin/env bash
# The one test command (README, CI): installs what the tests need, then
# checks formatting and lints and runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/test-deps.sh
tests/browser/install.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
