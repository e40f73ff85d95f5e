//! Shared helpers for the end-to-end tests: run the real binary with a clean environment, and
//! find the external corpora in `../shared/` (skipping loudly when they are absent).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
pub mod agent;

use std::path::{Path, PathBuf};

/// The real `vaultgate` binary, with every `VAULTGATE_*` variable and `NO_COLOR` removed so a
/// developer's shell cannot change a test's outcome.
pub fn vg() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("vaultgate").unwrap();
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("VAULTGATE_") {
            cmd.env_remove(&k);
        }
    }
    cmd.env_remove("NO_COLOR");
    cmd
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A folder of `../shared/` beside the repository, or `None` after saying loudly that the
/// tests needing it are skipped.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = repo_root().join("..").join("shared").join(rel);
    if p.exists() {
        Some(p)
    } else {
        #[allow(clippy::disallowed_macros)]
        {
            eprintln!(
                "SKIPPED: `{}` is absent; the tests that need it did not run",
                p.display()
            );
        }
        None
    }
}

/// `true` when `prog` is on PATH; otherwise says loudly that the interop test is skipped.
pub fn have(prog: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        #[allow(clippy::disallowed_macros)]
        {
            eprintln!(
                "SKIPPED: `{prog}` is not installed; the interop test that needs it did not run"
            );
        }
    }
    found
}

/// Write `content` to `root/rel`, creating parent folders.
pub fn write(root: &Path, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, content).unwrap();
    p
}

/// Parse a command's stdout as JSON.
pub fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
