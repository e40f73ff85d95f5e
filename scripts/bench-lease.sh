#!/usr/bin/env bash
# Benchmark the lease and grant commands as whole processes (boot, every check, fsync on):
#   lease mint, grant mint, grant consume: median of N runs each (target <= 8 ms);
#   lease list --ingest ID over a home holding 100,000 leases (target <= 50 ms);
#   lease sweep of 10 due leases among 100,000 vs among 1,000, N rounds each (O(expired): about
#   the same).
# Usage: scripts/bench-lease.sh [N]   (default 31; builds the release binary first)
# The 100,000 leases are inserted straight into the database (python3's sqlite3): minting them
# one by one through the binary would take ~15 minutes and measure the same code as above.
set -euo pipefail
n=${1:-31}
cd "$(dirname "$0")/.."
cargo build --release --locked -q
bin=$PWD/target/release/vaultgate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export VAULTGATE_BIN=$bin WORK=$work N=$n
echo "machine: $(nproc) cores, $(uname -sr); load: $(uptime | sed 's/.*load average/load average/')"
python3 - <<'PY'
import json, os, sqlite3, statistics, subprocess, time, uuid

bin_, work, n = os.environ["VAULTGATE_BIN"], os.environ["WORK"], int(os.environ["N"])
T0 = 1_772_359_200  # 2026-03-01T10:00:00Z

def now(offset=0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + offset))

def vg(home, token, *args, at=0, check=True):
    env = {"PATH": os.environ["PATH"], "VAULTGATE_NOW": now(at)}
    if token:
        env["VAULTGATE_TOKEN"] = token
    t = time.perf_counter()
    p = subprocess.run([bin_, "--home", home, *args], env=env, capture_output=True, text=True)
    dt = (time.perf_counter() - t) * 1000
    if check and p.returncode != 0:
        raise SystemExit(f"{args}: exit {p.returncode}: {p.stdout}{p.stderr}")
    return p, dt

def setup(name):
    home = os.path.join(work, name)
    admin = json.loads(vg(home, None, "--json", "init")[0].stdout)["token"]
    tok = lambda nm, role: json.loads(vg(home, admin, "--json", "token", "create", "--name", nm, "--role", role)[0].stdout)["token"]
    builder, operator = tok("codex-builder", "3B-secret-lease"), tok("op", "operator")
    proj = os.path.join(work, name + "-proj")
    os.makedirs(proj)
    open(os.path.join(proj, "vaultgate.capabilities.json"), "w").write('{"schema":"vaultgate/capabilities/v1","capabilities":["ai.gemini.inference"]}')
    vg(home, admin, "provider", "add", "gemini", "--capability", "ai.gemini.inference")
    vg(home, admin, "asset", "register", "c1", "--owner", "t", "--path", proj)
    ing = json.loads(vg(home, admin, "--json", "ingest", "scan", proj)[0].stdout)["ingests"][0]["id"]
    vg(home, admin, "ingest", "bind", ing, "--scope", "ai.gemini.inference", "--max-ttl", "1h", "--max-active", "100000")
    return home, admin, builder, operator, ing

def med(xs):
    return f"median {statistics.median(xs):.2f} ms (min {min(xs):.2f}, max {max(xs):.2f}, n={len(xs)})"

home, admin, builder, operator, ing = setup("a")
mint = [vg(home, builder, "lease", "mint", "--ingest", ing, "--scope", "ai.gemini.inference", "--ttl", "30m")[1] for _ in range(n)]
print("lease mint           ", med(mint))
policy = os.path.join(work, "policy.json")
open(policy, "w").write('{"schema":"vaultgate/grant-policy/v1","allow":[{"namespace":"DRYRUN-NS","axis":"dot:c1:vocab","target":"DOT_C1_VOCAB_BUILD"}]}')
base = json.load(open("fixtures/grant/apr-c1.json"))
gm, gc = [], []
for i in range(n):
    req = dict(base, apr_code=f"APR-BENCH-{i:04d}")
    path = os.path.join(work, f"apr-{i}.json")
    json.dump(req, open(path, "w"))
    p, dt = vg(home, operator, "grant", "mint", "--request", path, "--policy", policy)
    assert p.stdout.strip() == "OK", p.stdout
    gm.append(dt)
    p, dt = vg(home, operator, "grant", "consume", f"GBA-C1-APR-BENCH-{i:04d}")
    assert p.stdout.strip() == "OK", p.stdout
    gc.append(dt)
