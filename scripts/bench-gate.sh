#!/usr/bin/env bash
# Benchmark `vaultgate gate` (no --run; bundle digest pinned) against `unzip` + `sha256sum -c` on the same bundles, in
# the same run: a 1 GiB bundle (16 incompressible 64 MiB files) and a 50,000-entry bundle.
# Prints the median of N runs (default 3) of each and the ratio. A benchmark, not a test:
# release build only; timings on a shared machine are noisy.
# Usage: scripts/bench-gate.sh [RUNS]   (VAULTGATE_BIN=path skips the build)
#   VAULTGATE_BASE=path also times that binary (e.g. an earlier build) in the same runs, so the
#   cost of a change is measured against the same anchor on the same load.
#   (needs: cargo, unzip, sha256sum, head/urandom, awk)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
if [ -n "${VAULTGATE_BIN:-}" ]; then vg=$VAULTGATE_BIN; else
  cargo build --release --locked -q
  vg=$PWD/target/release/vaultgate
fi
# Both sides extract under $TMPDIR. On a VM, disk writeback of 50,000 fresh files swamps the
# tools being measured (seen here: the same run 7 s, then 30 s), so default to tmpfs when there is
# one; set TMPDIR to measure a disk instead.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
work=$(mktemp -d "${TMPDIR:-/tmp}/vaultgate-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }

bench() { # name bundle
  local name=$1 zip=$2 g=() b=() o=() pin
  # The gate refuses an unpinned bundle; the pin is computed once, outside the timing.
  pin=$(sha256sum "$zip" | cut -d' ' -f1)
  for _ in $(seq "$runs"); do
    rm -rf "$work/report" "$work/x"
    t0=$(now); "$vg" gate "$zip" --expect-sha256 "$pin" --report "$work/report" -q; t1=$(now)
    g+=("$(awk -v a="$t1" -v b="$t0" 'BEGIN{print a-b}')")
    if [ -n "${VAULTGATE_BASE:-}" ]; then
      rm -rf "$work/report"
      t0=$(now); "$VAULTGATE_BASE" gate "$zip" --expect-sha256 "$pin" --report "$work/report" -q; t1=$(now)
      o+=("$(awk -v a="$t1" -v b="$t0" 'BEGIN{print a-b}')")
    fi
    t0=$(now); mkdir "$work/x"; unzip -q "$zip" -d "$work/x"; (cd "$work/x" && sha256sum -c --quiet manifest.txt); t1=$(now)
    b+=("$(awk -v a="$t1" -v b="$t0" 'BEGIN{print a-b}')")
  done
  gm=$(printf '%s\n' "${g[@]}" | median); bm=$(printf '%s\n' "${b[@]}" | median)
  printf '| %s | %.2f s | %.2f s | %.2f× |' "$name" "$gm" "$bm" "$(awk -v a="$gm" -v b="$bm" 'BEGIN{print a/b}')"
  if [ -n "${VAULTGATE_BASE:-}" ]; then
    om=$(printf '%s\n' "${o[@]}" | median)
    printf ' %.2f s | %.2f× |' "$om" "$(awk -v a="$om" -v b="$bm" 'BEGIN{print a/b}')"
  fi
  printf '\n'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); TMPDIR=$TMPDIR; load $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$work/big" "$work/many"
for i in $(seq -w 1 16); do head -c $((64 << 20)) /dev/urandom > "$work/big/f$i.bin"; done
for d in $(seq -w 1 100); do
  mkdir -p "$work/many/d$d"
  for f in $(seq -w 1 500); do printf '%s/%s\n' "$d" "$f" > "$work/many/d$d/f$f.txt"; done
done
"$vg" zip pack "$work/big" -o "$work/big.zip" -q
"$vg" zip pack "$work/many" -o "$work/many.zip" -q
if [ -n "${VAULTGATE_BASE:-}" ]; then
  echo "| bundle | gate (median of $runs) | unzip + sha256sum -c | ratio | base gate | base ratio |"
  echo "|---|---|---|---|---|---|"
else
  echo "| bundle | gate (median of $runs) | unzip + sha256sum -c | ratio |"
  echo "|---|---|---|---|"
fi
bench "1 GiB, 16 files" "$work/big.zip"
bench "50,000 entries" "$work/many.zip"
