#!/usr/bin/env bash
# Agent lifecycle benchmarks (results in docs/PERFORMANCE.md, section "agent"):
#   scripts/bench-agent.sh [RUNS]       (RUNS: repetitions of run/stop timings, default 10)
# 1. `agent discover` over 10,000 folders holding 200 manifests: first discovery (records 200
#    catalog rows and audit events in one transaction) and a re-discovery (nothing changed).
# 2. `agent run` wall time until it returns (the agent is running), and `agent stop`.
# 3. `agent stop --timeout 1s` of an agent that ignores SIGTERM: overhead beyond the timeout.
# 4. Log capture: an agent writing 256 MiB of 64-byte lines as fast as it can, timed by the
#    agent itself, through the capture versus the same script writing to /dev/null.
set -euo pipefail
runs=${1:-10}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
cargo build --release --locked -q
vg="$repo/target/release/vaultgate"
work=$(mktemp -d /tmp/vgbench.XXXXXX)
export VAULTGATE_HOME="$work/h"
unset VAULTGATE_TOKEN VAULTGATE_NOW
cleanup() {
  for id in com.bench.sleeper com.bench.term com.bench.writer; do
    "$vg" --token-file "$work/token" agent stop "$id" --timeout 1s >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
echo "machine: $(nproc) cores, $(uptime | sed 's/.*load average/load average/')"

cat > "$work/reset.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
rm -rf "$work/h"
admin=\$("$vg" --json init | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
umask 077
VAULTGATE_TOKEN=\$admin "$vg" --json token create --name bench --capability 'agent:*' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' > "$work/token"
SH
bash "$work/reset.sh"

echo "== 1. discover: 10,000 folders, 200 manifests"
python3 - "$work/tree" <<'PY'
import json, os, sys
root = sys.argv[1]
n = 0
for g in range(100):
    for r in range(100):
        d = os.path.join(root, f"g{g:02d}", f"r{r:02d}")
        os.makedirs(d)
        if (g * 100 + r) % 50 == 0:
            m = {"id": f"com.bench.a{n}", "name": f"bench {n}", "version": "1.0.0",
                 "description": "benchmark agent", "source": {"git_url": "https://example.com/a.git"},
                 "entrypoint": {"type": "command", "value": "bin/agent.sh"},
                 "permissions": ["filesystem:read:/data/**", "network:egress:api.example.com"],
                 "capabilities": ["tools"]}
            with open(os.path.join(d, "opensentience.agent.json"), "w") as f:
                json.dump(m, f)
            n += 1
print(f"tree: {sum(len(ds) for _, ds, _ in os.walk(root))} folders, {n} manifests")
PY
hyperfine -N --warmup 0 --runs 5 --prepare "bash $work/reset.sh" \
  "$vg --token-file $work/token agent discover --root $work/tree" --export-json "$work/d1.json" | grep -E 'Time|Range'
hyperfine -N --warmup 1 --runs 10 \
  "$vg --token-file $work/token agent discover --root $work/tree" | grep -E 'Time|Range'

echo "== fixture agents"
mk() { # id script
  local d="$work/src/$1"; mkdir -p "$d/bin"
  printf '%s' "$2" > "$d/bin/agent.sh"; chmod +x "$d/bin/agent.sh"
  python3 - "$d/opensentience.agent.json" "$1" "file://$work/git/$1.git" <<'PY'
import json, sys
json.dump({"id": sys.argv[2], "name": sys.argv[2], "version": "1", "description": "bench",
           "source": {"git_url": sys.argv[3]}, "entrypoint": {"type": "command", "value": "bin/agent.sh"},
           "permissions": [], "capabilities": []}, open(sys.argv[1], "w"))
PY
  git -c init.defaultBranch=main init -q --bare "$work/git/$1.git"
  (cd "$d" && git -c init.defaultBranch=main init -q && git add -A && git -c user.name=b -c user.email=b@e -c commit.gpgsign=false commit -q -m b \
    && git push -q "$work/git/$1.git" HEAD:refs/heads/main)
}
mk com.bench.sleeper $'#!/bin/sh\nexec sleep 100000\n'
mk com.bench.term $'#!/bin/sh\ntrap \'\' TERM\necho ready\nwhile :; do sleep 1; done\n'
mk com.bench.writer $'#!/bin/sh\ns=$(date +%s%N)\nyes "a log line of sixty-four bytes as an agent might print it, ok." | head -c 268435456\ne=$(date +%s%N)\necho "write_ns=$((e-s))" >&2\n'
v() { "$vg" --token-file "$work/token" "$@"; }
v agent discover --root "$work/src" >/dev/null
for id in com.bench.sleeper com.bench.term com.bench.writer; do
  v agent install "$id" --allow-file-url >/dev/null
  v agent build "$id" --trust >/dev/null
  v agent enable "$id" --all >/dev/null
done

echo "== 2. run returns (wall ms) / stop of a TERM-obeying agent (wall ms), $runs runs"
python3 - "$vg" "$work/token" "$runs" <<'PY'
import json, statistics, subprocess, sys, time
vg, tok, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
run_ms, inner, stop_ms = [], [], []
for _ in range(n):
    t = time.perf_counter()
    out = subprocess.run([vg, "--json", "--token-file", tok, "agent", "run", "com.bench.sleeper"], capture_output=True, check=True)
    run_ms.append((time.perf_counter() - t) * 1000)
    inner.append(json.loads(out.stdout)["elapsed_ms"])
    t = time.perf_counter()
    subprocess.run([vg, "--token-file", tok, "agent", "stop", "com.bench.sleeper"], capture_output=True, check=True)
    stop_ms.append((time.perf_counter() - t) * 1000)
q = lambda v: f"median {statistics.median(v):.1f}, min {min(v):.1f}, max {max(v):.1f}"
print(f"agent run (whole process): {q(run_ms)} ms; monitor start to running (inside run): {q(inner)} ms")
print(f"agent stop (whole process): {q(stop_ms)} ms")
PY

echo "== 3. stop --timeout 1s of a TERM-ignoring agent: overhead beyond 1000 ms"
python3 - "$vg" "$work/token" "$runs" "$VAULTGATE_HOME" <<'PY'
import json, os, statistics, subprocess, sys, time
vg, tok, n, home = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
over, inner = [], []
for _ in range(max(3, n // 2)):
    out = json.loads(subprocess.run([vg, "--json", "--token-file", tok, "agent", "run", "com.bench.term"], capture_output=True, check=True).stdout)
    log = os.path.join(home, "logs", "com.bench.term", out["run_id"], "stdout.log")
    deadline = time.time() + 10
    while time.time() < deadline and "ready" not in (open(log).read() if os.path.exists(log) else ""):
        time.sleep(0.01)
    t = time.perf_counter()
    s = json.loads(subprocess.run([vg, "--json", "--token-file", tok, "agent", "stop", "com.bench.term", "--timeout", "1s"], capture_output=True, check=True).stdout)
    over.append((time.perf_counter() - t) * 1000 - 1000)
    inner.append(s["elapsed_ms"] - 1000)
    assert s["escalated"], s
print(f"whole stop process beyond the timeout: median {statistics.median(over):.1f} ms (max {max(over):.1f}); "
      f"TERM..group-gone beyond the timeout (inside stop): median {statistics.median(inner):.1f} ms (max {max(inner):.1f})")
PY

echo "== 4. log capture throughput (256 MiB of 64-byte lines)"
python3 - "$vg" "$work/token" "$VAULTGATE_HOME" "$work/src/com.bench.writer/bin/agent.sh" <<'PY'
import json, os, re, statistics, subprocess, sys, time
vg, tok, home, script = sys.argv[1:5]
def direct():
    p = subprocess.run(["sh", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    return int(re.search(rb"write_ns=(\d+)", p.stderr).group(1)) / 1e9
def captured():
    out = json.loads(subprocess.run([vg, "--json", "--token-file", tok, "agent", "run", "com.bench.writer"], capture_output=True, check=True).stdout)
    err = os.path.join(home, "logs", "com.bench.writer", out["run_id"], "stderr.log")
    deadline = time.time() + 120
    while time.time() < deadline:
        if os.path.exists(err) and b"write_ns=" in open(err, "rb").read():
            break
        time.sleep(0.05)
    ns = int(re.search(rb"write_ns=(\d+)", open(err, "rb").read()).group(1))
    # The next run needs this one recorded as ended.
    while time.time() < deadline:
        st = json.loads(subprocess.run([vg, "--json", "--token-file", tok, "agent", "status", "com.bench.writer"], capture_output=True).stdout)
        if st["runs"] and st["runs"][0]["state"] in ("stopped", "crashed"):
            break
        time.sleep(0.05)
    return ns / 1e9
d = [direct() for _ in range(3)]
c = [captured() for _ in range(3)]
mib = 256
print(f"/dev/null: median {statistics.median(d):.3f} s ({mib/statistics.median(d):.0f} MiB/s); "
      f"through the capture: median {statistics.median(c):.3f} s ({mib/statistics.median(c):.0f} MiB/s); "
      f"ratio {statistics.median(c)/statistics.median(d):.2f}x")
PY
