#!/usr/bin/env bash
# Benchmark: one `vaultgate envelope check` process, end to end, against an envelope of
# 1,000 globs (allow + deny + protected). Target: under 5 ms per check.
#
# Usage: scripts/bench-envelope.sh [RUNS]   (default 200)
# Uses hyperfine when installed (apt-get install -y hyperfine), else a loop with medians.
# Results go in docs/PERFORMANCE.md under `## envelope`.
set -euo pipefail

runs="${1:-200}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --release --locked --manifest-path "$repo/Cargo.toml" >/dev/null
bin="$repo/target/release/vaultgate"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/mod0" "$work/secrets"
echo 'fn main() {}' >"$work/src/mod0/file0.rs"

# 1,000 globs of every strategy globset has: literals, extensions, prefixes, `**`, classes.
python3 - "$work/envelope.json" <<'PY'
import json, sys
allow = [f"src/mod{i}/**/*.rs" for i in range(400)] + [f"docs/part{i}/*.md" for i in range(200)]
deny = [f"secrets{i}/**" for i in range(150)] + [f"**/*.key{i}" for i in range(100)] + ["secrets"]
protected = [f"ci/job{i}/[a-z]*.yml" for i in range(149)]
env = {"allow_ops": ["read", "write"], "allow_paths": allow, "deny_paths": deny,
       "protected_paths": protected, "max_budget_usd": 10}
assert len(allow) + len(deny) + len(protected) == 1000
json.dump(env, open(sys.argv[1], "w"))
PY

allow_cmd="$bin envelope check --envelope $work/envelope.json --root $work --op write --path src/mod0/file0.rs --cost 0.01"
deny_cmd="$bin envelope check --envelope $work/envelope.json --root $work --op write --path secrets/x --path ../out --cost 0.01"

# Sanity: the allowed check exits 0 and the denied one 1.
$allow_cmd >/dev/null
if $deny_cmd >/dev/null; then echo "expected a denial" >&2; exit 1; fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 20 --runs "$runs" -i --style basic \
    --export-markdown "$work/bench.md" --export-json "$work/bench.json" \
    -n "check (allow, 1000 globs)" "$allow_cmd" \
    -n "check (deny, 1000 globs)" "$deny_cmd" \
    -n "vaultgate --version (process floor)" "$bin --version" >/dev/null
  cat "$work/bench.md"
  python3 - "$work/bench.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"{r['command']}: median {r['median']*1000:.2f} ms, min {r['min']*1000:.2f} ms, "
          f"user {r['user']*1000:.2f} ms, system {r['system']*1000:.2f} ms")
PY
else
  for name in allow deny; do
    cmd="${name}_cmd"
    python3 - "$runs" ${!cmd} <<'PY'
import statistics, subprocess, sys, time
runs, argv = int(sys.argv[1]), sys.argv[2:]
times = []
for _ in range(runs):
    t = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL)
    times.append((time.perf_counter() - t) * 1000)
times.sort()
print(f"{argv[-1]}: median {statistics.median(times):.2f} ms, p90 {times[int(runs*0.9)]:.2f} ms, min {times[0]:.2f} ms")
PY
  done
fi
