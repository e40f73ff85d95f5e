//! End-to-end tests of `vaultgate zip audit` through the real binary: the external corpus,
//! benign archives made by Info-ZIP and Python, hostile archives built here, and the report
//! formats.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]

mod common;
#[path = "../src/bundle/testkit.rs"]
mod testkit;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use common::{json_of, require, require_shared, vg};
use testkit::{E, build, extra};
use vaultgate::bundle::ZipCode;
use vaultgate::report::FindingCode;

fn audit(path: &Path, extra_args: &[&str]) -> std::process::Output {
    vg().args(["zip", "audit"])
        .arg(path)
        .args(extra_args)
        .output()
        .unwrap()
}

fn codes_of(out: &std::process::Output) -> Vec<String> {
    json_of(out)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Write `bytes` to a temp file and audit it with `--json`.
fn audit_bytes(bytes: &[u8], extra_args: &[&str]) -> (std::process::Output, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.zip");
    std::fs::write(&p, bytes).unwrap();
    let mut args = vec!["--json"];
    args.extend_from_slice(extra_args);
    let out = audit(&p, &args);
    let codes = codes_of(&out);
    (out, codes)
}

/// Files the shared corpus expects to be accepted that a later rule refuses on purpose (issue 8
/// §4), with the one code they must now get and the flag, if any, that accepts them again:
/// - `utf8-osx.zip` has a UTF-8 name without the UTF-8 flag: Python's `zipfile` extracts it
///   as CP437 (`ä¸–ç•Œ`), Go as `世界`, so two extractors write two names;
/// - `unix.zip` has world-writable modes (0666, 0777), now `zip-mode-unsafe` by default.
const OVERTURNED: &[(&str, &str, Option<&str>)] = &[
    (
        "go-archive-zip/utf8-osx.zip",
        "zip-name-encoding-ambiguous",
        None,
    ),
    (
        "go-archive-zip/unix.zip",
        "zip-mode-unsafe",
        Some("--allow-unsafe-modes"),
    ),
];

/// Audit a file with `--json` and the error codes found.
fn audit_path(path: &Path, extra_args: &[&str]) -> (std::process::Output, Vec<String>) {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra_args);
    let out = audit(path, &args);
    let codes = codes_of(&out);
    (out, codes)
}

/// The codes an `expected.json` entry names: `"codes": [..]` or `"code": ".."`, else none.
fn named_codes(v: &serde_json::Value) -> Vec<&str> {
    match (&v["codes"], &v["code"]) {
        (serde_json::Value::Array(a), _) => a.iter().map(|c| c.as_str().unwrap()).collect(),
        (_, serde_json::Value::String(c)) => vec![c.as_str()],
        _ => Vec::new(),
    }
}

/// What is wrong with one audit of a corpus entry `v` (exit `code`, finding codes `found`).
fn corpus_problems(
    v: &serde_json::Value,
    code: i32,
    found: &[String],
    defined: &[&str],
) -> Vec<String> {
    let want = v["expect"].as_str().unwrap();
    let got = match code {
        0 => "accept",
        1 => "reject",
        _ => "error",
    };
    let mut wrong = Vec::new();
    if !(got == want || (want == "either" && code != 2)) {
        wrong.push(format!("expected {want}, got {got} (exit {code})"));
    }
    if code == 1 && found.is_empty() {
        wrong.push("rejected without a finding".to_owned());
    }
    for c in found {
        if !defined.contains(&c.as_str()) {
            wrong.push(format!("undefined code `{c}`"));
        }
    }
    for c in named_codes(v) {
        if !found.iter().any(|f| f == c) {
            wrong.push(format!("expected code `{c}` is not among {found:?}"));
        }
    }
    wrong
}

/// The corpus check itself, on made-up entries: named codes must be present (others may be).
#[test]
fn corpus_check_requires_named_codes_and_tolerates_extra_ones() {
    let defined = ["zip-test-a", "zip-test-b"];
    let found = vec!["zip-test-a".to_owned(), "zip-test-b".to_owned()];
    let v = serde_json::json!({"expect": "reject", "codes": ["zip-test-a"]});
    assert!(corpus_problems(&v, 1, &found, &defined).is_empty());
    let v = serde_json::json!({"expect": "reject", "code": "zip-test-c"});
    let p = corpus_problems(&v, 1, &found, &defined);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("`zip-test-c`"), "{p:?}");
    let v = serde_json::json!({"expect": "reject"});
    assert_eq!(
        corpus_problems(&v, 1, &[], &defined),
        ["rejected without a finding"]
    );
    assert_eq!(corpus_problems(&v, 0, &[], &defined).len(), 1);
    let odd = vec!["zip-made-up".to_owned()];
    assert_eq!(
        corpus_problems(&v, 1, &odd, &defined),
        ["undefined code `zip-made-up`"]
    );
}

