#!/usr/bin/env bash
# Benchmark `vaultgate manifest generate|verify` against GNU sha256sum, openssl and a read-only
# floor, on three trees, in one run with a warm page cache. Prints a Markdown table of medians and
# ratios (paste it into docs/PERFORMANCE.md) and the peak memory of each vaultgate run.
#
#   scripts/bench-manifest.sh [WORKDIR]      (needs hyperfine, GNU time, openssl; ~3 GiB of disk)
#
# Trees: one 1 GiB file; 20,000 files of 4 KiB in nested folders; 100,000 files of 100 bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
for t in hyperfine openssl sha256sum /usr/bin/time python3; do
  command -v "$t" >/dev/null || { echo "missing: $t (apt-get install hyperfine time openssl)" >&2; exit 2; }
done
work=${1:-$(mktemp -d /tmp/vg-bench-manifest.XXXXXX)}
mkdir -p "$work"
cargo build --release --locked -q
vg=$PWD/target/release/vaultgate
runs=${RUNS:-5}

python3 - "$work" <<'PY'
import os, sys
w = sys.argv[1]
big = os.path.join(w, "big")
if not os.path.exists(os.path.join(big, "big.bin")):
    os.makedirs(big, exist_ok=True)
    chunk = os.urandom(1 << 20)
    with open(os.path.join(big, "big.bin"), "wb") as f:
        for _ in range(1024):
            f.write(chunk)
def tree(name, count, size, fanout):
    root = os.path.join(w, name)
    if os.path.exists(root):
        return
    data = os.urandom(size)
    for i in range(count):
        d = os.path.join(root, f"d{i % fanout:03d}", f"e{(i // fanout) % 10}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:06d}"), "wb") as f:
            f.write(data[:size - 8] + i.to_bytes(8, "little"))
tree("t4k", 20000, 4096, 100)
tree("t100", 100000, 100, 250)
PY

results=$work/results
mkdir -p "$results"
for tree in big t4k t100; do
  T=$work/$tree
  cmds=(
    -n "vaultgate generate" "$vg manifest generate $T -o $work/$tree.vg.txt -q"
    -n "vaultgate verify" "$vg manifest verify $T -m $work/$tree.vg.txt -q"
    -n "sha256sum (find|xargs)" "cd $T && find . -type f -print0 | xargs -0 sha256sum > $work/$tree.gnu.txt"
    -n "sha256sum -c" "cd $T && sha256sum -c --quiet $work/$tree.gnu.txt"
    -n "read-only floor (xargs cat)" "cd $T && find . -type f -print0 | xargs -0 cat > /dev/null"
  )
  if [ "$tree" = big ]; then cmds+=(-n "openssl dgst -sha256" "openssl dgst -sha256 $T/big.bin"); fi
  # Create the manifests first so verify has something to read.
  $vg manifest generate "$T" -o "$work/$tree.vg.txt" -q
  (cd "$T" && find . -type f -print0 | xargs -0 sha256sum > "$work/$tree.gnu.txt")
  hyperfine -N --shell=bash --warmup 1 --runs "$runs" --export-json "$results/$tree.json" --style basic "${cmds[@]}" >/dev/null 2>&1 \
    || hyperfine --shell=bash --warmup 1 --runs "$runs" --export-json "$results/$tree.json" --style basic "${cmds[@]}" >/dev/null
  for c in generate verify; do
    if [ $c = generate ]; then args=(manifest generate "$T" -o "$work/$tree.vg.txt" -q); else args=(manifest verify "$T" -m "$work/$tree.vg.txt" -q); fi
    /usr/bin/time -f "%M" -o "$results/$tree.$c.rss" "$vg" "${args[@]}"
  done
done

python3 - "$results" <<'PY'
import json, sys, os, statistics
r = sys.argv[1]
label = {"big": "1 × 1 GiB", "t4k": "20,000 × 4 KiB", "t100": "100,000 × 100 B"}
print("| tree | command | median (s) | vs vaultgate generate/verify |")
print("| --- | --- | --- | --- |")
for tree in ["big", "t4k", "t100"]:
    res = {x["command"]: statistics.median(x["times"]) for x in json.load(open(os.path.join(r, tree + ".json")))["results"]}
    g, v = res["vaultgate generate"], res["vaultgate verify"]
    for name, t in res.items():
        if name.startswith("vaultgate"):
            ratio = "–"
        elif name == "sha256sum -c":
            ratio = f"verify is {t / v:.2f}× faster"
        else:
            ratio = f"generate is {t / g:.2f}× faster"
        print(f"| {label[tree]} | {name} | {t:.3f} | {ratio} |")
print()
print("| tree | peak RSS generate (MiB) | peak RSS verify (MiB) |")
print("| --- | --- | --- |")
for tree in ["big", "t4k", "t100"]:
    rss = [int(open(os.path.join(r, f"{tree}.{c}.rss")).read().split()[-1]) / 1024 for c in ("generate", "verify")]
    print(f"| {label[tree]} | {rss[0]:.1f} | {rss[1]:.1f} |")
PY
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB; $(sha256sum --version | head -1); $(openssl version)"
