#!/usr/bin/env bash
# A release example: pack a tree reproducibly, print the digests a release publishes, then gate
# the bundle with both digests pinned.
# Usage: scripts/package-bundle.sh [DIR] [BUNDLE] [CHECK]
#   default: fixtures/gate/demo  target/demo-bundle.zip  'sh checks.sh'
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-fixtures/gate/demo}
bundle=${2:-target/demo-bundle.zip}
check=${3:-sh checks.sh}
cargo build --locked -q
vg=./target/debug/vaultgate
mkdir -p "$(dirname "$bundle")"

# Timestamps from the last commit when in git, for reproducible bundles across machines.
if [ -z "${SOURCE_DATE_EPOCH:-}" ] && epoch=$(git log -1 --format=%ct 2>/dev/null); then
  export SOURCE_DATE_EPOCH=$epoch
fi

out=$("$vg" zip pack "$dir" -o "$bundle" --json)
bundle_sha=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bundle_sha256"])')
manifest_sha=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest_sha256"])')
echo "bundle:          $bundle"
echo "bundle sha256:   $bundle_sha"
echo "manifest sha256: $manifest_sha"

report=$(mktemp -d "${TMPDIR:-/tmp}/gate-report.XXXXXX")
"$vg" gate "$bundle" --expect-sha256 "$bundle_sha" --expect-manifest "$manifest_sha" \
  --run "$check" --report "$report" --force
echo "report: $report"