print("grant mint           ", med(gm))
print("grant consume        ", med(gc))
baseline = [vg(home, admin, "audit", "tail", "-n", "1")[1] for _ in range(n)]
print("(audit tail -n 1: a boot and one read, same run)", med(baseline))
write = [vg(home, admin, "token", "create", "--name", f"b{i}", "--capability", "audit:read")[1] for i in range(n)]
print("(token create: a boot and one audited write of the vault itself, same run)", med(write))

def fill(home, total, per_contract_ing, due):
    db = sqlite3.connect(os.path.join(home, "vault.db"))
    db.execute("PRAGMA foreign_keys = ON")
    contracts = [per_contract_ing]
    for c in range(99):
        cid = f"ing_bench{c:03d}"
        db.execute("INSERT INTO ingests VALUES (?, 'c1', '/bench', ?, 1, '[]', ?, 'bench')", (cid, "0" * 64, T0))
        db.execute("INSERT INTO contracts VALUES (?, 'c1', 't', '[\"ai.gemini.inference\"]', 3600, 'build', 100000, 'PASS', '[]', ?, 'bench')", (cid, T0))
        contracts.append(cid)
    rows = []
    for i in range(total):
        cid = per_contract_ing if i < total // 100 else contracts[1 + i % 99]
        exp = T0 + 60 if i < due else T0 + 3000
        h = f"vgl_{uuid.uuid4().hex}"
        rows.append((h, cid, '["ai.gemini.inference"]', T0, exp, "active", "bench", "f" * 64, h))
    db.executemany("INSERT INTO leases (handle, ingest_id, scopes, issued_at, expires_at, status, issued_by, fingerprint, secret_id) VALUES (?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    # Leave the database as vaultgate would: the fill's pages checkpointed out of the WAL, so
    # the first sweep does not pay for copying 100,000 inserted rows.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()

def add_due(home, ing, k):
    db = sqlite3.connect(os.path.join(home, "vault.db"))
    rows = []
    for _ in range(10):
        h = f"vgl_{uuid.uuid4().hex}"
        rows.append((h, ing, '["ai.gemini.inference"]', T0, T0 + 60, "active", "bench", "f" * 64, h))
    db.executemany("INSERT INTO leases (handle, ingest_id, scopes, issued_at, expires_at, status, issued_by, fingerprint, secret_id) VALUES (?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()

for total in (100_000, 1_000):
    home, admin, builder, operator, ing = setup(f"s{total}")
    fill(home, total, ing, 0)
    # Each round adds 10 due leases beside the `total` not due, then times the sweep that
    # expires exactly those 10 (the first command after the insert).
    sweeps = []
    for k in range(n):
        add_due(home, ing, k)
        p, dt = vg(home, operator, "--json", "lease", "sweep", at=120)
        assert json.loads(p.stdout)["summary"]["expired_leases"] == 10, p.stdout
        sweeps.append(dt)
    idle = [vg(home, operator, "lease", "sweep", at=120)[1] for _ in range(n)]
    print(f"lease sweep, 10 due among {total:>7,}: {med(sweeps)}; with nothing due: {med(idle)}")
    if total == 100_000:
        lst = [vg(home, builder, "lease", "list", "--ingest", ing, at=120)[1] for _ in range(n)]
        rows = len(vg(home, builder, "lease", "list", "--ingest", ing, at=120)[0].stdout.splitlines()) - 1
        print(f"lease list --ingest (its {rows} of 100,000 leases)", med(lst))
        lj = [vg(home, builder, "--json", "lease", "list", "--ingest", ing, "--limit", "50", at=120)[1] for _ in range(n)]
        print("lease list --ingest --limit 50 --json", med(lj))
        db = sqlite3.connect(os.path.join(home, "vault.db"))
        plan = db.execute("EXPLAIN QUERY PLAN SELECT * FROM leases INDEXED BY leases_due WHERE status = 'active' AND expires_at <= ? ORDER BY expires_at LIMIT 512", (T0,)).fetchall()
        print("sweep query plan:", "; ".join(r[-1] for r in plan))
PY
