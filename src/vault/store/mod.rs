//! The `Store` trait: the only way vault logic (and the lease, grant, registry and agent
//! families) reaches the database. SQL lives only in the implementations ([`sqlite`] today; a
//! PostgreSQL store later), so nothing above this module knows a dialect.
//!
//! # Contract
//! - [`Store::begin`] with [`TxMode::Write`] takes the database's write lock at once (SQLite:
//!   `BEGIN IMMEDIATE`), so the first thing a writer reads — the audit head — cannot change
//!   under it: concurrent writers serialise and can never fork the audit chain. Busy waits are
//!   the store's job (busy timeout); callers never see `SQLITE_BUSY`.
//! - A transaction that is dropped without [`Tx::commit`] rolls back.
//! - The audit table is append-only: the store refuses updates and deletes of audit rows (in
//!   SQLite by triggers), and appends only at `head + 1`.
//! - Callers do not append audit rows through [`VaultOps::audit_insert`] themselves: they use
//!   [`crate::vault::act::AuditedTx::append`], which computes the MAC chain. A privileged act
//!   is `Vault::act(…, |tx, who| { state change through tx.ops(); tx.append(event) })`: the
//!   state change and its audit row commit together or not at all.
//!
//! # Extending the store from another family (the recipe)
//! Each family owns three files and edits no line of anyone else's:
//! 1. **Its operations trait**: `src/vault/store/<family>.rs` (`lease.rs`, `grant.rs`,
//!    `registry.rs`, `agent.rs` exist already, empty). Add methods with typed rows and
//!    dialect-free arguments; prefix names with the family (`lease_insert`, `agent_run_get`)
//!    so the traits never collide. Rows are plain structs defined in the same file.
//! 2. **Its SQLite implementation**: `src/vault/store/sqlite/<family>.rs` implements that
//!    trait for [`sqlite::SqliteTx`] (use `self.conn()` for the transaction's connection and
//!    [`sqlite::map_err`] for errors) and holds the family's migrations in its
//!    `MIGRATIONS: &[Migration]` constant.
//! 3. **Its conformance tests**: `src/vault/store/conformance/<family>.rs`, functions taking
//!    `&mut dyn Store` that check the family's invariants (one active grant per target,
//!    compare-and-swap consume, …); `sqlite/mod.rs`'s tests already call
//!    `conformance::<family>::run_all`, so they run for SQLite and later for PostgreSQL.
//!
//! [`Tx`] already has every family trait as a supertrait, so family code calls
//! `tx.ops().lease_insert(..)` on the transaction it was handed — no registration line to edit.
//!
//! **Migrations** are `(version, name, sql)`; version 1 is the vault core, 2 the lease family
//! (registry, leases, grants), 3 the agent family; a family that needs another migration takes
//! the next free number above every existing one (versions need not be contiguous on a
//! branch). The store applies every known but unapplied migration in version order, each in
//! its own transaction with a `vault.migrated` audit row. A database holding a version this
//! binary does not know is refused at boot (`schema-too-new`). Migrations of different
//! families must not depend on each other's tables (they may be applied in either order).

pub mod agent;
pub mod conformance;
pub mod grant;
pub mod lease;
pub mod postgres;
pub mod registry;
pub mod sqlite;

pub use agent::AgentOps;
pub use grant::GrantOps;
pub use lease::LeaseOps;
pub use registry::RegistryOps;

/// Errors from a store. They carry no secret material (the store never sees plaintext).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A constraint refused the change (unique, check, foreign key, a trigger).
    #[error("the database refused the change: {0}")]
    Constraint(String),
    /// The database is corrupt, unreadable, or not a vaultgate database.
    #[error("the database `{path}` cannot be used: {reason}")]
    Unusable {
        /// The database.
        path: String,
        /// Why.
        reason: String,
    },
    /// Any other backend failure.
    #[error("database error: {0}")]
    Backend(String),
    /// A stored value is malformed (a bug or tampering).
    #[error("malformed value in the database: {0}")]
    Corrupt(String),
}

