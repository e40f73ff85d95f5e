//! SQLite implementation of [`VaultOps`] and migration 1 (the vault core).

use rusqlite::{OptionalExtension as _, params};

use super::{SqliteTx, map_err};
use crate::vault::store::{
    AuditFilter, AuditHead, AuditRow, Migration, SecretRow, StoreError, TokenRow, VaultOps,
};

/// Names of the audit table's protecting triggers (checked at boot).
pub const AUDIT_TRIGGERS: &[&str] = &[
    "audit_no_update",
    "audit_no_delete",
    "audit_append_in_order",
];

/// Migration 1: settings, tokens, sealed secrets and the append-only audit log.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "vault-core",
    sql: r"
CREATE TABLE vault_meta (
    k TEXT PRIMARY KEY NOT NULL,
    v TEXT NOT NULL
) STRICT;

CREATE TABLE tokens (
    accessor     TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    secret_mac   BLOB NOT NULL CHECK (length(secret_mac) = 32),
    capabilities TEXT NOT NULL,
    role         TEXT,
    project      TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    revoked_by   TEXT,
    created_by   TEXT NOT NULL,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
) STRICT;

CREATE TABLE secrets (
    id          TEXT PRIMARY KEY NOT NULL,
    scope       TEXT NOT NULL,
    expires_at  INTEGER,
    key_id      TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    ciphertext  BLOB NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE audit (
    seq            INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
    event_id       TEXT NOT NULL UNIQUE,
    at             TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    actor_type     TEXT NOT NULL,
    actor_id       TEXT NOT NULL,
    subject_type   TEXT,
    subject_id     TEXT,
    correlation_id TEXT,
    causation_id   TEXT,
    severity       TEXT NOT NULL,
    metadata       TEXT NOT NULL,
    prev_mac       TEXT NOT NULL,
    mac            TEXT NOT NULL
) STRICT;

CREATE INDEX audit_by_type ON audit (event_type, seq);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be updated'); END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be deleted'); END;

CREATE TRIGGER audit_append_in_order BEFORE INSERT ON audit
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit)
  OR NEW.prev_mac IS NOT COALESCE((SELECT mac FROM audit ORDER BY seq DESC LIMIT 1),
                                  '0000000000000000000000000000000000000000000000000000000000000000')
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows are added at the head, chained'); END;
",
}];

const AUDIT_COLS: &str = "seq, event_id, at, event_type, actor_type, actor_id, subject_type, \
     subject_id, correlation_id, causation_id, severity, metadata, prev_mac, mac";

fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    let seq: i64 = r.get(0)?;
    Ok(AuditRow {
        seq: u64::try_from(seq).unwrap_or(0),
        event_id: r.get(1)?,
        at: r.get(2)?,
        event_type: r.get(3)?,
        actor_type: r.get(4)?,
        actor_id: r.get(5)?,
        subject_type: r.get(6)?,
        subject_id: r.get(7)?,
        correlation_id: r.get(8)?,
        causation_id: r.get(9)?,
        severity: r.get(10)?,
        metadata: r.get(11)?,
        prev_mac: r.get(12)?,
        mac: r.get(13)?,
    })
}

const TOKEN_COLS: &str = "accessor, name, secret_mac, capabilities, role, project, created_at, \
     expires_at, revoked_at, revoked_by, created_by";

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(TokenRow, String)> {
    let caps: String = r.get(3)?;
    Ok((
        TokenRow {
            accessor: r.get(0)?,
            name: r.get(1)?,
            secret_mac: r.get(2)?,
            capabilities: Vec::new(),
            role: r.get(4)?,
            project: r.get(5)?,
            created_at: r.get(6)?,
            expires_at: r.get(7)?,
            revoked_at: r.get(8)?,
            revoked_by: r.get(9)?,
            created_by: r.get(10)?,
        },
        caps,
    ))
}

fn finish_token((mut row, caps): (TokenRow, String)) -> Result<TokenRow, StoreError> {
    row.capabilities = serde_json::from_str(&caps).map_err(|e| {
        StoreError::Corrupt(format!("capabilities of token `{}`: {e}", row.accessor))
    })?;
    Ok(row)
}

fn secret_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SecretRow> {
    Ok(SecretRow {
        id: r.get(0)?,
        scope: r.get(1)?,
        expires_at: r.get(2)?,
        key_id: r.get(3)?,
        wrapped_key: r.get(4)?,
        ciphertext: r.get(5)?,
        created_at: r.get(6)?,
    })
}

const SECRET_COLS: &str = "id, scope, expires_at, key_id, wrapped_key, ciphertext, created_at";

fn seq_i64(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("sequence number {seq} overflows")))
}

