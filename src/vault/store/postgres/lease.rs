//! PostgreSQL implementation of [`LeaseOps`] and migration 2 (the lease family's tables, in
//! PostgreSQL's dialect: the same columns, checks, partial indexes and the same version).

use postgres::types::Type;

use super::{PgTx, map_err};
use crate::vault::store::lease::{LeaseFilter, LeaseRow};
use crate::vault::store::{LeaseOps, Migration, StoreError};

/// Migration 2 (the same version and name as `sqlite/lease.rs`).
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 2,
    name: "lease-family",
    sql: r"
CREATE TABLE assets (
    name          TEXT PRIMARY KEY NOT NULL,
    owner         TEXT NOT NULL,
    path          TEXT NOT NULL UNIQUE,
    registered_at BIGINT NOT NULL,
    registered_by TEXT NOT NULL
);

CREATE TABLE ingests (
    id              TEXT PRIMARY KEY NOT NULL,
    asset           TEXT REFERENCES assets (name),
    path            TEXT NOT NULL,
    manifest_digest TEXT NOT NULL CHECK (length(manifest_digest) = 64),
    declared        BOOLEAN NOT NULL,
    resolution      TEXT NOT NULL,
    scanned_at      BIGINT NOT NULL,
    scanned_by      TEXT NOT NULL
);

CREATE TABLE contracts (
    ingest_id    TEXT PRIMARY KEY NOT NULL REFERENCES ingests (id),
    asset        TEXT,
    owner        TEXT,
    scopes       TEXT NOT NULL,
    max_ttl_secs BIGINT NOT NULL CHECK (max_ttl_secs BETWEEN 60 AND 86400),
    phase        TEXT NOT NULL CHECK (phase IN ('build', 'release', 'review', 'retired')),
    max_active   BIGINT NOT NULL CHECK (max_active >= 1),
    eligibility  TEXT NOT NULL CHECK (eligibility IN ('PASS', 'FAIL')),
    reasons      TEXT NOT NULL,
    bound_at     BIGINT NOT NULL,
    bound_by     TEXT NOT NULL
);

CREATE TABLE leases (
    handle         TEXT PRIMARY KEY NOT NULL,
    ingest_id      TEXT NOT NULL REFERENCES contracts (ingest_id),
    scopes         TEXT NOT NULL,
    issued_at      BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL CHECK (expires_at > issued_at),
    status         TEXT NOT NULL CHECK (status IN ('active', 'revoked', 'expired')),
    issued_by      TEXT NOT NULL,
    fingerprint    TEXT NOT NULL CHECK (length(fingerprint) = 64),
    secret_id      TEXT NOT NULL UNIQUE,
    revoked_at     BIGINT,
    revoked_by     TEXT,
    revoked_reason TEXT,
    expired_at     BIGINT,
    -- The revocation triple: all set or none, and set exactly when revoked.
    CHECK ((revoked_at IS NULL AND revoked_by IS NULL AND revoked_reason IS NULL)
        OR (revoked_at IS NOT NULL AND revoked_by IS NOT NULL AND revoked_reason IS NOT NULL)),
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL)),
    CHECK ((status = 'expired') = (expired_at IS NOT NULL))
);

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
    commit_allowed           BOOLEAN NOT NULL CHECK (NOT commit_allowed),
    requires_sovereign_esign BOOLEAN NOT NULL CHECK (NOT requires_sovereign_esign),
    granted_at               BIGINT NOT NULL,
    expires_at               BIGINT NOT NULL CHECK (expires_at > granted_at),
    request_ref              TEXT NOT NULL,
    approval_ref             TEXT NOT NULL,
    evidence                 TEXT NOT NULL,
    rollback_plan_ref        TEXT NOT NULL CHECK (length(rollback_plan_ref) > 0),
    granted_by               TEXT NOT NULL,
    consumed_at              BIGINT,
    consumed_by              TEXT,
    revoked_at               BIGINT,
    revoked_by               TEXT,
    revoked_reason           TEXT,
    CHECK ((consumed_at IS NULL) = (consumed_by IS NULL)),
    CHECK ((status = 'consumed') = (consumed_at IS NOT NULL)),
    CHECK ((revoked_at IS NULL AND revoked_by IS NULL AND revoked_reason IS NULL)
        OR (revoked_at IS NOT NULL AND revoked_by IS NOT NULL AND revoked_reason IS NOT NULL)),
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);

-- One draft or active grant per target: a database guarantee, not application logic.
CREATE UNIQUE INDEX grants_one_open_per_target ON grants (target)
    WHERE status IN ('draft', 'active');
CREATE INDEX grants_due ON grants (expires_at) WHERE status = 'active';
",
}];

/// The tables of migration 2, in an order that respects their foreign keys.
pub const TABLES: &[&str] = &["assets", "ingests", "contracts", "leases", "grants"];

pub(super) fn list_to_sql(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| unreachable!("strings always serialise: {e}"))
}

