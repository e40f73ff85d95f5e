//! End-to-end tests of `vaultgate zip pack` through the real binary, on real files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{json_of, repo_root, vg, write};

/// `vaultgate zip pack DIR -o OUT` with no `SOURCE_DATE_EPOCH` from the developer's shell.
fn pack(dir: &Path, out: &Path) -> assert_cmd::Command {
    let mut cmd = vg();
    cmd.env_remove("SOURCE_DATE_EPOCH")
        .args(["zip", "pack"])
        .arg(dir)
        .arg("-o")
        .arg(out);
    cmd
}

/// The oracle: GNU sha256sum (CI has it; elsewhere `require` says SKIPPED and this panics only
/// under VAULTGATE_REQUIRE_INTEROP=1; the tests calling it are named `_needs_sha256sum`).
fn sha256_hex(p: &Path) -> String {
    common::sha256sum_of_file(p).expect("sha256sum is required by this test")
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A small tree, written in the given order.
fn tree(root: &Path, reverse: bool, mode: u32) {
    let mut files = vec![
        ("a.txt", "alpha\n"),
        ("src/lib/z.rs", "fn z() {}\n"),
        ("src/main.rs", "fn main() {}\n"),
        ("run.sh", "#!/bin/sh\necho hi\n"),
        ("Zed", "capital sorts first\n"),
    ];
    if reverse {
        files.reverse();
    }
    for (rel, content) in files {
        let p = write(root, rel, content);
        set_mode(&p, mode);
    }
    set_mode(&root.join("run.sh"), 0o750);
}

#[test]
fn same_tree_gives_identical_bytes_whatever_mtimes_modes_and_creation_order() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    tree(&a, false, 0o644);
    tree(&b, true, 0o600);
    // Different mtimes: set one tree's files far in the past.
    for e in walkdir::WalkDir::new(&b).into_iter().flatten() {
        if e.file_type().is_file() {
            let f = std::fs::File::options().write(true).open(e.path()).unwrap();
            f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000))
                .unwrap();
        }
    }
    let (za, zb, za2) = (
        t.path().join("a.zip"),
        t.path().join("b.zip"),
        t.path().join("a2.zip"),
    );
    pack(&a, &za).assert().success();
    pack(&b, &zb).assert().success();
    pack(&a, &za2).assert().success();
    let bytes = std::fs::read(&za).unwrap();
    assert_eq!(
        bytes,
        std::fs::read(&zb).unwrap(),
        "different trees' metadata changed the bytes"
    );
    assert_eq!(
        bytes,
        std::fs::read(&za2).unwrap(),
        "two packs of one tree differ"
    );

    // Entries are sorted by path bytes, the manifest is included, modes are normalised.
    let mut ar = zip::ZipArchive::new(std::fs::File::open(&za).unwrap()).unwrap();
    let names: Vec<String> = (0..ar.len())
        .map(|i| String::from_utf8(ar.by_index(i).unwrap().name_raw().to_vec()).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Zed",
            "a.txt",
            "manifest.txt",
            "run.sh",
            "src/lib/z.rs",
            "src/main.rs"
        ]
    );
    let mode = |ar: &mut zip::ZipArchive<std::fs::File>, n: &str| {
        ar.by_name(n).unwrap().unix_mode().unwrap() & 0o7777
    };
    assert_eq!(mode(&mut ar, "run.sh"), 0o755);
    assert_eq!(mode(&mut ar, "a.txt"), 0o644);
    let m = ar.by_name("a.txt").unwrap().last_modified().unwrap();
    assert_eq!((m.year(), m.month(), m.day(), m.hour()), (1980, 1, 1, 0));
}

#[test]
fn prints_bundle_and_manifest_digests_and_reports_what_was_left_out_needs_sha256sum() {
    if !common::require("sha256sum") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    write(&d, "keep.txt", "keep\n");
    write(&d, "manifest.txt", "stale manifest, replaced\n");
    write(&d, ".git/HEAD", "ref: x\n");
    write(&d, "pkg/__pycache__/m.cpython-312.pyc", "x");
    write(&d, "pkg/mod.pyc", "x");
    write(&d, "node_modules/x/index.js", "x");
    std::fs::create_dir_all(d.join("empty")).unwrap();
    let out = t.path().join("out.zip");
    let o = pack(&d, &out).arg("--json").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j = json_of(&o);
    assert_eq!(j["schema"], "vaultgate/zip-pack/v1");
    assert_eq!(j["bundle_sha256"], sha256_hex(&out));
    let left: Vec<&str> = j["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        left,
        [
            ".git/",
            "empty/",
            "manifest.txt",
            "node_modules/",
            "pkg/",
            "pkg/__pycache__/",
            "pkg/mod.pyc"
        ]
    );
    // The manifest inside covers every packed file except itself, and its digest is printed.
    let mut ar = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut manifest = Vec::new();
    std::io::Read::read_to_end(&mut ar.by_name("manifest.txt").unwrap(), &mut manifest).unwrap();
    assert_eq!(
        String::from_utf8(manifest.clone()).unwrap(),
        format!("{}  keep.txt\n", common::sha256sum_of(b"keep\n").unwrap())
    );
    assert_eq!(
        j["manifest_sha256"],
        common::sha256sum_of(&manifest).unwrap()
    );
    assert_eq!(ar.len(), 2);
    // Text mode prints both digests too.
    let o = pack(&d, &out).output().unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains(&format!("bundle sha256:   {}", sha256_hex(&out))),
        "{text}"
    );
    assert!(text.contains("manifest sha256: "), "{text}");
}

