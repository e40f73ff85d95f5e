#!/usr/bin/env bash
# Benchmark `vaultgate journal` against the Python reference (scripts/journal_ref.py).
#
#   scripts/bench-journal.sh [RECORDS] [APPENDS]      defaults: 1000000 200
#
# 1. builds the release binary;
# 2. generates a RECORDS-record journal with the Python reference's fast path (not the CLI);
# 3. times `vaultgate journal verify` and `journal_ref.py verify` on it, in the same run, and
#    prints the ratio (best of 3 for Rust, 1 run for Python: it is the slow side);
# 4. times APPENDS `vaultgate journal append` calls (each with fsync) on a fresh journal and
#    prints the median and p90, then a few appends on the big journal (an append reads the
#    whole journal's framing and step ids, so it grows with its size).
# Prints a Markdown table for docs/PERFORMANCE.md. Results are noisy on a shared machine.
set -euo pipefail

RECORDS=${1:-1000000}
APPENDS=${2:-200}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF="$ROOT/scripts/journal_ref.py"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vg-bench-journal.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
VG="$ROOT/target/release/vaultgate"

# Wall time of a command, in seconds, with stdout discarded.
wall() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    python3 -c "print(f'{$t1 - $t0:.3f}')"
}

J="$WORK/big.jsonl"
echo "generating $RECORDS records with journal_ref.py generate ..." >&2
GEN=$(wall python3 "$REF" generate "$J" "$RECORDS")
SIZE=$(stat -c %s "$J")

echo "verifying (vaultgate, best of 3) ..." >&2
RS=999999
for _ in 1 2 3; do
    t=$(wall "$VG" -q journal verify "$J" --expect-count "$RECORDS")
    RS=$(python3 -c "print(min($RS, $t))")
done
echo "verifying (journal_ref.py) ..." >&2
PY=$(wall python3 "$REF" verify "$J")

echo "appending $APPENDS records with fsync ..." >&2
A="$WORK/small.jsonl"
LAT="$WORK/lat.txt"
: >"$LAT"
for i in $(seq "$APPENDS"); do
    wall "$VG" -q journal append "$A" --name "bench" --status ok --step-id "b-$i" >>"$LAT"
done
"$VG" -q journal verify "$A" --expect-count "$APPENDS"
read -r MED P90 < <(python3 -c "
import statistics, sys
xs = sorted(float(x) for x in open('$LAT'))
print(f'{statistics.median(xs)*1000:.2f} {xs[int(len(xs)*0.9)]*1000:.2f}')")
BIGLAT="$WORK/biglat.txt"
: >"$BIGLAT"
for i in 1 2 3 4 5; do
    wall "$VG" -q journal append "$J" --name "bench" --status ok --step-id "big-$i" >>"$BIGLAT"
done
BIGMED=$(python3 -c "
import statistics
print(f'{statistics.median(float(x) for x in open(\"$BIGLAT\"))*1000:.0f}')")

RATIO=$(python3 -c "print(f'{$PY / $RS:.1f}')")
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cat <<EOF

machine: $(nproc) cores, $CPU; $(uname -sr); rustc $(rustc --version | cut -d' ' -f2); $(python3 --version)
command: scripts/bench-journal.sh $RECORDS $APPENDS
journal: $RECORDS records, $SIZE bytes (generated in ${GEN} s)

| measurement | vaultgate (release) | journal_ref.py | ratio |
|---|---|---|---|
| verify $RECORDS records | ${RS} s | ${PY} s | ${RATIO}× |
| append + fsync, fresh journal, median of $APPENDS (p90) | ${MED} ms (${P90} ms) | – | – |
| append + fsync to the $RECORDS-record journal, median of 5 | ${BIGMED} ms | – | – |
EOF
