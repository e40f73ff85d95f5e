//! Store operations for leases (issue 10: the lease helper owns this file).
//!
//! Add methods prefixed `lease_` with typed rows defined here; implement them for
//! [`super::sqlite::SqliteTx`] in `sqlite/lease.rs` (see the recipe in [`super`]).

/// The lease family's operations on a transaction.
pub trait LeaseOps {}
