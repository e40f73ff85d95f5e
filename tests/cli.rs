//! The command-line conventions every family shares: help, version, exit codes, `--json`
//! errors, colour, completions, and the generated reference in `docs/cli.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{json_of, repo_root, vg};
use predicates::prelude::*;

#[test]
fn cli_reference_is_current() {
    let want = vaultgate::cli::docs::markdown();
    let path = repo_root().join("docs/cli.md");
    if std::env::var_os("VAULTGATE_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/cli.md is stale: run `VAULTGATE_BLESS=1 cargo test --locked --test cli`"
    );
}

#[test]
fn help_teaches_exit_codes_and_version_prints() {
    vg().arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes:"));
    vg().args(["manifest", "verify", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Examples:"));
    vg().arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("vaultgate "));
}

#[test]
fn usage_errors_exit_2() {
    vg().arg("--no-such-flag").assert().code(2);
    vg().args(["manifest", "frobnicate"]).assert().code(2);
    vg().assert().code(2);
}

#[test]
fn errors_are_json_documents_with_json() {
    let out = vg()
        .args([
            "manifest",
            "verify",
            "--json",
            "-m",
            "/nonexistent/manifest.txt",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let j = json_of(&out);
    assert_eq!(j["schema"], "vaultgate/error/v1");
    assert_eq!(j["summary"]["exit_code"], 2);
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("`/nonexistent/manifest.txt`")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("vaultgate: error: cannot open `/nonexistent/manifest.txt`"),
        "{stderr}"
    );
    // Regression: the I/O cause was printed twice (once in the message, once as its source).
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn bad_clock_override_is_refused() {
    vg().env("VAULTGATE_NOW", "yesterday")
        .args(["manifest", "digest", "/nonexistent"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "invalid clock override `yesterday`",
        ));
}

#[test]
fn color_flag_and_no_color() {
    let d = tempfile::tempdir().unwrap();
    common::write(d.path(), "a", "a");
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .success();
    vg().args(["manifest", "verify", "--color", "always"])
        .arg(d.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("\x1b["));
    vg().args(["manifest", "verify", "--color", "auto"])
        .env("NO_COLOR", "1")
        .arg(d.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("\x1b[").not());
    vg().args(["manifest", "verify", "--color", "never"])
        .arg(d.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("\x1b[").not());
}

#[test]
fn quiet_prints_nothing_on_success_and_a_line_on_failure() {
    let d = tempfile::tempdir().unwrap();
    common::write(d.path(), "a", "a");
    vg().args(["manifest", "generate", "-q"])
        .arg(d.path())
        .assert()
        .success()
        .stdout("");
    common::write(d.path(), "b", "b");
    vg().args(["manifest", "verify", "-q"])
        .arg(d.path())
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("FAIL"));
}

#[test]
fn completions_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        vg().args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("vaultgate"));
    }
}

/// A report that cannot be delivered is never a pass: with stdout a pipe whose reader is gone,
/// a passing check exits 2 and a failing one keeps its 1.
#[test]
fn closed_stdout_never_turns_into_a_pass() {
    let d = tempfile::tempdir().unwrap();
    common::write(d.path(), "a", "a");
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .success();
    let run = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let bin = assert_cmd::cargo::cargo_bin("vaultgate");
        std::process::Command::new(bin)
            .args(["manifest", "verify"])
            .arg(d.path())
            .stdout(writer)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(
        run(),
        Some(2),
        "a pass whose report was lost must not exit 0"
    );
    common::write(d.path(), "b", "b");
    assert_eq!(run(), Some(1), "a failure stays a failure");
}

/// The README opens with exactly two commands; the first (the gate on the shipped demo) must
/// pass through the real binary exactly as written, so the README cannot rot.
#[test]
fn readme_opens_with_two_commands_and_the_first_passes() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let lines: Vec<&str> = block.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "README must open with exactly two commands: {lines:?}"
    );
    assert_eq!(lines[1], "cargo test --locked");
    let args = lines[0]
        .strip_prefix("cargo run --locked -q -- ")
        .expect("first command runs the binary");
    assert!(
        args.starts_with("gate fixtures/gate/"),
        "the first command is the gate on a shipped demo"
    );
    let report = tempfile::tempdir().unwrap();
    let args = args.replace(
        "--report target/gate-demo",
        &format!("--report {}", report.path().join("r").display()),
    );
    let bin = assert_cmd::cargo::cargo_bin("vaultgate");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("\"$0\" {args}"))
        .arg(&bin)
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "README command failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASS"));
    assert!(report.path().join("r/report.json").is_file());
}
