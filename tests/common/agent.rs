//! The agent test harness: a fresh vault home with an `agent:*` token, fixture agents pushed to
//! a local bare git repository, launching through the real binary, waiting for conditions with
//! a bounded deadline (never a sleep as synchronisation), the runtime socket's framing, and a
//! guard that kills every process group a test started, even when the test panics.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc
)]

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{json_of, vg};

/// How long any condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Poll `cond` until it holds or `deadline` passes; `true` when it held.
pub fn wait_for(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The fields of `/proc/<pid>/stat` after the command name: (state, pgrp, start time).
pub fn proc_stat(pid: i64) -> Option<(char, i64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = after.split_whitespace().collect();
    Some((
        f[0].chars().next()?,
        f[2].parse().ok()?,
        f[19].parse().ok()?,
    ))
}

/// Every live (non-zombie) process whose process group is `pgid`.
pub fn members_of_group(group: i64) -> Vec<i64> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i64>() else {
            continue;
        };
        if let Some((state, pgrp, _)) = proc_stat(pid)
            && pgrp == group
            && state != 'Z'
            && state != 'X'
        {
            out.push(pid);
        }
    }
    out
}

/// `true` while `pid` is a live (non-zombie) process with start time `start`.
pub fn alive(pid: i64, start: u64) -> bool {
    proc_stat(pid).is_some_and(|(s, _, t)| t == start && s != 'Z' && s != 'X')
}

/// Kills, on drop, every process group and monitor a test registered.
#[derive(Debug, Default)]
pub struct ProcGuard {
    procs: Mutex<Vec<(i64, u64, bool)>>,
}

impl ProcGuard {
    /// Remember a process group (by its leader's pid and start time).
    pub fn group(&self, pgid: i64) {
        if let Some((_, _, start)) = proc_stat(pgid) {
            self.procs.lock().unwrap().push((pgid, start, true));
        }
    }
    /// Remember a single process (a monitor).
    pub fn process(&self, pid: i64) {
        if let Some((_, _, start)) = proc_stat(pid) {
            self.procs.lock().unwrap().push((pid, start, false));
        }
    }
}

impl Drop for ProcGuard {
    fn drop(&mut self) {
        for (pid, start, group) in self.procs.lock().unwrap().iter() {
            // Only signal what is still the process we registered (never a reused pid).
            if proc_stat(*pid).is_some_and(|(_, _, t)| t == *start) {
                let target = if *group {
                    format!("-{pid}")
                } else {
                    pid.to_string()
                };
                let _ = Command::new("kill").args(["-KILL", "--", &target]).status();
            } else if *group && !members_of_group(*pid).is_empty() {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}")])
                    .status();
            }
        }
    }
}

/// A fresh vault home with an admin token and an `agent:*` token.
pub struct AgentHome {
    /// Keeps the folder alive.
    pub dir: tempfile::TempDir,
    /// The vault home.
    pub home: PathBuf,
    /// The `agent:*` token.
    pub token: String,
    /// The admin token.
    pub admin: String,
    /// Kills what the test started.
    pub guard: ProcGuard,
}

impl AgentHome {
    /// `vaultgate init`, then `token create --capability agent:*`.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("vga")
            .tempdir_in("/tmp")
            .unwrap();
        let home = dir.path().join("h");
        let out = vg()
            .args(["--json", "--home"])
            .arg(&home)
            .arg("init")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let admin = json_of(&out)["token"].as_str().unwrap().to_owned();
        let out = vg()
            .args(["--json", "--home"])
            .arg(&home)
            .args([
                "token",
                "create",
                "--name",
                "agent-ops",
                "--capability",
                "agent:*",
            ])
            .env("VAULTGATE_TOKEN", &admin)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "token create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let token = json_of(&out)["token"].as_str().unwrap().to_owned();
        Self {
            dir,
            home,
            token,
            admin,
            guard: ProcGuard::default(),
        }
    }

    /// The binary with `--home` and the agent token.
    pub fn vg(&self) -> assert_cmd::Command {
        let mut c = vg();
        c.arg("--home")
            .arg(&self.home)
            .env("VAULTGATE_TOKEN", &self.token);
        c
    }

    /// Run `vaultgate --json <args>`; returns the exit code and the JSON document.
    pub fn json(&self, args: &[&str]) -> (i32, Value) {
        let out = self.vg().arg("--json").args(args).output().unwrap();
        (out.status.code().unwrap_or(-1), json_of(&out))
    }

    /// `agent run`, registering the agent's group and monitor with the guard.
    pub fn run(&self, id: &str, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["agent", "run", id];
        args.extend_from_slice(extra);
        let (code, v) = self.json(&args);
        let run = &v["run"];
        if let Some(pid) = run["pid"].as_i64() {
            self.guard.group(pid);
        }
        if let Some(m) = run["monitor_pid"].as_i64() {
            self.guard.process(m);
        }
        (code, v)
    }

    /// The agent's latest run, as `agent status ID` shows it.
    pub fn last_run(&self, id: &str) -> Value {
        let (_, v) = self.json(&["agent", "status", id]);
        v["runs"][0].clone()
    }

    /// Wait until the latest run's `state` is `state`.
    pub fn wait_state(&self, id: &str, state: &str) -> Value {
        let mut last = Value::Null;
        let ok = wait_for(DEADLINE, || {
            last = self.last_run(id);
            last["state"] == state
        });
        assert!(ok, "run never reached `{state}`: {last}");
        last
    }

    /// The audit rows (oldest first) of one type.
    pub fn audit(&self, event_type: &str) -> Vec<Value> {
        let out = vg()
            .args(["--json", "--home"])
            .arg(&self.home)
            .args(["audit", "tail", "-n", "100000", "--type", event_type])
            .env("VAULTGATE_TOKEN", &self.admin)
            .output()
            .unwrap();
        let v = json_of(&out);
        v["rows"]
            .as_array()
            .or_else(|| v["events"].as_array())
            .cloned()
            .unwrap_or_default()
    }

    /// Every byte of every file under the home, with its path.
    pub fn all_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        for e in walkdir::WalkDir::new(&self.home).into_iter().flatten() {
            if e.file_type().is_file()
                && let Ok(b) = std::fs::read(e.path())
            {
                out.push((e.path().to_path_buf(), b));
            }
        }
        out
    }
}

