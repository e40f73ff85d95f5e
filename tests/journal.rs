//! End-to-end tests of `vaultgate journal` and the canonical JSON it hashes: checked-in
//! vectors always, live interop with `scripts/journal_ref.py` when `python3` is present.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use common::{json_of, repo_root, require, vg};
use proptest::prelude::*;
use vaultgate::canon;
use vaultgate::clock::FixedClock;
use vaultgate::journal::{self, JournalCode, NewStep, VerifyOptions};
use vaultgate::report::FindingCode;

const NOW: &str = "2026-01-02T03:04:05Z";
const PY_HEAD: &str = "2ffaa5ba3f67c9966120fb1c497644bf7194c812b90a3ef81b3bb332a6837452";

fn fixture(name: &str) -> PathBuf {
    repo_root().join("fixtures/journal").join(name)
}

fn reference() -> PathBuf {
    repo_root().join("scripts/journal_ref.py")
}

fn python(args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .arg(reference())
        .args(args)
        .output()
        .unwrap()
}

fn clock() -> FixedClock {
    FixedClock(UNIX_EPOCH + Duration::from_secs(1_767_323_045))
}

/// A three-record journal written through the library.
fn three_records(dir: &Path) -> PathBuf {
    let p = dir.join("j.jsonl");
    for (k, name) in ["checkout", "build", "test"].iter().enumerate() {
        let step = NewStep {
            name: (*name).into(),
            status: "ok".into(),
            step_id: Some(format!("s{k}")),
            inputs: canon::parse_object(br#"{"f":1e16,"s":"\u00e9"}"#).unwrap(),
            ..NewStep::default()
        };
        journal::append(&p, step, &clock()).unwrap();
    }
    p
}

fn codes(report: &journal::VerifyReport) -> Vec<&'static str> {
    report.issues.iter().map(|i| i.code.as_str()).collect()
}

#[test]
fn canonical_vectors_generated_by_python_match() {
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("canonical_vectors.json")).unwrap()).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() > 60);
    for v in vectors {
        let input = v["input"].as_str().unwrap();
        let ours = canon::parse(input.as_bytes()).and_then(|x| canon::to_bytes(&x));
        match v["canonical"].as_str() {
            Some(want) => assert_eq!(
                String::from_utf8(ours.unwrap()).unwrap(),
                want,
                "input {input:?}"
            ),
            None => assert!(ours.is_err(), "accepted {input:?}, Python refuses it"),
        }
    }
}

