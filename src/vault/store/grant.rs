//! Store operations for build grants (issue 10: the lease helper owns this file).
//!
//! Invariants every implementation keeps (and `conformance::grant` checks): at most one
//! `draft` or `active` grant per target, enforced by the database (SQLite: a partial unique
//! index), so two racing inserts cannot both succeed whatever the application checked first;
//! consume is a compare-and-swap `active` → `consumed` that succeeds for exactly one caller,
//! with `consumed_at` and `consumed_by` set together; `revoked_at`/`revoked_by`/`revoked_reason`
//! are set together, exactly when the status is `revoked`; `commit_allowed` and
//! `requires_sovereign_esign` can only be false.

use super::StoreError;

/// One grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    /// `GBA-C1-<apr_code>` (unique).
    pub auth_code: String,
    /// The build target (one draft/active grant each).
    pub target: String,
    /// Namespace.
    pub namespace: String,
    /// Axis.
    pub axis: String,
    /// `draft`, `active`, `consumed`, `revoked`, `expired`.
    pub status: String,
    /// Always false.
    pub commit_allowed: bool,
    /// Always false.
    pub requires_sovereign_esign: bool,
    /// Unix seconds.
    pub granted_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// The request's reference.
    pub request_ref: String,
    /// Canonical JSON `{apr_code, quorum, manifest_hash}`.
    pub approval_ref: String,
    /// Canonical JSON `{plan_ref, manifest_hash, step_name, mode}`.
    pub evidence: String,
    /// The rollback plan's reference.
    pub rollback_plan_ref: String,
    /// The accessor that minted it.
    pub granted_by: String,
    /// Unix seconds, when consumed.
    pub consumed_at: Option<i64>,
    /// Who consumed it.
    pub consumed_by: Option<String>,
    /// Unix seconds, when revoked.
    pub revoked_at: Option<i64>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Why.
    pub revoked_reason: Option<String>,
}

/// The grant family's operations on a transaction.
pub trait GrantOps {
    /// Insert a grant. A second draft/active grant for the same target, or a duplicate
    /// `auth_code`, is [`StoreError::Constraint`].
    fn grant_insert(&mut self, row: &GrantRow) -> Result<(), StoreError>;
    /// A grant by code.
    fn grant_get(&mut self, auth_code: &str) -> Result<Option<GrantRow>, StoreError>;
    /// The draft or active grant of a target, if any.
    fn grant_open_for_target(&mut self, target: &str) -> Result<Option<GrantRow>, StoreError>;
    /// Every grant, newest first.
    fn grant_list(&mut self) -> Result<Vec<GrantRow>, StoreError>;
    /// Compare-and-swap `active` and unexpired at `at` → `consumed`; `true` for the one
    /// caller that changed it.
    fn grant_consume(&mut self, auth_code: &str, at: i64, by: &str) -> Result<bool, StoreError>;
    /// `active` → `revoked` with the triple; `true` when this call changed it.
    fn grant_revoke(
        &mut self,
        auth_code: &str,
        at: i64,
        by: &str,
        reason: &str,
    ) -> Result<bool, StoreError>;
    /// Active grants whose expiry is at or before `now`, at most `limit`.
    fn grant_due(&mut self, now: i64, limit: u64) -> Result<Vec<GrantRow>, StoreError>;
    /// `active` → `expired`; `true` when this call changed it.
    fn grant_expire(&mut self, auth_code: &str) -> Result<bool, StoreError>;
}
