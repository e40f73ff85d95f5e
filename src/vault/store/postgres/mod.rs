//! The PostgreSQL store (team scale): the same schema, migrations and invariants as the
//! SQLite store, each kept by the database itself, for many machines writing one vault.
//!
//! Selected when `VAULTGATE_DATABASE_URL` (or `database_url` in the home's `config.json`) is a
//! `postgres://` / `postgresql://` URL; SQLite stays the default. The master key never enters
//! the database: it stays in the home's `master.key`, so a copy of the database alone decrypts
//! nothing.
//!
//! How each invariant is a database guarantee:
//! - **Writers serialise on the audit head row.** [`Store::begin`] with [`TxMode::Write`] opens
//!   a READ COMMITTED transaction and first locks the single row of `audit_head` with
//!   `SELECT … FOR UPDATE`; every later statement of the transaction reads what the previous
//!   writer committed, so two writers can never chain to the same head (no fork). Waiting is
//!   bounded by `lock_timeout` (10 s unless the URL sets it, e.g.
//!   `?options=-c%20lock_timeout%3D500`); a timeout is an error (exit 2), nothing half-written.
//! - **Append-only audit.** Triggers refuse `UPDATE`, `DELETE` and `TRUNCATE` of `audit`, and a
//!   `BEFORE INSERT` trigger accepts a row only at `audit_head.seq + 1` chained to
//!   `audit_head.mac` (then moves the head). The runner role holds only `SELECT, INSERT` on
//!   `audit` ([`RUNNER_GRANTS`], documented in `docs/scale.md`).
//! - **A dropped transaction rolls back** (the `postgres` crate's `Transaction` drop), and a
//!   commit whose connection is lost is reported as an unknown outcome, never as success.
//!
//! TLS: this build links no TLS library. A URL asking for it (`sslmode=require`) is refused
//! with a clear message; `sslmode=prefer` (the default) connects without TLS. Use loopback, a
//! Unix socket (`host=/run/postgresql`), or a TLS tunnel to a remote server.

pub mod agent;
pub mod core;
pub mod grant;
pub mod lease;
pub mod migrate;
pub mod migrations;
pub mod registry;

use std::str::FromStr as _;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, IsolationLevel, NoTls};

use super::{SchemaState, Store, StoreError, Tx, TxMode};

/// The environment variable selecting the PostgreSQL store.
pub const ENV_URL: &str = "VAULTGATE_DATABASE_URL";

/// `lock_timeout` set on each connection unless the URL's options set one.
pub const DEFAULT_LOCK_TIMEOUT: &str = "10s";

/// The grants that make a runner role unable to rewrite history: `{schema}` and `{role}` are
/// replaced (see `docs/scale.md`). The audit table gets only `SELECT, INSERT`; the head row
/// needs `UPDATE` (taking `FOR UPDATE` requires it, and the insert trigger moves it).
pub const RUNNER_GRANTS: &str = "\
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT SELECT, INSERT ON {schema}.audit TO {role};
GRANT SELECT, UPDATE ON {schema}.audit_head TO {role};
GRANT SELECT ON {schema}.schema_migrations TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.vault_meta, {schema}.tokens, {schema}.secrets TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.assets, {schema}.ingests, {schema}.contracts, {schema}.leases, {schema}.grants TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.agent_catalog, {schema}.agent_approvals, {schema}.agent_runs TO {role};
";

/// The URL that selects PostgreSQL, if any: the environment first, then the configuration.
/// An empty environment value counts as unset.
pub fn selected_url(config_url: Option<&str>) -> Option<String> {
    match std::env::var(ENV_URL) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => config_url.map(str::to_owned),
    }
}

/// `true` when `url` names PostgreSQL.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A description of where a URL points, without its password (for messages).
pub fn describe(url: &str) -> String {
    match postgres::Config::from_str(url) {
        Ok(c) => describe_config(&c),
        Err(_) => "an unparsable PostgreSQL URL".into(),
    }
}

fn describe_config(c: &postgres::Config) -> String {
    let host = c.get_hosts().first().map_or_else(
        || "localhost".to_owned(),
        |h| match h {
            postgres::config::Host::Tcp(s) => s.clone(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        },
    );
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        c.get_user().unwrap_or("?"),
        c.get_dbname().unwrap_or("?")
    )
}

