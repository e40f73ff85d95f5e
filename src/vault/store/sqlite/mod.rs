//! The embedded SQLite store (the default): one file `vault.db` in WAL mode.
//!
//! Every connection sets `journal_mode=WAL`, `synchronous=FULL` (a commit is on disk when it
//! returns), `busy_timeout` (30 s: writers queue instead of failing with `SQLITE_BUSY`),
//! `foreign_keys=ON`, `secure_delete=ON` (freed pages are zeroed, so a destroyed secret's
//! ciphertext does not linger in the file) and `trusted_schema=OFF`. Write transactions are
//! `BEGIN IMMEDIATE`. All SQL of the vault lives below this folder.

pub mod agent;
pub mod core;
pub mod grant;
pub mod lease;
pub mod migrations;
pub mod registry;

use std::fs;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::{SchemaState, Store, StoreError, Tx, TxMode};

/// How long a writer waits for another one before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Map a SQLite error to a [`StoreError`] (constraint failures, including trigger `RAISE`s,
/// become [`StoreError::Constraint`]).
#[allow(clippy::needless_pass_by_value)] // used as `.map_err(map_err)`
pub fn map_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    match &e {
        rusqlite::Error::SqliteFailure(f, msg) => match f.code {
            C::ConstraintViolation => {
                StoreError::Constraint(msg.clone().unwrap_or_else(|| e.to_string()))
            }
            C::DatabaseCorrupt | C::NotADatabase => StoreError::Unusable {
                path: "vault.db".into(),
                reason: e.to_string(),
            },
            _ => StoreError::Backend(e.to_string()),
        },
        _ => StoreError::Backend(e.to_string()),
    }
}

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

/// A transaction on the SQLite store.
pub struct SqliteTx<'a> {
    tx: rusqlite::Transaction<'a>,
}

impl SqliteTx<'_> {
    /// The connection the transaction runs on (for family implementations in this folder).
    pub fn conn(&self) -> &Connection {
        &self.tx
    }
}

impl Tx for SqliteTx<'_> {
    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().map_err(map_err)
    }
}