/// The shared corpus (`../shared/corpus/zip`): each archive's verdict is the one `expected.json`
/// gives, a rejection always names at least one defined `zip-*` code, and where an entry names
/// codes (`"codes": [..]` or `"code": ".."`) each of them is among the findings (others may be
/// there too: the audit may find more than the corpus names).
#[test]
fn corpus_verdicts_and_codes_match_expected_json_needs_shared_corpus() {
    let Some(root) = require_shared("corpus/zip") else {
        return;
    };
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("expected.json")).unwrap()).unwrap();
    let expected = expected.as_object().unwrap();
    assert_eq!(expected.len(), 113, "the corpus changed size");
    let defined: Vec<&str> = ZipCode::all().iter().map(|c| c.as_str()).collect();
    let mut table = String::new();
    for (rel, code, relax) in OVERTURNED {
        assert_eq!(
            expected[*rel]["expect"], "accept",
            "{rel}: the corpus changed"
        );
        let (out, codes) = audit_path(&root.join(rel), &[]);
        assert_eq!(out.status.code(), Some(1), "{rel}");
        assert!(codes.iter().all(|c| c == code), "{rel}: {codes:?}");
        if let Some(flag) = relax {
            assert_eq!(
                audit(&root.join(rel), &[flag]).status.code(),
                Some(0),
                "{rel} {flag}"
            );
        }
    }
    let mut codes_checked = 0;
    for mode in [&[][..], &["--structure-only"][..]] {
        for (rel, v) in expected {
            if OVERTURNED.iter().any(|(r, _, _)| r == rel) {
                continue;
            }
            let mut args = vec!["--json"];
            args.extend_from_slice(mode);
            let out = audit(&root.join(rel), &args);
            let code = out.status.code().unwrap_or(-1);
            let found: Vec<String> = if code == 2 {
                Vec::new()
            } else {
                json_of(&out)["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["code"].as_str().unwrap().to_owned())
                    .collect()
            };
            codes_checked += named_codes(v).len();
            let wrong = corpus_problems(v, code, &found, &defined);
            if !wrong.is_empty() {
                let _ = writeln!(
                    table,
                    "{rel:<70} {:<7} {}; findings {found:?}",
                    mode.join(" "),
                    wrong.join("; ")
                );
            }
        }
    }
    assert!(table.is_empty(), "corpus mismatches:\n{table}");
    #[allow(clippy::disallowed_macros)]
    {
        // Visible with --nocapture: how many named codes the corpus gave to check.
        println!(
            "corpus: {} archives, {codes_checked} named codes checked",
            expected.len()
        );
    }
}