fn db_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => d.message().to_owned(),
        None => e.to_string(),
    }
}

/// Map a PostgreSQL error to a [`StoreError`]: constraint, trigger and privilege refusals become
/// [`StoreError::Constraint`]; a lost connection and a lock timeout say so.
#[allow(clippy::needless_pass_by_value)] // used as `.map_err(map_err)`
pub fn map_err(e: postgres::Error) -> StoreError {
    if let Some(code) = e.code() {
        let c = code.code();
        if c.starts_with("23") || *code == SqlState::RAISE_EXCEPTION {
            return StoreError::Constraint(db_message(&e));
        }
        if *code == SqlState::INSUFFICIENT_PRIVILEGE {
            return StoreError::Constraint(format!(
                "{} (the role lacks the privilege)",
                db_message(&e)
            ));
        }
        if *code == SqlState::LOCK_NOT_AVAILABLE {
            return StoreError::Backend(format!(
                "timed out waiting for a lock ({}): another writer holds the audit head; nothing was written",
                db_message(&e)
            ));
        }
        if c.starts_with("57P") || c.starts_with("08") {
            return StoreError::Backend(format!(
                "the connection to PostgreSQL was lost ({}); nothing of this transaction was committed",
                db_message(&e)
            ));
        }
        return StoreError::Backend(format!("PostgreSQL: {}", db_message(&e)));
    }
    if e.is_closed() {
        return StoreError::Backend(
            "the connection to PostgreSQL was lost; nothing of this transaction was committed"
                .into(),
        );
    }
    StoreError::Backend(format!("PostgreSQL: {e}"))
}

/// The PostgreSQL store: one connection.
pub struct PgStore {
    client: Client,
    target: String,
    /// The cookie read by the last [`Store::schema_state`] (it changes only by DDL on the audit
    /// protections, which vaultgate itself never runs after creation): recorded in the anchor
    /// after each commit without another catalog query. DDL after that read is caught at the
    /// next boot, which compares a fresh value with the anchor.
    cookie: Option<i64>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// A transaction on the PostgreSQL store.
pub struct PgTx<'a> {
    tx: postgres::Transaction<'a>,
}

impl<'a> PgTx<'a> {
    /// The transaction (for family implementations in this folder).
    pub fn pg(&mut self) -> &mut postgres::Transaction<'a> {
        &mut self.tx
    }
}

impl PgTx<'_> {
    /// Run one writing statement atomically, as SQLite does: a failed statement (a check
    /// constraint, a trigger) is rolled back alone through a savepoint and the transaction stays
    /// usable, so a caller may handle the refusal and go on. Returns the rows affected.
    pub fn write(
        &mut self,
        sql: &str,
        params: &[(&(dyn postgres::types::ToSql + Sync), postgres::types::Type)],
    ) -> Result<u64, StoreError> {
        let mut sp = self.tx.savepoint("vg_stmt").map_err(map_err)?;
        let n = sp.execute_typed(sql, params).map_err(map_err)?;
        sp.commit().map_err(map_err)?;
        Ok(n)
    }

    /// A statement whose failure must end the act (the audit append): no savepoint, one round
    /// trip; a failure aborts the transaction and the act rolls back as a whole.
    pub fn write_final(
        &mut self,
        sql: &str,
        params: &[(&(dyn postgres::types::ToSql + Sync), postgres::types::Type)],
    ) -> Result<u64, StoreError> {
        self.tx.execute_typed(sql, params).map_err(map_err)
    }

    /// An `INSERT` that must add exactly one row: run as `… ON CONFLICT DO NOTHING`, so a
    /// duplicate key is classified ([`StoreError::Constraint`] naming `what`) without aborting
    /// the transaction (as SQLite's statement-level rollback leaves it usable).
    pub fn insert_one(
        &mut self,
        sql: &str,
        params: &[(&(dyn postgres::types::ToSql + Sync), postgres::types::Type)],
        what: &str,
    ) -> Result<(), StoreError> {
        let n = self.write(&format!("{sql} ON CONFLICT DO NOTHING"), params)?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Constraint(format!("{what} already exists")))
        }
    }
}

