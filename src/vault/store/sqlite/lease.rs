//! SQLite implementation of [`LeaseOps`] and migration 2: the lease family's tables (registry,
//! bind contracts, leases and grants: one migration so the family upgrades in one step).

use rusqlite::{OptionalExtension as _, params};

use super::{SqliteTx, map_err};
use crate::vault::store::lease::{LeaseFilter, LeaseRow};
use crate::vault::store::{LeaseOps, Migration, StoreError};

/// Migration 2: assets, ingests, contracts, leases, grants.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 2,
    name: "lease-family",
    sql: r"
CREATE TABLE assets (
    name          TEXT PRIMARY KEY NOT NULL,
    owner         TEXT NOT NULL,
    path          TEXT NOT NULL UNIQUE,
    registered_at INTEGER NOT NULL,
    registered_by TEXT NOT NULL
) STRICT;

CREATE TABLE ingests (
    id              TEXT PRIMARY KEY NOT NULL,
    asset           TEXT REFERENCES assets (name),
    path            TEXT NOT NULL,
    manifest_digest TEXT NOT NULL CHECK (length(manifest_digest) = 64),
    declared        INTEGER NOT NULL CHECK (declared IN (0, 1)),
    resolution      TEXT NOT NULL,
    scanned_at      INTEGER NOT NULL,
    scanned_by      TEXT NOT NULL
) STRICT;

CREATE TABLE contracts (
    ingest_id    TEXT PRIMARY KEY NOT NULL REFERENCES ingests (id),
    asset        TEXT,
    owner        TEXT,
    scopes       TEXT NOT NULL,
    max_ttl_secs INTEGER NOT NULL CHECK (max_ttl_secs BETWEEN 60 AND 86400),
    phase        TEXT NOT NULL CHECK (phase IN ('build', 'release', 'review', 'retired')),
    max_active   INTEGER NOT NULL CHECK (max_active >= 1),
    eligibility  TEXT NOT NULL CHECK (eligibility IN ('PASS', 'FAIL')),
    reasons      TEXT NOT NULL,
    bound_at     INTEGER NOT NULL,
    bound_by     TEXT NOT NULL
) STRICT;

CREATE TABLE leases (
    handle         TEXT PRIMARY KEY NOT NULL,
    ingest_id      TEXT NOT NULL REFERENCES contracts (ingest_id),
    scopes         TEXT NOT NULL,
    issued_at      INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL CHECK (expires_at > issued_at),
    status         TEXT NOT NULL CHECK (status IN ('active', 'revoked', 'expired')),
    issued_by      TEXT NOT NULL,
    fingerprint    TEXT NOT NULL CHECK (length(fingerprint) = 64),
    secret_id      TEXT NOT NULL UNIQUE,
    revoked_at     INTEGER,
    revoked_by     TEXT,
    revoked_reason TEXT,
    expired_at     INTEGER,
    -- The revocation triple: all set or none, and set exactly when revoked.
    CHECK ((revoked_at IS NULL AND revoked_by IS NULL AND revoked_reason IS NULL)
        OR (revoked_at IS NOT NULL AND revoked_by IS NOT NULL AND revoked_reason IS NOT NULL)),
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL)),
    CHECK ((status = 'expired') = (expired_at IS NOT NULL))
) STRICT;

-- The sweep reads only what is due: O(expired), not O(all).
CREATE INDEX leases_due ON leases (expires_at) WHERE status = 'active';
CREATE INDEX leases_by_ingest ON leases (ingest_id, issued_at, handle);

CREATE TABLE grants (
    auth_code                TEXT PRIMARY KEY NOT NULL,
    target                   TEXT NOT NULL,
    namespace                TEXT NOT NULL,
    axis                     TEXT NOT NULL,
    status                   TEXT NOT NULL
        CHECK (status IN ('draft', 'active', 'consumed', 'revoked', 'expired')),
    commit_allowed           INTEGER NOT NULL CHECK (commit_allowed = 0),
    requires_sovereign_esign INTEGER NOT NULL CHECK (requires_sovereign_esign = 0),
    granted_at               INTEGER NOT NULL,
    expires_at               INTEGER NOT NULL CHECK (expires_at > granted_at),
    request_ref              TEXT NOT NULL,
    approval_ref             TEXT NOT NULL,
    evidence                 TEXT NOT NULL,
    rollback_plan_ref        TEXT NOT NULL CHECK (length(rollback_plan_ref) > 0),
    granted_by               TEXT NOT NULL,
    consumed_at              INTEGER,
    consumed_by              TEXT,
    revoked_at               INTEGER,
    revoked_by               TEXT,
    revoked_reason           TEXT,
    CHECK ((consumed_at IS NULL) = (consumed_by IS NULL)),
    CHECK ((status = 'consumed') = (consumed_at IS NOT NULL)),
    CHECK ((revoked_at IS NULL AND revoked_by IS NULL AND revoked_reason IS NULL)
        OR (revoked_at IS NOT NULL AND revoked_by IS NOT NULL AND revoked_reason IS NOT NULL)),
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
) STRICT;

