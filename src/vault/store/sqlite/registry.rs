//! SQLite implementation of [`crate::vault::store::RegistryOps`] and the registry family's migrations.

use super::SqliteTx;
use crate::vault::store::{Migration, RegistryOps};

/// The registry family's migrations (see the numbering rule in [`crate::vault::store`]).
pub const MIGRATIONS: &[Migration] = &[];

impl RegistryOps for SqliteTx<'_> {}
