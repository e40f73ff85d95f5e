//! PostgreSQL implementation of [`crate::vault::store::GrantOps`] and the grant family's migrations.

use super::PgTx;
use crate::vault::store::{GrantOps, Migration};

/// The grant family's migrations (the same versions as `sqlite/grant.rs`).
pub const MIGRATIONS: &[Migration] = &[];

impl GrantOps for PgTx<'_> {}
