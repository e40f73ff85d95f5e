//! End-to-end tests of `vaultgate manifest` through the real binary, including interop with
//! the real GNU `sha256sum` in both directions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use common::{json_of, require, vg, write};
use predicates::prelude::*;

/// A small tree with awkward but legal names.
fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a.txt", "alpha\n");
    write(d.path(), "src/lib.rs", "fn main() {}\n");
    write(d.path(), "deep/er/x.bin", [0u8, 1, 2, 255]);
    write(d.path(), "sp ace.txt", "space");
    write(d.path(), "é-nfc.txt", "unicode");
    write(d.path(), "empty", "");
    d
}

fn awkward(d: &Path) {
    write(d, "back\\slash", "bs");
    write(d, "new\nline", "nl");
    write(d, "car\rriage", "cr");
    write(d, "-", "dash");
}

fn sha256sum_c(dir: &Path, manifest: &str) -> std::process::Output {
    Command::new("sha256sum")
        .args(["-c", "--strict", manifest])
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn generated_manifest_passes_gnu_sha256sum_and_tamper_fails_both_needs_sha256sum() {
    if !require("sha256sum") {
        return;
    }
    let d = tree();
    awkward(d.path());
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .success();
    let out = sha256sum_c(d.path(), "manifest.txt");
    assert!(
        out.status.success(),
        "sha256sum -c failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    vg().args(["manifest", "verify"])
        .arg(d.path())
        .assert()
        .success();

    std::fs::write(d.path().join("new\nline"), "tampered").unwrap();
    assert!(!sha256sum_c(d.path(), "manifest.txt").status.success());
    vg().args(["manifest", "verify"])
        .arg(d.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("MISMATCH").and(predicate::str::contains("new\\nline")));
}

#[test]
fn manifests_written_by_gnu_sha256sum_verify_in_every_form_needs_sha256sum() {
    if !require("sha256sum") {
        return;
    }
    let d = tree();
    awkward(d.path());
    let names = [
        "a.txt",
        "src/lib.rs",
        "deep/er/x.bin",
        "sp ace.txt",
        "é-nfc.txt",
        "empty",
        "back\\slash",
        "new\nline",
        "car\rriage",
        "./-",
    ];
    for (flag, label) in [
        (None, "text"),
        (Some("-b"), "binary"),
        (Some("--tag"), "tag"),
    ] {
        let mut cmd = Command::new("sha256sum");
        cmd.current_dir(d.path());
        if let Some(f) = flag {
            cmd.arg(f);
        }
        let out = cmd.arg("--").args(names).output().unwrap();
        assert!(out.status.success());
        let m = d.path().join(format!("gnu-{label}.sha256"));
        std::fs::write(&m, &out.stdout).unwrap();
        // The other gnu-* files are unlisted: allow them, but every listed file must verify.
        vg().args(["manifest", "verify", "--allow-unlisted", "-m"])
            .arg(&m)
            .assert()
            .success()
            .stdout(predicate::str::contains("10 listed, 10 ok"));
        std::fs::write(d.path().join("a.txt"), "tampered").unwrap();
        vg().args(["manifest", "verify", "--allow-unlisted", "-m"])
            .arg(&m)
            .assert()
            .code(1);
        std::fs::write(d.path().join("a.txt"), "alpha\n").unwrap();
    }
}

#[test]
fn same_tree_same_bytes_whatever_the_thread_count_or_creation_order() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..200)
        .map(|i| format!("d{}/f{i:03}.txt", i % 7))
        .collect();
    for n in &names {
        write(a.path(), n, n);
    }
    for n in names.iter().rev() {
        write(b.path(), n, n);
    }
    let out1 = vg()
        .args(["manifest", "generate", "--threads", "1", "-o", "-"])
        .arg(a.path())
        .output()
        .unwrap();
    let out4 = vg()
        .args(["manifest", "generate", "--threads", "4", "-o", "-"])
        .arg(b.path())
        .output()
        .unwrap();
    assert!(out1.status.success() && out4.status.success());
    assert_eq!(out1.stdout, out4.stdout);
    let text = String::from_utf8(out1.stdout).unwrap();
    let paths: Vec<&str> = text.lines().map(|l| &l[66..]).collect();
    let mut sorted = paths.clone();
    sorted.sort_unstable();
    assert_eq!(paths, sorted, "sorted by path bytes");
    assert_eq!(paths.len(), 200);
}

