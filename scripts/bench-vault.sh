#!/usr/bin/env bash
# Benchmark the vault spine.
#
#   scripts/bench-vault.sh [ROWS] [RUNS]      defaults: 100000 50
#
# 1. builds the release binary and initialises a fresh home (fsync on: SQLite
#    synchronous=FULL, the anchor written with temp file + fsync + rename);
# 2. times RUNS whole `vaultgate lockdown off --reason bench` processes: every boot step plus
#    one audited write (writers' lock, BEGIN IMMEDIATE, meta update, audit row, commit, anchor);
#    prints the median and p90;
# 3. appends ROWS audit rows straight into the database with Python, computing each MAC with
#    the key from `vaultgate audit key export` exactly as docs/audit.md specifies (through the
#    append-only triggers, no schema change), and rewrites the anchor the same way;
# 4. times `vaultgate audit verify` over them (the report's rows_per_second is the walk alone;
#    the wall time includes boot), and `vaultgate status` on the small and the big home, to
#    show that boot does not grow with the log.
# Prints a Markdown table for docs/PERFORMANCE.md. Results are noisy on a shared machine:
# the load average is printed with them.
set -euo pipefail

ROWS=${1:-100000}
RUNS=${2:-50}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vg-bench-vault.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
VG="$ROOT/target/release/vaultgate"

ms_of() { # median and p90 of a file of seconds, in ms
    python3 -c "
import statistics
xs = sorted(float(x) for x in open('$1'))
print(f'{statistics.median(xs)*1000:.2f} {xs[int(len(xs)*0.9)]*1000:.2f}')"
}

time_runs() { # time_runs OUT N CMD... : N wall times of CMD (seconds, one per line) into OUT
    local out=$1 n=$2
    shift 2
    if command -v hyperfine >/dev/null; then
        # -N: no shell in between, so the figure is the vaultgate process alone.
        hyperfine -N --warmup 2 --runs "$n" --export-json "$out.json" -- "$(printf '%q ' "$@")" >/dev/null 2>&1
        python3 -c "
import json
for t in json.load(open('$out.json'))['results'][0]['times']: print(t)" >"$out"
        return
    fi
    : >"$out"
    for _ in $(seq "$n"); do
        local t0 t1
        t0=$(date +%s.%N)
        "$@" >/dev/null
        t1=$(date +%s.%N)
        python3 -c "print($t1 - $t0)" >>"$out"
    done
}

H="$WORK/home"
export VAULTGATE_TOKEN
VAULTGATE_TOKEN=$("$VG" --json init --home "$H" | python3 -c "import json,sys; print(json.load(sys.stdin)['token'])")

echo "timing $RUNS whole processes: boot + one audited write ..." >&2
time_runs "$WORK/write.txt" "$RUNS" "$VG" --home "$H" -q lockdown off --reason bench
read -r W_MED W_P90 < <(ms_of "$WORK/write.txt")
echo "timing $RUNS boots (status) on the small home ..." >&2
time_runs "$WORK/boot-small.txt" "$RUNS" "$VG" --home "$H" -q status
read -r BS_MED BS_P90 < <(ms_of "$WORK/boot-small.txt")

