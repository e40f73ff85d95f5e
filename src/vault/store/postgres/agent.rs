//! PostgreSQL implementation of [`crate::vault::store::AgentOps`] and the agent family's migrations.

use super::PgTx;
use crate::vault::store::{AgentOps, Migration};

/// The agent family's migrations (the same versions as `sqlite/agent.rs`).
pub const MIGRATIONS: &[Migration] = &[];

impl AgentOps for PgTx<'_> {}
