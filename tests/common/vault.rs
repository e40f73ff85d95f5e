//! A temporary vault home driven through the real binary, plus direct access to its SQLite file
//! for the tamper tests (a second, independent connection: exactly what an attacker with the
//! file would have).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Output;

use super::{json_of, vg};

/// The fixed clock every command runs with unless a test says otherwise.
pub const NOW: &str = "2026-06-01T00:00:00Z";

/// A home made by `vaultgate init`, with its admin token.
pub struct Vh {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub admin: String,
    /// Every stdout and stderr seen after `init` (for the no-leak tests).
    pub seen: RefCell<Vec<u8>>,
}

impl Vh {
    /// `vaultgate init` into a fresh temporary folder.
    pub fn init() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let out = vg()
            .args(["--json", "init", "--home"])
            .arg(&home)
            .env("VAULTGATE_NOW", NOW)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j = json_of(&out);
        let admin = j["token"].as_str().unwrap().to_owned();
        Self {
            dir,
            home,
            admin,
            seen: RefCell::new(Vec::new()),
        }
    }

    /// Run with `token` (or none) at [`NOW`].
    pub fn run_as(&self, token: Option<&str>, args: &[&str]) -> Output {
        self.run_at(token, NOW, args)
    }

    /// Run with `token` at a given clock.
    pub fn run_at(&self, token: Option<&str>, now: &str, args: &[&str]) -> Output {
        let mut c = vg();
        c.arg("--home")
            .arg(&self.home)
            .args(args)
            .env("VAULTGATE_NOW", now);
        if let Some(t) = token {
            c.env("VAULTGATE_TOKEN", t);
        }
        let out = c.output().unwrap();
        let mut seen = self.seen.borrow_mut();
        seen.extend_from_slice(&out.stdout);
        seen.extend_from_slice(&out.stderr);
        out
    }

    /// Run as the admin.
    pub fn admin(&self, args: &[&str]) -> Output {
        self.run_as(Some(&self.admin.clone()), args)
    }

    /// Create a token with a role; returns the token text.
    pub fn token(&self, name: &str, role: &str) -> String {
        let out = self.admin(&["--json", "token", "create", "--name", name, "--role", role]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_of(&out)["token"].as_str().unwrap().to_owned()
    }

    pub fn db_path(&self) -> PathBuf {
        self.home.join("vault.db")
    }

    /// An independent connection to the database file.
    pub fn db(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(self.db_path()).unwrap();
        c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        c
    }

    /// `(seq, event_type, metadata)` of every audit row.
    pub fn audit_rows(&self) -> Vec<(i64, String, String)> {
        let c = self.db();
        let mut s = c
            .prepare("SELECT seq, event_type, metadata FROM audit ORDER BY seq")
            .unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Every token row as text (to compare before/after).
    pub fn tokens_snapshot(&self) -> Vec<String> {
        let c = self.db();
        let mut s = c
            .prepare(
                "SELECT accessor, name, capabilities, revoked_at FROM tokens ORDER BY accessor",
            )
            .unwrap();
        s.query_map([], |r| {
            Ok(format!(
                "{}|{}|{}|{:?}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    /// Run SQL with the audit triggers dropped, then recreate them exactly (an attacker who
    /// knows the schema).
    pub fn tamper(&self, sql: &str) {
        let c = self.db();
        let triggers: Vec<String> = {
            let mut s = c
                .prepare(
                    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'",
                )
                .unwrap();
            s.query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        c.execute_batch(
            "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; DROP TRIGGER audit_append_in_order;",
        )
        .unwrap();
        c.execute_batch(sql).unwrap();
        for t in triggers {
            c.execute_batch(&t).unwrap();
        }
    }

    /// Every regular file under the home, with its bytes.
    pub fn home_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        walk(&self.home)
    }
}

fn walk(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let md = std::fs::symlink_metadata(&p).unwrap();
        if md.is_dir() {
            out.extend(walk(&p));
        } else if md.is_file() {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

/// `true` when `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The JSON `summary` and the step that failed, from `status --json`.
pub fn failed_step(out: &Output) -> (String, String) {
    let j = json_of(out);
    let steps = j["steps"].as_array().unwrap();
    let f = steps
        .iter()
        .find(|s| s["ok"] == false)
        .expect("a failed step");
    (
        f["step"].as_str().unwrap().to_owned(),
        f["code"].as_str().unwrap().to_owned(),
    )
}
