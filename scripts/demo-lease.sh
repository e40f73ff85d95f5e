#!/usr/bin/env bash
# Walk a fresh vault home through the whole lease and grant flow, printing each step:
#   init → provider → asset → ingest scan → bind → lease mint → lease exec (a child that
#   proves it received the secret without printing it) → revoke → grant mint → grant consume.
#
# Usage: scripts/demo-lease.sh HOME      (HOME must not exist yet)
# Uses the vaultgate on PATH, or $VAULTGATE_BIN. Exits 0 when every step did what it should.
set -euo pipefail

home=${1:?usage: demo-lease.sh HOME (a folder that does not exist yet)}
vg=${VAULTGATE_BIN:-vaultgate}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset VAULTGATE_TOKEN VAULTGATE_HOME

step() { printf '\n== %s\n' "$*"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

step "init"
admin=$("$vg" --home "$home" --json init | json 'd["token"]')
echo "vault created at $home (admin token stored in a variable, not shown)"
export VAULTGATE_TOKEN=$admin
builder=$("$vg" --home "$home" --json token create --name codex-builder --role 3B-secret-lease --project c1-vocab | json 'd["token"]')
operator=$("$vg" --home "$home" --json token create --name release-operator --role operator | json 'd["token"]')
echo "tokens: codex-builder (role 3B-secret-lease), release-operator (role operator)"

step "provider"
"$vg" --home "$home" provider add gemini --capability ai.gemini.inference

step "asset"
project=$work/c1-vocab
mkdir -p "$project/src"
printf '{"schema":"vaultgate/capabilities/v1","capabilities":["ai.gemini.inference"]}\n' > "$project/vaultgate.capabilities.json"
printf '#!/bin/sh\necho building the vocabulary\n' > "$project/src/build.sh"
"$vg" --home "$home" asset register c1-vocab --owner team-c1 --path "$project"

step "ingest scan"
ingest=$("$vg" --home "$home" --json ingest scan "$project" | json 'd["ingests"][0]["id"]')
"$vg" --home "$home" ingest show "$ingest"

step "bind"
"$vg" --home "$home" ingest bind "$ingest" --scope ai.gemini.inference --max-ttl 1h

step "lease mint"
export VAULTGATE_TOKEN=$builder
lease_json=$("$vg" --home "$home" --json lease mint --ingest "$ingest" --scope ai.gemini.inference --ttl 10m)
handle=$(printf '%s' "$lease_json" | json 'd["lease"]["handle"]')
fingerprint=$(printf '%s' "$lease_json" | json 'd["lease"]["fingerprint"]')
"$vg" --home "$home" lease show "$handle"

step "lease exec"
# The child recomputes the fingerprint from what it received and compares it with the one
# `lease mint` printed: proof of receipt without the secret ever being printed.
"$vg" --home "$home" lease exec "$handle" --env API_KEY -- python3 -c '
import hashlib, os, sys
m = bytes.fromhex(os.environ["API_KEY"])
fp = hashlib.sha256(b"vaultgate/lease-fingerprint/v1\0" + m).hexdigest()
if fp != sys.argv[1]:
    sys.exit("child got a different secret")
print("child received the secret (fingerprint matches; value not shown)")
' "$fingerprint"

step "revoke"
"$vg" --home "$home" lease revoke "$handle" --reason "demo finished"
if "$vg" --home "$home" lease exec "$handle" -- /bin/true >/dev/null 2>&1; then
  echo "a revoked lease was usable" >&2; exit 1
fi
echo "a revoked lease can no longer be used through vaultgate"

step "grant mint"
export VAULTGATE_TOKEN=$operator
line=$("$vg" --home "$home" grant mint --request "$here/fixtures/grant/apr-c1.json")
echo "$line"
[ "$line" = OK ]
again=$("$vg" --home "$home" grant mint --request "$here/fixtures/grant/apr-c1.json")
echo "again: $again (idempotent: still one grant)"
[ "$again" = OK ]

step "grant consume"
line=$("$vg" --home "$home" grant consume GBA-C1-APR-C1-0001)
echo "$line"
[ "$line" = OK ]
second=$("$vg" --home "$home" grant consume GBA-C1-APR-C1-0001 || true)
echo "second consume: $second"
[ "$second" = FAIL:reject_auth_already_consumed ]

step "audit"
export VAULTGATE_TOKEN=$admin
"$vg" --home "$home" audit verify
echo
echo "demo complete"