/// Read-only or read-write transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxMode {
    /// A consistent snapshot for reading.
    Read,
    /// Takes the write lock at `begin` (SQLite `BEGIN IMMEDIATE`).
    Write,
}

/// One migration of one family.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Strictly increasing across all families.
    pub version: u32,
    /// Short name, e.g. `vault-core`.
    pub name: &'static str,
    /// The DDL (dialect-specific; lives in the implementation's folder).
    pub sql: &'static str,
}

/// What the store knows about its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaState {
    /// Applied migration versions, ascending.
    pub applied: Vec<u32>,
    /// Versions this binary knows but the database lacks, ascending.
    pub pending: Vec<u32>,
    /// Versions the database has that this binary does not know.
    pub unknown: Vec<u32>,
    /// A value that changes whenever the schema changes (SQLite `PRAGMA schema_version`).
    pub cookie: i64,
    /// Problems with the audit table's protections (missing triggers, altered definitions).
    pub protection_problems: Vec<String>,
}

/// The last audit row's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    /// Its sequence number (1-based).
    pub seq: u64,
    /// Its MAC (64 lowercase hex).
    pub mac: String,
}

/// One audit row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// 1, 2, 3, …
    pub seq: u64,
    /// UUID v4.
    pub event_id: String,
    /// RFC 3339 UTC.
    pub at: String,
    /// e.g. `token.created`, `security.denied`, `VIOLATION`, `LEASE_ISSUED`.
    pub event_type: String,
    /// `token`, `system`, `anonymous`.
    pub actor_type: String,
    /// The token accessor, `vaultgate`, or `-`.
    pub actor_id: String,
    /// What the act was about (`token`, `lease`, `agent`, …), if anything.
    pub subject_type: Option<String>,
    /// Its id.
    pub subject_id: Option<String>,
    /// Groups the events of one request.
    pub correlation_id: Option<String>,
    /// The event that caused this one.
    pub causation_id: Option<String>,
    /// `info`, `warning`, `critical`.
    pub severity: String,
    /// Canonical JSON object text of allowlisted, secret-free fields.
    pub metadata: String,
    /// The previous row's MAC (64 zeros for row 1).
    pub prev_mac: String,
    /// `HMAC(audit key, prev_mac ‖ canonical(row))`.
    pub mac: String,
}

/// Which audit rows to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// At most this many (the newest).
    pub limit: Option<u64>,
    /// Only this event type.
    pub event_type: Option<String>,
    /// Only rows at or after this RFC 3339 instant (string comparison of the canonical form).
    pub since: Option<String>,
}

/// One token as stored (never the secret: only its MAC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// The public part of `vgt_<accessor>_<secret>`.
    pub accessor: String,
    /// A human name (`codex-builder`).
    pub name: String,
    /// `HMAC(token key, accessor ‖ secret)`.
    pub secret_mac: Vec<u8>,
    /// The capabilities (sorted names).
    pub capabilities: Vec<String>,
    /// The role it was created from, if any (informational: authority is `capabilities`).
    pub role: Option<String>,
    /// Bound to one project, if set.
    pub project: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, if it expires.
    pub expires_at: Option<i64>,
    /// Unix seconds, if revoked.
    pub revoked_at: Option<i64>,
    /// The accessor that revoked it.
    pub revoked_by: Option<String>,
    /// The accessor that created it (`-` for the first admin token).
    pub created_by: String,
}

/// One stored secret: only ciphertext and the metadata bound into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRow {
    /// Unique id (chosen by the owning family, e.g. the lease handle).
    pub id: String,
    /// What it may be used for (bound into the AEAD).
    pub scope: String,
    /// Unix seconds (bound into the AEAD).
    pub expires_at: Option<i64>,
    /// The master key id that wraps the data key.
    pub key_id: String,
    /// `nonce ‖ XChaCha20-Poly1305(master, data key)`.
    pub wrapped_key: Vec<u8>,
    /// `nonce ‖ XChaCha20-Poly1305(data key, material)`.
    pub ciphertext: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
}

