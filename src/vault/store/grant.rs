//! Store operations for build grants (issue 10: the lease helper owns this file).
//!
//! Add methods prefixed `grant_` with typed rows defined here; implement them for
//! [`super::sqlite::SqliteTx`] in `sqlite/grant.rs` (see the recipe in [`super`]).

/// The grant family's operations on a transaction.
pub trait GrantOps {}
