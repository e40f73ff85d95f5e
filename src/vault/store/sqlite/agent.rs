//! SQLite implementation of [`AgentOps`] and the agent family's migration (version 3).
//!
//! Lists are stored as canonical JSON arrays of strings; a stored list that is not one is
//! [`StoreError::Corrupt`]. One live run per agent is a partial unique index.

use rusqlite::{OptionalExtension as _, Row, params};
use serde_json::Value;

use super::{SqliteTx, map_err};
use crate::vault::store::agent::{AgentApprovalRow, AgentCatalogRow, AgentRunRow};
use crate::vault::store::{AgentOps, Migration, StoreError};

/// Migration 3: the agent catalog, approvals and runs.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 3,
    name: "agent-catalog-runs",
    sql: r"
CREATE TABLE agent_catalog (
    agent_id          TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL,
    version           TEXT NOT NULL,
    description       TEXT NOT NULL,
    manifest_path     TEXT NOT NULL,
    manifest_hash     TEXT NOT NULL CHECK (length(manifest_hash) = 64),
    permissions_hash  TEXT NOT NULL CHECK (length(permissions_hash) = 64),
    permissions       TEXT NOT NULL,
    entrypoint_type   TEXT NOT NULL CHECK (entrypoint_type IN ('command', 'mix_task', 'release')),
    entrypoint_value  TEXT NOT NULL,
    git_url           TEXT NOT NULL,
    git_ref           TEXT,
    capabilities      TEXT NOT NULL,
    discovered_at     INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    installed_commit  TEXT,
    installed_ref     TEXT,
    installed_at      INTEGER,
    build_status      TEXT NOT NULL CHECK (build_status IN ('none', 'building', 'built', 'failed')),
    build_commit      TEXT,
    build_started_at  INTEGER,
    build_finished_at INTEGER,
    build_message     TEXT
) STRICT;

CREATE TABLE agent_approvals (
    agent_id         TEXT PRIMARY KEY NOT NULL REFERENCES agent_catalog(agent_id),
    approved         TEXT NOT NULL,
    permissions_hash TEXT NOT NULL CHECK (length(permissions_hash) = 64),
    manifest_hash    TEXT NOT NULL CHECK (length(manifest_hash) = 64),
    entrypoint       TEXT NOT NULL,
    approved_by      TEXT NOT NULL,
    approved_at      INTEGER NOT NULL,
    revoked_at       INTEGER,
    revoked_by       TEXT,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
) STRICT;

CREATE TABLE agent_runs (
    run_id                TEXT PRIMARY KEY NOT NULL,
    agent_id              TEXT NOT NULL REFERENCES agent_catalog(agent_id),
    status                TEXT NOT NULL CHECK (status IN ('starting', 'running', 'stopped', 'crashed')),
    requested_by          TEXT NOT NULL,
    commit_id             TEXT NOT NULL,
    created_ms            INTEGER NOT NULL,
    started_ms            INTEGER,
    ended_ms              INTEGER,
    pid                   INTEGER,
    start_time            INTEGER,
    boot_id               TEXT,
    monitor_pid           INTEGER,
    monitor_start_time    INTEGER,
    session_id            TEXT,
    last_heartbeat_ms     INTEGER,
    heartbeat_interval_ms INTEGER NOT NULL CHECK (heartbeat_interval_ms > 0),
    stop_requested_ms     INTEGER,
    exit_code             INTEGER,
    signal                INTEGER,
    reason                TEXT
) STRICT;

CREATE INDEX agent_runs_by_agent ON agent_runs (agent_id, created_ms);
CREATE UNIQUE INDEX agent_runs_one_live ON agent_runs (agent_id)
    WHERE status IN ('starting', 'running');
",
}];

fn list_to_text(v: &[String]) -> Result<String, StoreError> {
    let arr = Value::Array(v.iter().cloned().map(Value::String).collect());
    let bytes = crate::canon::to_bytes(&arr).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn text_to_list(s: &str) -> Result<Vec<String>, StoreError> {
    match crate::canon::parse(s.as_bytes()) {
        Ok(Value::Array(a)) => a
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(StoreError::Corrupt(
                    "a stored agent list holds a non-string".into(),
                )),
            })
            .collect(),
        _ => Err(StoreError::Corrupt(
            "a stored agent list is not a JSON array".into(),
        )),
    }
}

const CATALOG_COLS: &str = "agent_id, name, version, description, manifest_path, manifest_hash, \
    permissions_hash, permissions, entrypoint_type, entrypoint_value, git_url, git_ref, \
    capabilities, discovered_at, updated_at, installed_commit, installed_ref, installed_at, \
    build_status, build_commit, build_started_at, build_finished_at, build_message";

