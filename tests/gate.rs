//! End-to-end tests of `vaultgate gate` through the real binary: real ZIP files on disk, real
//! child processes. No test sleeps: the timeout test's CHILD sleeps far longer than the gate's
//! timeout, and the only time assertion is a generous upper bound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use common::{json_of, repo_root, require, vg, write};
use serde_json::Value;

struct Packed {
    dir: tempfile::TempDir,
    zip: PathBuf,
    bundle_sha: String,
    manifest_sha: String,
}

/// A demo-like project packed with `zip pack`.
fn packed() -> Packed {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write(
        &src,
        "checks.sh",
        "test \"$(cat data/a.txt)\" = alpha\necho checks ok\n",
    );
    write(&src, "data/a.txt", "alpha");
    write(&src, "data/b.bin", [0u8, 159, 146, 150, 255]);
    let zip = dir.path().join("bundle.zip");
    let o = vg()
        .env_remove("SOURCE_DATE_EPOCH")
        .args(["zip", "pack", "--json"])
        .arg(&src)
        .arg("-o")
        .arg(&zip)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j = json_of(&o);
    Packed {
        bundle_sha: j["bundle_sha256"].as_str().unwrap().to_owned(),
        manifest_sha: j["manifest_sha256"].as_str().unwrap().to_owned(),
        zip,
        dir,
    }
}

/// `vaultgate gate BUNDLE --report <tmp>/report --json …`, run from the temporary directory.
fn gate(p: &Packed, args: &[&str]) -> (std::process::Output, Value) {
    let o = vg()
        .current_dir(p.dir.path())
        .env("VAULTGATE_NOW", "2026-01-02T03:04:05Z")
        .arg("gate")
        .arg(&p.zip)
        .arg("--report")
        .arg(p.dir.path().join("report"))
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let j = json_of(&o);
    (o, j)
}