fn must_pass(path: &Path, what: &str) {
    for mode in [&[][..], &["--structure-only"][..], &["--deep"][..]] {
        let out = audit(path, mode);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{what} {mode:?} should pass:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A tree with nested dirs, Unicode (NFC) names, empty files and an empty dir.
fn benign_tree(root: &Path) {
    common::write(root, "src/a/b/c/deep.txt", "deep\n".repeat(100));
    common::write(
        root,
        "src/caf\u{e9}/r\u{e9}sum\u{e9}.md",
        "# r\u{e9}sum\u{e9}\n",
    );
    common::write(root, "src/世界.txt", "hello");
    common::write(root, "src/empty.txt", "");
    common::write(root, "a..b.txt", "dots");
    common::write(root, "..data.txt", "dots");
    std::fs::create_dir_all(root.join("empty_dir")).unwrap();
}

#[test]
fn info_zip_archives_pass_needs_zip() {
    if !require("zip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    benign_tree(&tree);
    let run = |args: &[&str], stdin: Option<&[u8]>| {
        let mut c = Command::new("zip");
        c.current_dir(&tree).args(args);
        if let Some(input) = stdin {
            use std::io::Write;
            let mut child = c
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(input).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success());
            out.stdout
        } else {
            let out = c.output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            Vec::new()
        }
    };
    // Info-ZIP on Linux writes non-ASCII names as raw bytes, without the UTF-8 flag or a
    // 0x7075 field, so Python reads them as CP437: ambiguous, and refused for exactly that.
    let plain = dir.path().join("plain.zip");
    run(&["-q", "-r", plain.to_str().unwrap(), "."], None);
    let (out, codes) = audit_path(&plain, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes, ["zip-name-encoding-ambiguous"; 3], "{codes:?}");
    std::fs::remove_dir_all(tree.join("src/caf\u{e9}")).unwrap();
    std::fs::remove_file(tree.join("src/世界.txt")).unwrap();
    std::fs::remove_file(&plain).unwrap();
    run(&["-q", "-r", plain.to_str().unwrap(), "."], None);
    must_pass(&plain, "zip -r");
    let fd = dir.path().join("fd.zip");
    run(&["-q", "-r", "-fd", fd.to_str().unwrap(), "."], None);
    must_pass(&fd, "zip -fd (data descriptors)");
    // Streaming: the archive goes to an unseekable stdout, so every entry has a descriptor.
    let streamed = run(&["-q", "-r", "-", "."], Some(b""));
    let p = dir.path().join("streamed.zip");
    std::fs::write(&p, &streamed).unwrap();
    must_pass(&p, "zip -r - (streamed)");
    // 1,000 entries.
    let many = dir.path().join("many");
    for i in 0..1000 {
        common::write(&many, &format!("d{}/f{i}.txt", i % 10), format!("{i}"));
    }
    let big = dir.path().join("many.zip");
    let out = Command::new("zip")
        .current_dir(&many)
        .args(["-q", "-r", big.to_str().unwrap(), "."])
        .output()
        .unwrap();
    assert!(out.status.success());
    must_pass(&big, "zip with 1,000 entries");
}

#[test]
fn python_zipfile_archives_pass_needs_python3() {
    if !require("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    benign_tree(&tree);
    let script = r#"
import os, sys, zipfile
tree, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
class Unseekable:
    def __init__(self, f): self.f = f
    def write(self, b): return self.f.write(b)
    def flush(self): self.f.flush()
with open(out, "wb") as raw:
    target = Unseekable(raw) if mode == "stream" else raw
    comp = zipfile.ZIP_STORED if mode == "stored" else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(target, "w", comp) as z:
        for d, dirs, files in os.walk(tree):
            dirs.sort()
            rel = os.path.relpath(d, tree)
            if rel != ".":
                z.write(d, rel + "/")
            for f in sorted(files):
                p = os.path.join(d, f)
                z.write(p, os.path.relpath(p, tree))
        if mode == "many":
            for i in range(1000):
                z.writestr(f"many/f{i:04}.txt", str(i))
"#;
    for mode in ["deflated", "stored", "stream", "many"] {
        let out_path = dir.path().join(format!("{mode}.zip"));
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(&tree)
            .arg(&out_path)
            .arg(mode)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        must_pass(&out_path, &format!("python zipfile ({mode})"));
    }
}

#[test]
fn zip_crate_writer_archives_pass_and_its_symlinks_fail() {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    w.add_directory("lib/", opts).unwrap();
    w.start_file("lib/a.txt", opts).unwrap();
    w.write_all(b"hello").unwrap();
    let clean = w.finish().unwrap().into_inner();
    let (out, codes) = audit_bytes(&clean, &["--deep"]);
    assert_eq!(out.status.code(), Some(0), "{codes:?}");

    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.add_symlink("link", "../../etc/passwd", SimpleFileOptions::default())
        .unwrap();
    let bytes = w.finish().unwrap().into_inner();
    let (out, codes) = audit_bytes(&bytes, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes, ["zip-symlink"]);
}

/// A representative set of hostile archives, one rule each, through the binary.
#[test]
#[allow(clippy::too_many_lines)] // one table of cases
fn hostile_archives_fail_with_their_code() {
    let ok = || E::stored("ok.txt", b"fine");
    let mut hardlink = E::stored("h", b"");
    hardlink.cextra = extra(0x000d, b"012345678901target");
    let mut encrypted = E::stored("secret", b"xxxxxxxxxxxxxxxx");
    encrypted.flags = 1;
    let mut bzip2 = E::stored("b.bz2", b"x");
    bzip2.method = 12;
    let mut trailing = build(&[ok()]);
    trailing.extend_from_slice(b"PK\x03\x04 appended");
    let mut prefixed = b"#!/bin/sh\n".to_vec();
    prefixed.extend_from_slice(&build(&[ok()]));
    let mut local = ok();
    local.local_name = Some(b"other.txt".to_vec());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "zip slip",
            build(&[E::stored("../../x", b"")]),
            "zip-path-traversal",
        ),
        (
            "absolute",
            build(&[E::stored("/etc/x", b"")]),
            "zip-name-absolute",
        ),
        (
            "unc",
            build(&[E::stored("//srv/share/x", b"")]),
            "zip-name-absolute",
        ),
        ("drive", build(&[E::stored("C:x", b"")]), "zip-name-drive"),
        (
            "backslash",
            build(&[E::stored("a\\b", b"")]),
            "zip-name-backslash",
        ),
        (
            "newline",
            build(&[E::stored("a\nb", b"")]),
            "zip-name-control-char",
        ),
        (
            "device",
            build(&[E::stored("aux.txt", b"")]),
            "zip-name-windows-reserved",
        ),
        (
            "trailing dot",
            build(&[E::stored("a./b", b"")]),
            "zip-name-trailing-dot-space",
        ),
        (
            "colon",
            build(&[E::stored("a.txt:ads", b"")]),
            "zip-name-colon",
        ),
        ("dup", build(&[ok(), ok()]), "zip-duplicate-name"),
        (
            "case",
            build(&[E::stored("Makefile", b""), E::stored("makefile", b"")]),
            "zip-case-collision",
        ),
        (
            "nfc",
            build(&[E::stored("caf\u{e9}", b""), E::stored("cafe\u{301}", b"")]),
            "zip-unicode-collision",
        ),
        (
            "symlink",
            build(&[E::stored("l", b"/").mode(0o120_777)]),
            "zip-symlink",
        ),
        ("hard link", build(&[hardlink]), "zip-hard-link"),
        (
            "fifo",
            build(&[E::stored("f", b"").mode(0o010_644)]),
            "zip-special-file",
        ),
        ("encrypted", build(&[encrypted]), "zip-encrypted"),
        ("bzip2", build(&[bzip2]), "zip-unsupported-method"),
        ("trailing", trailing, "zip-trailing-bytes"),
        ("prefixed", prefixed, "zip-prepended-bytes"),
        ("local name", build(&[local]), "zip-local-header-mismatch"),
        (
            "byproduct",
            build(&[E::stored("a/.DS_Store", b"")]),
            "zip-byproduct",
        ),
        ("not a zip", b"just text".to_vec(), "zip-malformed"),
        ("truncated", build(&[ok()])[..40].to_vec(), "zip-malformed"),
    ];
    let mut table = String::new();
    for (what, bytes, code) in cases {
        let (out, codes) = audit_bytes(&bytes, &[]);
        if out.status.code() != Some(1) || !codes.iter().any(|c| c == code) {
            let _ = writeln!(
                table,
                "{what}: expected exit 1 with `{code}`, got {:?} {codes:?}",
                out.status.code()
            );
        }
    }
    assert!(table.is_empty(), "{table}");
}

#[test]
fn limits_are_flags() {
    let three = build(&[
        E::stored("a", b"12345"),
        E::stored("b", b"12345"),
        E::stored("c", b""),
    ]);
    assert_eq!(
        audit_bytes(&three, &["--max-entries", "2"]).1,
        ["zip-too-many-entries"]
    );
    assert_eq!(
        audit_bytes(&three, &["--max-size", "9", "--structure-only"]).1,
        ["zip-total-size-exceeded"]
    );
    assert_eq!(
        audit_bytes(&three, &["--max-size", "9"]).1,
        ["zip-total-size-exceeded", "zip-data-over-limit"]
    );
    assert_eq!(
        audit_bytes(&three, &["--max-name-len", "1"])
            .0
            .status
            .code(),
        Some(0)
    );
    let bomb = build(&[E::deflated("z", vec![0u8; 1 << 20])]);
    assert_eq!(audit_bytes(&bomb, &[]).1, ["zip-ratio-exceeded"]);
    assert_eq!(
        audit_bytes(&bomb, &["--max-ratio", "5000"]).0.status.code(),
        Some(0)
    );
    let pyc = build(&[E::stored("m.pyc", b"")]);
    assert_eq!(audit_bytes(&pyc, &[]).1, ["zip-byproduct"]);
    assert_eq!(
        audit_bytes(&pyc, &["--allow-byproducts"]).0.status.code(),
        Some(0)
    );
}

/// Regression (issue 8 §4): `zip audit` without `--deep` accepted an archive whose CRC-32 or
/// size lies. The data is checked by default now; `--structure-only` is the fast path and says
/// that it did not check the data; `--deep` stays accepted and means the default.
#[test]
fn the_default_audit_checks_the_data() {
    let mut e = E::deflated("a.txt", b"hello hello hello hello");
    e.crc ^= 0xff;
    let bytes = build(&[e]);
    assert_eq!(audit_bytes(&bytes, &[]).1, ["zip-data-crc-mismatch"]);
    assert_eq!(
        audit_bytes(&bytes, &["--deep"]).1,
        ["zip-data-crc-mismatch"]
    );
    let (out, codes) = audit_bytes(&bytes, &["--structure-only"]);
    assert_eq!(out.status.code(), Some(0), "{codes:?}");
    let j = json_of(&out);
    assert_eq!(j["summary"]["deep"], false);
    assert_eq!(j["options"]["deep"], false);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.zip");
    std::fs::write(&p, &bytes).unwrap();
    let text = String::from_utf8(audit(&p, &["--structure-only"]).stdout).unwrap();
    assert!(
        text.contains("data NOT checked (--structure-only"),
        "{text}"
    );
    let text = String::from_utf8(audit(&p, &[]).stdout).unwrap();
    assert!(text.contains("data checked"), "{text}");
    // The fast path cannot be combined with what needs the data.
    assert_eq!(
        audit(&p, &["--structure-only", "--deep"]).status.code(),
        Some(2)
    );
}

#[test]
fn text_output_has_one_line_per_finding_then_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.zip");
    std::fs::write(
        &p,
        build(&[E::stored("ok", b""), E::stored("../x\x1b", b"")]),
    )
    .unwrap();
    let out = audit(&p, &["--color", "never"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("zip-name-control-char  #1  ../x\\u{1b}  "),
        "{text}"
    );
    assert!(
        lines[1].starts_with("zip-path-traversal  #1  ../x\\u{1b}  "),
        "{text}"
    );
    assert!(lines.last().unwrap().starts_with("FAIL `"), "{text}");
    assert!(
        !text.contains('\x1b'),
        "a hostile name reached the terminal"
    );
}

#[test]
fn json_report_has_schema_findings_entries_and_summary() {
    let (out, _) = audit_bytes(&build(&[E::dir("d/"), E::stored("d/../../x", b"abc")]), &[]);
    assert_eq!(out.status.code(), Some(1));
    let j = json_of(&out);
    assert_eq!(j["schema"], "vaultgate/zip/v1");
    let f = &j["findings"][0];
    assert_eq!(f["code"], "zip-path-traversal");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["entry"], 1);
    assert_eq!(f["subject"], "d/../../x");
    assert_eq!(j["entries"][1]["name"], "d/../../x");
    assert_eq!(j["entries"][1]["uncompressed_size"], 3);
    assert_eq!(j["entries"][1]["data_offset"], 30 + 2 + 30 + 9);
    assert_eq!(j["summary"]["entries"], 2);
    assert_eq!(j["summary"]["dirs"], 1);
    assert_eq!(j["summary"]["errors"], 1);
    assert_eq!(j["summary"]["verdict"], "fail");
    assert_eq!(j["summary"]["exit_code"], 1);
}

