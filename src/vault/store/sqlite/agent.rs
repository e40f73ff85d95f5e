//! SQLite implementation of [`crate::vault::store::AgentOps`] and the agent family's migrations.

use super::SqliteTx;
use crate::vault::store::{AgentOps, Migration};

/// The agent family's migrations (see the numbering rule in [`crate::vault::store`]).
pub const MIGRATIONS: &[Migration] = &[];

impl AgentOps for SqliteTx<'_> {}