#[test]
fn default_excludes_user_excludes_and_opting_out() {
    let d = tree();
    for junk in [
        ".git/HEAD",
        "target/debug/x",
        "__pycache__/m.pyc",
        "pkg/mod.pyc",
        ".pytest_cache/v",
        ".DS_Store",
        "node_modules/x/i.js",
        "build.log",
    ] {
        write(d.path(), junk, "junk");
    }
    let out = vg()
        .args(["manifest", "generate", "-o", "-", "--exclude", "*.log"])
        .arg(d.path())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(!text.contains("junk") && !text.contains(".git") && !text.contains("build.log"));
    let all = vg()
        .args(["manifest", "generate", "-o", "-", "--no-default-excludes"])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(all.stdout).unwrap().lines().count(), 14);
    // Verify applies the same excludes to the unlisted check.
    vg().args(["manifest", "generate", "--exclude", "*.log"])
        .arg(d.path())
        .assert()
        .success();
    vg().args(["manifest", "verify", "--exclude", "*.log"])
        .arg(d.path())
        .assert()
        .success();
    vg().args(["manifest", "verify"])
        .arg(d.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("UNLISTED   build.log"));
}

#[test]
fn symlinks_are_refused_by_default_and_policies_choose() {
    let d = tree();
    std::os::unix::fs::symlink("a.txt", d.path().join("link")).unwrap();
    std::os::unix::fs::symlink("/etc", d.path().join("dirlink")).unwrap();
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("symlink `link`")
                .and(predicate::str::contains("symlink `dirlink`")),
        );
    assert!(
        !d.path().join("manifest.txt").exists(),
        "nothing written on refusal"
    );
    let skip = vg()
        .args(["manifest", "generate", "--symlinks", "skip", "-o", "-"])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(!String::from_utf8(skip.stdout).unwrap().contains("link"));
    std::fs::remove_file(d.path().join("dirlink")).unwrap();
    let follow = vg()
        .args(["manifest", "generate", "--symlinks", "follow", "-o", "-"])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(
        String::from_utf8(follow.stdout)
            .unwrap()
            .contains("  link\n")
    );
    // Verify: a listed file replaced by a link is a finding, not silently followed.
    vg().args(["manifest", "generate", "--symlinks", "skip"])
        .arg(d.path())
        .assert()
        .success();
    std::fs::remove_file(d.path().join("a.txt")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", d.path().join("a.txt")).unwrap();
    vg().args(["manifest", "verify", "--symlinks", "skip"])
        .arg(d.path())
        .assert()
        .code(1);
    vg().args(["manifest", "verify"])
        .arg(d.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("SYMLINK    a.txt"));
}

#[test]
fn special_files_and_non_utf8_names_are_refused() {
    let d = tree();
    let st = Command::new("mkfifo")
        .arg(d.path().join("pipe"))
        .status()
        .unwrap();
    assert!(st.success());
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("special file `pipe`"));
    std::fs::remove_file(d.path().join("pipe")).unwrap();
    std::fs::write(d.path().join(OsStr::from_bytes(b"bad\xffname")), "x").unwrap();
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`bad\\xffname` is not valid UTF-8",
        ));
}

