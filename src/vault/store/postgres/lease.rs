//! PostgreSQL implementation of [`crate::vault::store::LeaseOps`] and the lease family's migrations.

use super::PgTx;
use crate::vault::store::{LeaseOps, Migration};

/// The lease family's migrations (the same versions as `sqlite/lease.rs`).
pub const MIGRATIONS: &[Migration] = &[];

impl LeaseOps for PgTx<'_> {}
