//! SQLite implementation of [`crate::vault::store::GrantOps`] and the grant family's migrations.

use super::SqliteTx;
use crate::vault::store::{GrantOps, Migration};

/// The grant family's migrations (see the numbering rule in [`crate::vault::store`]).
pub const MIGRATIONS: &[Migration] = &[];

impl GrantOps for SqliteTx<'_> {}