/// Verify reports each entry it refuses with its own code, listed or not: a listed path that is
/// now a folder or a symlink, and a FIFO and a non-UTF-8 name that appeared in the tree.
#[test]
fn verify_names_every_refused_entry_with_its_code() {
    let d = tree();
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .success();
    std::fs::remove_file(d.path().join("a.txt")).unwrap();
    std::fs::create_dir(d.path().join("a.txt")).unwrap();
    std::fs::remove_file(d.path().join("empty")).unwrap();
    std::os::unix::fs::symlink("src/lib.rs", d.path().join("empty")).unwrap();
    let st = Command::new("mkfifo")
        .arg(d.path().join("pipe"))
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(d.path().join(OsStr::from_bytes(b"bad\xffname")), "x").unwrap();
    let out = vg()
        .args(["manifest", "verify", "--json"])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let j = json_of(&out);
    let mut found: Vec<(String, String)> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["subject"].as_str().unwrap().to_owned(),
                f["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    let want = [
        ("a.txt", "manifest-not-a-file"),
        ("bad\\xffname", "manifest-non-utf8-name"),
        ("empty", "manifest-symlink"),
        ("pipe", "manifest-special-file"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(s, c)| ((*s).to_owned(), (*c).to_owned()))
        .collect();
    assert_eq!(found, want);
}

#[test]
fn unreadable_file_exits_2_and_the_others_are_still_reported() {
    // Root can read any mode, so make the read itself fail: /proc/self/mem gives EIO at offset 0.
    let d = tree();
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .success();
    std::fs::write(d.path().join("a.txt"), "changed").unwrap();
    std::fs::remove_file(d.path().join("empty")).unwrap();
    std::os::unix::fs::symlink("/proc/self/mem", d.path().join("empty")).unwrap();
    let out = vg()
        .args(["manifest", "verify", "--symlinks", "follow", "--json"])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let j = json_of(&out);
    let status = |p: &str| {
        j["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == p)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("empty"), "unreadable");
    assert_eq!(status("a.txt"), "mismatch");
    assert_eq!(status("src/lib.rs"), "ok");
    assert_eq!(j["summary"]["exit_code"], 2);
    let finding = |p: &str| {
        j["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["subject"] == p)
            .unwrap()["code"]
            .clone()
    };
    assert_eq!(finding("empty"), "manifest-unreadable-file");
    assert_eq!(finding("a.txt"), "manifest-hash-mismatch");
    vg().args(["manifest", "generate", "--symlinks", "follow"])
        .arg(d.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`empty`"));
}

#[test]
fn missing_unlisted_mismatch_and_allow_unlisted() {
    let d = tree();
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .success();
    std::fs::remove_file(d.path().join("src/lib.rs")).unwrap();
    write(d.path(), "new.txt", "n");
    std::fs::write(d.path().join("a.txt"), "x").unwrap();
    let out = vg()
        .args(["manifest", "verify", "--json"])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let j = json_of(&out);
    assert_eq!(j["schema"], "vaultgate/manifest/v1");
    assert_eq!(j["summary"]["missing"], 1);
    assert_eq!(j["summary"]["mismatch"], 1);
    assert_eq!(j["unlisted"], serde_json::json!(["new.txt"]));
    let codes: Vec<&str> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "manifest-hash-mismatch",
            "manifest-missing-file",
            "manifest-unlisted-file"
        ]
    );
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .success();
    write(d.path(), "later.txt", "l");
    vg().args(["manifest", "verify", "--allow-unlisted"])
        .arg(d.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("1 warning"));
}

#[test]
fn every_malformed_manifest_is_an_error_naming_the_line() {
    let d = tree();
    let h = "0".repeat(64);
    let cases = [
        (format!("{h}  a.txt\n\n"), "line 2: empty line"),
        (format!("{h}  a.txt\ngarbage\n"), "line 2"),
        (format!("{}  a.txt\n", &h[..60]), "line 1"),
        (format!("{h}  /etc/passwd\n"), "absolute path"),
        (format!("{h}  src\\lib.rs\n"), "backslash"),
        (format!("{h}  ../a.txt\n"), "`..` component"),
        (format!("{h}  src//lib.rs\n"), "empty component"),
        (
            format!("{h}  a.txt\n{h}  ./a.txt\n"),
            "line 2: duplicate path `a.txt` (first listed on line 1)",
        ),
        (format!("{h} a.txt\n"), "two spaces"),
    ];
    for (text, want) in cases {
        std::fs::write(d.path().join("manifest.txt"), &text).unwrap();
        vg().args(["manifest", "verify"])
            .arg(d.path())
            .assert()
            .code(2)
            .stderr(predicate::str::contains(want));
        vg().args(["manifest", "digest"])
            .arg(d.path().join("manifest.txt"))
            .assert()
            .code(2);
    }
}

#[test]
fn empty_manifest_and_empty_tree_need_allow_empty() {
    let d = tempfile::tempdir().unwrap();
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--allow-empty"));
    vg().args(["manifest", "generate", "--allow-empty"])
        .arg(d.path())
        .assert()
        .success();
    assert_eq!(std::fs::read(d.path().join("manifest.txt")).unwrap(), b"");
    vg().args(["manifest", "verify"])
        .arg(d.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("lists no files"));
    vg().args(["manifest", "verify", "--allow-empty"])
        .arg(d.path())
        .assert()
        .success();
}

#[test]
fn crlf_comments_uppercase_and_dot_slash_are_read() {
    let d = tree();
    let out = vg()
        .args(["manifest", "generate", "-o", "-"])
        .arg(d.path())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut other = String::from("# written by another tool\r\n");
    for line in text.lines() {
        let (h, p) = line.split_at(64);
        other.push_str(&format!("{}  ./{}\r\n", h.to_uppercase(), &p[2..]));
    }
    std::fs::write(d.path().join("manifest.txt"), other).unwrap();
    vg().args(["manifest", "verify"])
        .arg(d.path())
        .assert()
        .success();
}

#[test]
fn default_dir_is_the_manifests_folder_and_digest_matches_sha256sum_needs_sha256sum() {
    let d = tree();
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .success();
    vg().current_dir("/")
        .args(["manifest", "verify", "-m"])
        .arg(d.path().join("manifest.txt"))
        .assert()
        .success();
    let out = vg()
        .args(["manifest", "digest"])
        .arg(d.path().join("manifest.txt"))
        .output()
        .unwrap();
    let digest = String::from_utf8(out.stdout).unwrap();
    let Some(want) = common::sha256sum_of_file(&d.path().join("manifest.txt")) else {
        return;
    };
    assert_eq!(digest.trim(), want);
    let j = json_of(
        &vg()
            .args(["manifest", "digest", "--json"])
            .arg(d.path().join("manifest.txt"))
            .output()
            .unwrap(),
    );
    assert_eq!(j["manifest_sha256"], want);
    assert_eq!(j["summary"]["entries"], 6);
}

#[test]
fn a_failed_generate_leaves_the_old_manifest_untouched() {
    let d = tree();
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .success();
    let before = std::fs::read(d.path().join("manifest.txt")).unwrap();
    std::os::unix::fs::symlink("a.txt", d.path().join("link")).unwrap();
    write(d.path(), "new.txt", "n");
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .code(2);
    assert_eq!(
        std::fs::read(d.path().join("manifest.txt")).unwrap(),
        before
    );
    let leftovers: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".vaultgate-tmp")
        })
        .collect();
    assert!(leftovers.is_empty());
}

/// Raw → validated at the boundary: a bad `--exclude` glob is refused (exit 2, naming it) by
/// generate and verify alike, before the tree is walked (so even a missing tree is not reached).
#[test]
fn a_bad_exclude_glob_is_refused_before_the_walk() {
    for cmd in ["generate", "verify"] {
        let out = vg()
            .args([
                "--json",
                "manifest",
                cmd,
                "/nonexistent/tree",
                "--exclude",
                "a[",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let j = json_of(&out);
        let msg = j["error"].as_str().unwrap();
        assert!(msg.starts_with("invalid exclude glob `a[`"), "{cmd}: {msg}");
    }
}
