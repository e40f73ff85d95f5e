//! PostgreSQL implementation of [`crate::vault::store::RegistryOps`] and the registry family's migrations.

use super::PgTx;
use crate::vault::store::{Migration, RegistryOps};

/// The registry family's migrations (the same versions as `sqlite/registry.rs`).
pub const MIGRATIONS: &[Migration] = &[];

impl RegistryOps for PgTx<'_> {}
