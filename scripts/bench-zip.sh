#!/usr/bin/env bash
# Benchmark `vaultgate zip audit` against `unzip -t` and scripts/zipcheck.py (Python zipfile) in
# the same run. Not a test: timings depend on the machine and its load.
#
#   scripts/bench-zip.sh [WORKDIR]     (default: a fresh temp dir; needs zip, unzip, python3, hyperfine)
#
# Builds a 50,000-entry bundle and a 1 GiB bundle, then times, with hyperfine -N (RUNS, default 10,
# after one warm-up) and prints medians with ratios:
#   many.zip: zip audit, zip audit --deep, unzip -t, zipcheck.py
#   big.zip:  zip audit, zip audit --deep, unzip -t, zipcheck.py
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${1:-$(mktemp -d -t vaultgate-zipbench.XXXXXX)}
mkdir -p "$work"
cargo build --release --locked --quiet
vg="$root/target/release/vaultgate"
peer="$root/scripts/zipcheck.py"

if [ ! -f "$work/many.zip" ]; then
  python3 - "$work/many.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for i in range(50_000):
        z.writestr(f"pkg/mod{i // 1000:02}/file{i:05}.py", f"# module {i}\nVALUE = {i}\n" * 20)
PY
fi
if [ ! -f "$work/big.zip" ]; then
  # 64 files of 16 MiB: half text-like (compresses ~4:1), half random (stored by zip), 1 GiB total.
  src=$(mktemp -d "$work/bigsrc.XXXXXX")   # our own folder: the only one this script removes
  python3 - "$src" <<'PY'
import os, random, sys
random.seed(1)
words = [("w%d" % i).encode() for i in range(5000)]
for i in range(64):
    with open(os.path.join(sys.argv[1], f"part{i:02}.bin"), "wb") as f:
        if i % 2:
            f.write(os.urandom(16 << 20))
        else:
            n = 0
            while n < 16 << 20:
                chunk = b" ".join(random.choice(words) for _ in range(4096)) + b"\n"
                f.write(chunk); n += len(chunk)
            f.truncate(16 << 20)
PY
  (cd "$src" && zip -q -r "$work/big.zip" .)
  rm -rf "$src"
fi
ls -l "$work/many.zip" "$work/big.zip"
echo "nproc: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# -N: no intermediate shell (the commands need none), so process start is all that is added.
for z in many big; do
  hyperfine -N --warmup 1 --runs "${RUNS:-10}" --export-markdown "$work/$z.md" --export-json "$work/$z.json" \
    -n "vaultgate zip audit" "$vg zip audit --max-size 2147483648 $work/$z.zip" \
    -n "vaultgate zip audit --deep" "$vg zip audit --deep --max-size 2147483648 $work/$z.zip" \
    -n "unzip -t" "unzip -tqq $work/$z.zip" \
    -n "zipcheck.py" "python3 $peer $work/$z.zip"
done
cat "$work/many.md" "$work/big.md"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# Medians, and each command's ratio to zipcheck.py (many) and unzip -t (big), from the same run.
python3 - "$work/many.json" "$work/big.json" <<'PY'
import json, sys
for path, base in zip(sys.argv[1:], ["zipcheck.py", "unzip -t"]):
    rs = json.load(open(path))["results"]
    ref = next(r["median"] for r in rs if r["command"] == base)
    print(path)
    for r in rs:
        print(f"  {r['command']:<28} median {r['median'] * 1000:9.1f} ms  min {r['min'] * 1000:9.1f} ms  max {r['max'] * 1000:9.1f} ms  {base} / this = {ref / r['median']:7.1f}")
PY
