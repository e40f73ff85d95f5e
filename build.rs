//! Names the commit in `vaultgate --version`: `0.1.0 (91305cb 2026-12-01)`, with `-dirty` when
//! tracked files differed from that commit at build time.
//!
//! Sources, first match wins:
//! 1. `VAULTGATE_BUILD_COMMIT` (the release script sets it, and a build from a source tarball
//!    can): the text inside the parentheses, e.g. `91305cb 2026-12-01`; empty means none.
//! 2. git, when the crate is inside a work tree and git is installed.
//! 3. Nothing: the version alone (`vaultgate 0.1.0`). A missing git is never a build failure.
//!
//! Cost: the script re-runs only when `HEAD` or the ref it points to moves (resolved through
//! `git rev-parse --git-dir`, so linked worktrees work), never on every index change, so an
//! ordinary edit–build loop does not pay for it. The price is that `-dirty` reflects the tree
//! when the commit last changed; release builds set `VAULTGATE_BUILD_COMMIT` afresh.
#![allow(clippy::disallowed_macros)] // a build script talks to cargo through stdout

use std::path::{Path, PathBuf};
use std::process::Command;

const OVERRIDE: &str = "VAULTGATE_BUILD_COMMIT";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={OVERRIDE}");
    let version = env_or_empty("CARGO_PKG_VERSION");
    let commit = match std::env::var(OVERRIDE) {
        Ok(v) => {
            let v = v.trim().to_owned();
            // Fail closed: a version string is printed verbatim, so it must be plain text.
            assert!(
                v.chars().all(|c| c.is_ascii_graphic() || c == ' ') && v.len() <= 80,
                "{OVERRIDE} must be at most 80 printable ASCII characters, got {v:?}"
            );
            (!v.is_empty()).then_some(v)
        }
        Err(_) => from_git(),
    };
    let long = match commit {
        Some(c) => format!("{version} ({c})"),
        None => version,
    };
    println!("cargo:rustc-env=VAULTGATE_VERSION={long}");
}

fn env_or_empty(key: &str) -> String {
    std::env::var(key).unwrap_or_default()
}

/// `<short hash> <commit date>[-dirty]`, or `None` when this is not a git checkout.
fn from_git() -> Option<String> {
    let dir = PathBuf::from(env_or_empty("CARGO_MANIFEST_DIR"));
    // Only our own checkout counts: a source tree unpacked inside some other repository must
    // not claim that repository's commit.
    let top = git(&dir, &["rev-parse", "--show-toplevel"])?;
    if std::fs::canonicalize(&top).ok()? != std::fs::canonicalize(&dir).ok()? {
        return None;
    }
    let git_dir = abs(&dir, &git(&dir, &["rev-parse", "--git-dir"])?);
    let common = abs(&dir, &git(&dir, &["rev-parse", "--git-common-dir"])?);
    watch(&git_dir.join("HEAD"));
    if let Some(head_ref) = git(&dir, &["symbolic-ref", "-q", "HEAD"]) {
        // A branch: its loose ref, or packed-refs when git has packed it.
        watch(&common.join(&head_ref));
        watch(&common.join("packed-refs"));
    }
    let line = git(&dir, &["log", "-1", "--format=%h %cs"])?;
    // Fail closed: a tree whose state git cannot tell is not called clean.
    let dirty =
        git(&dir, &["status", "--porcelain", "--untracked-files=no"]).is_none_or(|s| !s.is_empty());
    Some(if dirty { format!("{line}-dirty") } else { line })
}

fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn abs(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// The trimmed stdout of a successful git command, or `None` (git absent, not a repository).
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_owned())
}