type RawCatalog = (AgentCatalogRow, String, String);

fn catalog_row(r: &Row<'_>) -> rusqlite::Result<RawCatalog> {
    Ok((
        AgentCatalogRow {
            agent_id: r.get(0)?,
            name: r.get(1)?,
            version: r.get(2)?,
            description: r.get(3)?,
            manifest_path: r.get(4)?,
            manifest_hash: r.get(5)?,
            permissions_hash: r.get(6)?,
            permissions: Vec::new(),
            entrypoint_type: r.get(8)?,
            entrypoint_value: r.get(9)?,
            git_url: r.get(10)?,
            git_ref: r.get(11)?,
            capabilities: Vec::new(),
            discovered_at: r.get(13)?,
            updated_at: r.get(14)?,
            installed_commit: r.get(15)?,
            installed_ref: r.get(16)?,
            installed_at: r.get(17)?,
            build_status: r.get(18)?,
            build_commit: r.get(19)?,
            build_started_at: r.get(20)?,
            build_finished_at: r.get(21)?,
            build_message: r.get(22)?,
        },
        r.get(7)?,
        r.get(12)?,
    ))
}

fn finish_catalog((mut row, perms, caps): RawCatalog) -> Result<AgentCatalogRow, StoreError> {
    row.permissions = text_to_list(&perms)?;
    row.capabilities = text_to_list(&caps)?;
    Ok(row)
}

const APPROVAL_COLS: &str = "agent_id, approved, permissions_hash, manifest_hash, entrypoint, \
    approved_by, approved_at, revoked_at, revoked_by";

fn approval_row(r: &Row<'_>) -> rusqlite::Result<(AgentApprovalRow, String)> {
    Ok((
        AgentApprovalRow {
            agent_id: r.get(0)?,
            approved: Vec::new(),
            permissions_hash: r.get(2)?,
            manifest_hash: r.get(3)?,
            entrypoint: r.get(4)?,
            approved_by: r.get(5)?,
            approved_at: r.get(6)?,
            revoked_at: r.get(7)?,
            revoked_by: r.get(8)?,
        },
        r.get(1)?,
    ))
}

const RUN_COLS: &str = "run_id, agent_id, status, requested_by, commit_id, created_ms, started_ms, \
    ended_ms, pid, start_time, boot_id, monitor_pid, monitor_start_time, session_id, \
    last_heartbeat_ms, heartbeat_interval_ms, stop_requested_ms, exit_code, signal, reason";

fn run_row(r: &Row<'_>) -> rusqlite::Result<AgentRunRow> {
    Ok(AgentRunRow {
        run_id: r.get(0)?,
        agent_id: r.get(1)?,
        status: r.get(2)?,
        requested_by: r.get(3)?,
        commit: r.get(4)?,
        created_ms: r.get(5)?,
        started_ms: r.get(6)?,
        ended_ms: r.get(7)?,
        pid: r.get(8)?,
        start_time: r.get(9)?,
        boot_id: r.get(10)?,
        monitor_pid: r.get(11)?,
        monitor_start_time: r.get(12)?,
        session_id: r.get(13)?,
        last_heartbeat_ms: r.get(14)?,
        heartbeat_interval_ms: r.get(15)?,
        stop_requested_ms: r.get(16)?,
        exit_code: r.get(17)?,
        signal: r.get(18)?,
        reason: r.get(19)?,
    })
}

