#!/usr/bin/env bash
# Regenerate the repository's own manifest.txt with the tool itself (run before every commit
# that changes a listed file). What it covers: every file of the repository except manifest.txt
# itself and the default excludes (.git/, target/, __pycache__/, *.pyc, .pytest_cache/,
# .DS_Store, node_modules/) -- the same rule `.ci/run` verifies on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked -q
./target/debug/vaultgate manifest generate . -o manifest.txt
