#!/usr/bin/env bash
# Benchmark the vault on PostgreSQL beside SQLite, in the same run, as whole processes:
#   lease mint: median of N runs on each store (target on loopback PostgreSQL: <= 12 ms);
#   8 concurrent writers x M lease mints each (8 homes of one vault = 8 machines; target on
#   PostgreSQL: >= 400 audited mints/s), then the chain is checked to be linear (`audit verify`,
#   contiguous seq).
# Usage: scripts/bench-pg.sh [N] [M]   (defaults 31 and 50; builds the release binary first)
# Uses VAULTGATE_TEST_DATABASE_URL when set; otherwise starts a throwaway cluster
# (scripts/pg-test-cluster.sh) and stops it at exit. fsync is on in both stores.
set -euo pipefail
n=${1:-31}
m=${2:-50}
cd "$(dirname "$0")/.."
cargo build --release --locked -q
bin=$PWD/target/release/vaultgate
work=$(mktemp -d)
cleanup() {
  if [ -n "${PGDIR:-}" ]; then scripts/pg-test-cluster.sh stop "$PGDIR"; fi
  rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${VAULTGATE_TEST_DATABASE_URL:-}" ]; then
  PGDIR=$(mktemp -d /tmp/vaultgate-pg-bench.XXXXXX)
  eval "$(scripts/pg-test-cluster.sh start "$PGDIR")"
fi
export VAULTGATE_BIN=$bin WORK=$work N=$n M=$m PGURL=$VAULTGATE_TEST_DATABASE_URL
echo "machine: $(nproc) cores, $(uname -sr); load: $(uptime | sed 's/.*load average/load average/')"
echo "postgres: $(psql -X -At "$PGURL" -c 'SHOW server_version') on loopback, synchronous_commit=$(psql -X -At "$PGURL" -c 'SHOW synchronous_commit'), fsync=$(psql -X -At "$PGURL" -c 'SHOW fsync')"
python3 - <<'PY'
import json, os, shutil, statistics, subprocess, time, uuid

bin_, work, n, m, pgurl = (os.environ[k] for k in ("VAULTGATE_BIN", "WORK", "N", "M", "PGURL"))
n, m = int(n), int(m)
NOW = "2026-03-01T10:00:00Z"

def vg(home, token, *args, check=True):
    env = {"PATH": os.environ["PATH"], "VAULTGATE_NOW": NOW}
    if token:
        env["VAULTGATE_TOKEN"] = token
    t = time.perf_counter()
    p = subprocess.run([bin_, "--home", home, *args], env=env, capture_output=True, text=True)
    dt = (time.perf_counter() - t) * 1000
    if check and p.returncode != 0:
        raise SystemExit(f"{args}: exit {p.returncode}: {p.stdout}{p.stderr}")
    return p, dt

def setup(name, pg):
    home = os.path.join(work, name)
    admin = json.loads(vg(home, None, "--json", "init")[0].stdout)["token"]
    builder = json.loads(vg(home, admin, "--json", "token", "create", "--name", "codex-builder", "--role", "3B-secret-lease")[0].stdout)["token"]
    proj = os.path.join(work, name + "-proj")
    os.makedirs(proj)
    open(os.path.join(proj, "vaultgate.capabilities.json"), "w").write('{"schema":"vaultgate/capabilities/v1","capabilities":["ai.gemini.inference"]}')
    vg(home, admin, "provider", "add", "gemini", "--capability", "ai.gemini.inference")
    vg(home, admin, "asset", "register", "c1", "--owner", "t", "--path", proj)
    ing = json.loads(vg(home, admin, "--json", "ingest", "scan", proj)[0].stdout)["ingests"][0]["id"]
    vg(home, admin, "ingest", "bind", ing, "--scope", "ai.gemini.inference", "--max-ttl", "1h", "--max-active", "100000")
    if pg:
        schema = "bench_" + uuid.uuid4().hex[:12]
        subprocess.run(["psql", "-X", "-q", pgurl, "-c", f"CREATE SCHEMA {schema}"], check=True)
        vg(home, admin, "store", "migrate", "--to", f"{pgurl}?options=-csearch_path%3D{schema}")
    return home, admin, builder, ing

def med(xs):
    return f"median {statistics.median(xs):.2f} ms (min {min(xs):.2f}, max {max(xs):.2f}, n={len(xs)})"

def mint_args(ing):
    return ["lease", "mint", "--ingest", ing, "--scope", "ai.gemini.inference", "--ttl", "30m"]

def machines(home, k):
    out = []
    for i in range(k):
        h = f"{home}-m{i}"
        os.makedirs(h, mode=0o700)
        for f in ("config.json", "master.key", "audit.head"):
            shutil.copy2(os.path.join(home, f), os.path.join(h, f))
        out.append(h)
    return out

def writers(homes, builder, ing):
    env = {"PATH": os.environ["PATH"], "VAULTGATE_NOW": NOW, "VAULTGATE_TOKEN": builder}
    loop = " ".join(f"'{bin_}' --home '{{h}}' {' '.join(mint_args(ing))} >/dev/null || exit 1;" for _ in range(1))
    t = time.perf_counter()
    procs = [subprocess.Popen(["sh", "-c", f"for i in $(seq {m}); do {loop.format(h=h)} done"], env=env) for h in homes]
    rc = [p.wait() for p in procs]
    dt = time.perf_counter() - t
    if any(rc):
        raise SystemExit(f"a writer failed: {rc}")
    return dt

results = {}
for name, pg in (("sqlite", False), ("postgres", True)):
    home, admin, builder, ing = setup(name, pg)
    lat = [vg(home, builder, *mint_args(ing))[1] for _ in range(n)]
    # SQLite: 8 writers share the one home (one machine); PostgreSQL: 8 homes, one database.
    homes = machines(home, 8) if pg else [home] * 8
    dt = writers(homes, builder, ing)
    total = 8 * m
    p, _ = vg(home, admin, "--json", "audit", "verify", check=False)
    verdict = "audit verify PASS" if p.returncode == 0 else f"audit verify exit {p.returncode}"
    print(f"{name:9} lease mint           {med(lat)}")
    print(f"{name:9} 8 writers x {m} mints  {total / dt:.0f} audited mints/s ({total} in {dt:.2f} s), {verdict}")
    results[name] = statistics.median(lat)
print(f"ratio postgres/sqlite lease mint median: {results['postgres'] / results['sqlite']:.2f}x")
PY
