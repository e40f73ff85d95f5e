//! Shared helpers for the end-to-end tests: run the real binary with a clean environment, and
//! find the external tools and corpora the interop tests need.
//!
//! A test that needs something from outside (a tool on PATH, a corpus in `../shared/`) asks
//! [`require`] or [`require_shared`] first and returns when told `false` / `None`: locally that
//! is a loud `SKIPPED: <test> needs <what>` on stderr, and with `VAULTGATE_REQUIRE_INTEROP=1`
//! (set by `.ci/run`) it is a panic, so CI can never count a skipped interop test as passed.
//! Such a test's name ends in `_needs_<tool>` so the list of tests says what it depends on.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
pub mod agent;

pub mod pg;
pub mod vault;

use std::path::{Path, PathBuf};

pub mod lease;

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

/// The env variable that turns every missing tool or corpus into a test failure (CI sets it).
pub const REQUIRE_INTEROP: &str = "VAULTGATE_REQUIRE_INTEROP";

/// `true` when `tool` is on PATH. Otherwise: panics when `VAULTGATE_REQUIRE_INTEROP=1`, else
/// prints `SKIPPED: <test> needs <tool>` on stderr and returns `false` (the caller returns).
pub fn require(tool: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", "command -v \"$1\" >/dev/null", "sh", tool])
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        skip_or_panic(&format!("`{tool}` on PATH"));
    }
    found
}

/// The folder `../shared/<rel>` beside the repository (the shared corpora), when it exists.
/// Otherwise: panics when `VAULTGATE_REQUIRE_INTEROP=1`, else prints `SKIPPED: <test> needs
/// ../shared/<rel>` on stderr and returns `None` (the caller returns).
pub fn require_shared(rel: &str) -> Option<PathBuf> {
    let p = repo_root().join("..").join("shared").join(rel);
    if p.is_dir() {
        Some(p)
    } else {
        skip_or_panic(&format!("`../shared/{rel}` (looked for `{}`)", p.display()));
        None
    }
}

/// `true` when `path` is a file (an installed schema, a downloaded tool). Otherwise: panics when
/// `VAULTGATE_REQUIRE_INTEROP=1`, else prints `SKIPPED: <test> needs <what>` and returns `false`.
pub fn require_file(what: &str, path: &Path) -> bool {
    let found = path.is_file();
    if !found {
        skip_or_panic(&format!("{what} (looked for `{}`)", path.display()));
    }
    found
}

fn skip_or_panic(what: &str) {
    // libtest names each test's thread after the test.
    let current = std::thread::current();
    let test = current.name().unwrap_or("<unnamed test>");
    assert!(
        std::env::var(REQUIRE_INTEROP).as_deref() != Ok("1"),
        "{test} needs {what}, and {REQUIRE_INTEROP}=1 forbids skipping it"
    );
    // Written to the stderr handle itself, not through `eprintln!`, which libtest captures and
    // hides for a test that passes: the skip must show in `cargo test` output.
    let line = format!(
        "SKIPPED: {test} needs {what}; it did not run (with {REQUIRE_INTEROP}=1 this fails)\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// The SHA-256 of `bytes` as GNU `sha256sum` computes it (lowercase hex): the oracle for digest
/// tests, from outside vaultgate. `None` after [`require`] said `sha256sum` is missing.
pub fn sha256sum_of(bytes: &[u8]) -> Option<String> {
    if !require("sha256sum") {
        return None;
    }
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), bytes).unwrap();
    Some(oracle_hex(&child.wait_with_output().unwrap(), "sha256sum"))
}

/// The SHA-256 of the file at `path` as GNU `sha256sum` computes it; see [`sha256sum_of`].
pub fn sha256sum_of_file(path: &Path) -> Option<String> {
    if !require("sha256sum") {
        return None;
    }
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    Some(oracle_hex(&out, "sha256sum"))
}

/// The SHA-256 of the file at `path` as Python's `hashlib` computes it, for tests that already
/// need `python3`. `None` after [`require`] said `python3` is missing.
pub fn hashlib_sha256_of_file(path: &Path) -> Option<String> {
    if !require("python3") {
        return None;
    }
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())",
        ])
        .arg(path)
        .output()
        .unwrap();
    Some(oracle_hex(&out, "python3 hashlib"))
}

/// The 64 hex digits an oracle printed first, checked to be just that.
fn oracle_hex(out: &std::process::Output, what: &str) -> String {
    assert!(out.status.success(), "{what} failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text.split_whitespace().next().unwrap_or("").to_owned();
    assert!(
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{what} printed no digest: {text}"
    );
    hex
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
