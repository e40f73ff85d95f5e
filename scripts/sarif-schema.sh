#!/usr/bin/env bash
# Put the published SARIF 2.1.0 JSON schema where tests/sarif.rs looks for it
# (target/sarif-schema/sarif-schema-2.1.0.json, or the path given as $1), taken from the npm
# registry package @microsoft/jest-sarif, which ships it as lib/schemas/sarif-2.1.0-rtm.5.json
# (MIT). The schema is not committed: it is third-party data, installed like any other tool the
# tests need. .ci/run calls this; without it the SARIF tests say SKIPPED (and fail in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/sarif-schema/sarif-schema-2.1.0.json}
pkg='@microsoft/jest-sarif@1.0.0-beta.0'
if [ -s "$out" ]; then echo "sarif schema: $out (present)"; exit 0; fi
command -v npm >/dev/null 2>&1 || { echo "sarif-schema: npm is needed to fetch $pkg" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/schemas/sarif-2.1.0-rtm.5.json
mkdir -p "$(dirname "$out")"
# Validate it is the schema before putting it in place (write to a temp name, then rename).
python3 - "$tmp/package/lib/schemas/sarif-2.1.0-rtm.5.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s.get("$schema", "").startswith("http://json-schema.org/draft-04/schema"), "not a draft-04 schema"
assert "2.1.0" in s.get("title", ""), "not the SARIF 2.1.0 schema"
PY
cp "$tmp/package/lib/schemas/sarif-2.1.0-rtm.5.json" "$out.tmp"
mv "$out.tmp" "$out"
echo "sarif schema: $out (from $pkg)"
