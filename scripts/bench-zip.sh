#!/usr/bin/env bash
# Benchmark `vaultgate zip audit` against `unzip -t`, a Python `zipfile` name check and
# scripts/zipcheck.py (names + testzip) in the same run. Not a test: timings depend on the machine
# and its load, so the script also prints CPU time (user + system), which load disturbs less.
#
#   [RUNS=10] [BUNDLES="many big"] scripts/bench-zip.sh [WORKDIR]
#   (default WORKDIR: a fresh temp dir; needs zip, unzip, python3, hyperfine)
#
# Builds a 50,000-entry bundle and a 1 GiB bundle, then times, with hyperfine -N (RUNS, default 10,
# after one warm-up) and prints medians with ratios:
#   zip audit          the default: structure, rules and every entry's data (what --deep was)
#   zip audit --structure-only   headers only
#   unzip -t           `unzip -tqq`, the anchor of the default audit
#   names.py           Python `zipfile`: open, then the name rules on every `infolist()` name
#                      (the anchor of the structural audit; no data read)
#   zipcheck.py        the heavier Python peer: names.py's rules + `testzip()`
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${1:-$(mktemp -d -t vaultgate-zipbench.XXXXXX)}
mkdir -p "$work"
cargo build --release --locked --quiet
vg="$root/target/release/vaultgate"
peer="$root/scripts/zipcheck.py"
# The names-only Python checker: zipcheck.py's name rules, without testzip().
names="$work/names.py"
cat > "$names" <<'PY'
import importlib.util, sys, zipfile
spec = importlib.util.spec_from_file_location("zipcheck", sys.argv[1])
zc = importlib.util.module_from_spec(spec); spec.loader.exec_module(zc)
with zipfile.ZipFile(sys.argv[2]) as z:
    bad = [i.filename for i in z.infolist() if zc.name_problems(i.filename)]
sys.exit(1 if bad else 0)
PY

if [ ! -f "$work/many.zip" ]; then
  python3 - "$work/many.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for i in range(50_000):
        z.writestr(f"pkg/mod{i // 1000:02}/file{i:05}.py", f"# module {i}\nVALUE = {i}\n" * 20)
PY
fi
bundles=${BUNDLES:-many big}   # BUNDLES=many skips the 1 GiB bundle
if [[ " $bundles " == *" big "* && ! -f "$work/big.zip" ]]; then
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
for z in $bundles; do ls -l "$work/$z.zip"; done
echo "nproc: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# -N: no intermediate shell (the commands need none), so process start is all that is added.
uptime
for z in $bundles; do
  hyperfine -N --warmup 1 --runs "${RUNS:-10}" --export-markdown "$work/$z.md" --export-json "$work/$z.json" \
    -n "vaultgate zip audit" "$vg zip audit --max-size 2147483648 $work/$z.zip" \
    -n "vaultgate zip audit --structure-only" "$vg zip audit --structure-only --max-size 2147483648 $work/$z.zip" \
    -n "unzip -t" "unzip -tqq $work/$z.zip" \
    -n "names.py" "python3 $names $peer $work/$z.zip" \
    -n "zipcheck.py" "python3 $peer $work/$z.zip"
done
for z in $bundles; do cat "$work/$z.md"; done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"; uptime
# Wall medians and mean CPU time (user + system, as hyperfine reports it), and each command's
# ratio to unzip -t and names.py, from the same run.
python3 - $(for z in $bundles; do echo "$work/$z.json"; done) <<'PY'
import json, sys
for path in sys.argv[1:]:
    rs = json.load(open(path))["results"]
    cpu = {r["command"]: r["user"] + r["system"] for r in rs}
    wall = {r["command"]: r["median"] for r in rs}
    print(path)
    for r in rs:
        c = r["command"]
        print(f"  {c:<38} wall {wall[c] * 1000:8.1f} ms  cpu {cpu[c] * 1000:8.1f} ms"
              f"  unzip-t/this wall {wall['unzip -t'] / wall[c]:6.2f} cpu {cpu['unzip -t'] / cpu[c]:6.2f}"
              f"  names.py/this wall {wall['names.py'] / wall[c]:6.1f} cpu {cpu['names.py'] / cpu[c]:6.1f}")
PY