#[test]
fn exit_2_only_when_the_audit_cannot_run() {
    let out = vg()
        .args(["zip", "audit", "/nonexistent/bundle.zip"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`/nonexistent/bundle.zip`"));
    let dir = tempfile::tempdir().unwrap();
    let out = vg()
        .args(["zip", "audit"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = vg()
        .args(["zip", "audit", "x.zip", "--max-ratio", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_teaches_examples_and_exit_codes() {
    let out = vg().args(["zip", "audit", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--max-entries",
        "--max-size",
        "--max-ratio",
        "--max-name-len",
        "--structure-only",
        "--nested",
        "--max-depth",
        "--allow-unsafe-modes",
        "--allow-byproducts",
        "Examples:",
        "Exit codes:",
    ] {
        assert!(help.contains(needle), "`{needle}` missing from:\n{help}");
    }
}

#[test]
fn every_code_is_documented() {
    let doc = std::fs::read_to_string(common::repo_root().join("docs/zip.md")).unwrap();
    let missing: Vec<&str> = ZipCode::all()
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !doc.contains(&format!("`{c}`")))
        .collect();
    assert!(missing.is_empty(), "undocumented codes: {missing:?}");
}

/// A stored entry with the UTF-8 flag set (as Python and `zip pack` write non-ASCII names).
fn utf8(name: &str, data: &[u8]) -> E {
    let mut e = E::stored(name, data);
    e.flags = 0x0800;
    e
}

/// An Info-ZIP Unicode path extra field (0x7075) naming the entry `name`.
fn unicode_path(header_name: &[u8], name: &str) -> Vec<u8> {
    let mut up = vec![1];
    up.extend_from_slice(&crc32fast::hash(header_name).to_le_bytes());
    up.extend_from_slice(name.as_bytes());
    extra(0x7075, &up)
}

/// Regression (issue 8 §4): a valid UTF-8, non-ASCII name with the UTF-8 flag clear was
/// accepted, while Python reads it as CP437 and Go as UTF-8. Refused unless a 0x7075 field
/// agrees with the UTF-8 reading; ASCII and flagged names stay fine.
#[test]
fn a_name_two_extractors_decode_differently_is_refused() {
    let (out, codes) = audit_bytes(&build(&[E::stored("caf\u{e9}.txt", b"x")]), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes, ["zip-name-encoding-ambiguous"]);
    assert!(
        json_of(&out)["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cp437")
    );
    let (out, codes) = audit_bytes(&build(&[utf8("caf\u{e9}.txt", b"x")]), &[]);
    assert_eq!(out.status.code(), Some(0), "{codes:?}");
    let mut agreed = E::stored("caf\u{e9}.txt", b"x");
    agreed.cextra = unicode_path("caf\u{e9}.txt".as_bytes(), "caf\u{e9}.txt");
    agreed.lextra = agreed.cextra.clone();
    let (out, codes) = audit_bytes(&build(&[agreed]), &[]);
    assert_eq!(out.status.code(), Some(0), "{codes:?}");
    let mut disagrees = E::stored("caf\u{e9}.txt", b"x");
    disagrees.cextra = unicode_path("caf\u{e9}.txt".as_bytes(), "other.txt");
    let (_, codes) = audit_bytes(&build(&[disagrees]), &[]);
    assert!(
        codes.contains(&"zip-unicode-path-mismatch".to_owned()),
        "{codes:?}"
    );
    let (out, _) = audit_bytes(&build(&[E::stored("plain.txt", b"x")]), &[]);
    assert_eq!(out.status.code(), Some(0));
}

/// Regression (issue 8 §4): names with bidi controls or zero-width characters displayed as
/// another name and passed.
#[test]
fn names_that_display_as_something_else_are_refused() {
    for name in [
        "invoice\u{202e}fdp.exe",
        "a\u{2066}b.txt",
        "re\u{200b}adme.md",
        "x\u{200d}y",
        "\u{feff}start.sh",
        "soft\u{ad}hyphen",
    ] {
        let (out, codes) = audit_bytes(&build(&[utf8(name, b"x")]), &[]);
        assert_eq!(out.status.code(), Some(1), "{name:?}");
        assert_eq!(codes, ["zip-name-invisible"], "{name:?}");
        // The name is escaped in every output, never shown raw.
        assert!(!String::from_utf8_lossy(&out.stdout).contains(name));
    }
}

/// Regression (issue 8 §4): collisions folded with simple lower-casing, so `ß` and `ss` (one
/// file on a case-insensitive APFS or NTFS volume with full folding) did not collide.
#[test]
fn full_case_folding_finds_collisions_lowercasing_misses() {
    for (a, b) in [
        ("stra\u{df}e.txt", "STRASSE.txt"),
        ("\u{fb01}le", "FILE"),
        ("\u{212a}elvin", "kelvin"),
    ] {
        let (out, codes) = audit_bytes(&build(&[utf8(a, b"1"), utf8(b, b"2")]), &[]);
        assert_eq!(out.status.code(), Some(1), "{a} {b}");
        assert_eq!(codes, ["zip-case-collision"], "{a} {b}");
    }
}

/// Regression (issue 8 §4): setuid, setgid and world-writable modes passed.
#[test]
fn unsafe_modes_are_errors_by_default() {
    for mode in [0o104_755, 0o102_755, 0o100_666, 0o040_777] {
        let name = if mode & 0o040_000 != 0 { "d/" } else { "f" };
        let e = if name == "d/" {
            E::dir(name).mode(mode)
        } else {
            E::stored(name, b"x").mode(mode)
        };
        let bytes = build(&[e]);
        let (out, codes) = audit_bytes(&bytes, &[]);
        assert_eq!(out.status.code(), Some(1), "{mode:o}");
        assert_eq!(codes, ["zip-mode-unsafe"], "{mode:o}");
        let (out, _) = audit_bytes(&bytes, &["--allow-unsafe-modes"]);
        assert_eq!(out.status.code(), Some(0), "{mode:o}");
        assert_eq!(json_of(&out)["findings"][0]["severity"], "warning");
    }
    let (out, _) = audit_bytes(&build(&[E::stored("f", b"x").mode(0o100_755)]), &[]);
    assert_eq!(out.status.code(), Some(0));
}

/// Subjects of the error findings.
fn subjects_of(out: &std::process::Output) -> Vec<String> {
    json_of(out)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["subject"].as_str().unwrap().to_owned())
        .collect()
}

/// Regression (issue 8 §4): a bundle holding archives that hold archives passed whatever
/// they held. Members are found by their bytes (the names here do not say `.zip`), audited
/// with every rule, and findings carry the nesting path.
#[test]
fn nested_archives_are_audited_by_their_bytes() {
    let evil = build(&[E::stored("../../etc/cron.d/x", b"x")]);
    let inner = build(&[E::stored("inner.zip", &evil)]);
    let outer = build(&[E::stored("ok.txt", b"fine"), E::stored("outer.dat", &inner)]);
    let (out, codes) = audit_bytes(&outer, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes, ["zip-path-traversal"]);
    assert_eq!(
        subjects_of(&out),
        ["outer.dat!inner.zip!../../etc/cron.d/x"]
    );
    // The finding points at the outer member.
    assert_eq!(json_of(&out)["findings"][0]["entry"], 1);
    // Deflated members too.
    let outer = build(&[E::deflated("o", &inner)]);
    assert_eq!(audit_bytes(&outer, &[]).1, ["zip-path-traversal"]);
    // --nested refuse / ignore.
    let clean = build(&[E::stored("in.zip", build(&[E::stored("a", b"a")]))]);
    assert_eq!(audit_bytes(&clean, &[]).0.status.code(), Some(0));
    assert_eq!(
        audit_bytes(&clean, &["--nested", "refuse"]).1,
        ["zip-nested-archive"]
    );
    let (out, _) = audit_bytes(&outer, &["--nested", "ignore"]);
    assert_eq!(out.status.code(), Some(0));
    // --structure-only does not read data, so it cannot look inside.
    assert_eq!(
        audit(Path::new("x"), &["--structure-only", "--nested", "refuse"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn nesting_depth_is_limited() {
    // bundle!l1!l2!l3!l4: four levels.
    let mut bytes = build(&[E::stored("leaf.txt", b"x")]);
    for level in (1..=4).rev() {
        bytes = build(&[E::stored(format!("l{level}.zip"), &bytes)]);
    }
    let (out, codes) = audit_bytes(&bytes, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes, ["zip-nested-too-deep"]);
    assert_eq!(subjects_of(&out), ["l1.zip!l2.zip!l3.zip!l4.zip"]);
    assert_eq!(
        audit_bytes(&bytes, &["--max-depth", "4"]).0.status.code(),
        Some(0)
    );
    assert_eq!(
        audit_bytes(&bytes, &["--max-depth", "0"]).1,
        ["zip-nested-too-deep"]
    );
}

/// 42.zip in small: each level fits the limit, their sum does not. The `--max-size` budget is
/// one for every level.
#[test]
fn nested_archives_share_one_size_budget() {
    let leaf = build(&[E::deflated("zeros", vec![0u8; 40_000])]);
    let mid = build(&[
        E::stored("a.zip", &leaf),
        E::stored("b.zip", &leaf),
        E::stored("c.zip", &leaf),
    ]);
    let top = build(&[E::stored("mid.zip", &mid)]);
    let args = ["--max-ratio", "100000"];
    assert_eq!(audit_bytes(&top, &args).0.status.code(), Some(0));
    let mut tight = args.to_vec();
    tight.extend(["--max-size", "100000"]);
    let (out, codes) = audit_bytes(&top, &tight);
    assert_eq!(out.status.code(), Some(1), "{codes:?}");
    assert!(
        codes
            .iter()
            .all(|c| c == "zip-total-size-exceeded" || c == "zip-data-over-limit"),
        "{codes:?}"
    );
    assert!(
        subjects_of(&out).iter().all(|s| s.starts_with("mid.zip!")),
        "{:?}",
        subjects_of(&out)
    );
}

/// Issue 14: every archive macOS Finder makes carries `__MACOSX/` and `._name` AppleDouble
/// files; they are byproducts.
#[test]
fn macos_finder_metadata_is_a_byproduct() {
    for name in [
        "__MACOSX/",
        "__MACOSX/._a.txt",
        "._a.txt",
        "docs/._guide.md",
    ] {
        let e = if name.ends_with('/') {
            E::dir(name)
        } else {
            E::stored(name, b"\0\x05\x16\x07")
        };
        let (out, codes) = audit_bytes(&build(&[E::stored("a.txt", b"a"), e]), &[]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert_eq!(codes, ["zip-byproduct"], "{name}");
    }
    let (out, _) = audit_bytes(&build(&[E::stored("._", b"")]), &[]);
    assert_eq!(out.status.code(), Some(0), "`._` alone is an ordinary name");
}

/// Issue 14: one type per quantity: sizes are JSON numbers everywhere, totals included.
#[test]
fn totals_are_numbers_like_entry_sizes() {
    let (out, _) = audit_bytes(
        &build(&[E::stored("a", b"abc"), E::deflated("b", b"bbbbbbbb")]),
        &[],
    );
    let j = json_of(&out);
    let s = &j["summary"];
    assert!(s["total_compressed"].is_u64(), "{s}");
    assert!(s["total_uncompressed"].is_u64(), "{s}");
    let sum = |k: &str| -> u64 {
        j["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[k].as_u64().unwrap())
            .sum()
    };
    assert_eq!(s["total_compressed"].as_u64(), Some(sum("compressed_size")));
    assert_eq!(s["total_uncompressed"].as_u64(), Some(11));
}

/// Issue 14: the `#N` / `#-` column is explained where it is shown.
#[test]
fn the_entry_column_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.zip");
    let mut bytes = build(&[E::stored("../x", b"")]);
    bytes.extend_from_slice(b"trailing junk");
    std::fs::write(&p, bytes).unwrap();
    let text = String::from_utf8(audit(&p, &[]).stdout).unwrap();
    assert!(text.contains("  #0  ../x  "), "{text}");
    assert!(text.contains("  #-  archive  "), "{text}");
    assert!(
        text.contains("note: #N is the entry's 0-based index in the central directory"),
        "{text}"
    );
    let help = String::from_utf8(
        vg().args(["zip", "audit", "--help"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(help.contains("#- marks a finding about"), "{help}");
}

/// Regression: an entry whose central name is empty gave findings with an empty subject (found
/// by `tests/fuzz_regressions.rs::mutations_never_panic` zeroing a name length). Every finding
/// must say what it is about, so such an entry is named by its index.
#[test]
fn an_entry_with_an_empty_name_is_named_by_its_index() {
    let bytes = build(&[E::stored("a.txt", b"a"), E::stored("", b"x")]);
    let (out, codes) = audit_bytes(&bytes, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(codes.iter().any(|c| c == "zip-name-empty"), "{codes:?}");
    let doc = json_of(&out);
    for f in doc["findings"].as_array().unwrap() {
        let subject = f["subject"].as_str().unwrap();
        assert!(!subject.is_empty(), "a finding with no subject: {f}");
        if f["code"] == "zip-name-empty" {
            assert_eq!(subject, "entry #1 (empty name)");
        }
    }
}
