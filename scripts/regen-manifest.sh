#!/usr/bin/env bash
# Regenerate the repository's own manifest.txt with the tool itself (run before every commit
# that changes a listed file). What it covers: every file of the repository except manifest.txt
# itself and the default excludes (.git/, target/, __pycache__/, *.pyc, .pytest_cache/,
# .DS_Store, node_modules/) -- the same rule `.ci/run` verifies on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked -q
./target/debug/vaultgate manifest generate . -o manifest.txt
# A file git ignores (a fuzz corpus, a local report) is not in a clone, so listing it would fail
# CI's verify on a fresh checkout. Refuse, and put the committed manifest back.
ignored=$(grep -v '^\\' manifest.txt | cut -c67- | git check-ignore --stdin || true)
if [ -n "$ignored" ]; then
  git checkout -q -- manifest.txt 2>/dev/null || true
  echo "regen-manifest: refusing: these files are ignored by git, so a clone will not have them:" >&2
  printf '  %s\n' $ignored | head -20 >&2
  echo "help: remove them (e.g. rm -rf fuzz/corpus fuzz/artifacts) and run again" >&2
  exit 1
fi