-- One draft or active grant per target: a database guarantee, not application logic.
CREATE UNIQUE INDEX grants_one_open_per_target ON grants (target)
    WHERE status IN ('draft', 'active');
CREATE INDEX grants_due ON grants (expires_at) WHERE status = 'active';
",
}];

/// A list stored as a JSON array of strings.
pub(super) fn list_to_sql(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| unreachable!("strings always serialise: {e}"))
}

/// A JSON array of strings read back; anything else is corruption, never silently empty.
pub(super) fn list_from_sql(col: usize, s: &str) -> rusqlite::Result<Vec<String>> {
    serde_json::from_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
    })
}

const COLS: &str = "handle, ingest_id, scopes, issued_at, expires_at, status, issued_by, \
    fingerprint, secret_id, revoked_at, revoked_by, revoked_reason, expired_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LeaseRow> {
    let scopes: String = r.get(2)?;
    Ok(LeaseRow {
        handle: r.get(0)?,
        ingest_id: r.get(1)?,
        scopes: list_from_sql(2, &scopes)?,
        issued_at: r.get(3)?,
        expires_at: r.get(4)?,
        status: r.get(5)?,
        issued_by: r.get(6)?,
        fingerprint: r.get(7)?,
        secret_id: r.get(8)?,
        revoked_at: r.get(9)?,
        revoked_by: r.get(10)?,
        revoked_reason: r.get(11)?,
        expired_at: r.get(12)?,
    })
}

fn clamp_limit(limit: Option<u64>) -> i64 {
    limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX))
}

impl LeaseOps for SqliteTx<'_> {
    fn lease_insert(&mut self, l: &LeaseRow) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(&format!(
                "INSERT INTO leases ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    l.handle,
                    l.ingest_id,
                    list_to_sql(&l.scopes),
                    l.issued_at,
                    l.expires_at,
                    l.status,
                    l.issued_by,
                    l.fingerprint,
                    l.secret_id,
                    l.revoked_at,
                    l.revoked_by,
                    l.revoked_reason,
                    l.expired_at
                ])
            })
            .map(|_| ())
            .map_err(map_err)
    }

    fn lease_get(&mut self, handle: &str) -> Result<Option<LeaseRow>, StoreError> {
        self.conn()
            .prepare_cached(&format!("SELECT {COLS} FROM leases WHERE handle = ?1"))
            .and_then(|mut s| s.query_row([handle], row).optional())
            .map_err(map_err)
    }

    fn lease_list(&mut self, f: &LeaseFilter) -> Result<Vec<LeaseRow>, StoreError> {
        // One statement per filter shape (not `?1 IS NULL OR …`), so SQLite can use the
        // per-contract index instead of scanning every lease.
        let mut sql = format!("SELECT {COLS} FROM leases");
        let mut args: Vec<&dyn rusqlite::ToSql> = Vec::new();
        let mut conds = Vec::new();
        if let Some(i) = &f.ingest_id {
            args.push(i);
            conds.push(format!("ingest_id = ?{}", args.len()));
        }
        if let Some(st) = &f.status {
            args.push(st);
            conds.push(format!("status = ?{}", args.len()));
        }
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        let limit = clamp_limit(f.limit);
        args.push(&limit);
        sql.push_str(&format!(
            " ORDER BY issued_at DESC, handle DESC LIMIT ?{}",
            args.len()
        ));
        let mut s = self.conn().prepare_cached(&sql).map_err(map_err)?;
        let rows = s.query_map(args.as_slice(), row).map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)
    }

    fn lease_count_active(&mut self, ingest_id: &str) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .prepare_cached(
                "SELECT count(*) FROM leases WHERE ingest_id = ?1 AND status = 'active'",
            )
            .and_then(|mut s| s.query_row([ingest_id], |r| r.get(0)))
            .map_err(map_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn lease_due(&mut self, now: i64, limit: u64) -> Result<Vec<LeaseRow>, StoreError> {
        let sql = format!(
            "SELECT {COLS} FROM leases INDEXED BY leases_due
             WHERE status = 'active' AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2"
        );
        let mut s = self.conn().prepare_cached(&sql).map_err(map_err)?;
        let rows = s
            .query_map(params![now, clamp_limit(Some(limit))], row)
            .map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)
    }

    fn lease_expire(&mut self, handle: &str, at: i64) -> Result<bool, StoreError> {
        self.conn()
            .prepare_cached(
                "UPDATE leases SET status = 'expired', expired_at = ?2
                 WHERE handle = ?1 AND status = 'active'",
            )
            .and_then(|mut s| s.execute(params![handle, at]))
            .map(|n| n == 1)
            .map_err(map_err)
    }

    fn lease_revoke(
        &mut self,
        handle: &str,
        at: i64,
        by: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        self.conn()
            .prepare_cached(
                "UPDATE leases SET status = 'revoked', revoked_at = ?2, revoked_by = ?3,
                        revoked_reason = ?4
                 WHERE handle = ?1 AND status = 'active'",
            )
            .and_then(|mut s| s.execute(params![handle, at, by, reason]))
            .map(|n| n == 1)
            .map_err(map_err)
    }
}