impl VaultOps for SqliteTx<'_> {
    fn audit_head(&mut self) -> Result<Option<AuditHead>, StoreError> {
        self.conn()
            .prepare_cached("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1")
            .and_then(|mut s| {
                s.query_row([], |r| {
                    let seq: i64 = r.get(0)?;
                    Ok(AuditHead {
                        seq: u64::try_from(seq).unwrap_or(0),
                        mac: r.get(1)?,
                    })
                })
                .optional()
            })
            .map_err(map_err)
    }

    fn audit_insert(&mut self, row: &AuditRow) -> Result<(), StoreError> {
        let seq = seq_i64(row.seq)?;
        self.conn()
            .prepare_cached(&format!(
                "INSERT INTO audit ({AUDIT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    seq,
                    row.event_id,
                    row.at,
                    row.event_type,
                    row.actor_type,
                    row.actor_id,
                    row.subject_type,
                    row.subject_id,
                    row.correlation_id,
                    row.causation_id,
                    row.severity,
                    row.metadata,
                    row.prev_mac,
                    row.mac
                ])
            })
            .map(|_| ())
            .map_err(map_err)
    }

    fn audit_get(&mut self, seq: u64) -> Result<Option<AuditRow>, StoreError> {
        let seq = seq_i64(seq)?;
        self.conn()
            .prepare_cached(&format!("SELECT {AUDIT_COLS} FROM audit WHERE seq = ?1"))
            .and_then(|mut s| s.query_row([seq], audit_row).optional())
            .map_err(map_err)
    }

    fn audit_tail(&mut self, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        let limit = filter
            .limit
            .map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let sql = format!(
            "SELECT * FROM (SELECT {AUDIT_COLS} FROM audit \
             WHERE (?1 IS NULL OR event_type = ?1) AND (?2 IS NULL OR at >= ?2) \
             ORDER BY seq DESC LIMIT ?3) ORDER BY seq ASC"
        );
        let mut stmt = self.conn().prepare_cached(&sql).map_err(map_err)?;
        let rows = stmt
            .query_map(params![filter.event_type, filter.since, limit], audit_row)
            .map_err(map_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
    }

    fn audit_scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(AuditRow) -> bool,
    ) -> Result<(), StoreError> {
        let from = seq_i64(from_seq)?;
        let mut stmt = self
            .conn()
            .prepare(&format!(
                "SELECT {AUDIT_COLS} FROM audit WHERE seq >= ?1 ORDER BY seq ASC"
            ))
            .map_err(map_err)?;
        let mut rows = stmt.query([from]).map_err(map_err)?;
        while let Some(r) = rows.next().map_err(map_err)? {
            if !visit(audit_row(r).map_err(map_err)?) {
                break;
            }
        }
        Ok(())
    }

    fn meta_get(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .prepare_cached("SELECT v FROM vault_meta WHERE k = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .map_err(map_err)
    }

    fn meta_set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(
                "INSERT INTO vault_meta (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            )
            .and_then(|mut s| s.execute([key, value]))
            .map(|_| ())
            .map_err(map_err)
    }

    fn token_insert(&mut self, row: &TokenRow) -> Result<(), StoreError> {
        let caps = serde_json::to_string(&row.capabilities)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.conn()
            .prepare_cached(&format!(
                "INSERT INTO tokens ({TOKEN_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    row.accessor,
                    row.name,
                    row.secret_mac,
                    caps,
                    row.role,
                    row.project,
                    row.created_at,
                    row.expires_at,
                    row.revoked_at,
                    row.revoked_by,
                    row.created_by
                ])
            })
            .map(|_| ())
            .map_err(map_err)
    }

    fn token_get(&mut self, accessor: &str) -> Result<Option<TokenRow>, StoreError> {
        let raw = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLS} FROM tokens WHERE accessor = ?1"
            ))
            .and_then(|mut s| s.query_row([accessor], token_row).optional())
            .map_err(map_err)?;
        raw.map(finish_token).transpose()
    }

    fn token_list(&mut self) -> Result<Vec<TokenRow>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLS} FROM tokens ORDER BY created_at, accessor"
            ))
            .map_err(map_err)?;
        let rows = stmt.query_map([], token_row).map_err(map_err)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(finish_token(r.map_err(map_err)?)?);
        }
        Ok(out)
    }

    fn token_revoke(&mut self, accessor: &str, at: i64, by: &str) -> Result<bool, StoreError> {
        self.conn()
            .prepare_cached(
                "UPDATE tokens SET revoked_at = ?2, revoked_by = ?3 WHERE accessor = ?1 AND revoked_at IS NULL",
            )
            .and_then(|mut s| s.execute(params![accessor, at, by]))
            .map(|n| n == 1)
            .map_err(map_err)
    }

    fn secret_insert(&mut self, row: &SecretRow) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(&format!(
                "INSERT INTO secrets ({SECRET_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    row.id,
                    row.scope,
                    row.expires_at,
                    row.key_id,
                    row.wrapped_key,
                    row.ciphertext,
                    row.created_at
                ])
            })
            .map(|_| ())
            .map_err(map_err)
    }

    fn secret_get(&mut self, id: &str) -> Result<Option<SecretRow>, StoreError> {
        self.conn()
            .prepare_cached(&format!("SELECT {SECRET_COLS} FROM secrets WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id], secret_row).optional())
            .map_err(map_err)
    }

    fn secret_delete(&mut self, id: &str) -> Result<bool, StoreError> {
        self.conn()
            .prepare_cached("DELETE FROM secrets WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map(|n| n == 1)
            .map_err(map_err)
    }

    fn secret_all(&mut self) -> Result<Vec<SecretRow>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!("SELECT {SECRET_COLS} FROM secrets ORDER BY id"))
            .map_err(map_err)?;
        let rows = stmt.query_map([], secret_row).map_err(map_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
    }

    fn secret_rewrap(
        &mut self,
        id: &str,
        key_id: &str,
        wrapped_key: &[u8],
    ) -> Result<(), StoreError> {
        let n = self
            .conn()
            .prepare_cached("UPDATE secrets SET key_id = ?2, wrapped_key = ?3 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id, key_id, wrapped_key]))
            .map_err(map_err)?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Constraint(format!(
                "no secret `{id}` to re-wrap"
            )))
        }
    }

    fn apply_migration(&mut self, version: u32, now: &str) -> Result<(), StoreError> {
        let m = super::migrations::all()
            .into_iter()
            .find(|m| m.version == version)
            .ok_or_else(|| StoreError::Backend(format!("no migration {version} in this binary")))?;
        super::migrations::apply(self.conn(), m, now)
    }
}
