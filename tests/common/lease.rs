//! Helpers for the lease and grant end-to-end tests: a fresh vault home with the tokens the
//! specification names, a project folder, and byte-level searches for leaked material.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use super::{json_of, vg, write};

/// The instant every test starts at (the clock is injected; nothing sleeps).
pub const T0: &str = "2026-03-01T10:00:00Z";

/// `T0` plus `secs` seconds, RFC 3339.
pub fn at(secs: u64) -> String {
    let t = humantime::parse_rfc3339(T0).unwrap() + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// A vault home with tokens, a registered project, and helpers to run commands.
pub struct Vault {
    /// Keeps the folders alive.
    pub dir: tempfile::TempDir,
    /// The home.
    pub home: PathBuf,
    /// The project folder (registered as asset `c1-vocab`).
    pub project: PathBuf,
    /// Admin token.
    pub admin: String,
    /// `codex-builder` with role `3B-secret-lease` bound to project `c1-vocab`.
    pub builder: String,
    /// Role `operator` (grant mint/consume/revoke, lease revoke-any).
    pub operator: String,
}

/// Run `vaultgate --home H` with `token` (if any) at clock `now`.
pub fn run_at(home: &Path, token: Option<&str>, now: &str, args: &[&str]) -> Output {
    let mut c = vg();
    c.arg("--home")
        .arg(home)
        .env("VAULTGATE_NOW", now)
        .args(args);
    if let Some(t) = token {
        c.env("VAULTGATE_TOKEN", t);
    }
    c.output().unwrap()
}

/// stdout as text.
pub fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The process's exit code.
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

impl Vault {
    /// init, three tokens, a provider, the project folder and its asset.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let o = run_at(&home, None, T0, &["--json", "init"]);
        assert_eq!(code(&o), 0, "init: {}", err(&o));
        let admin = json_of(&o)["token"].as_str().unwrap().to_owned();
        let mk = |name: &str, role: &str, project: Option<&str>| {
            let mut args = vec!["--json", "token", "create", "--name", name, "--role", role];
            if let Some(p) = project {
                args.extend(["--project", p]);
            }
            let o = run_at(&home, Some(&admin), T0, &args);
            assert_eq!(code(&o), 0, "token create {name}: {}", err(&o));
            json_of(&o)["token"].as_str().unwrap().to_owned()
        };
        let builder = mk("codex-builder", "3B-secret-lease", Some("c1-vocab"));
        let operator = mk("release-operator", "operator", None);
        let project = dir.path().join("c1-vocab");
        write(
            &project,
            "vaultgate.capabilities.json",
            r#"{"schema":"vaultgate/capabilities/v1","capabilities":["ai.gemini.inference"]}"#,
        );
        write(&project, "src/build.sh", "#!/bin/sh\necho building\n");
        let v = Self {
            dir,
            home,
            project,
            admin,
            builder,
            operator,
        };
        v.ok_admin(&[
            "provider",
            "add",
            "gemini",
            "--capability",
            "ai.gemini.inference",
        ]);
        let p = v.project.to_str().unwrap().to_owned();
        v.ok_admin(&[
            "asset", "register", "c1-vocab", "--owner", "team-c1", "--path", &p,
        ]);
        v
    }

    /// Run as `token` at `T0`.
    pub fn run(&self, token: Option<&str>, args: &[&str]) -> Output {
        run_at(&self.home, token, T0, args)
    }

    /// Run as `token` at `now`.
    pub fn run_at(&self, token: Option<&str>, now: &str, args: &[&str]) -> Output {
        run_at(&self.home, token, now, args)
    }

    /// Run as admin; must exit 0.
    pub fn ok_admin(&self, args: &[&str]) -> Output {
        let o = self.run(Some(&self.admin), args);
        assert_eq!(code(&o), 0, "{args:?}: {}{}", out(&o), err(&o));
        o
    }

    /// Scan the project and bind it (`max_ttl`, `phase`); returns the ingest id.
    pub fn bind(&self, scopes: &[&str], max_ttl: &str, phase: &str) -> String {
        let p = self.project.to_str().unwrap().to_owned();
        let o = self.ok_admin(&["--json", "ingest", "scan", &p]);
        let id = json_of(&o)["ingests"][0]["id"].as_str().unwrap().to_owned();
        let mut args = vec![
            "--json",
            "ingest",
            "bind",
            id.as_str(),
            "--max-ttl",
            max_ttl,
            "--phase",
            phase,
        ];
        for s in scopes {
            args.extend(["--scope", s]);
        }
        let o = self.run(Some(&self.admin), &args);
        assert!(code(&o) <= 1, "bind: {}", err(&o));
        id
    }

    /// A PASS contract for `ai.gemini.inference` with a 1 h maximum.
    pub fn contract(&self) -> String {
        self.bind(&["ai.gemini.inference"], "1h", "build")
    }

    /// Mint as the builder; returns the JSON lease.
    pub fn mint(&self, ingest: &str, ttl: &str) -> serde_json::Value {
        let o = self.run(
            Some(&self.builder),
            &[
                "--json",
                "lease",
                "mint",
                "--ingest",
                ingest,
                "--scope",
                "ai.gemini.inference",
                "--ttl",
                ttl,
            ],
        );
        assert_eq!(code(&o), 0, "mint: {}{}", out(&o), err(&o));
        json_of(&o)["lease"].clone()
    }

    /// The database file.
    pub fn db(&self) -> PathBuf {
        self.home.join("vault.db")
    }

    /// Every audit row's event type, in order (read straight from the database).
    pub fn audit_types(&self) -> Vec<String> {
        let c = rusqlite::Connection::open(self.db()).unwrap();
        let mut s = c
            .prepare("SELECT event_type FROM audit ORDER BY seq")
            .unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Every row of every table except `audit`, as text: what a refused act must not change.
    pub fn state_dump(&self) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        let tables: Vec<String> = {
            let mut stmt = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'audit' ORDER BY name")
                .unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let mut rows = Vec::new();
        for table in tables {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
            let columns = stmt.column_count();
            let mut query = stmt.query([]).unwrap();
            while let Some(row) = query.next().unwrap() {
                let mut line = format!("{table}:");
                for i in 0..columns {
                    let value: rusqlite::types::Value = row.get(i).unwrap();
                    line.push_str(&format!(" {value:?}"));
                }
                rows.push(line);
            }
        }
        rows.sort();
        rows
    }

    /// Execute SQL on the database behind vaultgate's back (tamper tests).
    pub fn tamper(&self, sql: &str) {
        let c = rusqlite::Connection::open(self.db()).unwrap();
        c.execute_batch(sql).unwrap();
    }

    /// Every file under the home, with its bytes.
    pub fn home_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        walkdir::WalkDir::new(&self.home)
            .into_iter()
            .map(Result::unwrap)
            .filter(|e| e.file_type().is_file())
            .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
            .collect()
    }
}

/// Standard base64 (with padding) of `bytes`, for the leak searches.
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Every form of the material the searches look for: raw, lower/upper hex, base64 (and
/// base64 without padding).
pub fn forms(material: &[u8]) -> Vec<Vec<u8>> {
    let hex = hex::encode(material);
    let b64 = base64(material);
    vec![
        material.to_vec(),
        hex.clone().into_bytes(),
        hex.to_uppercase().into_bytes(),
        b64.clone().into_bytes(),
        b64.trim_end_matches('=').as_bytes().to_vec(),
    ]
}

/// `true` when `hay` contains `needle`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
