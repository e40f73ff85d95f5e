#!/usr/bin/env bash
# Build a vaultgate release and gate it with vaultgate itself.
#
# Usage: scripts/release.sh VERSION [OUTDIR]
#   VERSION  the version being released, `0.1.0` or `v0.1.0`; must equal Cargo.toml's version
#   OUTDIR   where the artifacts go [default: target/dist]; must be absent or empty
#
# Steps, each fatal on failure (set -e; every vaultgate call exits non-zero on any doubt):
#   1. build the binary (`cargo build --locked --profile $VAULTGATE_RELEASE_PROFILE`, default
#      `release`) with VAULTGATE_BUILD_COMMIT set from git, so --version names the commit
#   2. stage the tree: the binary, LICENSE-*, README.md, man pages (man/man1/), completions for
#      bash, zsh and fish (completions/), and manifest.txt listing all of them
#   3. the tarball vaultgate-VERSION-TARGET.tar.gz of that tree (sorted, owner 0, fixed mtime)
#   4. the bundle vaultgate-VERSION-TARGET.zip: `vaultgate zip pack` of the same tree
#   5. gate that bundle with both digests pinned (--expect-sha256, --expect-manifest), requiring
#      the binary, licences, man pages and completions; the checks run the shipped binary, which
#      verifies its own tree against the manifest
#   6. SHA256SUMS of the two artifacts (sha256sum -c reads it), and the digests to publish
#
# Environment:
#   VAULTGATE_RELEASE_PROFILE  cargo profile to build [release]; any other profile marks the
#                              artifact names with `-PROFILE` so it cannot pass for a release.
#                              CI uses `dev` to reuse the binary `cargo test` already built
#                              (debug info stripped, so the rehearsal takes seconds).
#   VAULTGATE                  use this vaultgate binary instead of building one (tests do)
#   SOURCE_DATE_EPOCH          timestamps inside both artifacts [default: the last commit's]
set -euo pipefail

die() { printf 'release: error: %s\n' "$*" >&2; exit 2; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: scripts/release.sh VERSION [OUTDIR]"
repo=$(cd "$(dirname "$0")/.." && pwd)
version=${1#v}
outdir=${2:-$repo/target/dist}
profile=${VAULTGATE_RELEASE_PROFILE:-release}

case "$version" in
  ''|*[!0-9A-Za-z.+-]*) die "VERSION \`$1\` is not a version such as 0.1.0" ;;
esac
crate_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)
[ "$version" = "$crate_version" ] \
  || die "VERSION \`$version\` is not Cargo.toml's version \`$crate_version\`; bump Cargo.toml first"
case "$profile" in
  ''|*[!0-9A-Za-z_-]*) die "VAULTGATE_RELEASE_PROFILE \`$profile\` is not a cargo profile name" ;;
esac

# Never overwrite: an OUTDIR with anything in it is refused and left as it is.
if [ -e "$outdir" ]; then
  [ -d "$outdir" ] || die "OUTDIR \`$outdir\` exists and is not a folder"
  [ -z "$(ls -A "$outdir")" ] || die "OUTDIR \`$outdir\` is not empty; remove it or pick another"
fi

# --- 1. the binary -------------------------------------------------------------------------
if [ -z "${SOURCE_DATE_EPOCH:-}" ] && epoch=$(git -C "$repo" log -1 --format=%ct 2>/dev/null); then
  export SOURCE_DATE_EPOCH=$epoch
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-315532800}
if [ -n "${VAULTGATE:-}" ]; then
  vg=$VAULTGATE
  [ -x "$vg" ] || die "VAULTGATE=\`$vg\` is not an executable"
else
  if commit=$(git -C "$repo" log -1 --format='%h %cs' 2>/dev/null); then
    dirty=$(git -C "$repo" status --porcelain --untracked-files=no)
    [ -z "$dirty" ] || commit="$commit-dirty"
    export VAULTGATE_BUILD_COMMIT=$commit
  fi
  cargo build --locked -q --profile "$profile" --manifest-path "$repo/Cargo.toml"
  case "$profile" in dev|test) dir=debug ;; *) dir=$profile ;; esac
  vg=$repo/target/$dir/vaultgate