/// A fixture agent: a manifest plus files, committed and tagged in a work repo, pushed to a
/// bare repo. Returns `(work tree, bare repo URL)`.
pub struct FixtureRepo {
    /// The working tree discovery walks.
    pub work: PathBuf,
    /// The bare repository.
    pub bare: PathBuf,
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A manifest for a `command` agent whose script is `bin/agent.sh`.
pub fn manifest(id: &str, url: &str, perms: &[&str]) -> String {
    serde_json::json!({
        "manifest_version": 1,
        "id": id,
        "name": format!("test agent {id}"),
        "version": "0.1.0",
        "description": "an agent written by tests/agent.rs",
        "source": {"git_url": url},
        "entrypoint": {"type": "command", "value": "bin/agent.sh"},
        "capabilities": [],
        "permissions": perms,
    })
    .to_string()
}

impl FixtureRepo {
    /// Create `root/<name>` with `files` (path, content; scripts made executable), commit,
    /// tag `v1`, and push to `root/<name>.git`.
    pub fn new(root: &Path, name: &str, id: &str, perms: &[&str], files: &[(&str, &str)]) -> Self {
        let work = root.join("projects").join(name);
        let bare = root.join("remotes").join(format!("{name}.git"));
        std::fs::create_dir_all(&work).unwrap();
        std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
        git(
            bare.parent().unwrap(),
            &["init", "--bare", "-q", bare.to_str().unwrap()],
        );
        let url = format!("file://{}", bare.display());
        std::fs::write(
            work.join("opensentience.agent.json"),
            manifest(id, &url, perms),
        )
        .unwrap();
        for (rel, content) in files {
            let p = work.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, content).unwrap();
            if content.starts_with("#!") {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        git(&work, &["init", "-q"]);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "fixture"]);
        git(&work, &["tag", "v1"]);
        git(
            &work,
            &[
                "push",
                "-q",
                bare.to_str().unwrap(),
                "HEAD:refs/heads/main",
                "v1",
            ],
        );
        Self { work, bare }
    }

    /// Commit everything in the work tree and push it (branch `main`).
    pub fn commit_and_push(&self, msg: &str) {
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "-m", msg]);
        git(
            &self.work,
            &[
                "push",
                "-q",
                self.bare.to_str().unwrap(),
                "HEAD:refs/heads/main",
            ],
        );
    }

    /// `git rev-parse REV` in the work tree.
    pub fn rev(&self, rev: &str) -> String {
        let out = Command::new("git")
            .current_dir(&self.work)
            .args(["rev-parse", rev])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}

/// The protocol client the fixture agents use (`fixtures/agent/sample/bin/vg_agent.py`).
pub fn client_py() -> String {
    std::fs::read_to_string(super::repo_root().join("fixtures/agent/sample/bin/vg_agent.py"))
        .unwrap()
}

/// Connect to a run's socket.
pub fn connect(socket: &Path) -> UnixStream {
    let s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s
}

/// Send one frame: 4-byte big-endian length + canonical JSON (Python's sorted, compact form).
pub fn send_frame(s: &mut UnixStream, msg: &Value) {
    let body = canonical(msg);
    s.write_all(&u32::try_from(body.len()).unwrap().to_be_bytes())
        .unwrap();
    s.write_all(&body).unwrap();
}

/// Send raw bytes as one frame body (for hostile frames).
pub fn send_raw_frame(s: &mut UnixStream, body: &[u8]) {
    s.write_all(&u32::try_from(body.len()).unwrap().to_be_bytes())
        .unwrap();
    s.write_all(body).unwrap();
}

/// Receive one frame (`None` when the peer closed).
pub fn recv_frame(s: &mut UnixStream) -> Option<Value> {
    let mut len = [0u8; 4];
    if s.read_exact(&mut len).is_err() {
        return None;
    }
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).ok()?;
    Some(serde_json::from_slice(&body).unwrap())
}

/// Canonical JSON of a value built by the test (sorted keys, no spaces, ASCII).
pub fn canonical(v: &Value) -> Vec<u8> {
    vaultgate::canon::to_bytes(v).unwrap()
}