fn statuses(j: &Value) -> Vec<(String, String)> {
    j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn status_of(j: &Value, id: &str) -> String {
    statuses(j).into_iter().find(|(i, _)| i == id).unwrap().1
}

fn codes(j: &Value) -> Vec<String> {
    j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Rebuild `p.zip` with the zip crate, applying `edit` to the list of (name, bytes).
fn rebuild(p: &Packed, edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) {
    let mut ar = zip::ZipArchive::new(std::fs::File::open(&p.zip).unwrap()).unwrap();
    let mut entries = Vec::new();
    for i in 0..ar.len() {
        let mut f = ar.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        entries.push((String::from_utf8(f.name_raw().to_vec()).unwrap(), data));
    }
    edit(&mut entries);
    let mut w = zip::ZipWriter::new(std::fs::File::create(&p.zip).unwrap());
    for (name, data) in entries {
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&data).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn packed_bundle_passes_with_pins_and_the_report_records_the_context() {
    let p = packed();
    let (o, j) = gate(
        &p,
        &[
            "--expect-sha256",
            &p.bundle_sha,
            "--expect-manifest",
            &p.manifest_sha,
            "--require",
            "data/a.txt",
            "--require",
            "data",
            "--run",
            "sh checks.sh",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{j:#}");
    assert_eq!(j["schema"], "vaultgate/gate/v1");
    assert_eq!(
        statuses(&j),
        ["audit", "extract", "manifest", "require", "check-01"]
            .map(|s| (s.to_owned(), "pass".to_owned()))
    );
    assert_eq!(j["summary"]["verdict"], "pass");
    assert_eq!(j["context"]["started_at"], "2026-01-02T03:04:05Z");
    assert_eq!(
        j["context"]["git_commit"],
        Value::Null,
        "a temp dir is not a repository"
    );
    assert_eq!(j["bundle_sha256"], p.bundle_sha.as_str());
    assert_eq!(j["manifest_sha256"], p.manifest_sha.as_str());
    assert!(!codes(&j).contains(&"gate-unpinned".to_owned()));
    let run_id = j["context"]["run_id"].as_str().unwrap().to_owned();
    assert!(
        run_id.starts_with("sha256:") && run_id.len() == 71,
        "{run_id}"
    );
    let audit_id = j["context"]["run_id_audit"].as_str().unwrap().to_owned();
    assert_eq!(
        uuid::Uuid::parse_str(&audit_id).unwrap().get_version_num(),
        4
    );
    // report.json is the document printed with --json.
    let report = p.dir.path().join("report");
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(report.join("report.json")).unwrap()).unwrap();
    assert_eq!(on_disk, j);
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(
        md.contains("# vaultgate gate report: PASS") && md.contains(&run_id),
        "{md}"
    );
    assert_eq!(
        std::fs::read(report.join("checks/01.stdout")).unwrap(),
        b"checks ok\n"
    );

    // Same bundle, same configuration: same run_id, new run_id_audit.
    let (_, j2) = gate(
        &p,
        &[
            "--force",
            "--expect-sha256",
            &p.bundle_sha,
            "--expect-manifest",
            &p.manifest_sha,
            "--require",
            "data/a.txt",
            "--require",
            "data",
            "--run",
            "sh checks.sh",
        ],
    );
    assert_eq!(j2["context"]["run_id"], run_id.as_str());
    assert_ne!(j2["context"]["run_id_audit"], audit_id.as_str());
}

#[test]
fn unpinned_run_passes_with_a_prominent_warning() {
    let p = packed();
    let o = vg()
        .current_dir(p.dir.path())
        .arg("gate")
        .arg(&p.zip)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("warning: gate-unpinned"), "{text}");
    assert!(text.trim_end().ends_with("PASS"), "{text}");
    // Default report directory.
    let md = std::fs::read_to_string(p.dir.path().join("gate-report/report.md")).unwrap();
    assert!(md.contains("WARNING: nothing was pinned"), "{md}");
}

#[test]
fn tampered_file_with_the_old_manifest_fails() {
    let p = packed();
    rebuild(&p, |e| {
        let a = e.iter_mut().find(|(n, _)| n == "data/a.txt").unwrap();
        a.1 = b"tampered".to_vec();
    });
    let (o, j) = gate(&p, &["--run", "true"]);
    assert_eq!(o.status.code(), Some(1), "{j:#}");
    assert_eq!(status_of(&j, "manifest"), "fail");
    assert_eq!(status_of(&j, "require"), "skipped");
    assert_eq!(status_of(&j, "check-01"), "skipped");
    assert!(
        codes(&j).contains(&"manifest-hash-mismatch".to_owned()),
        "{j:#}"
    );
    assert!(
        !p.dir.path().join("report/checks/01.stdout").exists(),
        "a check ran after a failed step"
    );
}

#[test]
fn extra_unlisted_file_fails() {
    let p = packed();
    rebuild(&p, |e| {
        e.push(("data/extra.txt".into(), b"smuggled".to_vec()));
    });
    let (o, j) = gate(&p, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        codes(&j).contains(&"manifest-unlisted-file".to_owned()),
        "{j:#}"
    );
}

#[test]
fn missing_file_fails() {
    let p = packed();
    rebuild(&p, |e| e.retain(|(n, _)| n != "data/b.bin"));
    let (o, j) = gate(&p, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        codes(&j).contains(&"manifest-missing-file".to_owned()),
        "{j:#}"
    );
}

#[test]
fn wrong_expect_sha256_fails_at_the_audit_and_skips_the_rest() {
    let p = packed();
    let (o, j) = gate(&p, &["--expect-sha256", &"0".repeat(64), "--run", "true"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(codes(&j).contains(&"gate-bundle-digest-mismatch".to_owned()));
    assert_eq!(
        statuses(&j),
        [
            ("audit", "fail"),
            ("extract", "skipped"),
            ("manifest", "skipped"),
            ("require", "skipped"),
            ("check-01", "skipped")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
}

#[test]
fn wrong_expect_manifest_fails() {
    let p = packed();
    let (o, j) = gate(&p, &["--expect-manifest", &"a".repeat(64)]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(status_of(&j, "manifest"), "fail");
    assert!(codes(&j).contains(&"gate-manifest-digest-mismatch".to_owned()));
}

#[test]
fn failing_run_fails_and_skips_later_checks() {
    let p = packed();
    let (o, j) = gate(&p, &["--run", "echo before; exit 7", "--run", "true"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(status_of(&j, "check-01"), "fail");
    assert_eq!(status_of(&j, "check-02"), "skipped");
    assert_eq!(j["steps"][4]["check"]["exit_code"], 7);
    assert!(codes(&j).contains(&"gate-check-failed".to_owned()));
    assert_eq!(
        std::fs::read(p.dir.path().join("report/checks/01.stdout")).unwrap(),
        b"before\n"
    );
}

/// `true` when `/proc/<pid>` is gone or the process is a zombie (dead, not yet reaped by init).
fn dead(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap();
            matches!(state, "Z" | "X")
        }
    }
}

#[test]
fn timed_out_run_fails_and_its_process_group_dies() {
    let p = packed();
    let pids = p.dir.path().join("pids");
    // The shell and a background sleeper both record their pids, then the shell waits.
    let cmd = format!(
        "echo $$ > '{0}'; sleep 30 & echo $! >> '{0}'; wait",
        pids.display()
    );
    let start = std::time::Instant::now();
    let (o, j) = gate(&p, &["--timeout", "1s", "--run", &cmd]);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(25),
        "the gate waited for the child"
    );
    assert_eq!(o.status.code(), Some(1), "{j:#}");
    assert_eq!(status_of(&j, "check-01"), "fail");
    assert_eq!(j["steps"][4]["check"]["timed_out"], true);
    assert!(codes(&j).contains(&"gate-check-timeout".to_owned()));
    let pids = std::fs::read_to_string(&pids).unwrap();
    let pids: Vec<&str> = pids.split_whitespace().collect();
    assert_eq!(pids.len(), 2, "{pids:?}");
    for pid in pids {
        assert!(dead(pid), "process {pid} of the timed-out check survived");
    }
}

#[test]
fn missing_required_path_fails_and_an_unsafe_one_is_a_usage_error() {
    let p = packed();
    let (o, j) = gate(&p, &["--require", "data/nope.txt"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(status_of(&j, "require"), "fail");
    assert!(codes(&j).contains(&"gate-required-missing".to_owned()));
    for bad in ["../x", "/etc/passwd", "a//b", ""] {
        let o = vg()
            .current_dir(p.dir.path())
            .arg("gate")
            .arg(&p.zip)
            .args(["--require", bad])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad:?} accepted");
    }
}

#[test]
fn parent_environment_is_not_visible_to_checks() {
    let p = packed();
    let o = vg()
        .current_dir(p.dir.path())
        .env("SECRET_TOKEN", "hunter2-do-not-leak")
        .arg("gate")
        .arg(&p.zip)
        .args(["--json", "--run", "env; test -z \"${SECRET_TOKEN:-}\""])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let env = std::fs::read_to_string(p.dir.path().join("gate-report/checks/01.stdout")).unwrap();
    assert!(!env.contains("hunter2"), "{env}");
    assert!(env.contains("LANG=C.UTF-8"), "{env}");
    let home = env.lines().find_map(|l| l.strip_prefix("HOME=")).unwrap();
    let pwd = env.lines().find_map(|l| l.strip_prefix("PWD=")).unwrap();
    assert_eq!(
        Path::new(home).parent(),
        Path::new(pwd).parent(),
        "HOME is not inside the workspace"
    );
}

#[test]
fn check_output_is_kept_verbatim_byte_for_byte() {
    let p = packed();
    let (o, j) = gate(
        &p,
        &[
            "--run",
            "printf 'out\\377\\000\\r\\n\\033[2J'; printf 'err\\376' >&2; cat data/b.bin",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{j:#}");
    let dir = p.dir.path().join("report/checks");
    assert_eq!(
        std::fs::read(dir.join("01.stdout")).unwrap(),
        b"out\xff\x00\r\n\x1b[2J\x00\x9f\x92\x96\xff"
    );
    assert_eq!(std::fs::read(dir.join("01.stderr")).unwrap(), b"err\xfe");
    assert_eq!(j["steps"][4]["check"]["stdout"], "checks/01.stdout");
}

#[test]
fn a_non_empty_report_directory_is_refused_untouched_unless_force() {
    let p = packed();
    let report = p.dir.path().join("report");
    write(&report, "old.txt", "previous evidence");
    let (o, _) = gate(&p, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert_eq!(
        std::fs::read(report.join("old.txt")).unwrap(),
        b"previous evidence"
    );
    let (o, _) = gate(&p, &["--force"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!report.join("old.txt").exists() && report.join("report.json").exists());
    // No staging or aside directory is left behind.
    let names: Vec<String> = std::fs::read_dir(p.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".vaultgate"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn keep_workspace_keeps_and_names_it_otherwise_it_is_removed() {
    let p = packed();
    let (o, j) = gate(&p, &["--keep-workspace"]);
    assert_eq!(o.status.code(), Some(0));
    let ws = PathBuf::from(j["workspace"].as_str().unwrap());
    assert!(ws.join("tree/data/a.txt").is_file());
    std::fs::remove_dir_all(&ws).unwrap();
    let (_, j) = gate(&p, &["--force", "--run", "pwd"]);
    assert_eq!(j["workspace"], Value::Null);
    let pwd = std::fs::read_to_string(p.dir.path().join("report/checks/01.stdout")).unwrap();
    assert!(
        !Path::new(pwd.trim()).exists(),
        "workspace `{pwd}` was not removed"
    );
}

#[test]
fn a_missing_bundle_is_an_error_and_the_report_is_still_written() {
    let p = packed();
    std::fs::remove_file(&p.zip).unwrap();
    let (o, j) = gate(&p, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(status_of(&j, "audit"), "error");
    assert!(p.dir.path().join("report/report.json").is_file());
}

/// Benign archives from other tools, with a manifest made by `vaultgate manifest generate`.
fn foreign_tree(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    write(&src, "README", "hello\n");
    write(&src, "lib/x.py", "print('x')\n");
    vg().args(["manifest", "generate"])
        .arg(&src)
        .assert()
        .success();
    src
}

#[test]
fn info_zip_archive_passes_needs_zip() {
    if !require("zip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = foreign_tree(dir.path());
    let zip = dir.path().join("b.zip");
    let st = std::process::Command::new("zip")
        .current_dir(&src)
        .args(["-q", "-r", "-X"])
        .arg(&zip)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    assert_gate_passes(dir.path(), &zip, &["--require", "lib/x.py"]);
}

#[test]
fn python_zipfile_archive_passes_needs_python3() {
    if !require("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = foreign_tree(dir.path());
    let zip = dir.path().join("b.zip");
    let script = "import os,sys,zipfile\nsrc,out=sys.argv[1],sys.argv[2]\nwith zipfile.ZipFile(out,'w',zipfile.ZIP_DEFLATED) as z:\n    for d,_,fs in os.walk(src):\n        for f in fs:\n            p=os.path.join(d,f); z.write(p, os.path.relpath(p,src))\n";
    let st = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&src)
        .arg(&zip)
        .status()
        .unwrap();
    assert!(st.success());
    assert_gate_passes(dir.path(), &zip, &["--run", "python3 lib/x.py"]);
}

/// `vaultgate gate ZIP ARGS…` run in `dir` exits 0 (stdout shown otherwise).
fn assert_gate_passes(dir: &Path, zip: &Path, args: &[&str]) {
    let o = vg()
        .current_dir(dir)
        .arg("gate")
        .arg(zip)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// The README's first command: the committed demo bundle passes with its manifest pinned.
#[test]
fn demo_bundle_passes_with_the_documented_command_needs_sha256sum() {
    if !require("sha256sum") {
        return;
    }
    let root = repo_root();
    let dir = tempfile::tempdir().unwrap();
    let manifest_sha = common::sha256sum_of(&{
        let mut ar =
            zip::ZipArchive::new(std::fs::File::open(root.join("fixtures/gate/demo.zip")).unwrap())
                .unwrap();
        let mut m = Vec::new();
        ar.by_name("manifest.txt")
            .unwrap()
            .read_to_end(&mut m)
            .unwrap();
        m
    })
    .unwrap();
    let readme = std::fs::read_to_string(root.join("fixtures/gate/README.md")).unwrap();
    assert!(
        readme.contains(&manifest_sha),
        "fixtures/gate/README.md does not pin the demo manifest `{manifest_sha}`"
    );
    assert_gate_passes(
        dir.path(),
        &root.join("fixtures/gate/demo.zip"),
        &["--run", "sh checks.sh", "--expect-manifest", &manifest_sha],
    );
}

/// `scripts/package-bundle.sh` is the documented release example: it must pack a tree given
/// relative to the caller's folder, print both digests, and pass the gate with them pinned.
/// Regression: it used to `cd` into the repository first, so a caller's relative paths broke.
#[test]
fn package_bundle_script_packs_prints_digests_and_gates_pinned_needs_python3() {
    if !require("python3") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let demo = repo_root().join("fixtures/gate/demo");
    let copy = std::process::Command::new("cp")
        .arg("-r")
        .arg(&demo)
        .arg(work.path().join("tree"))
        .status()
        .unwrap();
    assert!(copy.success());
    let out = std::process::Command::new("bash")
        .arg(repo_root().join("scripts/package-bundle.sh"))
        .args(["tree", "out.zip", "sh checks.sh"])
        .env("VAULTGATE", assert_cmd::cargo::cargo_bin("vaultgate"))
        .env_remove("SOURCE_DATE_EPOCH")
        .current_dir(work.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let digest = common::hashlib_sha256_of_file(&work.path().join("out.zip")).unwrap();
    assert!(
        stdout.contains(&format!("bundle sha256:   {digest}")),
        "{stdout}"
    );
    assert!(stdout.contains("manifest sha256: "), "{stdout}");
    assert!(stdout.contains("PASS"), "{stdout}");
}
