//! Store operations for assets, ingests and bind contracts (issue 10: the lease helper owns this file).
//!
//! Add methods prefixed `registry_` with typed rows defined here; implement them for
//! [`super::sqlite::SqliteTx`] in `sqlite/registry.rs` (see the recipe in [`super`]).

/// The registry family's operations on a transaction.
pub trait RegistryOps {}