/// The vault core's operations (tables from migration 1).
pub trait VaultOps {
    /// The last audit row's `(seq, mac)`, `None` on an empty log.
    fn audit_head(&mut self) -> Result<Option<AuditHead>, StoreError>;
    /// Append one row (must be `head + 1`; see [`crate::vault::act::AuditedTx::append`]).
    fn audit_insert(&mut self, row: &AuditRow) -> Result<(), StoreError>;
    /// One row by sequence number.
    fn audit_get(&mut self, seq: u64) -> Result<Option<AuditRow>, StoreError>;
    /// The newest rows matching a filter, oldest first.
    fn audit_tail(&mut self, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError>;
    /// Every row from `from_seq` on, in `seq` order, streamed; `visit` returns `false` to stop.
    fn audit_scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(AuditRow) -> bool,
    ) -> Result<(), StoreError>;

    /// A vault setting (`key_id`, `root_wrapped`, `highest_seen`, `lockdown`, …).
    fn meta_get(&mut self, key: &str) -> Result<Option<String>, StoreError>;
    /// Set a vault setting.
    fn meta_set(&mut self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Insert a token (the accessor is unique).
    fn token_insert(&mut self, row: &TokenRow) -> Result<(), StoreError>;
    /// A token by accessor.
    fn token_get(&mut self, accessor: &str) -> Result<Option<TokenRow>, StoreError>;
    /// Every token, by creation time.
    fn token_list(&mut self) -> Result<Vec<TokenRow>, StoreError>;
    /// Mark revoked if not yet; `true` when this call revoked it.
    fn token_revoke(&mut self, accessor: &str, at: i64, by: &str) -> Result<bool, StoreError>;

    /// Store a sealed secret (the id is unique).
    fn secret_insert(&mut self, row: &SecretRow) -> Result<(), StoreError>;
    /// A sealed secret by id.
    fn secret_get(&mut self, id: &str) -> Result<Option<SecretRow>, StoreError>;
    /// Remove a secret's row for real (the store overwrites freed space); `true` if it existed.
    fn secret_delete(&mut self, id: &str) -> Result<bool, StoreError>;
    /// Every sealed secret (for key rotation).
    fn secret_all(&mut self) -> Result<Vec<SecretRow>, StoreError>;
    /// Replace a secret's wrapped data key (key rotation).
    fn secret_rewrap(
        &mut self,
        id: &str,
        key_id: &str,
        wrapped_key: &[u8],
    ) -> Result<(), StoreError>;

    /// Apply one known migration inside this transaction (boot does it, audited).
    fn apply_migration(&mut self, version: u32, now: &str) -> Result<(), StoreError>;
}

/// A transaction: every family's operations on one consistent view.
pub trait Tx: VaultOps + LeaseOps + GrantOps + RegistryOps + AgentOps {
    /// Commit (a dropped transaction rolls back).
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// A vault database.
pub trait Store: Send {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Begin a transaction.
    fn begin(&mut self, mode: TxMode) -> Result<Box<dyn Tx + '_>, StoreError>;
    /// Schema versions, the schema cookie and the audit table's protections.
    fn schema_state(&mut self) -> Result<SchemaState, StoreError>;
    /// The schema cookie alone (cheap; recorded in the head anchor after every commit).
    fn schema_cookie(&mut self) -> Result<i64, StoreError>;
    /// The backend's integrity check (SQLite `PRAGMA quick_check`): problems found.
    fn integrity_check(&mut self) -> Result<Vec<String>, StoreError>;
    /// Make deleted data unrecoverable from side files (SQLite: checkpoint and truncate the WAL).
    fn purge_freed(&mut self) -> Result<(), StoreError>;
}
