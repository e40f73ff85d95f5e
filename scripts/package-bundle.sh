#!/usr/bin/env bash
# A release example: pack a tree reproducibly, print the digests a release publishes, then gate
# the bundle with both digests pinned.
# Usage: scripts/package-bundle.sh [DIR] [BUNDLE] [CHECK]
#   default: the repository's fixtures/gate/demo, target/demo-bundle.zip, 'sh checks.sh'
#   VAULTGATE=/path/to/vaultgate uses that binary instead of building the repository's.
set -euo pipefail
# Paths are taken relative to where the script is called from; the defaults are in the repository.
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$repo/fixtures/gate/demo}
bundle=${2:-$repo/target/demo-bundle.zip}
check=${3:-sh checks.sh}
if [ -n "${VAULTGATE:-}" ]; then
  vg=$VAULTGATE
else
  cargo build --locked -q --manifest-path "$repo/Cargo.toml"
  vg=$repo/target/debug/vaultgate
fi
mkdir -p "$(dirname "$bundle")"

# Timestamps from the last commit when in git, for reproducible bundles across machines.
if [ -z "${SOURCE_DATE_EPOCH:-}" ] && epoch=$(git -C "$dir" log -1 --format=%ct 2>/dev/null); then
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
