//! End-to-end tests of `vaultgate journal` through the real binary, and of the canonical JSON
//! it hashes: checked-in vectors always, live interop with `scripts/journal_ref.py` when
//! `python3` is present. (The journal's own unit tests live beside the code.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::{json_of, repo_root, require, vg};
use proptest::prelude::*;
use serde_json::Value;
use vaultgate::canon;
use vaultgate::journal::JournalCode;
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

/// `vaultgate journal append FILE --name NAME --status ok --step-id ID [extra…]` at `NOW`.
fn append(p: &Path, name: &str, step_id: &str, extra: &[&str]) -> std::process::Output {
    vg().env("VAULTGATE_NOW", NOW)
        .args(["journal", "append"])
        .arg(p)
        .args(["--name", name, "--status", "ok", "--step-id", step_id])
        .args(extra)
        .output()
        .unwrap()
}

/// The bytes of a three-record journal written by the binary (written once per test run).
fn three_record_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.jsonl");
        for (k, name) in ["checkout", "build", "test"].iter().enumerate() {
            let out = append(
                &p,
                name,
                &format!("s{k}"),
                &["--inputs", r#"{"f":1e16,"s":"\u00e9"}"#],
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::fs::read(&p).unwrap()
    })
}

/// A three-record journal written through the binary.
fn three_records(dir: &Path) -> PathBuf {
    let p = dir.join("j.jsonl");
    std::fs::write(&p, three_record_bytes()).unwrap();
    p
}

/// `vaultgate --json journal verify FILE [extra…]`: the exit code and the document.
fn verify(p: &Path, extra: &[&str]) -> (i32, Value) {
    let out = vg()
        .args(["--json", "journal", "verify"])
        .arg(p)
        .args(extra)
        .output()
        .unwrap();
    (out.status.code().unwrap(), json_of(&out))
}

