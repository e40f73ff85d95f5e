//! Store operations for the agent catalog, approvals and runs (the agent family, issue 11).
//!
//! Rows are plain structs; lists (permissions, capabilities) travel as `Vec<String>` and are
//! stored by the implementation as canonical JSON text. Times are Unix seconds (`*_at`) for
//! catalog and approval rows and Unix milliseconds (`*_ms`) for runs, whose heartbeats need
//! sub-second resolution.
//!
//! Invariants every store keeps (checked by `conformance/agent.rs`):
//! - at most one **live** run (`starting` or `running`) per agent: inserting a second one is a
//!   [`StoreError::Constraint`];
//! - a run's status only takes the values of [`RUN_STATUSES`], a build status those of
//!   [`BUILD_STATUSES`];
//! - `put` operations are upserts keyed by the id and round-trip every field.

use super::StoreError;

/// Every run status.
pub const RUN_STATUSES: &[&str] = &["starting", "running", "stopped", "crashed"];
/// Every build status.
pub const BUILD_STATUSES: &[&str] = &["none", "building", "built", "failed"];

/// One catalog entry: the discovered manifest plus install and build state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCatalogRow {
    /// The manifest id.
    pub agent_id: String,
    /// Display name.
    pub name: String,
    /// Version string.
    pub version: String,
    /// Description.
    pub description: String,
    /// Where the manifest was discovered.
    pub manifest_path: String,
    /// SHA-256 (hex) of the manifest bytes.
    pub manifest_hash: String,
    /// SHA-256 (hex) of the sorted, de-duplicated permission array.
    pub permissions_hash: String,
    /// Requested permissions in manifest order.
    pub permissions: Vec<String>,
    /// `command`, `mix_task` or `release`.
    pub entrypoint_type: String,
    /// The entrypoint's value.
    pub entrypoint_value: String,
    /// `source.git_url`.
    pub git_url: String,
    /// `source.ref`.
    pub git_ref: Option<String>,
    /// Declared capabilities.
    pub capabilities: Vec<String>,
    /// First discovery (Unix seconds).
    pub discovered_at: i64,
    /// Last change of the manifest fields (Unix seconds).
    pub updated_at: i64,
    /// The installed commit, if installed.
    pub installed_commit: Option<String>,
    /// The ref it was installed from.
    pub installed_ref: Option<String>,
    /// When (Unix seconds).
    pub installed_at: Option<i64>,
    /// One of [`BUILD_STATUSES`].
    pub build_status: String,
    /// The commit the build status is about.
    pub build_commit: Option<String>,
    /// Build start (Unix seconds).
    pub build_started_at: Option<i64>,
    /// Build end (Unix seconds).
    pub build_finished_at: Option<i64>,
    /// Why a build failed (secret-free).
    pub build_message: Option<String>,
}

/// The current approval of an agent (one row per agent; a re-approval replaces it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentApprovalRow {
    /// The agent.
    pub agent_id: String,
    /// Approved permissions, sorted and de-duplicated.
    pub approved: Vec<String>,
    /// The requested-permissions hash the approval is bound to.
    pub permissions_hash: String,
    /// The manifest hash at approval time.
    pub manifest_hash: String,
    /// The entrypoint (`type:value`) the approval is bound to.
    pub entrypoint: String,
    /// Who approved (token accessor).
    pub approved_by: String,
    /// When (Unix seconds).
    pub approved_at: i64,
    /// When revoked, if it was.
    pub revoked_at: Option<i64>,
    /// Who revoked.
    pub revoked_by: Option<String>,
}

/// One run of an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRunRow {
    /// UUID v4.
    pub run_id: String,
    /// The agent.
    pub agent_id: String,
    /// One of [`RUN_STATUSES`].
    pub status: String,
    /// Who asked for it (token accessor).
    pub requested_by: String,
    /// The installed commit that runs.
    pub commit: String,
    /// Row creation (Unix ms).
    pub created_ms: i64,
    /// Agent start (Unix ms).
    pub started_ms: Option<i64>,
    /// End (Unix ms).
    pub ended_ms: Option<i64>,
    /// The agent's pid (also its process group id).
    pub pid: Option<i64>,
    /// Field 22 of `/proc/<pid>/stat`.
    pub start_time: Option<i64>,
    /// The boot id of the pid.
    pub boot_id: Option<String>,
    /// The monitor's pid.
    pub monitor_pid: Option<i64>,
    /// The monitor's start time.
    pub monitor_start_time: Option<i64>,
    /// The runtime-protocol session, after a successful hello.
    pub session_id: Option<String>,
    /// The last heartbeat (Unix ms).
    pub last_heartbeat_ms: Option<i64>,
    /// The interval announced to the agent.
    pub heartbeat_interval_ms: i64,
    /// When a stop was requested (Unix ms).
    pub stop_requested_ms: Option<i64>,
    /// Exit code.
    pub exit_code: Option<i64>,
    /// Terminating signal.
    pub signal: Option<i64>,
    /// `exited`, `signalled`, `stopped`, `monitor_lost`, `start_failed`.
    pub reason: Option<String>,
}

/// The agent family's operations on a transaction.
pub trait AgentOps {
    /// One catalog entry.
    fn agent_catalog_get(&mut self, agent_id: &str) -> Result<Option<AgentCatalogRow>, StoreError>;
    /// Every catalog entry, by id.
    fn agent_catalog_list(&mut self) -> Result<Vec<AgentCatalogRow>, StoreError>;
    /// Insert or replace a catalog entry.
    fn agent_catalog_put(&mut self, row: &AgentCatalogRow) -> Result<(), StoreError>;
    /// An agent's approval, revoked or not.
    fn agent_approval_get(
        &mut self,
        agent_id: &str,
    ) -> Result<Option<AgentApprovalRow>, StoreError>;
    /// Insert or replace an agent's approval.
    fn agent_approval_put(&mut self, row: &AgentApprovalRow) -> Result<(), StoreError>;
    /// One run.
    fn agent_run_get(&mut self, run_id: &str) -> Result<Option<AgentRunRow>, StoreError>;
    /// Insert or replace a run (a second live run of one agent is a constraint error).
    fn agent_run_put(&mut self, row: &AgentRunRow) -> Result<(), StoreError>;
    /// The agent's live run (`starting` or `running`), if any.
    fn agent_run_live(&mut self, agent_id: &str) -> Result<Option<AgentRunRow>, StoreError>;
    /// The newest runs (of one agent, or all), newest first, at most `limit`.
    fn agent_run_list(
        &mut self,
        agent_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AgentRunRow>, StoreError>;
}
