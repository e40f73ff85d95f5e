//! SQLite implementation of [`GrantOps`] (its table and the one-open-grant-per-target partial
//! unique index are in migration 2, `sqlite/lease.rs`).

use rusqlite::{OptionalExtension as _, params};

use super::{SqliteTx, map_err};
use crate::vault::store::grant::GrantRow;
use crate::vault::store::{GrantOps, Migration, StoreError};

/// The grant table comes with migration 2 of the lease family (`sqlite/lease.rs`).
pub const MIGRATIONS: &[Migration] = &[];

const COLS: &str = "auth_code, target, namespace, axis, status, commit_allowed, \
    requires_sovereign_esign, granted_at, expires_at, request_ref, approval_ref, evidence, \
    rollback_plan_ref, granted_by, consumed_at, consumed_by, revoked_at, revoked_by, revoked_reason";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GrantRow> {
    let commit: i64 = r.get(5)?;
    let esign: i64 = r.get(6)?;
    Ok(GrantRow {
        auth_code: r.get(0)?,
        target: r.get(1)?,
        namespace: r.get(2)?,
        axis: r.get(3)?,
        status: r.get(4)?,
        commit_allowed: commit != 0,
        requires_sovereign_esign: esign != 0,
        granted_at: r.get(7)?,
        expires_at: r.get(8)?,
        request_ref: r.get(9)?,
        approval_ref: r.get(10)?,
        evidence: r.get(11)?,
        rollback_plan_ref: r.get(12)?,
        granted_by: r.get(13)?,
        consumed_at: r.get(14)?,
        consumed_by: r.get(15)?,
        revoked_at: r.get(16)?,
        revoked_by: r.get(17)?,
        revoked_reason: r.get(18)?,
    })
}

impl GrantOps for SqliteTx<'_> {
    fn grant_insert(&mut self, g: &GrantRow) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(&format!(
                "INSERT INTO grants ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
                 ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    g.auth_code,
                    g.target,
                    g.namespace,
                    g.axis,
                    g.status,
                    i64::from(g.commit_allowed),
                    i64::from(g.requires_sovereign_esign),
                    g.granted_at,
                    g.expires_at,
                    g.request_ref,
                    g.approval_ref,
                    g.evidence,
                    g.rollback_plan_ref,
                    g.granted_by,
                    g.consumed_at,
                    g.consumed_by,
                    g.revoked_at,
                    g.revoked_by,
                    g.revoked_reason
                ])
            })
            .map(|_| ())
            .map_err(map_err)
    }

    fn grant_get(&mut self, auth_code: &str) -> Result<Option<GrantRow>, StoreError> {
        self.conn()
            .prepare_cached(&format!("SELECT {COLS} FROM grants WHERE auth_code = ?1"))
            .and_then(|mut s| s.query_row([auth_code], row).optional())
            .map_err(map_err)
    }

    fn grant_open_for_target(&mut self, target: &str) -> Result<Option<GrantRow>, StoreError> {
        self.conn()
            .prepare_cached(&format!(
                "SELECT {COLS} FROM grants WHERE target = ?1 AND status IN ('draft', 'active')"
            ))
            .and_then(|mut s| s.query_row([target], row).optional())
            .map_err(map_err)
    }

    fn grant_list(&mut self) -> Result<Vec<GrantRow>, StoreError> {
        let mut s = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {COLS} FROM grants ORDER BY granted_at DESC, auth_code"
            ))
            .map_err(map_err)?;
        let rows = s.query_map([], row).map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)
    }

    fn grant_consume(&mut self, auth_code: &str, at: i64, by: &str) -> Result<bool, StoreError> {
        self.conn()
            .prepare_cached(
                "UPDATE grants SET status = 'consumed', consumed_at = ?2, consumed_by = ?3
                 WHERE auth_code = ?1 AND status = 'active' AND expires_at > ?2",
            )
            .and_then(|mut s| s.execute(params![auth_code, at, by]))
            .map(|n| n == 1)
            .map_err(map_err)
    }

    fn grant_revoke(
        &mut self,
        auth_code: &str,
        at: i64,
        by: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        self.conn()
            .prepare_cached(
                "UPDATE grants SET status = 'revoked', revoked_at = ?2, revoked_by = ?3,
                        revoked_reason = ?4
                 WHERE auth_code = ?1 AND status IN ('draft', 'active')",
            )
            .and_then(|mut s| s.execute(params![auth_code, at, by, reason]))
            .map(|n| n == 1)
            .map_err(map_err)
    }

    fn grant_due(&mut self, now: i64, limit: u64) -> Result<Vec<GrantRow>, StoreError> {
        let mut s = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {COLS} FROM grants INDEXED BY grants_due
                 WHERE status = 'active' AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2"
            ))
            .map_err(map_err)?;
        let rows = s
            .query_map(params![now, i64::try_from(limit).unwrap_or(i64::MAX)], row)
            .map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)
    }

    fn grant_expire(&mut self, auth_code: &str) -> Result<bool, StoreError> {
        self.conn()
            .prepare_cached(
                "UPDATE grants SET status = 'expired' WHERE auth_code = ?1 AND status = 'active'",
            )
            .and_then(|mut s| s.execute([auth_code]))
            .map(|n| n == 1)
            .map_err(map_err)
    }
}
