//! SQLite implementation of [`crate::vault::store::LeaseOps`] and the lease family's migrations.

use super::SqliteTx;
use crate::vault::store::{LeaseOps, Migration};

/// The lease family's migrations (see the numbering rule in [`crate::vault::store`]).
pub const MIGRATIONS: &[Migration] = &[];

impl LeaseOps for SqliteTx<'_> {}
