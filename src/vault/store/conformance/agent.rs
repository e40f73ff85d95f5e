//! Conformance tests of the agent family's invariants, written against [`Store`] only.

use super::{Harness, ensure};
use crate::vault::store::agent::{AgentApprovalRow, AgentCatalogRow, AgentRunRow};
use crate::vault::store::{Store, StoreError, TxMode};

fn catalog(id: &str) -> AgentCatalogRow {
    AgentCatalogRow {
        agent_id: id.into(),
        name: "n".into(),
        version: "1".into(),
        description: "d".into(),
        manifest_path: "/p/opensentience.agent.json".into(),
        manifest_hash: "a".repeat(64),
        permissions_hash: "b".repeat(64),
        permissions: vec!["fs:read:/x".into(), "net:egress:e".into()],
        entrypoint_type: "command".into(),
        entrypoint_value: "bin/agent.sh".into(),
        git_url: "https://example.com/a.git".into(),
        git_ref: Some("v1".into()),
        capabilities: vec!["tools".into()],
        discovered_at: 1,
        updated_at: 2,
        installed_commit: None,
        installed_ref: None,
        installed_at: None,
        build_status: "none".into(),
        build_commit: None,
        build_started_at: None,
        build_finished_at: None,
        build_message: None,
    }
}

fn run(id: &str, agent: &str, status: &str) -> AgentRunRow {
    AgentRunRow {
        run_id: id.into(),
        agent_id: agent.into(),
        status: status.into(),
        requested_by: "acc".into(),
        commit: "c".repeat(40),
        created_ms: 10,
        started_ms: None,
        ended_ms: None,
        pid: Some(42),
        start_time: Some(7),
        boot_id: Some("b".into()),
        monitor_pid: None,
        monitor_start_time: None,
        session_id: None,
        last_heartbeat_ms: None,
        heartbeat_interval_ms: 5000,
        stop_requested_ms: None,
        exit_code: None,
        signal: None,
        reason: None,
    }
}

fn put_rows(s: &mut dyn Store) -> Result<(), StoreError> {
    let mut tx = s.begin(TxMode::Write)?;
    tx.agent_catalog_put(&catalog("a"))?;
    tx.agent_approval_put(&AgentApprovalRow {
        agent_id: "a".into(),
        approved: vec!["fs:read:/x".into()],
        permissions_hash: "b".repeat(64),
        manifest_hash: "a".repeat(64),
        entrypoint: "command:bin/agent.sh".into(),
        approved_by: "acc".into(),
        approved_at: 3,
        revoked_at: None,
        revoked_by: None,
    })?;
    tx.agent_run_put(&run("r1", "a", "running"))?;
    tx.commit()
}

/// Rows round-trip every field; upserts replace.
pub fn rows_round_trip(h: &mut dyn Harness) -> Result<(), String> {
    let mut s = h.fresh();
    put_rows(s.as_mut()).map_err(|e| e.to_string())?;
    let mut tx = s.begin(TxMode::Read).map_err(|e| e.to_string())?;
    ensure(
        tx.agent_catalog_get("a").map_err(|e| e.to_string())? == Some(catalog("a")),
        "catalog row round trip",
    )?;
    ensure(
        tx.agent_run_get("r1").map_err(|e| e.to_string())? == Some(run("r1", "a", "running")),
        "run row round trip",
    )?;
    ensure(
        tx.agent_run_live("a").map_err(|e| e.to_string())?.is_some(),
        "live run found",
    )?;
    let a = tx.agent_approval_get("a").map_err(|e| e.to_string())?;
    ensure(
        a.is_some_and(|a| a.approved == ["fs:read:/x"]),
        "approval round trip",
    )
}

/// At most one live run per agent; a finished run frees the slot.
pub fn one_live_run_per_agent(h: &mut dyn Harness) -> Result<(), String> {
    let mut s = h.fresh();
    put_rows(s.as_mut()).map_err(|e| e.to_string())?;
    let mut tx = s.begin(TxMode::Write).map_err(|e| e.to_string())?;
    let second = tx.agent_run_put(&run("r2", "a", "starting"));
    ensure(
        matches!(second, Err(StoreError::Constraint(_))),
        format!("a second live run was accepted: {second:?}"),
    )?;
    drop(tx);
    let mut tx = s.begin(TxMode::Write).map_err(|e| e.to_string())?;
    tx.agent_run_put(&run("r1", "a", "stopped"))
        .map_err(|e| e.to_string())?;
    tx.agent_run_put(&run("r2", "a", "starting"))
        .map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())?;
    let mut tx = s.begin(TxMode::Read).map_err(|e| e.to_string())?;
    let runs = tx
        .agent_run_list(Some("a"), 10)
        .map_err(|e| e.to_string())?;
    ensure(runs.len() == 2, "both runs listed")?;
    let bad = run("r3", "a", "zombie");
    drop(tx);
    let mut tx = s.begin(TxMode::Write).map_err(|e| e.to_string())?;
    ensure(
        tx.agent_run_put(&bad).is_err(),
        "an unknown run status was accepted",
    )
}

/// Run every agent conformance check.
pub fn run_all(harness: &mut dyn Harness) -> Result<(), String> {
    rows_round_trip(harness)?;
    one_live_run_per_agent(harness)
}