fn codes(doc: &Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

/// The records `journal show` prints (exit 0), or `None` when the journal does not verify.
fn show(p: &Path) -> Option<Vec<Value>> {
    let out = vg()
        .args(["--json", "journal", "show"])
        .arg(p)
        .output()
        .unwrap();
    match out.status.code() {
        Some(0) => Some(json_of(&out)["records"].as_array().unwrap().clone()),
        Some(1) => None,
        other => panic!(
            "show exited {other:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
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
    let records = show(&fixture("python_written.jsonl")).unwrap();
    assert_eq!(records[2]["step_id"], "py-3 \"quoted\"");
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
    // Each case runs the binary twice: 128 cases keep the test near a second.
    #![proptest_config(ProptestConfig::with_cases(128))]
    /// Any single-byte change anywhere in a journal fails verification.
    #[test]
    fn any_single_byte_change_fails_verification(pos in any::<prop::sample::Index>(), delta in 1u8..=255) {
        let dir = tempfile::tempdir().unwrap();
        let p = three_records(dir.path());
        let mut bytes = std::fs::read(&p).unwrap();
        let i = pos.index(bytes.len());
        bytes[i] = bytes[i].wrapping_add(delta);
        std::fs::write(&p, &bytes).unwrap();
        let (code, doc) = verify(&p, &[]);
        prop_assert_eq!(code, 1, "byte {} changed and the journal still verifies", i);
        prop_assert!(doc["summary"]["findings"].as_u64().unwrap() > 0);
        prop_assert!(show(&p).is_none());
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
        let (code, doc) = verify(&p, &[]);
        assert_eq!(
            (code, codes(&doc)),
            (1, vec!["journal-torn-tail".to_owned()]),
            "cut at {cut}"
        );
        assert_eq!(doc["findings"][0]["line"], 3);
        assert_eq!(doc["findings"][0]["offset"], last_start);
        assert_eq!(doc["records"], 2);
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
        let (_, doc) = verify(&p, &[]);
        assert_eq!(codes(&doc), ["journal-torn-tail"], "tail {tail:?}");
        assert_eq!(doc["findings"][0]["line"], 4);
    }
    let mut bytes = b"\0\0\0\n".to_vec();
    bytes.extend_from_slice(&full);
    std::fs::write(&p, &bytes).unwrap();
    let (code, doc) = verify(&p, &[]);
    assert_eq!((code, codes(&doc)[0].as_str()), (1, "journal-line-invalid"));
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
    let (_, doc) = verify(&p, &[]);
    assert_eq!(codes(&doc), ["journal-chain-broken"]);
    assert_eq!(doc["findings"][0]["line"], 2);

    // A repeated record: chain broken and duplicate step id.
    std::fs::write(&p, format!("{}\n{}\n", lines[0], lines[0])).unwrap();
    let (_, doc) = verify(&p, &[]);
    assert_eq!(
        codes(&doc),
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
    let records = show(&p).unwrap();
    assert_eq!(records.len(), 2000);
    let ids: std::collections::HashSet<_> = records.iter().map(|r| &r["step_id"]).collect();
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

const PY_STYLED_HEAD: &str = "3dc49b454df7b982859f5fff55b05c351d1cf6e9606b3fde8d56dffceec56fd9";

/// Regression (issue 8 §5): a journal written with Python's default `json.dumps(record)` has
/// correct hashes (over the canonical bytes) but failed with `journal-not-canonical` on every
/// line, and nothing could accept it. `--lines any` accepts it with one warning per line.
#[test]
fn python_default_and_unicode_journals_verify_with_lines_any() {
    for name in ["python_default.jsonl", "python_unicode.jsonl"] {
        let p = fixture(name);
        let (code, doc) = verify(&p, &[]);
        assert_eq!(code, 1, "{name}: canonical is the default");
        assert_eq!(codes(&doc), ["journal-not-canonical"; 3]);
        assert!(
            doc["findings"][0]["message"]
                .as_str()
                .unwrap()
                .contains("help: `--lines any`")
        );

        let (code, doc) = verify(&p, &["--lines", "any"]);
        assert_eq!(code, 0, "{name}: {doc}");
        assert_eq!(doc["head"], PY_STYLED_HEAD);
        assert_eq!(doc["records"], 3);
        assert_eq!(doc["lines"], "any");
        assert_eq!(doc["summary"]["warnings"], 3);
        assert_eq!(doc["summary"]["first_failure"], Value::Null);
        for (k, f) in doc["findings"].as_array().unwrap().iter().enumerate() {
            assert_eq!(f["code"], "journal-not-canonical");
            assert_eq!(f["severity"], "warning");
            assert_eq!(f["line"], k + 1);
        }

        let out = vg()
            .args(["journal", "verify", "--lines", "any"])
            .arg(&p)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            text.matches("WARN journal-not-canonical").count(),
            3,
            "{text}"
        );
        assert!(text.contains("PASS"), "{text}");

        let out = vg()
            .args(["journal", "head", "--lines", "any"])
            .arg(&p)
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.starts_with(&format!("count 3\nhead {PY_STYLED_HEAD}\n")),
            "{text}"
        );
        vg().args(["journal", "head"]).arg(&p).assert().code(1);
    }
}

/// `append --lines any` chains onto a Python-written journal and still writes a canonical
/// line; without it the append is refused and the file is unchanged.
#[test]
fn append_with_lines_any_writes_a_canonical_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("py.jsonl");
    let original = std::fs::read(fixture("python_unicode.jsonl")).unwrap();
    std::fs::write(&p, &original).unwrap();
    let out = append(&p, "rust", "rs-1", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&p).unwrap(), original);

    let out = vg()
        .env("VAULTGATE_NOW", NOW)
        .args(["--json", "journal", "append", "--lines", "any"])
        .arg(&p)
        .args(["--name", "rust", "--status", "ok", "--step-id", "rs-1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let doc = json_of(&out);
    assert_eq!(doc["record"]["prev_hash"], PY_STYLED_HEAD);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 3);
    assert_eq!(doc["findings"][0]["severity"], "warning");
    // The new last line is canonical: the fast strict check accepts it as the only line
    // that is not a warning.
    let (code, doc) = verify(&p, &["--lines", "any"]);
    assert_eq!((code, doc["records"].as_u64()), (0, Some(4)));
    assert_eq!(doc["summary"]["warnings"], 3);
    let bytes = std::fs::read(&p).unwrap();
    let last = bytes[original.len()..].to_vec();
    let parsed = canon::parse(&last[..last.len() - 1]).unwrap();
    assert_eq!(canon::to_bytes(&parsed).unwrap(), &last[..last.len() - 1]);
}

/// `--lines any` loosens only the spelling: duplicate keys, a wrong hash and a broken chain
/// are still refused.
#[test]
fn lines_any_still_refuses_duplicates_and_bad_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("py.jsonl");
    let text = std::fs::read_to_string(fixture("python_default.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let dup = lines[0].replacen("{\"step_id\"", "{\"name\": \"x\", \"step_id\"", 1);
    std::fs::write(&p, format!("{dup}\n{}\n{}\n", lines[1], lines[2])).unwrap();
    let (code, doc) = verify(&p, &["--lines", "any"]);
    assert_eq!(code, 1);
    assert_eq!(codes(&doc)[0], "journal-line-invalid");
    assert!(
        doc["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("duplicate"),
        "{doc}"
    );

    let tampered = lines[1].replace("\"compile\"", "\"COMPILE\"");
    std::fs::write(&p, format!("{}\n{tampered}\n{}\n", lines[0], lines[2])).unwrap();
    let (code, doc) = verify(&p, &["--lines", "any"]);
    assert_eq!(code, 1);
    assert!(
        codes(&doc).contains(&"journal-hash-mismatch".to_owned()),
        "{doc}"
    );
    let out = vg()
        .env("VAULTGATE_NOW", NOW)
        .args(["journal", "append", "--lines", "any"])
        .arg(&p)
        .args(["--name", "n", "--status", "ok"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// Live interop: journals written now by the Python reference with default separators and
/// with `ensure_ascii=False` verify with `--lines any` to the head Python computed.
#[test]
fn live_python_styled_journals_verify_with_lines_any_needs_python3() {
    if !require("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for style in ["default", "unicode"] {
        let p = dir.path().join(format!("{style}.jsonl"));
        let out = python(&["generate", p.to_str().unwrap(), "200", "--style", style]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let py = String::from_utf8(out.stdout).unwrap();
        let (code, doc) = verify(&p, &["--lines", "any"]);
        assert_eq!(code, 0, "{style}: {}", doc["summary"]);
        assert_eq!(
            format!("ok 200 {}", doc["head"].as_str().unwrap()),
            py.trim()
        );
        assert_eq!(doc["summary"]["warnings"], 200);
        assert_eq!(verify(&p, &[]).0, 1);
    }
}

/// Regression (issue 14): `journal append` printed a bare hex string in text mode.
#[test]
fn append_text_output_is_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("j.jsonl");
    let out = append(&p, "compile", "c-1", &[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap().starts_with("appended step `c-1` to "),
        "{text}"
    );
    let hash = lines.next().unwrap().strip_prefix("entry_hash ").unwrap();
    assert_eq!(hash.len(), 64, "{text}");
    let (_, doc) = verify(&p, &[]);
    assert_eq!(doc["head"], hash);
}
