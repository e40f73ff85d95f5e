//! `--format sarif` (zip audit, gate, manifest verify, envelope check) and `--format junit`
//! (gate) through the real binary. Every SARIF log is validated against the published OASIS
//! SARIF 2.1.0 JSON schema (formats checked too: `helpUri` must be an absolute URI), and the
//! validator is shown to reject a broken log so the check is not vacuous. The schema is not
//! committed: `scripts/sarif-schema.sh` (run by `.ci/run`) puts the copy that the npm package
//! `@microsoft/jest-sarif` ships at `target/sarif-schema/sarif-schema-2.1.0.json`, or
//! `VAULTGATE_SARIF_SCHEMA` names one. Without it the schema part says SKIPPED (a failure under
//! `VAULTGATE_REQUIRE_INTEROP=1`); the structural checks still run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../src/bundle/testkit.rs"]
mod testkit;

use std::path::Path;
use std::process::Output;

use common::{json_of, repo_root, vg, write};
use serde_json::Value;
use testkit::{E, build};

const DEMO_MANIFEST: &str = "b17eea588fbfef77c9a7ae9d7bd8f3fe73f8bb96ef20e7881d882c37596d800a";

fn validator() -> Option<jsonschema::Validator> {
    let path = std::env::var_os("VAULTGATE_SARIF_SCHEMA").map_or_else(
        || repo_root().join("target/sarif-schema/sarif-schema-2.1.0.json"),
        std::path::PathBuf::from,
    );
    if !common::require_file(
        "the SARIF 2.1.0 schema (run scripts/sarif-schema.sh)",
        &path,
    ) {
        return None;
    }
    let schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .map(Some)
        .unwrap()
}

/// Parse stdout as SARIF and validate it; returns the log.
fn valid_sarif(out: &Output) -> Value {
    let log = json_of(out);
    if let Some(v) = validator() {
        let errors: Vec<String> = v
            .iter_errors(&log)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "SARIF schema violations: {errors:#?}");
    }
    assert_eq!(log["version"], "2.1.0");
    log
}

fn rule_ids(log: &Value) -> Vec<String> {
    log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Each result names a rule that exists at its `ruleIndex`, and the result codes equal the
/// `--json` report's finding codes (nothing dropped, nothing invented).
fn assert_results_match(log: &Value, json_codes: &[String]) {
    let ids = rule_ids(log);
    let results = log["runs"][0]["results"].as_array().unwrap();
    let mut codes: Vec<String> = results
        .iter()
        .map(|r| {
            let id = r["ruleId"].as_str().unwrap();
            let idx = usize::try_from(r["ruleIndex"].as_u64().unwrap()).unwrap();
            assert_eq!(ids[idx], id, "ruleIndex points at another rule");
            assert!(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].is_string());
            id.to_owned()
        })
        .collect();
    let mut want = json_codes.to_vec();
    codes.sort();
    want.sort();
    assert_eq!(codes, want);
}

fn json_codes(doc: &Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_schema_check_rejects_a_broken_log_needs_sarif_schema() {
    let Some(v) = validator() else { return };
    assert!(
        !v.is_valid(&serde_json::json!({"runs": []})),
        "version is required"
    );
    let bad_uri = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {
        "name": "x", "rules": [{"id": "r", "helpUri": "docs/zip.md#findings"}]}}}]});
    assert!(!v.is_valid(&bad_uri), "a relative helpUri must be refused");
    let bad_level = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}},
        "results": [{"message": {"text": "m"}, "level": "fatal"}]}]});
    assert!(!v.is_valid(&bad_level));
}