#[test]
fn python_written_fixture_verifies() {
    let out = vg()
        .args(["--json", "journal", "verify"])
        .arg(fixture("python_written.jsonl"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let doc = json_of(&out);
    assert_eq!(doc["schema"], "vaultgate/journal/v1");
    assert_eq!(doc["head"], PY_HEAD);
    assert_eq!(doc["records"], 3);
    let records = journal::read_verified(&fixture("python_written.jsonl")).unwrap();
    assert_eq!(records[2].step_id, "py-3 \"quoted\"");
}

#[test]
fn rust_written_fixture_verifies_in_python_and_here_needs_python3() {
    vg().args(["journal", "verify"])
        .arg(fixture("rust_written.jsonl"))
        .assert()
        .success();
    if !require("python3") {
        return;
    }
    let out = python(&["verify", fixture("rust_written.jsonl").to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn live_interop_both_ways_needs_python3() {
    if !require("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mixed.jsonl");
    let ps = p.to_str().unwrap();
    let py = python(&[
        "append",
        ps,
        "--name",
        "py",
        "--status",
        "ok",
        "--inputs",
        r#"{"x":[1e16,0.1,1e-7,-0.0],"k\u00e9":"\ud83d\ude00"}"#,
    ]);
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    vg().env("VAULTGATE_NOW", NOW)
        .args(["journal", "append", ps, "--name", "rs", "--status", "ok"])
        .args([
            "--outputs",
            r#"{"n":123456789012345678901234567890,"f":1.0E2}"#,
        ])
        .assert()
        .success();
    let py = python(&["append", ps, "--name", "py2", "--status", "done"]);
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    vg().args(["journal", "verify", ps]).assert().success();
    let out = python(&["verify", ps]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let head = vg()
        .args(["--json", "journal", "head", ps])
        .output()
        .unwrap();
    let py_line = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        py_line.trim(),
        format!("ok 3 {}", json_of(&head)["head"].as_str().unwrap())
    );
}

/// A small deterministic generator, so the comparison is reproducible without a seed file.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_doubles_strings_and_ints_canonicalize_like_python_needs_python3() {
    if !require("python3") {
        return;
    }
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut inputs = Vec::new();
    while inputs.len() < 3000 {
        let f = f64::from_bits(rng.next());
        if f.is_finite() {
            // Python's repr then re-parsed: exercises every exponent range and tie.
            inputs.push(format!("{f:e}"));
        }
        let small = f64::from_bits(rng.next() % 0x4340_0000_0000_0000);
        inputs.push(format!("{small:?}"));
    }
    for _ in 0..500 {
        let s: String = (0..8)
            .filter_map(|_| char::from_u32(u32::try_from(rng.next() % 0x11_0000).unwrap()))
            .collect();
        inputs.push(serde_json::to_string(&serde_json::json!({ s.clone(): s })).unwrap());
        inputs.push(format!("-{}{}", 1 + rng.next() % 9, rng.next()));
    }
    let mut child = Command::new("python3")
        .arg(reference())
        .arg("canon")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let body = inputs.join("\n");
    let writer = std::thread::spawn(move || stdin.write_all(body.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), inputs.len());
    for (input, want) in inputs.iter().zip(lines) {
        let ours = canon::parse(input.as_bytes()).and_then(|v| canon::to_bytes(&v));
        if want.starts_with("ERROR") {
            assert!(ours.is_err(), "{input}: Python refuses, we accept");
        } else {
            assert_eq!(
                std::str::from_utf8(&ours.unwrap()).unwrap(),
                want,
                "{input}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Any single-byte change anywhere in a journal fails verification.
    #[test]
    fn any_single_byte_change_fails_verification(pos in any::<prop::sample::Index>(), delta in 1u8..=255) {
        let dir = tempfile::tempdir().unwrap();
        let p = three_records(dir.path());
        let mut bytes = std::fs::read(&p).unwrap();
        let i = pos.index(bytes.len());
        bytes[i] = bytes[i].wrapping_add(delta);
        std::fs::write(&p, &bytes).unwrap();
        let report = journal::verify(&p, &VerifyOptions::default()).unwrap();
        prop_assert!(report.issue_total > 0, "byte {i} changed and the journal still verifies");
        prop_assert!(journal::read_verified(&p).is_err());
    }
}

#[test]
fn truncation_anywhere_in_the_last_record_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let p = three_records(dir.path());
    let full = std::fs::read(&p).unwrap();
    let last_start = full[..full.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    for cut in last_start + 1..full.len() {
        std::fs::write(&p, &full[..cut]).unwrap();
        let report = journal::verify(&p, &VerifyOptions::default()).unwrap();
        assert_eq!(codes(&report), ["journal-torn-tail"], "cut at {cut}");
        assert_eq!(report.issues[0].line, 3);
        assert_eq!(report.issues[0].offset, last_start as u64);
        assert_eq!(report.records, 2);
    }
}

#[test]
fn a_nul_run_or_garbage_last_line_is_torn_but_an_earlier_one_is_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let p = three_records(dir.path());
    let full = std::fs::read(&p).unwrap();
    for tail in [&b"\0\0\0\0\0\0"[..], b"\0\0\0\n", b"{\"completed_at\":nu\n"] {
        let mut bytes = full.clone();
        bytes.extend_from_slice(tail);
        std::fs::write(&p, &bytes).unwrap();
        let report = journal::verify(&p, &VerifyOptions::default()).unwrap();
        assert_eq!(codes(&report), ["journal-torn-tail"], "tail {tail:?}");
        assert_eq!(report.issues[0].line, 4);
    }
    let mut bytes = b"\0\0\0\n".to_vec();
    bytes.extend_from_slice(&full);
    std::fs::write(&p, &bytes).unwrap();
    let report = journal::verify(&p, &VerifyOptions::default()).unwrap();
    assert_eq!(codes(&report)[0], "journal-line-invalid");
}

#[test]
fn tampering_is_named_with_line_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let p = three_records(dir.path());
    let full = String::from_utf8(std::fs::read(&p).unwrap()).unwrap();
    let second = full.find('\n').unwrap() + 1;
    std::fs::write(&p, full.replacen("\"build\"", "\"BUILD\"", 1)).unwrap();
    let out = vg()
        .args(["--json", "journal", "verify"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out);
    let first = &doc["summary"]["first_failure"];
    assert_eq!(first["code"], "journal-hash-mismatch");
    assert_eq!(first["line"], 2);
    assert_eq!(first["offset"], second);
    assert_eq!(doc["summary"]["exit_code"], 1);

    // Dropping a middle record breaks the chain at the next one.
    let lines: Vec<&str> = full.lines().collect();
    std::fs::write(&p, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
    let report = journal::verify(&p, &VerifyOptions::default()).unwrap();
    assert_eq!(codes(&report), ["journal-chain-broken"]);
    assert_eq!(report.issues[0].line, 2);

    // A repeated record: chain broken and duplicate step id.
    std::fs::write(&p, format!("{}\n{}\n", lines[0], lines[0])).unwrap();
    let report = journal::verify(&p, &VerifyOptions::default()).unwrap();
    assert_eq!(
        codes(&report),
        ["journal-chain-broken", "journal-duplicate-step-id"]
    );
}

#[test]
fn appends_after_a_torn_tail_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = three_records(dir.path());
    let full = std::fs::read(&p).unwrap();
    std::fs::write(&p, &full[..full.len() - 10]).unwrap();
    let out = vg()
        .args(["--json", "journal", "append"])
        .arg(&p)
        .args(["--name", "x", "--status", "ok"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_of(&out)["findings"][0]["code"], "journal-torn-tail");
    assert_eq!(std::fs::read(&p).unwrap(), &full[..full.len() - 10]);

    // Also after an invalid (tampered) last record.
    let tampered = String::from_utf8(full.clone())
        .unwrap()
        .replace("\"test\"", "\"TEST\"");
    std::fs::write(&p, &tampered).unwrap();
    let out = vg()
        .args(["journal", "append"])
        .arg(&p)
        .args(["--name", "x", "--status", "ok"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("journal-hash-mismatch"));
    assert_eq!(std::fs::read(&p).unwrap(), tampered.as_bytes());
}

#[test]
fn repair_drops_only_a_torn_tail_and_keeps_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let p = three_records(dir.path());
    let full = std::fs::read(&p).unwrap();
    let torn = [&full[..], b"{\"completed_at\":null,\"entry"].concat();
    std::fs::write(&p, &torn).unwrap();
    let out = vg()
        .env("VAULTGATE_NOW", NOW)
        .args(["journal", "repair"])
        .arg(&p)
        .arg("--truncate-torn-tail")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("dropped line 4"), "{text}");
    assert_eq!(std::fs::read(&p).unwrap(), full);
    let backup = dir.path().join("j.jsonl.bak-20260102T030405Z");
    assert_eq!(std::fs::read(&backup).unwrap(), torn);
    vg().args(["journal", "verify"]).arg(&p).assert().success();

    // A tampered record is never removed: refused, nothing changes, no backup.
    let tampered = String::from_utf8(torn)
        .unwrap()
        .replacen("\"build\"", "\"b\"", 1);
    std::fs::write(&p, &tampered).unwrap();
    std::fs::remove_file(&backup).unwrap();
    let out = vg()
        .env("VAULTGATE_NOW", NOW)
        .args(["journal", "repair"])
        .arg(&p)
        .arg("--truncate-torn-tail")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&p).unwrap(), tampered.as_bytes());
    assert!(!backup.exists());
}

#[test]
fn concurrent_appends_from_eight_processes_keep_one_valid_chain() {
    // On tmpfs when there is one: the test is about the lock and the chain, and 2,000 ext4
    // fsyncs serialized behind the lock would double its run time.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let p = dir.path().join("c.jsonl");
    let bin = assert_cmd::cargo::cargo_bin("vaultgate");
    let workers: Vec<_> = (0..8)
        .map(|w| {
            Command::new("sh")
                .arg("-c")
                .arg(format!(
                    r#"i=0; while [ $i -lt 250 ]; do i=$((i+1)); "$VG" -q journal append "$F" --name w{w} --status ok --step-id w{w}-$i || exit 1; done"#
                ))
                .env("VG", &bin)
                .env("F", &p)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut w in workers {
        assert!(w.wait().unwrap().success());
    }
    let records = journal::read_verified(&p).unwrap();
    assert_eq!(records.len(), 2000);
    let ids: std::collections::HashSet<_> = records.iter().map(|r| &r.step_id).collect();
    assert_eq!(ids.len(), 2000);
    vg().args(["journal", "verify"])
        .arg(&p)
        .args(["--expect-count", "2000"])
        .assert()
        .success();
}

#[test]
fn checkpoints_and_expectations_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let p = three_records(dir.path());
    let head = vg().args(["journal", "head"]).arg(&p).output().unwrap();
    let text = String::from_utf8(head.stdout).unwrap();
    let hash = text
        .lines()
        .nth(1)
        .unwrap()
        .strip_prefix("head ")
        .unwrap()
        .to_owned();
    assert!(text.starts_with("count 3\n"));
    vg().args(["journal", "verify"])
        .arg(&p)
        .args([
            "--checkpoint",
            &format!("3:{hash}"),
            "--expect-head",
            &hash,
            "--expect-count",
            "3",
        ])
        .assert()
        .success();
    // Truncation of the pinned prefix.
    let full = std::fs::read_to_string(&p).unwrap();
    let two: String = full.split_inclusive('\n').take(2).collect();
    std::fs::write(&p, two).unwrap();
    let out = vg()
        .args(["--json", "journal", "verify"])
        .arg(&p)
        .args(["--checkpoint", &format!("3:{hash}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        json_of(&out)["findings"][0]["code"],
        "journal-checkpoint-missing"
    );
    vg().args(["journal", "verify"])
        .arg(&p)
        .args(["--checkpoint", "3:nothex"])
        .assert()
        .code(2);
}

#[test]
fn usage_and_io_errors_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.jsonl");
    vg().args(["journal", "verify"])
        .arg(&missing)
        .assert()
        .code(2);
    let p = dir.path().join("j.jsonl");
    for bad in [
        r#"{"a":1,"a":2}"#,
        "[1]",
        r#"{"x":NaN}"#,
        r#"{"s":"\ud800"}"#,
    ] {
        vg().args(["journal", "append"])
            .arg(&p)
            .args(["--name", "n", "--status", "ok", "--inputs", bad])
            .assert()
            .code(2);
    }
    vg().args(["journal", "append"])
        .arg(&p)
        .args(["--name", "n", "--status", "ok", "--started-at", "yesterday"])
        .assert()
        .code(2);
    assert!(!p.exists(), "a refused append created the journal");
    std::fs::write(&p, b"").unwrap();
    vg().args(["journal", "show"]).arg(&p).assert().success();
    vg().args(["journal", "show"])
        .arg(&p)
        .args(["--step-id", "nope"])
        .assert()
        .code(1);
}

#[test]
fn help_carries_examples_and_exit_codes() {
    for sub in ["append", "verify", "head", "show", "repair"] {
        let out = vg().args(["journal", sub, "--help"]).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("Examples:") && text.contains("Exit codes:"),
            "{sub}: {text}"
        );
    }
}

#[test]
fn docs_list_every_finding_code() {
    let doc = std::fs::read_to_string(repo_root().join("docs/journal.md")).unwrap();
    for code in JournalCode::all() {
        assert!(
            doc.contains(&format!("`{}`", code.as_str())),
            "{} undocumented",
            code.as_str()
        );
    }
}
