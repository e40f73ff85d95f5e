//! Store operations for leases (issue 10: the lease helper owns this file).
//!
//! Invariants every implementation keeps (and `conformance::lease` checks): a lease is
//! `active`, `revoked` or `expired`; `revoked_at`, `revoked_by` and `revoked_reason` are set
//! together or not at all, and exactly when the status is `revoked` (a database constraint,
//! so no code path can write a partial triple); state changes are compare-and-swap from
//! `active`; finding the leases due to expire costs O(due), not O(all) (an index on expiry).

use super::StoreError;

/// One lease's metadata (the material is a sealed secret with id `secret_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    /// `vgl_<32 hex>`.
    pub handle: String,
    /// The bind contract's ingest.
    pub ingest_id: String,
    /// Granted scopes, sorted.
    pub scopes: Vec<String>,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// `active`, `revoked`, `expired`.
    pub status: String,
    /// The accessor that minted it.
    pub issued_by: String,
    /// Hex SHA-256 of the domain-prefixed material.
    pub fingerprint: String,
    /// The sealed secret's id (the material is gone once the lease is not active).
    pub secret_id: String,
    /// Unix seconds, when revoked.
    pub revoked_at: Option<i64>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Why.
    pub revoked_reason: Option<String>,
    /// Unix seconds, when the sweep expired it.
    pub expired_at: Option<i64>,
}

/// Which leases to list.
#[derive(Debug, Clone, Default)]
pub struct LeaseFilter {
    /// Only this contract's.
    pub ingest_id: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// At most this many (newest first).
    pub limit: Option<u64>,
}

/// The lease family's operations on a transaction.
pub trait LeaseOps {
    /// Insert a new (active) lease.
    fn lease_insert(&mut self, row: &LeaseRow) -> Result<(), StoreError>;
    /// A lease by handle.
    fn lease_get(&mut self, handle: &str) -> Result<Option<LeaseRow>, StoreError>;
    /// Leases matching a filter, newest first.
    fn lease_list(&mut self, filter: &LeaseFilter) -> Result<Vec<LeaseRow>, StoreError>;
    /// Active leases of a contract.
    fn lease_count_active(&mut self, ingest_id: &str) -> Result<u64, StoreError>;
    /// Active leases whose expiry is at or before `now`, soonest first, at most `limit`.
    fn lease_due(&mut self, now: i64, limit: u64) -> Result<Vec<LeaseRow>, StoreError>;
    /// `active` → `expired` at `at`; `true` when this call changed it.
    fn lease_expire(&mut self, handle: &str, at: i64) -> Result<bool, StoreError>;
    /// `active` → `revoked` with the triple set together; `true` when this call changed it.
    fn lease_revoke(
        &mut self,
        handle: &str,
        at: i64,
        by: &str,
        reason: &str,
    ) -> Result<bool, StoreError>;
}