impl AgentOps for SqliteTx<'_> {
    fn agent_catalog_get(&mut self, agent_id: &str) -> Result<Option<AgentCatalogRow>, StoreError> {
        let raw = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {CATALOG_COLS} FROM agent_catalog WHERE agent_id = ?1"
            ))
            .and_then(|mut s| s.query_row([agent_id], catalog_row).optional())
            .map_err(map_err)?;
        raw.map(finish_catalog).transpose()
    }

    fn agent_catalog_list(&mut self) -> Result<Vec<AgentCatalogRow>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {CATALOG_COLS} FROM agent_catalog ORDER BY agent_id"
            ))
            .map_err(map_err)?;
        let rows = stmt.query_map([], catalog_row).map_err(map_err)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(finish_catalog(r.map_err(map_err)?)?);
        }
        Ok(out)
    }

    fn agent_catalog_put(&mut self, row: &AgentCatalogRow) -> Result<(), StoreError> {
        let perms = list_to_text(&row.permissions)?;
        let caps = list_to_text(&row.capabilities)?;
        self.conn()
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO agent_catalog ({CATALOG_COLS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    row.agent_id,
                    row.name,
                    row.version,
                    row.description,
                    row.manifest_path,
                    row.manifest_hash,
                    row.permissions_hash,
                    perms,
                    row.entrypoint_type,
                    row.entrypoint_value,
                    row.git_url,
                    row.git_ref,
                    caps,
                    row.discovered_at,
                    row.updated_at,
                    row.installed_commit,
                    row.installed_ref,
                    row.installed_at,
                    row.build_status,
                    row.build_commit,
                    row.build_started_at,
                    row.build_finished_at,
                    row.build_message,
                ])
            })
            .map(|_| ())
            .map_err(map_err)
    }

    fn agent_approval_get(
        &mut self,
        agent_id: &str,
    ) -> Result<Option<AgentApprovalRow>, StoreError> {
        let raw = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {APPROVAL_COLS} FROM agent_approvals WHERE agent_id = ?1"
            ))
            .and_then(|mut s| s.query_row([agent_id], approval_row).optional())
            .map_err(map_err)?;
        match raw {
            None => Ok(None),
            Some((mut row, approved)) => {
                row.approved = text_to_list(&approved)?;
                Ok(Some(row))
            }
        }
    }

    fn agent_approval_put(&mut self, row: &AgentApprovalRow) -> Result<(), StoreError> {
        let approved = list_to_text(&row.approved)?;
        self.conn()
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO agent_approvals ({APPROVAL_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    row.agent_id,
                    approved,
                    row.permissions_hash,
                    row.manifest_hash,
                    row.entrypoint,
                    row.approved_by,
                    row.approved_at,
                    row.revoked_at,
                    row.revoked_by,
                ])
            })
            .map(|_| ())
            .map_err(map_err)
    }

    fn agent_run_get(&mut self, run_id: &str) -> Result<Option<AgentRunRow>, StoreError> {
        self.conn()
            .prepare_cached(&format!(
                "SELECT {RUN_COLS} FROM agent_runs WHERE run_id = ?1"
            ))
            .and_then(|mut s| s.query_row([run_id], run_row).optional())
            .map_err(map_err)
    }

    fn agent_run_put(&mut self, row: &AgentRunRow) -> Result<(), StoreError> {
        // An upsert that never deletes: `INSERT OR REPLACE` would also delete a conflicting
        // *other* live run, silently breaking the one-live-run invariant.
        self.conn()
            .prepare_cached(&format!(
                "INSERT INTO agent_runs ({RUN_COLS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20) \
                 ON CONFLICT (run_id) DO UPDATE SET \
                 agent_id = excluded.agent_id, status = excluded.status, \
                 requested_by = excluded.requested_by, commit_id = excluded.commit_id, \
                 created_ms = excluded.created_ms, started_ms = excluded.started_ms, \
                 ended_ms = excluded.ended_ms, pid = excluded.pid, start_time = excluded.start_time, \
                 boot_id = excluded.boot_id, monitor_pid = excluded.monitor_pid, \
                 monitor_start_time = excluded.monitor_start_time, session_id = excluded.session_id, \
                 last_heartbeat_ms = excluded.last_heartbeat_ms, \
                 heartbeat_interval_ms = excluded.heartbeat_interval_ms, \
                 stop_requested_ms = excluded.stop_requested_ms, exit_code = excluded.exit_code, \
                 signal = excluded.signal, reason = excluded.reason"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    row.run_id,
                    row.agent_id,
                    row.status,
                    row.requested_by,
                    row.commit,
                    row.created_ms,
                    row.started_ms,
                    row.ended_ms,
                    row.pid,
                    row.start_time,
                    row.boot_id,
                    row.monitor_pid,
                    row.monitor_start_time,
                    row.session_id,
                    row.last_heartbeat_ms,
                    row.heartbeat_interval_ms,
                    row.stop_requested_ms,
                    row.exit_code,
                    row.signal,
                    row.reason,
                ])
            })
            .map(|_| ())
            .map_err(map_err)
    }

    fn agent_run_live(&mut self, agent_id: &str) -> Result<Option<AgentRunRow>, StoreError> {
        self.conn()
            .prepare_cached(&format!(
                "SELECT {RUN_COLS} FROM agent_runs WHERE agent_id = ?1 AND status IN ('starting', 'running')"
            ))
            .and_then(|mut s| s.query_row([agent_id], run_row).optional())
            .map_err(map_err)
    }

    fn agent_run_list(
        &mut self,
        agent_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AgentRunRow>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {RUN_COLS} FROM agent_runs WHERE (?1 IS NULL OR agent_id = ?1) \
                 ORDER BY created_ms DESC, run_id DESC LIMIT ?2"
            ))
            .map_err(map_err)?;
        let rows = stmt
            .query_map(params![agent_id, limit], run_row)
            .map_err(map_err)?;
        rows.map(|r| r.map_err(map_err)).collect()
    }
}