#[test]
fn refuses_symlinks_and_special_files_naming_each_and_writes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    write(&d, "ok.txt", "ok");
    std::os::unix::fs::symlink("/etc/passwd", d.join("link")).unwrap();
    let fifo = d.join("sub/pipe");
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = t.path().join("out.zip");
    std::fs::write(&out, b"previous bundle").unwrap();
    let o = pack(&d, &out).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("`link`: symbolic link"), "{err}");
    assert!(err.contains("`sub/pipe`: special file"), "{err}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"previous bundle",
        "a failed pack touched the output"
    );
    assert_eq!(
        std::fs::read_dir(t.path()).unwrap().count(),
        2,
        "a temporary file was left behind"
    );
}

#[test]
fn source_date_epoch_is_validated_and_used() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    write(&d, "f.txt", "f");
    let out = t.path().join("o.zip");
    for bad in ["0", "315532799", "abc", "1e9", "-5", "4354819200"] {
        let o = pack(&d, &out)
            .env("SOURCE_DATE_EPOCH", bad)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad} accepted");
        assert!(String::from_utf8_lossy(&o.stderr).contains("invalid SOURCE_DATE_EPOCH"));
        assert!(!out.exists());
    }
    // 2024-02-29T12:34:56Z
    pack(&d, &out)
        .env("SOURCE_DATE_EPOCH", "1709210096")
        .assert()
        .success();
    let first = std::fs::read(&out).unwrap();
    let mut ar = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let m = ar.by_name("f.txt").unwrap().last_modified().unwrap();
    assert_eq!(
        (
            m.year(),
            m.month(),
            m.day(),
            m.hour(),
            m.minute(),
            m.second()
        ),
        (2024, 2, 29, 12, 34, 56)
    );
    pack(&d, &out)
        .env("SOURCE_DATE_EPOCH", "1709210096")
        .assert()
        .success();
    assert_eq!(first, std::fs::read(&out).unwrap());
}

#[test]
fn refuses_an_empty_tree() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    write(&d, ".git/HEAD", "x");
    let o = pack(&d, &t.path().join("o.zip")).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no files to pack"));
}

/// The committed demo bundle must be exactly what `zip pack` makes of the demo tree today, so
/// the fixture can never rot away from its source.
#[test]
fn demo_fixture_is_byte_identical_to_a_fresh_pack() {
    let root = repo_root();
    let t = tempfile::tempdir().unwrap();
    let fresh: PathBuf = t.path().join("demo.zip");
    pack(&root.join("fixtures/gate/demo"), &fresh)
        .assert()
        .success();
    assert!(
        std::fs::read(root.join("fixtures/gate/demo.zip")).unwrap()
            == std::fs::read(&fresh).unwrap(),
        "fixtures/gate/demo.zip is stale: run `env -u SOURCE_DATE_EPOCH cargo run -- zip pack fixtures/gate/demo -o fixtures/gate/demo.zip`"
    );
}

/// Issue 14: macOS Finder's `__MACOSX/` folder and `._name` AppleDouble files are byproducts:
/// left out and listed, so the bundle passes the audit, and the reason is said in words.
#[test]
fn macos_finder_metadata_is_left_out_and_the_manifest_reason_is_plain() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    write(&d, "a.txt", "a\n");
    write(&d, "._a.txt", "\0\x05\x16\x07");
    write(&d, "docs/._guide.md", "\0\x05\x16\x07");
    write(&d, "docs/guide.md", "# guide\n");
    write(&d, "__MACOSX/._a.txt", "\0\x05\x16\x07");
    write(&d, "manifest.txt", "stale\n");
    let out = t.path().join("out.zip");
    let run = pack(&d, &out).arg("--json").output().unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let j = json_of(&run);
    let packed: Vec<&str> = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(packed, ["a.txt", "docs/guide.md", "manifest.txt"]);
    let reason = |path: &str| -> String {
        j["left_out"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["path"] == path)
            .map(|l| l["reason"].as_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    for p in ["._a.txt", "docs/._guide.md", "__MACOSX/._a.txt"] {
        assert!(reason(p).contains("macOS Finder metadata"), "{p}: {j}");
    }
    let why = reason("manifest.txt");
    assert!(
        why.contains("not packed")
            && why.contains("new manifest.txt listing exactly the packed files"),
        "{why}"
    );
    assert!(!why.contains("replaced by the regenerated"), "{why}");
    let audit = vg().args(["zip", "audit"]).arg(&out).output().unwrap();
    assert_eq!(audit.status.code(), Some(0));
}
