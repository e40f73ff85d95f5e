//! End-to-end tests of `vaultgate agent …` through the real binary: real git (a bare repository
//! made by each test), real child processes, the real vault database. No test sleeps to
//! synchronise (conditions are polled with a bounded deadline) and every process group a test
//! starts is killed by its guard.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use common::agent::{
    AgentHome, DEADLINE, FixtureRepo, alive, client_py, connect, members_of_group, proc_stat,
    recv_frame, send_frame, send_raw_frame, wait_for,
};
use serde_json::{Value, json};

fn codes(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["code"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A home plus one fixture agent, discovered.
fn fixture(id: &str, perms: &[&str], files: &[(&str, &str)]) -> (AgentHome, FixtureRepo) {
    let h = AgentHome::new();
    let repo = FixtureRepo::new(h.dir.path(), id, id, perms, files);
    let root = h.dir.path().join("projects");
    let (code, v) = h.json(&["agent", "discover", "--root", root.to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    (h, repo)
}

/// Discovered, installed at `v1`, built with `--trust`, enabled with every permission.
fn ready(id: &str, perms: &[&str], files: &[(&str, &str)]) -> (AgentHome, FixtureRepo) {
    let (h, repo) = fixture(id, perms, files);
    let (code, v) = h.json(&["agent", "install", id, "--ref", "v1", "--allow-file-url"]);
    assert_eq!(code, 0, "{v}");
    let (code, v) = h.json(&["agent", "build", id, "--trust"]);
    assert_eq!(code, 0, "{v}");
    let (code, v) = h.json(&["agent", "enable", id, "--all"]);
    assert_eq!(code, 0, "{v}");
    (h, repo)
}

fn log_path(h: &AgentHome, id: &str, run: &Value, name: &str) -> std::path::PathBuf {
    h.home
        .join("logs")
        .join(id)
        .join(run["run_id"].as_str().unwrap())
        .join(name)
}

fn wait_log(h: &AgentHome, id: &str, run: &Value, needle: &str) -> bool {
    let p = log_path(h, id, run, "stdout.log");
    wait_for(DEADLINE, || {
        std::fs::read_to_string(&p).is_ok_and(|s| s.contains(needle))
    })
}

const SLEEPER: &str = "#!/bin/sh\necho started\nexec sleep 1000\n";

#[test]
fn discovery_runs_no_code_and_is_idempotent() {
    let h = AgentHome::new();
    let marker = h.dir.path().join("MARKER");
    let script = format!("#!/bin/sh\ntouch {}\n", marker.display());
    let _repo = FixtureRepo::new(
        h.dir.path(),
        "a",
        "com.example.a",
        &["fs:read:/x"],
        &[("bin/agent.sh", &script), ("build", &script)],
    );
    let root = h.dir.path().join("projects");
    let root = root.to_str().unwrap();
    let (code, v) = h.json(&["agent", "discover", "--root", root]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["agents"][0]["change"], "discovered");
    let (code, v) = h.json(&["agent", "discover", "--root", root]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["agents"][0]["change"], "unchanged");
    assert!(!marker.exists(), "discovery executed agent code");
    assert_eq!(h.audit("agent.discovered").len(), 1);
    assert!(h.audit("agent.updated").is_empty());
    let (_, list) = h.json(&["agent", "list"]);
    assert_eq!(list["agents"].as_array().unwrap().len(), 1);
    assert_eq!(list["agents"][0]["status"], "local_dev");
}

#[test]
fn malformed_manifests_are_reported_and_stored_nowhere() {
    let h = AgentHome::new();
    let root = h.dir.path().join("p");
    let good = common::agent::manifest("com.example.good", "https://example.com/g.git", &[]);
    let mut missing: Value = serde_json::from_str(&good).unwrap();
    missing.as_object_mut().unwrap().remove("permissions");
    let cases: Vec<(&str, String, &str)> = vec![
        ("good", good.clone(), ""),
        (
            "oversize",
            format!("{}{}", good, " ".repeat(256_001)),
            "agent-manifest-too-large",
        ),
        ("badjson", "{\"id\": ".into(), "agent-manifest-invalid-json"),
        (
            "missing",
            missing.to_string(),
            "agent-manifest-missing-field",
        ),
        (
            "dotdot",
            good.replace("com.example.good", "../x"),
            "agent-manifest-bad-id",
        ),
        (
            "dash",
            good.replace("com.example.good", "-x"),
            "agent-manifest-bad-id",
        ),
    ];
    for (dir, content, _) in &cases {
        common::write(&root, &format!("{dir}/opensentience.agent.json"), content);
    }
    let (code, v) = h.json(&["agent", "discover", "--root", root.to_str().unwrap()]);
    assert_eq!(code, 1, "a refused manifest fails the discovery: {v}");
    let found = codes(&v);
    for (dir, _, code) in cases.iter().skip(1) {
        assert!(found.contains(&(*code).to_owned()), "{dir}: {found:?}");
        assert!(
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["subject"].as_str().unwrap().contains(&format!("/{dir}/"))),
            "{dir}"
        );
    }
    let (_, list) = h.json(&["agent", "list"]);
    let ids: Vec<&str> = list["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agent_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["com.example.good"]);
}

#[test]
fn the_shipped_sample_manifest_parses() {
    let h = AgentHome::new();
    let root = common::repo_root().join("fixtures/agent");
    let (code, v) = h.json(&["agent", "discover", "--root", root.to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["agents"][0]["agent_id"], "org.vaultgate.sample");
    let (_, info) = h.json(&["agent", "info", "org.vaultgate.sample"]);
    assert_eq!(
        info["requested_permissions"],
        json!([
            "filesystem:read:~/notes/**",
            "network:egress:api.example.com"
        ])
    );
}

#[test]
fn install_lands_on_the_tags_commit_and_is_detached() {
    let (h, repo) = fixture("com.example.inst", &[], &[("bin/agent.sh", SLEEPER)]);
    let v1 = repo.rev("v1");
    std::fs::write(repo.work.join("later.txt"), "a later commit\n").unwrap();
    repo.commit_and_push("later");
    assert_ne!(repo.rev("HEAD"), v1);
    let (code, v) = h.json(&[
        "agent",
        "install",
        "com.example.inst",
        "--ref",
        "v1",
        "--allow-file-url",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["commit"], v1);
    let src = h.home.join("agents/com.example.inst/src");
    let head = std::process::Command::new("git")
        .current_dir(&src)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&head.stdout).trim(), v1);
    let sym = std::process::Command::new("git")
        .current_dir(&src)
        .args(["symbolic-ref", "-q", "HEAD"])
        .output()
        .unwrap();
    assert!(!sym.status.success(), "HEAD must be detached");
    assert!(!src.join("later.txt").exists());
    let rows = h.audit("agent.installed");
    assert_eq!(rows.len(), 1);
    let (_, info) = h.json(&["agent", "info", "com.example.inst"]);
    assert_eq!(info["status"], "installed");
    assert_eq!(info["installed_commit"], v1);
}

#[test]
fn bad_refs_and_urls_are_refused_before_git_runs() {
    let (h, _repo) = fixture("com.example.refs", &[], &[("bin/agent.sh", SLEEPER)]);
    // A `git` on PATH that leaves a marker: it must never run for a refused value.
    let shim = h.dir.path().join("shim");
    let marker = h.dir.path().join("GIT_RAN");
    common::write(
        &shim,
        "git",
        format!("#!/bin/sh\ntouch {}\nexit 1\n", marker.display()),
    );
    std::fs::set_permissions(
        shim.join("git"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:/usr/bin:/bin", shim.display());
    for bad in ["-x", "--upload-pack=touch", "a..b", "a b", "a\u{1b}b"] {
        let out = h
            .vg()
            .env("PATH", &path)
            .args([
                "--json",
                "agent",
                "install",
                "com.example.refs",
                "--allow-file-url",
            ])
            .arg(format!("--ref={bad}"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        assert_eq!(
            codes(&common::json_of(&out)),
            ["agent-unsafe-git-argument"],
            "{bad:?}"
        );
    }
    // The file URL needs --allow-file-url.
    let out = h
        .vg()
        .env("PATH", &path)
        .args(["--json", "agent", "install", "com.example.refs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        codes(&common::json_of(&out)),
        ["agent-protocol-not-allowed"]
    );
    assert!(!marker.exists(), "git ran for a refused value");
    assert!(!h.home.join("agents/com.example.refs/src").exists());
    let denied = h.audit("security.denied");
    assert_eq!(denied.len(), 6, "{denied:?}");
}

#[test]
fn build_needs_trust_and_sees_only_the_allowlisted_environment() {
    // `env -S` runs `cat /proc/self/environ ./build`: cat's environment is exactly the one
    // vaultgate gave the build step (env adds nothing, no shell is involved).
    let build = "#!/usr/bin/env -S cat /proc/self/environ\nEND-OF-ENV\n";
    let (h, _repo) = fixture(
        "com.example.build",
        &[],
        &[("bin/agent.sh", SLEEPER), ("build", build)],
    );
    let (code, v) = h.json(&["agent", "install", "com.example.build", "--allow-file-url"]);
    assert_eq!(code, 0, "{v}");
    let (code, v) = h.json(&["agent", "build", "com.example.build"]);
    assert_eq!(code, 1);
    assert_eq!(codes(&v), ["agent-trust-required"]);
    assert!(
        v["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("executes")
    );
    assert_eq!(h.audit("security.denied").len(), 1);
    assert!(h.audit("agent.build_started").is_empty());
    let out = h
        .vg()
        .env("SECRET_FROM_CALLER", "leak")
        .env("LANG", "C.UTF-8")
        .args(["--json", "agent", "build", "com.example.build", "--trust"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let log = std::fs::read_to_string(h.home.join("agents/com.example.build/build.log")).unwrap();
    let mut vars: Vec<&str> = log.split('\0').collect();
    assert!(vars.pop().unwrap().contains("END-OF-ENV"), "{log:?}");
    let mut keys: Vec<&str> = vars.iter().map(|v| v.split('=').next().unwrap()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["HOME", "LANG", "PATH", "TMPDIR"], "{log:?}");
    let agent_dir = h.home.join("agents/com.example.build");
    assert!(
        vars.contains(&format!("HOME={}", agent_dir.join("home").display()).as_str()),
        "{log:?}"
    );
    assert!(
        vars.contains(&format!("TMPDIR={}", agent_dir.join("tmp").display()).as_str()),
        "{log:?}"
    );
    for ev in ["agent.build_started", "agent.built"] {
        let rows = h.audit(ev);
        assert_eq!(rows.len(), 1, "{ev}");
        assert!(
            rows[0].to_string().contains("trust_boundary"),
            "{ev} must be marked as crossing the trust boundary"
        );
    }
}

#[test]
fn a_failing_build_is_recorded_as_build_failed() {
    let (h, _repo) = fixture(
        "com.example.bfail",
        &[],
        &[
            ("bin/agent.sh", SLEEPER),
            ("build", "#!/bin/sh\necho broken >&2\nexit 7\n"),
        ],
    );
    h.json(&["agent", "install", "com.example.bfail", "--allow-file-url"]);
    let (code, v) = h.json(&["agent", "build", "com.example.bfail", "--trust"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(codes(&v), ["agent-build-failed"]);
    let rows = h.audit("agent.build_failed");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].to_string().contains("trust_boundary"));
    h.json(&["agent", "enable", "com.example.bfail", "--all"]);
    let (code, v) = h.json(&["agent", "run", "com.example.bfail"]);
    assert_eq!(code, 1);
    assert_eq!(codes(&v), ["agent-not-built"]);
}

#[test]
fn no_run_before_enable_and_approval_is_a_subset() {
    let (h, _repo) = fixture(
        "com.example.en",
        &["fs:read:/a/**", "net:egress:x.example"],
        &[("bin/agent.sh", SLEEPER)],
    );
    h.json(&["agent", "install", "com.example.en", "--allow-file-url"]);
    h.json(&["agent", "build", "com.example.en", "--trust"]);
    let (code, v) = h.json(&["agent", "run", "com.example.en"]);
    assert_eq!(code, 1);
    assert_eq!(codes(&v), ["agent-not-enabled"]);
    let before = h.audit("security.denied").len();
    let (code, v) = h.json(&[
        "agent",
        "enable",
        "com.example.en",
        "--approve",
        "net:egress:evil.example",
    ]);
    assert_eq!(code, 1);
    assert_eq!(codes(&v), ["agent-permission-not-requested"]);
    assert_eq!(h.audit("security.denied").len(), before + 1);
    assert!(
        h.audit("agent.enabled").is_empty(),
        "a refused approval records nothing"
    );
    let (code, v) = h.json(&[
        "agent",
        "enable",
        "com.example.en",
        "--approve",
        "fs:read:/a/**",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["approved"], json!(["fs:read:/a/**"]));
    let (_, info) = h.json(&["agent", "info", "com.example.en"]);
    assert_eq!(info["approved_permissions"], json!(["fs:read:/a/**"]));
    assert_eq!(info["status"], "enabled");
    let (code, v) = h.run("com.example.en", &[]);
    assert_eq!(code, 0, "{v}");
    let (code, v) = h.json(&["agent", "stop", "com.example.en"]);
    assert_eq!(code, 0, "{v}");
}

#[test]
fn revoke_then_run_is_refused() {
    let (h, _repo) = ready(
        "com.example.rv",
        &["fs:read:/a"],
        &[("bin/agent.sh", SLEEPER)],
    );
    let (code, v) = h.json(&["agent", "revoke", "com.example.rv"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(h.audit("agent.permissions_revoked").len(), 1);
    let (code, v) = h.json(&["agent", "run", "com.example.rv"]);
    assert_eq!(code, 1);
    assert_eq!(codes(&v), ["agent-not-enabled"]);
    let denied = h.audit("security.denied");
    assert!(
        denied
            .last()
            .unwrap()
            .to_string()
            .contains("agent-not-enabled")
    );
}

#[test]
fn drift_is_refused_until_reapproved_and_reordering_is_not_drift() {
    let (h, repo) = ready(
        "com.example.dr",
        &["a:b:c", "d:e"],
        &[("bin/agent.sh", SLEEPER)],
    );
    let root = h.dir.path().join("projects");
    let root = root.to_str().unwrap();
    let url = format!("file://{}", repo.bare.display());
    let reinstall = |h: &AgentHome| {
        let (code, v) = h.json(&["agent", "discover", "--root", root]);
        assert_eq!(code, 0, "{v}");
        assert_eq!(v["agents"][0]["change"], "updated");
        let (code, v) = h.json(&[
            "agent",
            "install",
            "com.example.dr",
            "--ref",
            "main",
            "--allow-file-url",
        ]);
        assert_eq!(code, 0, "{v}");
        let (code, v) = h.json(&["agent", "build", "com.example.dr", "--trust"]);
        assert_eq!(code, 0, "{v}");
    };
    // Reordering (and repeating) a permission is not a change.
    std::fs::write(
        repo.work.join("opensentience.agent.json"),
        common::agent::manifest("com.example.dr", &url, &["d:e", "a:b:c", "d:e"]),
    )
    .unwrap();
    repo.commit_and_push("reorder");
    reinstall(&h);
    let (code, v) = h.run("com.example.dr", &[]);
    assert_eq!(code, 0, "reordering must not need re-approval: {v}");
    assert_eq!(h.json(&["agent", "stop", "com.example.dr"]).0, 0);
    // A new permission is drift.
    std::fs::write(
        repo.work.join("opensentience.agent.json"),
        common::agent::manifest("com.example.dr", &url, &["a:b:c", "d:e", "f:g"]),
    )
    .unwrap();
    repo.commit_and_push("more permissions");
    reinstall(&h);
    assert_eq!(h.audit("agent.updated").len(), 2);
    let (code, v) = h.json(&["agent", "run", "com.example.dr"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(codes(&v), ["agent-approval-drift"]);
    let (code, v) = h.json(&["agent", "enable", "com.example.dr", "--all"]);
    assert_eq!(code, 0, "{v}");
    let (code, v) = h.run("com.example.dr", &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(h.json(&["agent", "stop", "com.example.dr"]).0, 0);
}

#[test]
fn run_then_stop_leaves_no_process_of_the_group_grandchild_included() {
    let agent = "#!/bin/sh\nsleep 1000 &\necho $! > \"$HOME/grandchild.pid\"\necho started\nwait\n";
    let (h, _repo) = ready("com.example.gc", &[], &[("bin/agent.sh", agent)]);
    let (code, v) = h.run("com.example.gc", &[]);
    assert_eq!(code, 0, "{v}");
    let run = &v["run"];
    assert_eq!(run["state"], "running");
    let pgid = run["pid"].as_i64().unwrap();
    let monitor = run["monitor_pid"].as_i64().unwrap();
    let pidfile = h.home.join("agents/com.example.gc/home/grandchild.pid");
    assert!(wait_for(DEADLINE, || std::fs::read_to_string(&pidfile)
        .is_ok_and(|s| s.ends_with('\n'))));
    let gc: i64 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gc_start = proc_stat(gc).unwrap().2;
    assert_eq!(
        proc_stat(gc).unwrap().1,
        pgid,
        "the grandchild is in the agent's group"
    );
    assert_ne!(
        proc_stat(monitor).unwrap().1,
        proc_stat(i64::from(std::process::id())).unwrap().1,
        "the monitor left the caller's group"
    );
    let (code, v) = h.json(&["agent", "stop", "com.example.gc"]);
    assert_eq!(code, 0, "{v}");
    assert!(
        members_of_group(pgid).is_empty(),
        "processes left in the group"
    );
    assert!(!alive(gc, gc_start), "the grandchild survived");
    let run = h.wait_state("com.example.gc", "stopped");
    assert_eq!(run["signal"], 15);
    assert!(
        wait_for(DEADLINE, || !alive(
            monitor,
            proc_stat(monitor).map_or(0, |s| s.2)
        )),
        "the monitor survived"
    );
    assert_eq!(h.audit("agent.run_started").len(), 1);
    assert_eq!(h.audit("agent.run_stopped").len(), 1);
}

#[test]
fn an_agent_ignoring_sigterm_is_killed_at_the_timeout() {
    let agent = "#!/bin/sh\ntrap '' TERM\necho ready\nwhile :; do sleep 1; done\n";
    let (h, _repo) = ready("com.example.term", &[], &[("bin/agent.sh", agent)]);
    let (code, v) = h.run("com.example.term", &[]);
    assert_eq!(code, 0, "{v}");
    let pgid = v["run"]["pid"].as_i64().unwrap();
    assert!(wait_log(&h, "com.example.term", &v, "ready"));
    let (code, s) = h.json(&["agent", "stop", "com.example.term", "--timeout", "1s"]);
    assert_eq!(code, 0, "{s}");
    assert_eq!(s["escalated"], true);
    assert!(s["elapsed_ms"].as_u64().unwrap() >= 1000, "{s}");
    assert!(members_of_group(pgid).is_empty());
    let run = h.wait_state("com.example.term", "stopped");
    assert_eq!(run["signal"], 9);
}

#[test]
fn a_crash_with_exit_3_is_recorded_as_crashed() {
    let (h, _repo) = ready(
        "com.example.crash",
        &[],
        &[("bin/agent.sh", "#!/bin/sh\necho going down\nexit 3\n")],
    );
    let (_code, _v) = h.run("com.example.crash", &[]);
    let run = h.wait_state("com.example.crash", "crashed");
    assert_eq!(run["exit_code"], 3);
    let rows = h.audit("agent.run_crashed");
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].to_string().contains("\"exit_code\":3"),
        "{}",
        rows[0]
    );
    let (_, info) = h.json(&["agent", "info", "com.example.crash"]);
    assert_eq!(info["status"], "error");
}

#[test]
fn kill_9_from_outside_is_recorded_as_crashed() {
    let (h, _repo) = ready("com.example.k9", &[], &[("bin/agent.sh", SLEEPER)]);
    let (code, v) = h.run("com.example.k9", &[]);
    assert_eq!(code, 0, "{v}");
    let pid = v["run"]["pid"].as_i64().unwrap();
    assert!(
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let run = h.wait_state("com.example.k9", "crashed");
    assert_eq!(run["signal"], 9);
    assert_eq!(h.audit("agent.run_crashed").len(), 1);
}

#[test]
fn a_killed_monitor_is_detected_and_stop_still_ends_the_agent() {
    let (h, _repo) = ready("com.example.mon", &[], &[("bin/agent.sh", SLEEPER)]);
    let (code, v) = h.run("com.example.mon", &[]);
    assert_eq!(code, 0, "{v}");
    let pgid = v["run"]["pid"].as_i64().unwrap();
    let monitor = v["run"]["monitor_pid"].as_i64().unwrap();
    assert!(
        std::process::Command::new("kill")
            .args(["-9", &monitor.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let run = h.wait_state("com.example.mon", "crashed");
    assert_eq!(run["reason"], "monitor_lost");
    let (code, s) = h.json(&["agent", "stop", "com.example.mon"]);
    assert_eq!(code, 0, "{s}");
    assert!(members_of_group(pgid).is_empty());
    let rows = h.audit("agent.run_crashed");
    assert!(rows.last().unwrap().to_string().contains("monitor_lost"));
}

#[test]
fn a_forged_start_time_makes_stop_refuse_to_signal() {
    let (h, _repo) = ready("com.example.forge", &[], &[("bin/agent.sh", SLEEPER)]);
    let (code, v) = h.run("com.example.forge", &[]);
    assert_eq!(code, 0, "{v}");
    let pid = v["run"]["pid"].as_i64().unwrap();
    let start = proc_stat(pid).unwrap().2;
    let db = rusqlite::Connection::open(h.home.join("vault.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let n = db
        .execute(
            "UPDATE agent_runs SET start_time = start_time + 1 WHERE run_id = ?1",
            [v["run_id"].as_str().unwrap()],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    let (code, s) = h.json(&["agent", "stop", "com.example.forge", "--timeout", "1s"]);
    assert_eq!(code, 1, "{s}");
    assert_eq!(codes(&s), ["agent-pid-reused"]);
    assert!(alive(pid, start), "stop signalled a pid it could not prove");
    assert!(
        h.audit("security.denied")
            .last()
            .unwrap()
            .to_string()
            .contains("agent-pid-reused")
    );
}

#[test]
fn an_agent_writing_20_mib_leaves_bounded_logs_with_the_tail_and_is_never_blocked() {
    let agent = "#!/bin/sh\nyes 0123456789abcdefghijklmnopqrstu | head -c 20971520\necho\necho TAIL-END-MARKER\n";
    let (h, _repo) = ready("com.example.big", &[], &[("bin/agent.sh", agent)]);
    let (_c, v) = h.run("com.example.big", &["--log-cap", "1048576"]);
    let run = h.wait_state("com.example.big", "stopped");
    assert_eq!(
        run["exit_code"], 0,
        "the writer finished: it was never blocked"
    );
    let cur = std::fs::read(log_path(&h, "com.example.big", &v, "stdout.log")).unwrap();
    let old = std::fs::read(log_path(&h, "com.example.big", &v, "stdout.log.1")).unwrap();
    assert!(
        cur.len() + old.len() <= 2 * 1_048_576 + 1024,
        "{} + {}",
        cur.len(),
        old.len()
    );
    let text = String::from_utf8_lossy(&cur);
    assert!(text.contains("TAIL-END-MARKER"), "the tail survives");
    assert!(
        text.contains("earlier bytes dropped"),
        "a visible drop marker"
    );
    assert!(text.contains("dropped]"), "the closing marker with totals");
}

#[test]
fn the_session_token_is_in_no_log_database_byte_or_audit_row() {
    let agent = "#!/bin/sh\nprintf %s \"$VAULTGATE_SESSION_TOKEN\" > \"$HOME/token.txt\"\necho \"token=$VAULTGATE_SESSION_TOKEN\"\necho \"err $VAULTGATE_SESSION_TOKEN\" >&2\nexec python3 \"$(dirname \"$0\")/vg_agent.py\" serve\n";
    let (h, _repo) = ready(
        "com.example.tok",
        &[],
        &[("bin/agent.sh", agent), ("bin/vg_agent.py", &client_py())],
    );
    let (code, v) = h.run("com.example.tok", &["--heartbeat-interval", "100ms"]);
    assert_eq!(code, 0, "{v}");
    assert!(wait_for(
        DEADLINE,
        || h.last_run("com.example.tok")["session"] == true
    ));
    let tokfile = h.home.join("agents/com.example.tok/home/token.txt");
    let token = std::fs::read_to_string(&tokfile).unwrap();
    assert!(token.starts_with("vgs_") && token.len() > 40, "{token}");
    assert_eq!(h.json(&["agent", "stop", "com.example.tok"]).0, 0);
    let out = std::fs::read_to_string(log_path(&h, "com.example.tok", &v, "stdout.log")).unwrap();
    assert!(out.contains("token=[REDACTED]"), "{out}");
    for (path, bytes) in h.all_files() {
        if path == tokfile {
            continue;
        }
        assert!(
            memchr::memmem::find(&bytes, token.as_bytes()).is_none(),
            "the session token is in {}",
            path.display()
        );
    }
    let logs = h
        .vg()
        .args(["agent", "logs", "com.example.tok"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&logs.stdout).contains(&token));
}

#[test]
fn hello_welcome_heartbeats_then_unhealthy_after_three_missed_intervals() {
    let agent = "#!/bin/sh\nexec python3 \"$(dirname \"$0\")/vg_agent.py\" serve --heartbeats 3\n";
    let (h, _repo) = ready(
        "com.example.hb",
        &[],
        &[("bin/agent.sh", agent), ("bin/vg_agent.py", &client_py())],
    );
    let (code, v) = h.run("com.example.hb", &["--heartbeat-interval", "100ms"]);
    assert_eq!(code, 0, "{v}");
    let run_id = v["run_id"].as_str().unwrap().to_owned();
    assert!(wait_log(
        &h,
        "com.example.hb",
        &v,
        &format!("welcome run_id={run_id} heartbeat_interval_ms=100")
    ));
    assert!(wait_log(&h, "com.example.hb", &v, "heartbeat 3"));
    let run = h.last_run("com.example.hb");
    assert_eq!(run["session"], true);
    assert!(run["last_heartbeat_at"].is_string());
    // The client stops heartbeating after three: the run turns unhealthy, not crashed.
    let run = h.wait_state("com.example.hb", "unhealthy");
    assert_eq!(run["reason"], "missed_heartbeats");
    assert_eq!(h.json(&["agent", "stop", "com.example.hb"]).0, 0);
}

#[test]
fn a_wrong_token_or_a_bad_frame_closes_the_connection_and_is_audited() {
    let (h, _repo) = ready("com.example.sock", &[], &[("bin/agent.sh", SLEEPER)]);
    let (code, v) = h.run("com.example.sock", &[]);
    assert_eq!(code, 0, "{v}");
    let run_id = v["run_id"].as_str().unwrap();
    let sock = h.home.join("run").join(run_id).join("agent.sock");
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(sock.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let mut s = connect(&sock);
    send_frame(
        &mut s,
        &json!({"type": "agent.hello", "payload": {"session_token": "vgs_wrong", "agent_id": "com.example.sock", "protocol": 1}}),
    );
    let reply = recv_frame(&mut s).unwrap();
    assert_eq!(reply["type"], "core.error");
    assert!(
        recv_frame(&mut s).is_none(),
        "the connection stays open after a wrong token"
    );
    let mut s = connect(&sock);
    send_raw_frame(&mut s, b"{\"type\": \"agent.hello\"}");
    assert_eq!(recv_frame(&mut s).unwrap()["type"], "core.error");
    assert!(recv_frame(&mut s).is_none());
    let mut s = connect(&sock);
    std::io::Write::write_all(&mut s, &(2u32 << 20).to_be_bytes()).unwrap();
    assert_eq!(recv_frame(&mut s).unwrap()["type"], "core.error");
    let denied = h.audit("security.denied");
    let protocol: Vec<&Value> = denied
        .iter()
        .filter(|r| r.to_string().contains("agent-protocol-denied"))
        .collect();
    assert_eq!(protocol.len(), 3, "{denied:?}");
    assert!(
        !denied.iter().any(|r| r.to_string().contains("vgs_wrong")),
        "a presented token is not logged"
    );
    assert_eq!(h.last_run("com.example.sock")["session"], false);
    assert_eq!(h.json(&["agent", "stop", "com.example.sock"]).0, 0);
}

#[test]
fn two_discovers_at_once_never_fail_with_a_busy_database() {
    let h = AgentHome::new();
    let root = h.dir.path().join("p");
    for i in 0..20 {
        common::write(
            &root,
            &format!("a{i}/opensentience.agent.json"),
            common::agent::manifest(
                &format!("com.example.c{i}"),
                "https://example.com/x.git",
                &[],
            ),
        );
    }
    let spawn = || {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("vaultgate"));
        c.arg("--home")
            .arg(&h.home)
            .args(["agent", "discover", "--root", root.to_str().unwrap()])
            .env("VAULTGATE_TOKEN", &h.token);
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let kids: Vec<_> = (0..4).map(|_| spawn()).collect();
    for k in kids {
        let out = k.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(!err.contains("busy") && !err.contains("locked"), "{err}");
    }
    assert_eq!(h.audit("agent.discovered").len(), 20);
    let (_, list) = h.json(&["agent", "list"]);
    assert_eq!(list["agents"].as_array().unwrap().len(), 20);
}

#[test]
fn a_token_without_agent_capabilities_is_denied() {
    let h = AgentHome::new();
    let out = common::vg()
        .args(["--json", "--home"])
        .arg(&h.home)
        .args([
            "token",
            "create",
            "--name",
            "reader",
            "--capability",
            "lease:read",
        ])
        .env("VAULTGATE_TOKEN", &h.admin)
        .output()
        .unwrap();
    assert!(out.status.success());
    let auditor = common::json_of(&out)["token"].as_str().unwrap().to_owned();
    for args in [
        &["agent", "discover", "--root", "/nonexistent"][..],
        &["agent", "run", "com.example.x"],
        &["agent", "list"],
    ] {
        let out = common::vg()
            .arg("--json")
            .arg("--home")
            .arg(&h.home)
            .args(args)
            .env("VAULTGATE_TOKEN", &auditor)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(
            codes(&common::json_of(&out)),
            ["capability-missing"],
            "{args:?}"
        );
    }
    let out = common::vg()
        .arg("--json")
        .arg("--home")
        .arg(&h.home)
        .args(["agent", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "no token at all");
    assert_eq!(h.audit("security.denied").len(), 4);
}

#[test]
fn the_demo_script_runs_the_whole_lifecycle_and_leaves_no_process() {
    let t = tempfile::Builder::new()
        .prefix("vgd")
        .tempdir_in("/tmp")
        .unwrap();
    let home = t.path().join("h");
    let out = std::process::Command::new("bash")
        .arg(common::repo_root().join("scripts/demo-agent.sh"))
        .arg(&home)
        .env("VAULTGATE_BIN", assert_cmd::cargo::cargo_bin("vaultgate"))
        .env_remove("VAULTGATE_TOKEN")
        .env_remove("VAULTGATE_HOME")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "demo failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("heartbeat"), "{text}");
    // Every run's group is empty.
    for e in walkdir::WalkDir::new(home.join("logs"))
        .min_depth(2)
        .max_depth(2)
    {
        let _ = e.unwrap();
    }
    let demo_left = Path::new("/proc").read_dir().unwrap().flatten().any(|e| {
        std::fs::read_to_string(e.path().join("cmdline"))
            .is_ok_and(|c| c.contains(home.to_str().unwrap()))
    });
    assert!(!demo_left, "a process of the demo is still running");
}
