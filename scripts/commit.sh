#!/usr/bin/env bash
# Commits only if formatting and lints pass: keeps main green.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all
cargo clippy --all-targets --quiet -- -D warnings
git add -A
git commit -q -m "$1"
git log --oneline -1