#[test]
fn zip_audit_sarif_has_one_result_per_finding() {
    let d = tempfile::tempdir().unwrap();
    let bundle = d.path().join("evil bundle.zip");
    std::fs::write(
        &bundle,
        build(&[
            E::stored("../../etc/passwd", b"x"),
            E::stored("ok.txt", b"fine"),
            E::stored("__pycache__/m.pyc", b"z"),
        ]),
    )
    .unwrap();
    let json = vg()
        .args(["--json", "zip", "audit"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(json.status.code(), Some(1));
    let codes = json_codes(&json_of(&json));
    assert!(codes.iter().any(|c| c == "zip-path-traversal"));

    let out = vg()
        .args(["zip", "audit", "--format", "sarif"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the exit code stays the audit's"
    );
    let log = valid_sarif(&out);
    assert_results_match(&log, &codes);
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "vaultgate");
    assert_eq!(run["invocations"][0]["exitCode"], 1);
    // Every documented zip code is a rule, each with its docs link and a description.
    let ids = rule_ids(&log);
    assert!(ids.len() >= 50, "{}", ids.len());
    for r in run["tool"]["driver"]["rules"].as_array().unwrap() {
        let link = r["properties"]["documentation"].as_str().unwrap();
        assert!(link.starts_with("docs/zip.md#"), "{link}");
        assert!(!r["shortDescription"]["text"].as_str().unwrap().is_empty());
    }
    let traversal = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "zip-path-traversal")
        .unwrap();
    let loc = &traversal["locations"][0];
    assert!(
        loc["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("/evil%20bundle.zip"),
        "{loc}"
    );
    assert_eq!(loc["logicalLocations"][0]["name"], "../../etc/passwd");
    assert_eq!(traversal["level"], "error");

    // A clean bundle: a valid log with no results, exit 0.
    let clean = d.path().join("clean.zip");
    std::fs::write(&clean, build(&[E::stored("ok.txt", b"fine")])).unwrap();
    let out = vg()
        .args(["zip", "audit", "--format", "sarif"])
        .arg(&clean)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let log = valid_sarif(&out);
    assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 0);
}

#[test]
fn manifest_verify_sarif_points_at_each_file() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "dist/a.txt", "a");
    write(d.path(), "dist/gone.txt", "g");
    vg().args(["manifest", "generate", "dist", "-q"])
        .current_dir(d.path())
        .assert()
        .success();
    write(d.path(), "dist/a.txt", "tampered");
    std::fs::remove_file(d.path().join("dist/gone.txt")).unwrap();
    write(d.path(), "dist/new file.txt", "n");
    let json = vg()
        .args(["--json", "manifest", "verify", "dist"])
        .current_dir(d.path())
        .output()
        .unwrap();
    let codes = json_codes(&json_of(&json));
    assert_eq!(codes.len(), 3, "{codes:?}");
    let out = vg()
        .args(["manifest", "verify", "dist", "--format", "sarif"])
        .current_dir(d.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let log = valid_sarif(&out);
    assert_results_match(&log, &codes);
    let uris: Vec<&str> = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    for want in ["dist/a.txt", "dist/gone.txt", "dist/new%20file.txt"] {
        assert!(uris.contains(&want), "{want} not in {uris:?}");
    }
    for r in log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
    {
        assert!(
            r["properties"]["documentation"]
                .as_str()
                .unwrap()
                .starts_with("docs/manifest.md#")
        );
    }
}

#[test]
fn envelope_check_sarif_lists_every_reason() {
    let d = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(d.path()).unwrap();
    write(
        &root,
        "envelope.json",
        r#"{"allow_ops": ["read"], "allow_paths": ["src/**"], "deny_paths": ["**/*.pem"],
            "protected_paths": [], "max_budget_usd": 1}"#,
    );
    write(&root, "src/key.pem", "k");
    let args = [
        "envelope",
        "check",
        "--envelope",
        "envelope.json",
        "--op",
        "write",
        "--path",
        "src/key.pem",
        "--cost",
        "2",
    ];
    let json = vg()
        .current_dir(&root)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(json.status.code(), Some(1));
    let codes = json_codes(&json_of(&json));
    assert!(codes.len() >= 3, "{codes:?}");
    let out = vg()
        .current_dir(&root)
        .args(args)
        .args(["--format", "sarif"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let log = valid_sarif(&out);
    assert_results_match(&log, &codes);
    assert_eq!(
        log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "envelope.json"
    );
}

fn gate(report: &Path, extra: &[&str]) -> Output {
    vg().current_dir(repo_root())
        .args([
            "gate",
            "fixtures/gate/demo.zip",
            "--expect-manifest",
            DEMO_MANIFEST,
        ])
        .arg("--report")
        .arg(report)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn gate_sarif_carries_the_failed_step_findings() {
    let d = tempfile::tempdir().unwrap();
    let pass = gate(
        &d.path().join("r1"),
        &["--run", "sh checks.sh", "--format", "sarif"],
    );
    assert_eq!(pass.status.code(), Some(0));
    let log = valid_sarif(&pass);
    assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 0);
    let ids = rule_ids(&log);
    for family in ["gate-", "zip-", "zip-extract-", "manifest-"] {
        assert!(
            ids.iter().any(|i| i.starts_with(family)),
            "{family} rules missing"
        );
    }
    let fail = gate(
        &d.path().join("r2"),
        &["--require", "no/such/file", "--format", "sarif"],
    );
    assert_eq!(fail.status.code(), Some(1));
    let log = valid_sarif(&fail);
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "gate-required-missing")
    );
    assert!(
        d.path().join("r2/report.json").is_file(),
        "the report is still written"
    );
}

