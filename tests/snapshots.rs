//! The `--json` documents of every family, snapshotted on fixed inputs (insta, reviewed snapshots
//! in `tests/snapshots/`), so a refactor cannot change a document by accident.
//!
//! A change to a document is deliberate: run `INSTA_UPDATE=always cargo test --locked --test
//! snapshots`, review the diff of `tests/snapshots/*.snap` like code, and commit it with the
//! change that caused it (and a CHANGELOG line when a `v1` schema changes shape).
//!
//! What varies from run to run is redacted by [`normalise`], by key and by value, wherever it
//! appears in the document (so a field moving to another place keeps its redaction): durations
//! (`*_ms`), timestamps (`*_at`), run ids (`run_id*`), the git commit, and the temporary folder
//! each test runs in (written `[TMP]`). Everything else is compared byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../src/bundle/testkit.rs"]
mod testkit;

use std::path::Path;
use std::process::Output;

use common::{repo_root, vg, write};
use serde_json::Value;
use testkit::{E, build};

/// A fixed instant, so nothing depends on the clock even before redaction.
const NOW: &str = "2026-01-01T00:00:00Z";

/// Keys whose value differs from run to run; the value is replaced, its type kept visible.
fn volatile(key: &str) -> bool {
    key.ends_with("_ms")
        || key.ends_with("_at")
        || key.starts_with("run_id")
        || key == "git_commit"
        || key == "duration"
}

/// The document with every run-dependent value redacted and `tmp` written as `[TMP]`.
fn normalise(v: &mut Value, tmp: &str) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if volatile(k) {
                    match val {
                        Value::Null => {}
                        Value::Number(_) => *val = Value::from("[number]"),
                        _ => *val = Value::from("[redacted]"),
                    }
                } else {
                    normalise(val, tmp);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| normalise(x, tmp)),
        Value::String(s) if !tmp.is_empty() && s.contains(tmp) => *s = s.replace(tmp, "[TMP]"),
        _ => {}
    }
}

/// The command's `--json` document, normalised and pretty-printed, with its exit code on top.
fn document(out: &Output, tmp: &Path) -> String {
    let mut doc = common::json_of(out);
    normalise(&mut doc, &tmp.to_string_lossy());
    format!(
        "exit code: {}\n{}",
        out.status.code().unwrap_or(-1),
        serde_json::to_string_pretty(&doc).unwrap()
    )
}

/// A tree and its manifest, then one file changed, one removed and one added.
#[test]
fn manifest_verify_document() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    write(&root, "a.txt", "alpha\n");
    write(&root, "src/b.txt", "beta\n");
    write(&root, "src/c.txt", "gamma\n");
    vg().current_dir(&root)
        .args(["manifest", "generate", "."])
        .assert()
        .success();
    write(&root, "src/b.txt", "BETA\n");
    std::fs::remove_file(root.join("src/c.txt")).unwrap();
    write(&root, "new.txt", "unlisted\n");
    let out = vg()
        .current_dir(&root)
        .args(["--json", "manifest", "verify", "."])
        .output()
        .unwrap();
    insta::assert_snapshot!("manifest_verify", document(&out, &root));
    let out = vg()
        .current_dir(&root)
        .args(["--json", "manifest", "digest"])
        .output()
        .unwrap();
    insta::assert_snapshot!("manifest_digest", document(&out, &root));
}

/// A clean bundle (the gate demo) and a hostile one built in the test.
#[test]
fn zip_audit_documents() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::copy(
        repo_root().join("fixtures/gate/demo.zip"),
        root.join("demo.zip"),
    )
    .unwrap();
    let out = vg()
        .current_dir(&root)
        .args(["--json", "zip", "audit", "demo.zip"])
        .output()
        .unwrap();
    insta::assert_snapshot!("zip_audit_clean", document(&out, &root));

    let hostile = build(&[
        E::stored("ok.txt", "fine\n"),
        E::stored("../escape.txt", "out\n"),
        E::stored("README.md", "a\n"),
        E::stored("readme.md", "b\n"),
    ]);
    std::fs::write(root.join("hostile.zip"), hostile).unwrap();
    let out = vg()
        .current_dir(&root)
        .args(["--json", "zip", "audit", "hostile.zip"])
        .output()
        .unwrap();
    insta::assert_snapshot!("zip_audit_hostile", document(&out, &root));
}

/// The demo gate, pinned, with its report written into the temporary folder.
#[test]
fn gate_document() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::copy(
        repo_root().join("fixtures/gate/demo.zip"),
        root.join("demo.zip"),
    )
    .unwrap();
    let out = vg()
        .current_dir(&root)
        .args([
            "--json",
            "--now",
            NOW,
            "gate",
            "demo.zip",
            "--run",
            "sh checks.sh",
            "--expect-manifest",
            "b17eea588fbfef77c9a7ae9d7bd8f3fe73f8bb96ef20e7881d882c37596d800a",
        ])
        .args(["--report", "out/gate"])
        .output()
        .unwrap();
    insta::assert_snapshot!("gate_demo", document(&out, &root));
}

/// The Rust-written journal fixture as it is, then with one byte of a record changed.
#[test]
fn journal_verify_documents() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let bytes = std::fs::read(repo_root().join("fixtures/journal/rust_written.jsonl")).unwrap();
    std::fs::write(root.join("build.jsonl"), &bytes).unwrap();
    let out = vg()
        .current_dir(&root)
        .args(["--json", "journal", "verify", "build.jsonl"])
        .output()
        .unwrap();
    insta::assert_snapshot!("journal_verify_ok", document(&out, &root));

    let text = String::from_utf8(bytes).unwrap();
    let tampered = text.replacen("\"ok\"", "\"no\"", 1);
    assert_ne!(tampered, text, "the fixture has a status to tamper with");
    std::fs::write(root.join("build.jsonl"), tampered).unwrap();
    let out = vg()
        .current_dir(&root)
        .args(["--json", "journal", "verify", "build.jsonl"])
        .output()
        .unwrap();
    insta::assert_snapshot!("journal_verify_tampered", document(&out, &root));
}

/// One operation that breaks every rule at once, and one that is allowed.
#[test]
fn envelope_check_documents() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    write(
        &root,
        "envelope.json",
        r#"{
    "allow_ops": ["read", "write"],
    "allow_paths": ["src/**", "secrets/**", "ci/**"],
    "deny_paths": ["secrets"],
    "protected_paths": ["ci/**"],
    "max_budget_usd": 1.5
}"#,
    );
    write(&root, "src/main.rs", "fn main() {}");
    write(&root, "secrets/token", "hunter2");
    write(&root, "ci/build.yml", "steps: []");
    let check = |op: &str, paths: &[&str], extra: &[&str]| {
        let mut cmd = vg();
        cmd.current_dir(&root)
            .args(["--json", "--now", NOW, "envelope", "check"])
            .args(["--envelope", "envelope.json", "--op", op]);
        for p in paths {
            cmd.args(["--path", p]);
        }
        cmd.args(extra).output().unwrap()
    };
    let out = check("read", &["src/main.rs"], &["--cost", "0.25"]);
    insta::assert_snapshot!("envelope_check_allowed", document(&out, &root));
    let out = check(
        "delete",
        &["secrets/token", "/nonexistent-vaultgate/x", "ci/build.yml"],
        &["--cost", "5"],
    );
    insta::assert_snapshot!("envelope_check_denied", document(&out, &root));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("hunter2"),
        "a secret's content never reaches a report"
    );
}