fi
target=$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')
[ -n "$target" ] || target=$(uname -m)-$(uname -s | tr 'A-Z' 'a-z')
name=vaultgate-$version-$target
[ "$profile" = release ] || name=$name-$profile
"$vg" --version | grep -q "^vaultgate $version\( \|$\)" \
  || die "\`$vg --version\` says \`$("$vg" --version)\`, not $version"

# --- 2. the tree ---------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/vaultgate-release.XXXXXX")
trap 'rm -rf "$work"' EXIT
tree=$work/$name
mkdir -p "$tree/man/man1" "$tree/completions"
cp "$vg" "$tree/vaultgate"
chmod 0755 "$tree/vaultgate"
# A rehearsal build (not the release profile) carries ~50 MB of debug info that every later
# step would hash and deflate with an unoptimised vaultgate: strip it. The release profile's
# binary ships as built (its line tables keep backtraces readable).
[ "$profile" = release ] || strip --strip-debug "$tree/vaultgate"
cp "$repo/LICENSE-MIT" "$repo/LICENSE-APACHE" "$repo/README.md" "$tree/"
"$vg" man --out "$tree/man/man1" > /dev/null
"$vg" completions bash > "$tree/completions/vaultgate.bash"
"$vg" completions zsh > "$tree/completions/_vaultgate"
"$vg" completions fish > "$tree/completions/vaultgate.fish"
"$vg" manifest generate "$tree" -q

# --- 3. the tarball ------------------------------------------------------------------------
mkdir -p "$outdir"
tarball=$outdir/$name.tar.gz
tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
  -cf - "$name" | gzip -n -9 > "$tarball"

# --- 4. the bundle -------------------------------------------------------------------------
bundle=$outdir/$name.zip
pack=$("$vg" zip pack "$tree" -o "$bundle" --json)
field() { printf '%s\n' "$pack" | sed -n "s/^  \"$1\": \"\([0-9a-f]\{64\}\)\",\{0,1\}$/\1/p"; }
bundle_sha=$(field bundle_sha256)
manifest_sha=$(field manifest_sha256)
[ -n "$bundle_sha" ] && [ -n "$manifest_sha" ] || die "zip pack printed no digests: $pack"
# The tarball's manifest.txt and the bundle's must be the same bytes: one digest covers both.
tree_manifest_sha=$("$vg" manifest digest "$tree/manifest.txt")
[ "$tree_manifest_sha" = "$manifest_sha" ] \
  || die "the tarball's manifest ($tree_manifest_sha) differs from the bundle's ($manifest_sha)"

# --- 5. the self-gate ----------------------------------------------------------------------
report=$work/gate-report
requires=(--require vaultgate --require LICENSE-MIT --require LICENSE-APACHE
  --require man/man1/vaultgate.1 --require man/man1/vaultgate-gate.1
  --require completions/vaultgate.bash --require completions/_vaultgate
  --require completions/vaultgate.fish)
"$vg" gate "$bundle" --expect-sha256 "$bundle_sha" --expect-manifest "$manifest_sha" \
  "${requires[@]}" \
  --run "chmod 0755 vaultgate && ./vaultgate --version | grep -q '^vaultgate $version'" \
  --run './vaultgate manifest verify manifest.txt -q' \
  --report "$report" --timeout 2m
mkdir -p "$outdir/gate-report"
cp -R "$report/." "$outdir/gate-report/"

# --- 6. the digests to publish -------------------------------------------------------------
tar_sha=$("$vg" manifest generate "$outdir" -o - --exclude gate-report \
  | sed -n "s/^\([0-9a-f]\{64\}\)  $name\.tar\.gz$/\1/p")
"$vg" manifest generate "$outdir" -o "$outdir/SHA256SUMS" --exclude gate-report -q
cat <<EOF

release $version ($("$vg" --version)) in $outdir
  $name.tar.gz  sha256 $tar_sha
  $name.zip     sha256 $bundle_sha
  manifest.txt  sha256 $manifest_sha   (inside both)
  SHA256SUMS    sha256sum -c reads it
  gate-report/  the self-gate's evidence (PASS)

Publish beside the release, then gate it anywhere with:
  vaultgate gate $name.zip --expect-sha256 $bundle_sha --expect-manifest $manifest_sha
EOF