#[test]
fn gate_junit_has_a_testcase_per_step_and_check_with_their_logs() {
    let d = tempfile::tempdir().unwrap();
    let out = gate(
        &d.path().join("r"),
        &[
            "--run",
            "sh checks.sh",
            "--run",
            "echo to-stdout; printf '<&>\\033[2J\\n' >&2; exit 3",
            "--run",
            "true",
            "--format",
            "junit",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    assert!(
        xml.contains("tests=\"7\" failures=\"1\" errors=\"0\" skipped=\"1\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 7);
    for step in [
        "\"audit\"",
        "\"extract\"",
        "\"manifest\"",
        "\"require\"",
        "\"check-01: sh checks.sh\"",
    ] {
        assert!(xml.contains(&format!("name={step}")), "{step}: {xml}");
    }
    assert!(
        xml.contains("<system-out>ok: greetings match\n</system-out>"),
        "{xml}"
    );
    assert!(
        xml.contains("<system-out>to-stdout\n</system-out>"),
        "{xml}"
    );
    // The check's stderr, escaped: markup as entities, the escape byte XML cannot hold spelled.
    assert!(
        xml.contains("<system-err>&lt;&amp;&gt;\\u{1b}[2J\n</system-err>"),
        "{xml}"
    );
    assert!(!xml.contains('\u{1b}'));
    assert!(xml.contains("<failure message=") && xml.contains("gate-check-failed"));
    assert!(
        xml.contains("<skipped message="),
        "the check after the failure is skipped"
    );
    // Well-formed XML, read by an independent parser when python3 is there.
    if common::require("python3") {
        let f = d.path().join("junit.xml");
        std::fs::write(&f, &xml).unwrap();
        let parsed = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); \
                 s = r.find('testsuite'); print(len(s.findall('testcase')), s.get('failures'))",
            ])
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            parsed.status.success(),
            "{}",
            String::from_utf8_lossy(&parsed.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&parsed.stdout).trim(), "7 1");
    }
}

#[test]
fn formats_refuse_contradictions_and_bad_docs_urls() {
    let d = tempfile::tempdir().unwrap();
    let both = gate(&d.path().join("r"), &["--json", "--format", "junit"]);
    assert_eq!(both.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&both.stderr).contains("two documents"));
    // junit is the gate's only: elsewhere it is a usage error naming the valid values.
    vg().args(["zip", "audit", "x.zip", "--format", "junit"])
        .assert()
        .code(2);
    let clean = d.path().join("c.zip");
    std::fs::write(&clean, build(&[E::stored("ok.txt", b"fine")])).unwrap();
    let out = vg()
        .env(
            "VAULTGATE_DOCS_URL",
            "https://example.org/vaultgate/blob/v0.1.0",
        )
        .args(["zip", "audit", "--format", "sarif"])
        .arg(&clean)
        .output()
        .unwrap();
    let log = valid_sarif(&out);
    let rule = &log["runs"][0]["tool"]["driver"]["rules"][0];
    assert!(
        rule["helpUri"]
            .as_str()
            .unwrap()
            .starts_with("https://example.org/vaultgate/blob/v0.1.0/docs/zip.md#")
    );
    vg().env("VAULTGATE_DOCS_URL", "docs/")
        .args(["zip", "audit", "--format", "sarif"])
        .arg(&clean)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("VAULTGATE_DOCS_URL"));
    // --format json is --json.
    let json = vg()
        .args(["zip", "audit", "--format", "json"])
        .arg(&clean)
        .output()
        .unwrap();
    assert_eq!(json_of(&json)["schema"], "vaultgate/zip/v1");
}

#[test]
fn journal_verify_sarif_points_at_the_journal_line() {
    let d = tempfile::tempdir().unwrap();
    let j = d.path().join("steps.jsonl");
    for name in ["build", "test"] {
        vg().args(["journal", "append"])
            .arg(&j)
            .args(["--name", name, "--status", "ok", "-q"])
            .env("VAULTGATE_NOW", "2026-01-02T03:04:05Z")
            .assert()
            .success();
    }
    let text = std::fs::read_to_string(&j).unwrap();
    std::fs::write(
        &j,
        text.replacen("\"name\":\"test\"", "\"name\":\"tost\"", 1),
    )
    .unwrap();
    let json = vg()
        .args(["--json", "journal", "verify"])
        .arg(&j)
        .output()
        .unwrap();
    assert_eq!(json.status.code(), Some(1));
    let codes = json_codes(&json_of(&json));
    assert!(
        codes.iter().any(|c| c == "journal-hash-mismatch"),
        "{codes:?}"
    );
    let out = vg()
        .args(["journal", "verify", "--format", "sarif"])
        .arg(&j)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let log = valid_sarif(&out);
    assert_results_match(&log, &codes);
    let result = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "journal-hash-mismatch")
        .unwrap();
    let phys = &result["locations"][0]["physicalLocation"];
    assert!(
        phys["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("/steps.jsonl")
    );
    assert_eq!(phys["region"]["startLine"], 2);
    let first_line_len = text.lines().next().unwrap().len() + 1;
    assert_eq!(phys["region"]["byteOffset"], first_line_len);
}