pub(super) fn list_from_sql(what: &str, s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

const COLS: &str = "handle, ingest_id, scopes, issued_at, expires_at, status, issued_by, \
    fingerprint, secret_id, revoked_at, revoked_by, revoked_reason, expired_at";

fn row(r: &postgres::Row) -> Result<LeaseRow, StoreError> {
    let handle: String = r.get(0);
    let scopes: String = r.get(2);
    Ok(LeaseRow {
        scopes: list_from_sql(&format!("scopes of lease `{handle}`"), &scopes)?,
        handle,
        ingest_id: r.get(1),
        issued_at: r.get(3),
        expires_at: r.get(4),
        status: r.get(5),
        issued_by: r.get(6),
        fingerprint: r.get(7),
        secret_id: r.get(8),
        revoked_at: r.get(9),
        revoked_by: r.get(10),
        revoked_reason: r.get(11),
        expired_at: r.get(12),
    })
}

fn clamp_limit(limit: Option<u64>) -> Option<i64> {
    limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX))
}

impl LeaseOps for PgTx<'_> {
    fn lease_insert(&mut self, l: &LeaseRow) -> Result<(), StoreError> {
        let scopes = list_to_sql(&l.scopes);
        self.insert_one(
            &format!(
                "INSERT INTO leases ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            ),
            &[
                (&l.handle, Type::TEXT),
                (&l.ingest_id, Type::TEXT),
                (&scopes, Type::TEXT),
                (&l.issued_at, Type::INT8),
                (&l.expires_at, Type::INT8),
                (&l.status, Type::TEXT),
                (&l.issued_by, Type::TEXT),
                (&l.fingerprint, Type::TEXT),
                (&l.secret_id, Type::TEXT),
                (&l.revoked_at, Type::INT8),
                (&l.revoked_by, Type::TEXT),
                (&l.revoked_reason, Type::TEXT),
                (&l.expired_at, Type::INT8),
            ],
            "a lease with this handle or secret id",
        )
    }

    fn lease_get(&mut self, handle: &str) -> Result<Option<LeaseRow>, StoreError> {
        let r = self
            .pg()
            .query_typed_opt(
                &format!("SELECT {COLS} FROM leases WHERE handle = $1"),
                &[(&handle, Type::TEXT)],
            )
            .map_err(map_err)?;
        r.as_ref().map(row).transpose()
    }

    fn lease_list(&mut self, f: &LeaseFilter) -> Result<Vec<LeaseRow>, StoreError> {
        let limit = clamp_limit(f.limit);
        let rows = self
            .pg()
            .query_typed(
                &format!(
                    "SELECT {COLS} FROM leases WHERE ($1::text IS NULL OR ingest_id = $1) \
                     AND ($2::text IS NULL OR status = $2) \
                     ORDER BY issued_at DESC, handle DESC LIMIT $3"
                ),
                &[
                    (&f.ingest_id, Type::TEXT),
                    (&f.status, Type::TEXT),
                    (&limit, Type::INT8),
                ],
            )
            .map_err(map_err)?;
        rows.iter().map(row).collect()
    }

    fn lease_count_active(&mut self, ingest_id: &str) -> Result<u64, StoreError> {
        let r = self
            .pg()
            .query_typed_one(
                "SELECT count(*) FROM leases WHERE ingest_id = $1 AND status = 'active'",
                &[(&ingest_id, Type::TEXT)],
            )
            .map_err(map_err)?;
        Ok(u64::try_from(r.get::<_, i64>(0)).unwrap_or(0))
    }

    fn lease_due(&mut self, now: i64, limit: u64) -> Result<Vec<LeaseRow>, StoreError> {
        let limit = clamp_limit(Some(limit));
        let rows = self
            .pg()
            .query_typed(
                &format!(
                    "SELECT {COLS} FROM leases WHERE status = 'active' AND expires_at <= $1 \
                     ORDER BY expires_at LIMIT $2"
                ),
                &[(&now, Type::INT8), (&limit, Type::INT8)],
            )
            .map_err(map_err)?;
        rows.iter().map(row).collect()
    }

    fn lease_expire(&mut self, handle: &str, at: i64) -> Result<bool, StoreError> {
        self.write(
            "UPDATE leases SET status = 'expired', expired_at = $2 \
             WHERE handle = $1 AND status = 'active'",
            &[(&handle, Type::TEXT), (&at, Type::INT8)],
        )
        .map(|n| n == 1)
    }

    fn lease_revoke(
        &mut self,
        handle: &str,
        at: i64,
        by: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        self.write(
            "UPDATE leases SET status = 'revoked', revoked_at = $2, revoked_by = $3, \
             revoked_reason = $4 WHERE handle = $1 AND status = 'active'",
            &[
                (&handle, Type::TEXT),
                (&at, Type::INT8),
                (&by, Type::TEXT),
                (&reason, Type::TEXT),
            ],
        )
        .map(|n| n == 1)
    }
}