impl Tx for PgTx<'_> {
    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().map_err(|e| {
            if e.as_db_error().is_some() {
                // The server answered: it rolled the transaction back.
                map_err(e)
            } else {
                StoreError::Backend(format!(
                    "the outcome of the commit is UNKNOWN: the connection failed during COMMIT ({e}); it may or may not have been applied\nhelp: check `vaultgate audit tail` before retrying"
                ))
            }
        })
    }
}

fn unusable(target: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Unusable {
        path: target.to_owned(),
        reason: reason.to_string(),
    }
}

impl PgStore {
    /// Connect (never creates the schema; see [`PgStore::create`]).
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let store = Self::connect(url)?;
        Ok(store)
    }

    /// Connect and create the schema in the connection's current schema (it must hold no
    /// vaultgate tables yet), applying every migration in one transaction.
    pub fn create(url: &str, now: &str) -> Result<Self, StoreError> {
        let mut store = Self::connect(url)?;
        let target = store.target.clone();
        let mut tx = store.client.transaction().map_err(map_err)?;
        let exists = tx
            .query_one(
                "SELECT to_regclass('schema_migrations') IS NOT NULL OR to_regclass('audit') IS NOT NULL",
                &[],
            )
            .map_err(map_err)?
            .get::<_, bool>(0);
        if exists {
            return Err(unusable(
                &target,
                "the schema already holds a vaultgate database; refusing to create over it",
            ));
        }
        tx.batch_execute(
            "CREATE TABLE schema_migrations (
                 version INTEGER PRIMARY KEY NOT NULL,
                 name TEXT NOT NULL,
                 applied_at TEXT NOT NULL
             );",
        )
        .map_err(map_err)?;
        for m in migrations::all() {
            migrations::apply(&mut tx, m, now)?;
        }
        tx.commit().map_err(map_err)?;
        Ok(store)
    }

    fn connect(url: &str) -> Result<Self, StoreError> {
        if !is_postgres_url(url) {
            return Err(unusable(
                "the database URL",
                "not a postgres:// or postgresql:// URL",
            ));
        }
        let mut cfg = postgres::Config::from_str(url)
            .map_err(|e| unusable("the database URL", format!("cannot be parsed: {e}")))?;
        let target = describe_config(&cfg);
        if matches!(cfg.get_ssl_mode(), postgres::config::SslMode::Require) {
            return Err(unusable(
                &target,
                "the URL asks for TLS (sslmode=require) but this vaultgate is built without a TLS library; connect over loopback, a Unix socket or a TLS tunnel (docs/scale.md)",
            ));
        }
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(Duration::from_secs(10));
        }
        if cfg.get_application_name().is_none() {
            cfg.application_name("vaultgate");
        }
        // The default lock timeout travels in the startup packet (no extra round trip).
        let opts = cfg.get_options().unwrap_or("").to_owned();
        if !opts.contains("lock_timeout") {
            cfg.options(&format!("{opts} -c lock_timeout={DEFAULT_LOCK_TIMEOUT}"));
        }
        let client = cfg
            .connect(NoTls)
            .map_err(|e| unusable(&target, format!("cannot connect: {}", db_message(&e))))?;
        Ok(Self {
            client,
            target,
            cookie: None,
        })
    }

    /// Where this store points (no password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The backend process id of this connection (for fault tests and diagnostics).
    pub fn backend_pid(&mut self) -> Result<i32, StoreError> {
        Ok(self
            .client
            .query_one("SELECT pg_backend_pid()", &[])
            .map_err(map_err)?
            .get(0))
    }
}

