//! Store operations for the agent catalog and runs (issue 11: the agent helper owns this file).
//!
//! Add methods prefixed `agent_` with typed rows defined here; implement them for
//! [`super::sqlite::SqliteTx`] in `sqlite/agent.rs` (see the recipe in [`super`]).

/// The agent family's operations on a transaction.
pub trait AgentOps {}
