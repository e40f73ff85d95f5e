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

/// `vaultgate gate BUNDLE --report <tmp>/report --json …`, run from the temporary directory,
/// with the packed manifest's digest pinned unless `args` pins something or allows no pin.
fn gate(p: &Packed, args: &[&str]) -> (std::process::Output, Value) {
    let pinned = args
        .iter()
        .any(|a| a.starts_with("--expect-") || *a == "--allow-unpinned");
    let mut cmd = vg();
    cmd.current_dir(p.dir.path())
        .env("VAULTGATE_NOW", "2026-01-02T03:04:05Z")
        .arg("gate")
        .arg(&p.zip)
        .arg("--report")
        .arg(p.dir.path().join("report"))
        .arg("--json");
    if !pinned {
        cmd.args(["--expect-manifest", &p.manifest_sha]);
    }
    let o = cmd.args(args).output().unwrap();
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

    // Same bundle, same configuration: same run_id, new run_id_audit. The re-run replaces the
    // previous report without --force.
    let (_, j2) = gate(
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
    assert_eq!(j2["context"]["run_id"], run_id.as_str());
    assert_ne!(j2["context"]["run_id_audit"], audit_id.as_str());
}

/// Issue 14 regression: `vaultgate gate bundle.zip` with nothing pinned used to print a warning
/// and then PASS. It is now a refusal (exit 1) that still names the digest it read.
#[test]
fn an_unpinned_gate_is_refused_and_later_steps_are_skipped() {
    let p = packed();
    let o = vg()
        .current_dir(p.dir.path())
        .args(["gate", "bundle.zip", "--run", "true"])
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("gate-unpinned"), "{text}");
    assert!(text.contains("--allow-unpinned"), "{text}");
    assert!(
        text.contains(&p.bundle_sha),
        "the digest read is shown: {text}"
    );
    assert!(text.trim_end().ends_with("FAIL"), "{text}");
    let j: Value = serde_json::from_slice(
        &std::fs::read(p.dir.path().join("gate-report/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(status_of(&j, "audit"), "fail");
    assert_eq!(status_of(&j, "check-01"), "skipped");
    assert_eq!(j["findings"][0]["code"], "gate-unpinned");
    assert_eq!(j["findings"][0]["severity"], "error");
    assert_eq!(j["config"]["allow_unpinned"], false);
}

/// `--allow-unpinned` gates it on purpose: the warning stays on screen and in both reports.
#[test]
fn allow_unpinned_passes_with_a_prominent_warning_recorded_in_the_report() {
    let p = packed();
    let o = vg()
        .current_dir(p.dir.path())
        .args(["gate", "bundle.zip", "--allow-unpinned"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("warning: gate-unpinned"), "{text}");
    assert!(text.trim_end().ends_with("PASS"), "{text}");
    // Default report directory.
    let md = std::fs::read_to_string(p.dir.path().join("gate-report/report.md")).unwrap();
    assert!(md.contains("WARNING: nothing was pinned"), "{md}");
    let j: Value = serde_json::from_slice(
        &std::fs::read(p.dir.path().join("gate-report/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(j["config"]["allow_unpinned"], true);
    assert_eq!(j["findings"][0]["code"], "gate-unpinned");
    assert_eq!(j["findings"][0]["severity"], "warning");
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
        .args(["--expect-sha256", &p.bundle_sha])
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

/// A way to fill a report directory with something that is not a gate report.
type Make<'a> = Box<dyn Fn(&Path) + 'a>;

/// No staging or aside directory is left beside the report.
fn no_leftovers(dir: &Path) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".vaultgate"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn a_non_report_directory_is_refused_untouched_unless_force() {
    let p = packed();
    let report = p.dir.path().join("report");
    write(&report, "old.txt", "previous evidence");
    let (o, _) = gate(&p, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not a vaultgate gate report") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(report.join("old.txt")).unwrap(),
        b"previous evidence"
    );
    let (o, _) = gate(&p, &["--force"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!report.join("old.txt").exists() && report.join("report.json").exists());
    no_leftovers(p.dir.path());
}

/// Issue 14 regression: re-running `vaultgate gate bundle.zip` in the same folder exited 2
/// because `gate-report/` existed. A finished gate report is replaced, without --force.
#[test]
fn re_running_in_the_same_folder_replaces_the_previous_report() {
    let p = packed();
    let run = |check: &str| {
        vg().current_dir(p.dir.path())
            .args([
                "gate",
                "bundle.zip",
                "--expect-manifest",
                &p.manifest_sha,
                "--run",
                check,
            ])
            .output()
            .unwrap()
    };
    let first = run("echo first");
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = run("echo second");
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let dir = p.dir.path().join("gate-report");
    assert_eq!(
        std::fs::read(dir.join("checks/01.stdout")).unwrap(),
        b"second\n"
    );
    let j: Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(j["config"]["run"][0], "echo second");
    no_leftovers(p.dir.path());
}

/// What is not exactly a finished gate report is never replaced: a folder that holds a copied
/// `report.json` among other files, a `report.json` that is a symlink or of another schema, a
/// `checks/` with a stray file, and a symlink named like the report (its target untouched).
#[test]
fn hostile_report_directories_are_refused_untouched() {
    let p = packed();
    let (o, _) = gate(&p, &["--run", "echo real"]);
    assert_eq!(o.status.code(), Some(0));
    let real = p.dir.path().join("report");
    let real_json = std::fs::read(real.join("report.json")).unwrap();
    let cases: Vec<(&str, Make)> = vec![
        (
            "copied report.json among other files",
            Box::new(|d: &Path| {
                std::fs::write(d.join("report.json"), &real_json).unwrap();
                std::fs::write(d.join("thesis.tex"), "years of work").unwrap();
            }),
        ),
        (
            "report.json of another schema",
            Box::new(|d: &Path| {
                std::fs::write(
                    d.join("report.json"),
                    r#"{"schema":"other/v1","summary":{"verdict":"pass"}}"#,
                )
                .unwrap();
            }),
        ),
        (
            "report.json as a symlink",
            Box::new(|d: &Path| {
                std::os::unix::fs::symlink(real.join("report.json"), d.join("report.json"))
                    .unwrap();
            }),
        ),
        (
            "a stray file in checks/",
            Box::new(|d: &Path| {
                std::fs::write(d.join("report.json"), &real_json).unwrap();
                write(d, "checks/notes.txt", "mine");
            }),
        ),
    ];
    for (what, make) in cases {
        let d = tempfile::tempdir_in(p.dir.path()).unwrap();
        make(d.path());
        let before = listing(d.path());
        let o = vg()
            .current_dir(p.dir.path())
            .arg("gate")
            .arg(&p.zip)
            .args(["--expect-manifest", &p.manifest_sha, "--report"])
            .arg(d.path())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{what}: accepted");
        assert_eq!(listing(d.path()), before, "{what}: changed");
    }
    // A symlink named like the report, pointing at a real report: refused, target untouched.
    let link = p.dir.path().join("linked-report");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let o = vg()
        .current_dir(p.dir.path())
        .arg("gate")
        .arg(&p.zip)
        .args([
            "--expect-manifest",
            &p.manifest_sha,
            "--run",
            "echo new",
            "--report",
        ])
        .arg(&link)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a directory"));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read(real.join("checks/01.stdout")).unwrap(),
        b"real\n"
    );
    no_leftovers(p.dir.path());
}

/// Every path under `dir` with its bytes (symlinks as their target).
fn listing(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let bytes = if e.file_type().is_symlink() {
                std::fs::read_link(e.path())
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else if e.file_type().is_file() {
                std::fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            (e.path().to_path_buf(), bytes)
        })
        .collect();
    out.sort();
    out
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
    let pin = manifest_pin(&src);
    assert_gate_passes(
        dir.path(),
        &zip,
        &["--require", "lib/x.py", "--expect-manifest", &pin],
    );
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
    let pin = manifest_pin(&src);
    assert_gate_passes(
        dir.path(),
        &zip,
        &["--run", "python3 lib/x.py", "--expect-manifest", &pin],
    );
}

/// The digest of the manifest `vaultgate manifest generate` wrote in `src`.
fn manifest_pin(src: &Path) -> String {
    vaultgate::hash::sha256_file(&src.join("manifest.txt"))
        .unwrap()
        .to_hex()
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

/// Issue 8 §2 regression: a check printing without end wrote it all into the report. Past
/// `--max-log` the log keeps its head and tail with a marker; the step records
/// `gate-check-log-truncated` and passes, unless `--fail-on-truncated-log`.
#[test]
fn a_log_past_max_log_keeps_head_and_tail_with_a_marker() {
    let p = packed();
    // 300,000 bytes on stdout (numbered lines) and 100 bytes on stderr, while the cap is 64 KiB.
    let cmd =
        "seq 1 48000 | awk '{printf \"%06d\\n\", $1}' | head -c 300000; printf '%0100d' 0 >&2";
    let (o, j) = gate(&p, &["--max-log", "64KiB", "--run", cmd]);
    assert_eq!(o.status.code(), Some(0), "{j:#}");
    let full: Vec<u8> = (1..=48000)
        .flat_map(|i| format!("{i:06}\n").into_bytes())
        .take(300_000)
        .collect();
    let log = std::fs::read(p.dir.path().join("report/checks/01.stdout")).unwrap();
    let (head, tail) = (32 * 1024, 32 * 1024);
    assert_eq!(&log[..head], &full[..head]);
    assert_eq!(&log[log.len() - tail..], &full[full.len() - tail..]);
    let marker = String::from_utf8_lossy(&log[head..log.len() - tail]).into_owned();
    let dropped = 300_000 - head - tail;
    assert!(
        marker.contains(&format!("{dropped} bytes dropped")),
        "{marker}"
    );
    assert_eq!(j["steps"][4]["check"]["stdout_bytes"], 300_000);
    assert_eq!(j["steps"][4]["check"]["stdout_dropped"], dropped);
    let f = &j["steps"][4]["findings"][0];
    assert_eq!(f["code"], "gate-check-log-truncated");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["location"]["file"], "checks/01.stdout");
    // Under the cap, verbatim.
    assert_eq!(
        std::fs::read(p.dir.path().join("report/checks/01.stderr")).unwrap(),
        "0".repeat(100).as_bytes()
    );
    let (o, j) = gate(
        &p,
        &[
            "--max-log",
            "64KiB",
            "--fail-on-truncated-log",
            "--run",
            cmd,
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{j:#}");
    assert_eq!(status_of(&j, "check-01"), "fail");
    assert_eq!(j["config"]["max_log_bytes"], 65536);
}

/// A check writing far more than the cap to both streams is never blocked and its exit code
/// is kept: the gate keeps draining both pipes.
#[test]
fn a_talkative_check_is_drained_to_its_end() {
    let p = packed();
    let cmd = "head -c 3000000 /dev/zero; head -c 3000000 /dev/zero >&2; echo done; exit 0";
    let (o, j) = gate(&p, &["--max-log", "4KiB", "--run", cmd]);
    assert_eq!(o.status.code(), Some(0), "{j:#}");
    assert_eq!(j["steps"][4]["check"]["stdout_bytes"], 3_000_005);
    assert_eq!(j["steps"][4]["check"]["stderr_bytes"], 3_000_000);
    let log = std::fs::read(p.dir.path().join("report/checks/01.stdout")).unwrap();
    assert!(log.ends_with(b"\0done\n"));
    assert!(log.len() < 4096 + 200, "{}", log.len());
}

/// Issue 14 regression: a failing check's reason was only in the report; its stderr tail is now
/// on screen, escaped, with the log's name.
#[test]
fn a_failing_checks_stderr_tail_is_shown_on_screen() {
    let p = packed();
    let o = vg()
        .current_dir(p.dir.path())
        .args(["gate", "bundle.zip", "--expect-manifest", &p.manifest_sha])
        .args([
            "--run",
            "seq 1 30 >&2; printf 'assertion failed: \\033[31mwant 3\\n' >&2; exit 4",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("checks/01.stderr"), "{text}");
    assert!(
        text.contains("| assertion failed: \\u{1b}[31mwant 3"),
        "{text}"
    );
    assert!(
        text.contains("| 30\n") && !text.contains("| 20\n"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "raw escape on screen: {text}");
}

/// Issue 14: `--timeout 5` suggested `5sec` while the help says `30s`; a bare number is refused
/// with the help's own spelling.
#[test]
fn a_timeout_without_a_unit_suggests_the_helps_spelling() {
    let p = packed();
    let o = vg()
        .current_dir(p.dir.path())
        .args(["gate", "bundle.zip", "--allow-unpinned", "--timeout", "5"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("`5s`") && !err.contains("5sec"), "{err}");
    let help = vg().args(["gate", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("`30s`"), "{help}");
    assert!(!p.dir.path().join("gate-report").exists());
}

/// Issue 7: `run_id` comes from `canon`'s canonical bytes. For the README's demo command its
/// value is the one the earlier serialisation gave (pinned); a non-ASCII command hashes to the
/// canonical (ASCII-escaped) form, computed here by Python's `json.dumps` as an outside oracle.
#[test]
fn run_id_is_the_sha256_of_the_canonical_configuration_needs_python3() {
    let root = repo_root();
    let dir = tempfile::tempdir().unwrap();
    let pin = "b17eea588fbfef77c9a7ae9d7bd8f3fe73f8bb96ef20e7881d882c37596d800a";
    let run = |cmd: &str| {
        let o = vg()
            .current_dir(dir.path())
            .arg("gate")
            .arg(root.join("fixtures/gate/demo.zip"))
            .args(["--json", "--force", "--expect-manifest", pin, "--run", cmd])
            .output()
            .unwrap();
        json_of(&o)["context"]["run_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // The value for fixtures/gate/demo.zip as re-packed through zlib-rs (bundle sha256
    // f87cc706…); the unit test `run_id_of_an_ascii_configuration_is_unchanged_by_the_move_to_canon`
    // keeps pinning the earlier serialisation's value for the earlier digest.
    assert_eq!(
        run("sh checks.sh"),
        "sha256:3300fec9b5b37611c9298d3736adc3f6745992e89faa63bc1c13946c830a9d8f"
    );
    if !require("python3") {
        return;
    }
    let script = r#"import hashlib,json,sys
bundle=hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest()
d={"audit":{"allow_byproducts":False,"deep":False,"max_entries":100000,"max_name_len":1024,"max_ratio":1000,"max_total_size":4<<30},
"bundle_sha256":bundle,"expect_manifest":sys.argv[2],"expect_sha256":None,"require":[],"run":[sys.argv[3]],"schema":"vaultgate/gate/v1","timeout_ms":600000}
print("sha256:"+hashlib.sha256(json.dumps(d,sort_keys=True,separators=(",",":")).encode()).hexdigest())"#;
    let cmd = "échec \u{1f600}";
    let py = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(root.join("fixtures/gate/demo.zip"))
        .args([pin, cmd])
        .output()
        .unwrap();
    assert!(py.status.success());
    assert_eq!(run(cmd), String::from_utf8(py.stdout).unwrap().trim());
}

/// Flip bit 5 (letter case) at a subset of `letters` in `forged` so that its CRC-32 equals
/// `want`. CRC-32 is affine over GF(2) for a fixed length, so each flip toggles a fixed 32-bit
/// vector; Gaussian elimination finds the subset. `None` when these letters cannot reach it.
fn crc_by_case_flips(forged: &mut [u8], letters: &[usize], want: u32) -> Option<()> {
    let zero = crc32fast::hash(&vec![0u8; forged.len()]);
    let effect = |i: usize| {
        let mut d = vec![0u8; forged.len()];
        d[i] = 0x20;
        crc32fast::hash(&d) ^ zero
    };
    // Rows: (effect vector, mask of letters combined); at most 128 letters.
    let mut basis: Vec<(u32, u128)> = Vec::new();
    for (k, &i) in letters.iter().take(128).enumerate() {
        let (mut v, mut m) = (effect(i), 1u128 << k);
        for &(bv, bm) in &basis {
            if v ^ bv < v {
                v ^= bv;
                m ^= bm;
            }
        }
        if v != 0 {
            basis.push((v, m));
            basis.sort_by_key(|b| std::cmp::Reverse(b.0));
        }
    }
    let (mut t, mut m) = (crc32fast::hash(forged) ^ want, 0u128);
    for &(bv, bm) in &basis {
        if t ^ bv < t {
            t ^= bv;
            m ^= bm;
        }
    }
    if t != 0 {
        return None;
    }
    for (k, &i) in letters.iter().take(128).enumerate() {
        if m >> k & 1 == 1 {
            forged[i] ^= 0x20;
        }
    }
    Some(())
}

/// The read position of `pid`'s descriptor open on `path`, if it has one.
fn read_position(pid: u32, path: &Path) -> Option<u64> {
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()? {
        let fd = fd.ok()?;
        if std::fs::read_link(fd.path()).ok().as_deref() == Some(path) {
            let info =
                std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_str()?))
                    .ok()?;
            return info
                .lines()
                .find_map(|l| l.strip_prefix("pos:"))
                .and_then(|v| v.trim().parse().ok());
        }
    }
    None
}

/// The race's bundle: stored `manifest.txt` and `checks.sh` first, a large `zz-big.bin` last,
/// and the forgery of the two small entries (same lengths, same CRC-32s).
struct RaceBundle {
    zip: PathBuf,
    big_len: u64,
    manifest: Vec<u8>,
    /// (offset, bytes) of each in-place rewrite.
    forgery: Vec<(u64, Vec<u8>)>,
    /// End of the last small entry's data.
    early_end: u64,
}

fn race_bundle(dir: &Path) -> RaceBundle {
    let src = dir.join("src");
    let pad = "abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd";
    let checks = format!("echo original\n# {pad}\n");
    write(&src, "checks.sh", &checks);
    // Large and incompressible enough that reading it takes a while.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let big: Vec<u8> = (0..16 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[3]
        })
        .collect();
    write(&src, "zz-big.bin", &big);
    vg().args(["manifest", "generate"])
        .arg(&src)
        .assert()
        .success();
    let manifest = std::fs::read(src.join("manifest.txt")).unwrap();
    let zip = dir.join("bundle.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&zip).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in [
        ("manifest.txt", manifest.as_slice()),
        ("checks.sh", checks.as_bytes()),
        ("zz-big.bin", big.as_slice()),
    ] {
        w.start_file(name, stored).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap();
    let mut ar = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let m_at = ar.by_name("manifest.txt").unwrap().data_start().unwrap();
    let c_at = ar.by_name("checks.sh").unwrap().data_start().unwrap();

    let mut forged_checks = checks
        .replace("echo original", "echo FORGED!!")
        .into_bytes();
    let pad_at: Vec<usize> =
        (forged_checks.len() - 1 - pad.len()..forged_checks.len() - 1).collect();
    crc_by_case_flips(
        &mut forged_checks,
        &pad_at,
        crc32fast::hash(checks.as_bytes()),
    )
    .unwrap();
    let mut forged_manifest = String::from_utf8(manifest.clone())
        .unwrap()
        .replace(
            &vaultgate::hash::sha256_bytes(checks.as_bytes()).to_hex(),
            &vaultgate::hash::sha256_bytes(&forged_checks).to_hex(),
        )
        .into_bytes();
    // The 64 hex digits at the start of each line; only their letters are recased.
    let mut hex_letters = Vec::new();
    let mut line_start = 0;
    for (i, &b) in forged_manifest.iter().enumerate() {
        if i < line_start + 64 && (b'a'..=b'f').contains(&b) {
            hex_letters.push(i);
        }
        if b == b'\n' {
            line_start = i + 1;
        }
    }
    crc_by_case_flips(
        &mut forged_manifest,
        &hex_letters,
        crc32fast::hash(&manifest),
    )
    .expect("the manifest's hex letters cannot restore its CRC-32");
    assert_eq!(forged_manifest.len(), manifest.len());
    RaceBundle {
        zip,
        big_len: big.len() as u64,
        manifest,
        early_end: c_at + checks.len() as u64,
        forgery: vec![(m_at, forged_manifest), (c_at, forged_checks)],
    }
}

/// Wait until `child` reads `b.zip` past its small entries (but not yet to its end), then
/// rewrite them in place and restore the mtime. Returns the read position seen, or `None` when
/// the child ended first.
fn rewrite_while_reading(child: &mut std::process::Child, b: &RaceBundle) -> Option<u64> {
    use std::io::{Seek, SeekFrom};
    while_reading(child, b, |f| {
        for (at, bytes) in &b.forgery {
            f.seek(SeekFrom::Start(*at)).unwrap();
            f.write_all(bytes).unwrap();
        }
    })
}

/// Wait until `child` reads `b.zip` past its small entries (but not yet to its end), then do
/// `change` to the file and restore its mtime. Returns the read position seen.
fn while_reading(
    child: &mut std::process::Child,
    b: &RaceBundle,
    change: impl FnOnce(&mut std::fs::File),
) -> Option<u64> {
    let canonical = b.zip.canonicalize().unwrap();
    let mtime = std::fs::metadata(&b.zip).unwrap().modified().unwrap();
    while child.try_wait().unwrap().is_none() {
        if let Some(pos) = read_position(child.id(), &canonical)
            && pos > b.early_end
            && pos < b.big_len
        {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(&b.zip)
                .unwrap();
            change(&mut f);
            f.set_modified(mtime).unwrap();
            return Some(pos);
        }
    }
    None
}

/// Issue 8 §1 regression (high), reproduced as the outside audit did: a bundle whose small early
/// entries are stored and whose last entry is large. While the gate reads the large entry, a
/// writer that watches the gate's read position in `/proc/PID/fdinfo` rewrites the early
/// entries in place (same length, CRC-32 kept by case flips: `checks.sh` prints `FORGED!!`,
/// and the manifest carries its new digest with hex letters recased) and restores the mtime.
/// The gate used to hash the first bytes, then audit and extract the file again, so it passed
/// with the pinned digest while running the forgery. It now reads the bundle once into a
/// private snapshot: what it hashed is what runs.
#[test]
fn a_bundle_rewritten_in_place_during_the_gate_is_not_what_runs() {
    let dir = tempfile::tempdir().unwrap();
    let b = race_bundle(dir.path());
    let pinned = vaultgate::hash::sha256_file(&b.zip).unwrap().to_hex();
    let report = dir.path().join("report");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("vaultgate"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(dir.path())
        .arg("gate")
        .arg(&b.zip)
        .args([
            "--expect-sha256",
            &pinned,
            "--run",
            "sh checks.sh",
            "--json",
            "--report",
        ])
        .arg(&report)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let seen = rewrite_while_reading(&mut child, &b);
    let out = child.wait_with_output().unwrap();
    let pos =
        seen.expect("race not reproduced: the gate finished before the writer saw it reading");
    let j = json_of(&out);
    assert_eq!(
        j["bundle_sha256"],
        pinned.as_str(),
        "rewrote at {pos}: {j:#}"
    );
    assert_eq!(
        std::fs::read(report.join("checks/01.stdout")).unwrap_or_default(),
        b"original\n",
        "rewrote at {pos}: the gate reported the pinned digest but ran other bytes: {j:#}"
    );
    assert_eq!(
        j["manifest_sha256"],
        vaultgate::hash::sha256_bytes(&b.manifest).to_hex().as_str()
    );
    assert_eq!(out.status.code(), Some(0), "{j:#}");
    // The premise: the forgery is in the file and self-consistent, so a gate pinned to it
    // passes and runs it.
    let forged = vaultgate::hash::sha256_file(&b.zip).unwrap().to_hex();
    assert_ne!(forged, pinned);
    let o = vg()
        .current_dir(dir.path())
        .arg("gate")
        .arg(&b.zip)
        .args([
            "--expect-sha256",
            &forged,
            "--run",
            "sh checks.sh",
            "--report",
        ])
        .arg(dir.path().join("forged-report"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(
        std::fs::read(dir.path().join("forged-report/checks/01.stdout")).unwrap(),
        b"FORGED!!\n"
    );
}

/// The snapshot's own change check: a bundle whose length changes during the gate's one read
/// (here: truncated to half, mtime restored) fails closed with `gate-bundle-changed`, even when
/// nothing is pinned that would catch it (`--allow-unpinned`).
#[test]
fn a_bundle_whose_length_changes_during_the_read_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let b = race_bundle(dir.path());
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("vaultgate"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(dir.path())
        .arg("gate")
        .arg(&b.zip)
        .args(["--allow-unpinned", "--json", "--run", "true"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let half = b.big_len / 2;
    let seen = while_reading(&mut child, &b, |f| f.set_len(half).unwrap());
    let out = child.wait_with_output().unwrap();
    seen.expect("race not reproduced: the gate finished before the writer saw it reading");
    let j = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{j:#}");
    assert_eq!(status_of(&j, "audit"), "fail");
    assert!(
        codes(&j).contains(&"gate-bundle-changed".to_owned()),
        "{j:#}"
    );
    assert_eq!(status_of(&j, "check-01"), "skipped");
}

/// A bundle without `manifest.txt` fails at the manifest step; a malformed one too.
#[test]
fn a_missing_or_malformed_manifest_fails_the_manifest_step() {
    let p = packed();
    rebuild(&p, |e| e.retain(|(n, _)| n != "manifest.txt"));
    let (o, j) = gate(&p, &["--run", "true"]);
    assert_eq!(o.status.code(), Some(1), "{j:#}");
    assert_eq!(status_of(&j, "manifest"), "fail");
    assert!(
        codes(&j).contains(&"gate-manifest-missing".to_owned()),
        "{j:#}"
    );
    assert_eq!(status_of(&j, "check-01"), "skipped");
    rebuild(&p, |e| {
        e.push(("manifest.txt".into(), b"not a manifest line\n".to_vec()));
    });
    let (o, j) = gate(&p, &["--allow-unpinned", "--run", "true"]);
    assert_eq!(o.status.code(), Some(1), "{j:#}");
    assert_eq!(status_of(&j, "manifest"), "fail");
    assert!(
        codes(&j).contains(&"gate-manifest-invalid".to_owned()),
        "{j:#}"
    );
}