fn unusable(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unusable {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

impl SqliteStore {
    /// Create a new database file (0600, exclusively) and apply every migration.
    pub fn create(path: &Path, now: &str) -> Result<Self, StoreError> {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| unusable(path, e))?;
        let mut store = Self::connect(path)?;
        store
            .conn
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version INTEGER PRIMARY KEY NOT NULL,
                     name TEXT NOT NULL,
                     applied_at TEXT NOT NULL
                 ) STRICT;",
            )
            .map_err(map_err)?;
        let tx = store
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        for m in migrations::all() {
            migrations::apply(&tx, m, now)?;
        }
        tx.commit().map_err(map_err)?;
        Ok(store)
    }

    /// Open an existing database (never creates one).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        match fs::symlink_metadata(path) {
            Ok(md) if md.is_file() => {}
            Ok(_) => return Err(unusable(path, "not a regular file")),
            Err(e) => return Err(unusable(path, e)),
        }
        let store = Self::connect(path)?;
        // A file SQLite cannot read as a database fails here, not later.
        store
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|e| unusable(path, e))?;
        Ok(store)
    }

    fn connect(path: &Path) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| unusable(path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
        // Every vaultgate command is a short process; checkpointing the WAL on every close
        // would cost several fsyncs per command. SQLite's automatic checkpoint (every 1,000
        // pages) and `purge_freed` (after a secret is destroyed) still run.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(map_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA secure_delete = ON;
             PRAGMA trusted_schema = OFF;",
        )
        .map_err(|e| unusable(path, e))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(map_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(unusable(path, format!("journal mode is `{mode}`, not WAL")));
        }
        // SQLite gives the -wal and -shm files the database's mode; keep them private too.
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o600));
        Ok(Self {
            conn,
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn begin(&mut self, mode: TxMode) -> Result<Box<dyn Tx + '_>, StoreError> {
        let behavior = match mode {
            TxMode::Read => TransactionBehavior::Deferred,
            TxMode::Write => TransactionBehavior::Immediate,
        };
        let tx = self
            .conn
            .transaction_with_behavior(behavior)
            .map_err(map_err)?;
        Ok(Box::new(SqliteTx { tx }))
    }

    fn schema_state(&mut self) -> Result<SchemaState, StoreError> {
        let has_table: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
                [],
                |r| r.get(0),
            )
            .map_err(map_err)?;
        if has_table == 0 {
            return Err(unusable(
                &self.path,
                "not a vaultgate database (no schema_migrations)",
            ));
        }
        let mut applied: Vec<u32> = {
            let mut s = self
                .conn
                .prepare("SELECT version FROM schema_migrations ORDER BY version")
                .map_err(map_err)?;
            let rows = s.query_map([], |r| r.get::<_, u32>(0)).map_err(map_err)?;
            rows.collect::<Result<_, _>>().map_err(map_err)?
        };
        applied.sort_unstable();
        let known: Vec<u32> = migrations::all().iter().map(|m| m.version).collect();
        let pending = known
            .iter()
            .copied()
            .filter(|v| !applied.contains(v))
            .collect();
        let unknown = applied
            .iter()
            .copied()
            .filter(|v| !known.contains(v))
            .collect();
        let cookie: i64 = self
            .conn
            .query_row("PRAGMA schema_version", [], |r| r.get(0))
            .map_err(map_err)?;
        let mut problems = Vec::new();
        if applied.contains(&1) {
            let core_sql = core::MIGRATIONS[0].sql;
            let mut objects: Vec<&str> = core::AUDIT_TRIGGERS.to_vec();
            objects.push("audit");
            for name in objects {
                let sql: Option<String> = self
                    .conn
                    .query_row(
                        "SELECT sql FROM sqlite_master WHERE name = ?1",
                        [name],
                        |r| r.get(0),
                    )
                    .map(Some)
                    .or_else(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => Ok(None),
                        e => Err(map_err(e)),
                    })?;
                match sql {
                    None => problems.push(format!("`{name}` is missing")),
                    Some(s) if !core_sql.contains(s.as_str()) => {
                        problems.push(format!("`{name}` differs from its definition"));
                    }
                    Some(_) => {}
                }
            }
            let extra: i64 = self
                .conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'",
                    [],
                    |r| r.get(0),
                )
                .map_err(map_err)?;
            if extra != i64::try_from(core::AUDIT_TRIGGERS.len()).unwrap_or(i64::MAX) {
                problems.push(format!(
                    "the audit table has {extra} triggers, expected {}",
                    core::AUDIT_TRIGGERS.len()
                ));
            }
        }
        Ok(SchemaState {
            applied,
            pending,
            unknown,
            cookie,
            protection_problems: problems,
        })
    }

    fn schema_cookie(&mut self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA schema_version", [], |r| r.get(0))
            .map_err(map_err)
    }

    fn integrity_check(&mut self) -> Result<Vec<String>, StoreError> {
        let mut s = self.conn.prepare("PRAGMA quick_check").map_err(map_err)?;
        let rows = s
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(map_err)?;
        let all: Vec<String> = rows.collect::<Result<_, _>>().map_err(map_err)?;
        Ok(all.into_iter().filter(|r| r != "ok").collect())
    }

    fn purge_freed(&mut self) -> Result<(), StoreError> {
        let (busy, _, _): (i64, i64, i64) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(map_err)?;
        if busy != 0 {
            return Err(StoreError::Backend(
                "the WAL checkpoint was blocked by a reader; deleted data may remain in the WAL until the next checkpoint".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::store::conformance::{self, Harness};

    /// Fresh SQLite stores in a temporary folder; audit failures injected through a second,
    /// independent connection to the same file (a real trigger, not a hook in the store).
    struct SqliteHarness {
        dir: tempfile::TempDir,
        n: usize,
        last: Option<PathBuf>,
    }

    impl Harness for SqliteHarness {
        fn fresh(&mut self) -> Box<dyn Store> {
            self.n += 1;
            let p = self.dir.path().join(format!("v{}.db", self.n));
            let s = SqliteStore::create(&p, "2026-01-01T00:00:00Z").unwrap();
            self.last = Some(p);
            Box::new(s)
        }
        fn fail_audit_inserts_of(&mut self, event_type: &str) {
            let p = self.last.as_ref().unwrap();
            let c = Connection::open(p).unwrap();
            c.execute_batch(&format!(
                "CREATE TRIGGER injected_failure BEFORE INSERT ON audit WHEN NEW.event_type = '{event_type}' \
                 BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END;"
            ))
            .unwrap();
        }
        fn reopen(&mut self) -> Box<dyn Store> {
            Box::new(SqliteStore::open(self.last.as_ref().unwrap()).unwrap())
        }
    }

    fn harness() -> SqliteHarness {
        SqliteHarness {
            dir: tempfile::tempdir().unwrap(),
            n: 0,
            last: None,
        }
    }

    #[test]
    fn sqlite_passes_the_core_conformance_suite() {
        conformance::core::run_all(&mut harness()).unwrap();
    }

    #[test]
    fn sqlite_passes_the_family_conformance_suites() {
        let mut h = harness();
        conformance::registry::run_all(&mut h).unwrap();
        conformance::lease::run_all(&mut h).unwrap();
        conformance::grant::run_all(&mut h).unwrap();
        conformance::agent::run_all(&mut h).unwrap();
    }

    #[test]
    fn create_refuses_an_existing_file_and_open_refuses_garbage() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.db");
        fs::write(
            &p,
            b"not a database, just some bytes that are long enough to matter....",
        )
        .unwrap();
        assert!(SqliteStore::create(&p, "t").is_err());
        assert!(SqliteStore::open(&p).is_err());
        assert!(SqliteStore::open(&d.path().join("absent.db")).is_err());
    }
}