echo "appending $ROWS rows with Python (docs/audit.md's MAC) ..." >&2
"$VG" --home "$H" -q audit key export -o "$WORK/audit.key"
python3 - "$H" "$WORK/audit.key" "$ROWS" <<'PY'
import hashlib, hmac, json, sqlite3, sys, uuid, os
home, keyfile, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
key = bytes.fromhex(open(keyfile).read().strip())
db = sqlite3.connect(os.path.join(home, "vault.db"), isolation_level=None)
db.execute("PRAGMA busy_timeout = 10000")
db.execute("BEGIN IMMEDIATE")
seq, prev = db.execute("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
batch = []
for i in range(rows):
    seq += 1
    row = {"seq": seq, "event_id": str(uuid.uuid4()), "at": "2026-06-01T00:00:00Z",
           "event_type": "bench.filled", "actor_type": "system", "actor_id": "bench",
           "subject_type": "bench", "subject_id": str(i), "correlation_id": None,
           "causation_id": None, "severity": "info", "metadata": {"i": i, "note": "filler row"},
           "prev_mac": prev}
    body = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    mac = hmac.new(key, bytes.fromhex(prev) + body, hashlib.sha256).hexdigest()
    # Inserted one by one: the append-only trigger checks seq and prev_mac against the head.
    db.execute("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
               (seq, row["event_id"], row["at"], row["event_type"], row["actor_type"], row["actor_id"],
                row["subject_type"], row["subject_id"], None, None, "info",
                json.dumps(row["metadata"], sort_keys=True, separators=(",", ":")), prev, mac))
    prev = mac
db.execute("COMMIT")
cookie = db.execute("PRAGMA schema_version").fetchone()[0]
db.close()
anchor = {"cookie": cookie, "mac": prev, "seq": seq, "v": 1}
abody = json.dumps(anchor, sort_keys=True, separators=(",", ":")).encode()
anchor["anchor_mac"] = hmac.new(key, b"vaultgate/audit-anchor/v1\n" + abody, hashlib.sha256).hexdigest()
open(os.path.join(home, "audit.head"), "w").write(json.dumps(anchor, sort_keys=True, separators=(",", ":")) + "\n")
PY

echo "verifying (best of 3) ..." >&2
BEST=0; VWALL=999
for _ in 1 2 3; do
    t0=$(date +%s.%N)
    OUT=$("$VG" --home "$H" --json audit verify)
    t1=$(date +%s.%N)
    RATE=$(echo "$OUT" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['summary']['verdict']=='pass', d; print(int(d['rows_per_second']))")
    N=$(echo "$OUT" | python3 -c "import json,sys; print(json.load(sys.stdin)['rows'])")
    BEST=$(python3 -c "print(max($BEST, $RATE))")
    VWALL=$(python3 -c "print(min($VWALL, $t1 - $t0))")
done
echo "timing $RUNS boots (status) on the big home ..." >&2
time_runs "$WORK/boot-big.txt" "$RUNS" "$VG" --home "$H" -q status
read -r BB_MED BB_P90 < <(ms_of "$WORK/boot-big.txt")
time_runs "$WORK/write-big.txt" "$RUNS" "$VG" --home "$H" -q lockdown off --reason bench
read -r WB_MED WB_P90 < <(ms_of "$WORK/write-big.txt")

FSYNC=$(python3 - "$WORK/fsync.probe" <<'PY'
import os, statistics, sys, time
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o600)
xs = []
for _ in range(40):
    t = time.perf_counter(); os.write(fd, b"x" * 200); os.fsync(fd); xs.append(time.perf_counter() - t)
print(f"{statistics.median(xs)*1000:.2f}")
PY
)
echo
echo "machine: $(nproc) cores, $(uname -r); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| measurement | median | p90 | target |"
echo "|---|---|---|---|"
echo "| whole process, boot + one audited write (fsync on), 3-row log | ${W_MED} ms | ${W_P90} ms | ≤ 8 ms |"
echo "| the same on the ${N}-row log | ${WB_MED} ms | ${WB_P90} ms | independent of length |"
echo "| boot only (\`status\`), 3-row log | ${BS_MED} ms | ${BS_P90} ms | |"
echo "| boot only (\`status\`), ${N}-row log | ${BB_MED} ms | ${BB_P90} ms | independent of length |"
echo "| one \`fsync\` of a small file on the same disk, same run (floor; a write does 3) | ${FSYNC} ms | | |"
echo "| \`audit verify\` walk of ${N} rows (best of 3) | ${BEST} rows/s | whole process $(python3 -c "print(f'{$VWALL:.3f}')") s | ≥ 200,000 rows/s |"