/// The cookie: a hash of the audit protections' identities (object ids, trigger definitions
/// and enabled state, trigger function sources). Dropping and re-creating a trigger, replacing
/// a function or the table changes it; family migrations and grants do not.
const COOKIE_SQL: &str = "
SELECT md5(coalesce(string_agg(d, E'\\n' ORDER BY d), '')) FROM (
  SELECT 'rel ' || c.relname || ' ' || c.oid::text || ' ' || c.relrowsecurity::text
    FROM pg_class c
   WHERE c.relnamespace = current_schema()::regnamespace AND c.relname IN ('audit', 'audit_head')
  UNION ALL
  SELECT 'trg ' || t.tgname || ' ' || t.oid::text || ' ' || t.tgenabled::text || ' ' || pg_get_triggerdef(t.oid)
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
   WHERE c.relnamespace = current_schema()::regnamespace AND c.relname IN ('audit', 'audit_head')
     AND NOT t.tgisinternal
  UNION ALL
  SELECT 'fn ' || p.proname || ' ' || p.oid::text || ' ' || md5(p.prosrc)
    FROM pg_proc p
   WHERE p.pronamespace = current_schema()::regnamespace
     AND p.proname IN ('audit_refuse_change', 'audit_append')
  UNION ALL
  SELECT 'rule ' || r.rulename FROM pg_rules r
   WHERE r.schemaname = current_schema() AND r.tablename IN ('audit', 'audit_head')
) s(d)";

fn cookie_of(client: &mut Client) -> Result<i64, StoreError> {
    let h: String = client
        .query_typed_one(COOKIE_SQL, &[])
        .map_err(map_err)?
        .get(0);
    // 60 bits of the digest: positive, stable.
    i64::from_str_radix(&h[..15], 16)
        .map_err(|e| StoreError::Corrupt(format!("schema cookie digest `{h}`: {e}")))
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn begin(&mut self, mode: TxMode) -> Result<Box<dyn Tx + '_>, StoreError> {
        match mode {
            TxMode::Read => {
                let tx = self
                    .client
                    .build_transaction()
                    .isolation_level(IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .map_err(map_err)?;
                Ok(Box::new(PgTx { tx }))
            }
            TxMode::Write => {
                let mut tx = self.client.transaction().map_err(map_err)?;
                // The audit head row first: every writer queues here.
                tx.query_typed("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE", &[])
                    .map_err(map_err)?;
                Ok(Box::new(PgTx { tx }))
            }
        }
    }

    fn schema_state(&mut self) -> Result<SchemaState, StoreError> {
        let has: bool = self
            .client
            .query_typed_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
            .map_err(map_err)?
            .get(0);
        if !has {
            return Err(unusable(
                &self.target,
                "not a vaultgate database (no schema_migrations in the current schema)\nhelp: `vaultgate store migrate --to URL` copies a home's SQLite database here",
            ));
        }
        let mut applied: Vec<u32> = self
            .client
            .query_typed(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )
            .map_err(map_err)?
            .iter()
            .map(|r| u32::try_from(r.get::<_, i32>(0)).unwrap_or(u32::MAX))
            .collect();
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
        let cookie = cookie_of(&mut self.client)?;
        self.cookie = Some(cookie);
        let problems = if applied.contains(&1) {
            core::protection_problems(&mut self.client)?
        } else {
            Vec::new()
        };
        Ok(SchemaState {
            applied,
            pending,
            unknown,
            cookie,
            protection_problems: problems,
        })
    }

    fn schema_cookie(&mut self) -> Result<i64, StoreError> {
        if let Some(c) = self.cookie {
            return Ok(c);
        }
        let c = cookie_of(&mut self.client)?;
        self.cookie = Some(c);
        Ok(c)
    }

    fn integrity_check(&mut self) -> Result<Vec<String>, StoreError> {
        // PostgreSQL checks pages itself (checksums when enabled); what is ours to check is
        // that the head row agrees with the last audit row.
        core::protection_problems(&mut self.client).map(|p| {
            p.into_iter()
                .filter(|m| m.starts_with("audit_head"))
                .collect()
        })
    }

    fn purge_freed(&mut self) -> Result<(), StoreError> {
        // Dead row versions of `secrets` are reclaimed by VACUUM (a no-op with a warning when
        // this role does not own the table: autovacuum does it then). PostgreSQL has no
        // secure_delete: see docs/scale.md for what lingers (WAL, backups, free space) and why
        // it is still ciphertext under a key the database never holds.
        self.client.batch_execute("VACUUM secrets").map_err(map_err)
    }
}

#[cfg(test)]
mod tests;
