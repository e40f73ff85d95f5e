#!/usr/bin/env bash
# The agent lifecycle end to end on a fresh home:
#   scripts/demo-agent.sh HOME
# creates the vault at HOME, pushes fixtures/agent/sample to a local bare repository, then
# discovers, installs (file:// with --allow-file-url), builds (--trust), enables, runs, shows
# status and logs, and stops the sample agent. Exits 0 and leaves no process behind.
# VAULTGATE_BIN names the binary (default: target/debug/vaultgate, else `vaultgate` on PATH).
set -euo pipefail

home=${1:?usage: scripts/demo-agent.sh HOME}
repo=$(cd "$(dirname "$0")/.." && pwd)
vg=${VAULTGATE_BIN:-}
if [[ -z "$vg" ]]; then
  if [[ -x "$repo/target/debug/vaultgate" ]]; then vg="$repo/target/debug/vaultgate"; else vg=vaultgate; fi
fi
unset VAULTGATE_TOKEN VAULTGATE_NOW
export VAULTGATE_HOME="$home"
id=org.vaultgate.sample
work=$(mktemp -d "${TMPDIR:-/tmp}/vg-demo.XXXXXX")
running=0

cleanup() {
  if [[ $running == 1 ]]; then "$vg" agent stop "$id" --timeout 2s >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

json() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
say() { printf '\n$ %s\n' "$*"; }

say vaultgate init
admin=$("$vg" --json init | json token)
export VAULTGATE_TOKEN="$admin"
say vaultgate token create --name demo-agent-ops --capability 'agent:*'
VAULTGATE_TOKEN=$("$vg" --json token create --name demo-agent-ops --capability 'agent:*' | json token)
export VAULTGATE_TOKEN

# The sample agent as a git repository with a tag, pushed to a bare repository.
cp -R "$repo/fixtures/agent/sample" "$work/sample"
python3 - "$work/sample/opensentience.agent.json" "file://$work/sample.git" <<'PY'
import json, sys
path, url = sys.argv[1], sys.argv[2]
m = json.load(open(path))
m["source"]["git_url"] = url
open(path, "w").write(json.dumps(m, indent=2) + "\n")
PY
g() { git -c user.name=demo -c user.email=demo@example.com -c init.defaultBranch=main -c commit.gpgsign=false "$@"; }
g init -q --bare "$work/sample.git"
(cd "$work/sample" && g init -q && g add -A && g commit -q -m sample && g tag v1.0.0 \
  && g push -q "$work/sample.git" HEAD:refs/heads/main v1.0.0)

say vaultgate agent discover --root "$work"
"$vg" agent discover --root "$work"
say vaultgate agent install $id --allow-file-url
"$vg" agent install "$id" --allow-file-url
say vaultgate agent build $id
"$vg" agent build "$id" || echo "(refused, as it must be: building runs the agent's code)"
say vaultgate agent build $id --trust
"$vg" agent build "$id" --trust
say vaultgate agent enable $id --all
"$vg" agent enable "$id" --all
say vaultgate agent run $id --heartbeat-interval 200ms
"$vg" agent run "$id" --heartbeat-interval 200ms
running=1

# Wait (bounded) for the first heartbeat to reach the log.
for _ in $(seq 1 200); do
  if "$vg" agent logs "$id" 2>/dev/null | grep -q 'heartbeat 1'; then break; fi
  sleep 0.05
done
say vaultgate agent status $id
"$vg" agent status "$id"
say vaultgate agent logs $id
"$vg" agent logs "$id"
say vaultgate agent stop $id
"$vg" agent stop "$id"
running=0
say vaultgate agent list
"$vg" agent list
