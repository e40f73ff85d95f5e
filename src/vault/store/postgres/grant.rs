//! PostgreSQL implementation of [`GrantOps`] (its table and the one-open-grant-per-target
//! partial unique index are in migration 2, `postgres/lease.rs`).
//!
//! A mint is `INSERT … ON CONFLICT DO NOTHING`: two racing inserts for one target cannot both
//! succeed (the partial unique index decides), and the loser's outcome is classified without
//! aborting the transaction.

use postgres::types::Type;

use super::{PgTx, map_err};
use crate::vault::store::grant::GrantRow;
use crate::vault::store::{GrantOps, Migration, StoreError};

/// The grant family's migrations (its table is in migration 2).
pub const MIGRATIONS: &[Migration] = &[];

const COLS: &str = "auth_code, target, namespace, axis, status, commit_allowed, \
    requires_sovereign_esign, granted_at, expires_at, request_ref, approval_ref, evidence, \
    rollback_plan_ref, granted_by, consumed_at, consumed_by, revoked_at, revoked_by, revoked_reason";

fn row(r: &postgres::Row) -> GrantRow {
    GrantRow {
        auth_code: r.get(0),
        target: r.get(1),
        namespace: r.get(2),
        axis: r.get(3),
        status: r.get(4),
        commit_allowed: r.get(5),
        requires_sovereign_esign: r.get(6),
        granted_at: r.get(7),
        expires_at: r.get(8),
        request_ref: r.get(9),
        approval_ref: r.get(10),
        evidence: r.get(11),
        rollback_plan_ref: r.get(12),
        granted_by: r.get(13),
        consumed_at: r.get(14),
        consumed_by: r.get(15),
        revoked_at: r.get(16),
        revoked_by: r.get(17),
        revoked_reason: r.get(18),
    }
}

impl GrantOps for PgTx<'_> {
    fn grant_insert(&mut self, g: &GrantRow) -> Result<(), StoreError> {
        let n = self.write(
            &format!(
                "INSERT INTO grants ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                 $11, $12, $13, $14, $15, $16, $17, $18, $19) ON CONFLICT DO NOTHING"
            ),
            &[
                (&g.auth_code, Type::TEXT),
                (&g.target, Type::TEXT),
                (&g.namespace, Type::TEXT),
                (&g.axis, Type::TEXT),
                (&g.status, Type::TEXT),
                (&g.commit_allowed, Type::BOOL),
                (&g.requires_sovereign_esign, Type::BOOL),
                (&g.granted_at, Type::INT8),
                (&g.expires_at, Type::INT8),
                (&g.request_ref, Type::TEXT),
                (&g.approval_ref, Type::TEXT),
                (&g.evidence, Type::TEXT),
                (&g.rollback_plan_ref, Type::TEXT),
                (&g.granted_by, Type::TEXT),
                (&g.consumed_at, Type::INT8),
                (&g.consumed_by, Type::TEXT),
                (&g.revoked_at, Type::INT8),
                (&g.revoked_by, Type::TEXT),
                (&g.revoked_reason, Type::TEXT),
            ],
        )?;
        if n == 1 {
            return Ok(());
        }
        // Nothing inserted: classify which uniqueness refused it.
        if self.grant_get(&g.auth_code)?.is_some() {
            Err(StoreError::Constraint(format!(
                "a grant with code `{}` exists",
                g.auth_code
            )))
        } else {
            Err(StoreError::Constraint(format!(
                "an open grant for target `{}` exists (one draft or active grant per target)",
                g.target
            )))
        }
    }

    fn grant_get(&mut self, auth_code: &str) -> Result<Option<GrantRow>, StoreError> {
        let r = self
            .pg()
            .query_typed_opt(
                &format!("SELECT {COLS} FROM grants WHERE auth_code = $1"),
                &[(&auth_code, Type::TEXT)],
            )
            .map_err(map_err)?;
        Ok(r.as_ref().map(row))
    }

    fn grant_open_for_target(&mut self, target: &str) -> Result<Option<GrantRow>, StoreError> {
        let r = self
            .pg()
            .query_typed_opt(
                &format!(
                    "SELECT {COLS} FROM grants WHERE target = $1 AND status IN ('draft', 'active')"
                ),
                &[(&target, Type::TEXT)],
            )
            .map_err(map_err)?;
        Ok(r.as_ref().map(row))
    }

    fn grant_list(&mut self) -> Result<Vec<GrantRow>, StoreError> {
        let rows = self
            .pg()
            .query_typed(
                &format!("SELECT {COLS} FROM grants ORDER BY granted_at DESC, auth_code"),
                &[],
            )
            .map_err(map_err)?;
        Ok(rows.iter().map(row).collect())
    }

    fn grant_consume(&mut self, auth_code: &str, at: i64, by: &str) -> Result<bool, StoreError> {
        self.write(
            "UPDATE grants SET status = 'consumed', consumed_at = $2, consumed_by = $3 \
             WHERE auth_code = $1 AND status = 'active' AND expires_at > $2",
            &[
                (&auth_code, Type::TEXT),
                (&at, Type::INT8),
                (&by, Type::TEXT),
            ],
        )
        .map(|n| n == 1)
    }

    fn grant_revoke(
        &mut self,
        auth_code: &str,
        at: i64,
        by: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        self.write(
            "UPDATE grants SET status = 'revoked', revoked_at = $2, revoked_by = $3, \
             revoked_reason = $4 WHERE auth_code = $1 AND status IN ('draft', 'active')",
            &[
                (&auth_code, Type::TEXT),
                (&at, Type::INT8),
                (&by, Type::TEXT),
                (&reason, Type::TEXT),
            ],
        )
        .map(|n| n == 1)
    }

    fn grant_due(&mut self, now: i64, limit: u64) -> Result<Vec<GrantRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .pg()
            .query_typed(
                &format!(
                    "SELECT {COLS} FROM grants WHERE status = 'active' AND expires_at <= $1 \
                     ORDER BY expires_at LIMIT $2"
                ),
                &[(&now, Type::INT8), (&limit, Type::INT8)],
            )
            .map_err(map_err)?;
        Ok(rows.iter().map(row).collect())
    }

    fn grant_expire(&mut self, auth_code: &str) -> Result<bool, StoreError> {
        self.write(
            "UPDATE grants SET status = 'expired' WHERE auth_code = $1 AND status = 'active'",
            &[(&auth_code, Type::TEXT)],
        )
        .map(|n| n == 1)
    }
}
