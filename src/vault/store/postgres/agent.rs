//! PostgreSQL implementation of [`AgentOps`] and migration 3 (the agent family's tables, in
//! PostgreSQL's dialect: the same columns, checks, indexes and the same version and name as
//! `sqlite/agent.rs`).
//!
//! Lists are stored as canonical JSON arrays of strings (the same bytes as on SQLite, so
//! `store migrate` copies them unchanged); a stored list that is not one is
//! [`StoreError::Corrupt`]. One live run per agent is a partial unique index; a second one is
//! [`StoreError::Constraint`] and, as on SQLite, leaves the transaction usable.

use postgres::types::Type;
use serde_json::Value;

use super::{PgTx, map_err};
use crate::vault::store::agent::{AgentApprovalRow, AgentCatalogRow, AgentRunRow};
use crate::vault::store::{AgentOps, Migration, StoreError};

/// Migration 3 (the same version and name as `sqlite/agent.rs`).
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
    discovered_at     BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    installed_commit  TEXT,
    installed_ref     TEXT,
    installed_at      BIGINT,
    build_status      TEXT NOT NULL CHECK (build_status IN ('none', 'building', 'built', 'failed')),
    build_commit      TEXT,
    build_started_at  BIGINT,
    build_finished_at BIGINT,
    build_message     TEXT
);

CREATE TABLE agent_approvals (
    agent_id         TEXT PRIMARY KEY NOT NULL REFERENCES agent_catalog (agent_id),
    approved         TEXT NOT NULL,
    permissions_hash TEXT NOT NULL CHECK (length(permissions_hash) = 64),
    manifest_hash    TEXT NOT NULL CHECK (length(manifest_hash) = 64),
    entrypoint       TEXT NOT NULL,
    approved_by      TEXT NOT NULL,
    approved_at      BIGINT NOT NULL,
    revoked_at       BIGINT,
    revoked_by       TEXT,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);

CREATE TABLE agent_runs (
    run_id                TEXT PRIMARY KEY NOT NULL,
    agent_id              TEXT NOT NULL REFERENCES agent_catalog (agent_id),
    status                TEXT NOT NULL CHECK (status IN ('starting', 'running', 'stopped', 'crashed')),
    requested_by          TEXT NOT NULL,
    commit_id             TEXT NOT NULL,
    created_ms            BIGINT NOT NULL,
    started_ms            BIGINT,
    ended_ms              BIGINT,
    pid                   BIGINT,
    start_time            BIGINT,
    boot_id               TEXT,
    monitor_pid           BIGINT,
    monitor_start_time    BIGINT,
    session_id            TEXT,
    last_heartbeat_ms     BIGINT,
    heartbeat_interval_ms BIGINT NOT NULL CHECK (heartbeat_interval_ms > 0),
    stop_requested_ms     BIGINT,
    exit_code             BIGINT,
    signal                BIGINT,
    reason                TEXT
);

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

/// `col = EXCLUDED.col` for every column but the key (the first), for an upsert.
fn set_excluded(cols: &str) -> String {
    cols.split(',')
        .map(str::trim)
        .skip(1)
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const CATALOG_COLS: &str = "agent_id, name, version, description, manifest_path, manifest_hash, \
    permissions_hash, permissions, entrypoint_type, entrypoint_value, git_url, git_ref, \
    capabilities, discovered_at, updated_at, installed_commit, installed_ref, installed_at, \
    build_status, build_commit, build_started_at, build_finished_at, build_message";

fn catalog_row(r: &postgres::Row) -> Result<AgentCatalogRow, StoreError> {
    let perms: String = r.get(7);
    let caps: String = r.get(12);
    Ok(AgentCatalogRow {
        agent_id: r.get(0),
        name: r.get(1),
        version: r.get(2),
        description: r.get(3),
        manifest_path: r.get(4),
        manifest_hash: r.get(5),
        permissions_hash: r.get(6),
        permissions: text_to_list(&perms)?,
        entrypoint_type: r.get(8),
        entrypoint_value: r.get(9),
        git_url: r.get(10),
        git_ref: r.get(11),
        capabilities: text_to_list(&caps)?,
        discovered_at: r.get(13),
        updated_at: r.get(14),
        installed_commit: r.get(15),
        installed_ref: r.get(16),
        installed_at: r.get(17),
        build_status: r.get(18),
        build_commit: r.get(19),
        build_started_at: r.get(20),
        build_finished_at: r.get(21),
        build_message: r.get(22),
    })
}

const APPROVAL_COLS: &str = "agent_id, approved, permissions_hash, manifest_hash, entrypoint, \
    approved_by, approved_at, revoked_at, revoked_by";

fn approval_row(r: &postgres::Row) -> Result<AgentApprovalRow, StoreError> {
    let approved: String = r.get(1);
    Ok(AgentApprovalRow {
        agent_id: r.get(0),
        approved: text_to_list(&approved)?,
        permissions_hash: r.get(2),
        manifest_hash: r.get(3),
        entrypoint: r.get(4),
        approved_by: r.get(5),
        approved_at: r.get(6),
        revoked_at: r.get(7),
        revoked_by: r.get(8),
    })
}

const RUN_COLS: &str = "run_id, agent_id, status, requested_by, commit_id, created_ms, started_ms, \
    ended_ms, pid, start_time, boot_id, monitor_pid, monitor_start_time, session_id, \
    last_heartbeat_ms, heartbeat_interval_ms, stop_requested_ms, exit_code, signal, reason";

fn run_row(r: &postgres::Row) -> AgentRunRow {
    AgentRunRow {
        run_id: r.get(0),
        agent_id: r.get(1),
        status: r.get(2),
        requested_by: r.get(3),
        commit: r.get(4),
        created_ms: r.get(5),
        started_ms: r.get(6),
        ended_ms: r.get(7),
        pid: r.get(8),
        start_time: r.get(9),
        boot_id: r.get(10),
        monitor_pid: r.get(11),
        monitor_start_time: r.get(12),
        session_id: r.get(13),
        last_heartbeat_ms: r.get(14),
        heartbeat_interval_ms: r.get(15),
        stop_requested_ms: r.get(16),
        exit_code: r.get(17),
        signal: r.get(18),
        reason: r.get(19),
    }
}

impl AgentOps for PgTx<'_> {
    fn agent_catalog_get(&mut self, agent_id: &str) -> Result<Option<AgentCatalogRow>, StoreError> {
        let r = self
            .pg()
            .query_typed_opt(
                &format!("SELECT {CATALOG_COLS} FROM agent_catalog WHERE agent_id = $1"),
                &[(&agent_id, Type::TEXT)],
            )
            .map_err(map_err)?;
        r.as_ref().map(catalog_row).transpose()
    }

    fn agent_catalog_list(&mut self) -> Result<Vec<AgentCatalogRow>, StoreError> {
        let rows = self
            .pg()
            .query_typed(
                &format!("SELECT {CATALOG_COLS} FROM agent_catalog ORDER BY agent_id"),
                &[],
            )
            .map_err(map_err)?;
        rows.iter().map(catalog_row).collect()
    }

    fn agent_catalog_put(&mut self, row: &AgentCatalogRow) -> Result<(), StoreError> {
        let perms = list_to_text(&row.permissions)?;
        let caps = list_to_text(&row.capabilities)?;
        self.write(
            &format!(
                "INSERT INTO agent_catalog ({CATALOG_COLS}) VALUES ({}) \
                 ON CONFLICT (agent_id) DO UPDATE SET {}",
                placeholders(23),
                set_excluded(CATALOG_COLS)
            ),
            &[
                (&row.agent_id, Type::TEXT),
                (&row.name, Type::TEXT),
                (&row.version, Type::TEXT),
                (&row.description, Type::TEXT),
                (&row.manifest_path, Type::TEXT),
                (&row.manifest_hash, Type::TEXT),
                (&row.permissions_hash, Type::TEXT),
                (&perms, Type::TEXT),
                (&row.entrypoint_type, Type::TEXT),
                (&row.entrypoint_value, Type::TEXT),
                (&row.git_url, Type::TEXT),
                (&row.git_ref, Type::TEXT),
                (&caps, Type::TEXT),
                (&row.discovered_at, Type::INT8),
                (&row.updated_at, Type::INT8),
                (&row.installed_commit, Type::TEXT),
                (&row.installed_ref, Type::TEXT),
                (&row.installed_at, Type::INT8),
                (&row.build_status, Type::TEXT),
                (&row.build_commit, Type::TEXT),
                (&row.build_started_at, Type::INT8),
                (&row.build_finished_at, Type::INT8),
                (&row.build_message, Type::TEXT),
            ],
        )
        .map(|_| ())
    }

    fn agent_approval_get(
        &mut self,
        agent_id: &str,
    ) -> Result<Option<AgentApprovalRow>, StoreError> {
        let r = self
            .pg()
            .query_typed_opt(
                &format!("SELECT {APPROVAL_COLS} FROM agent_approvals WHERE agent_id = $1"),
                &[(&agent_id, Type::TEXT)],
            )
            .map_err(map_err)?;
        r.as_ref().map(approval_row).transpose()
    }

    fn agent_approval_put(&mut self, row: &AgentApprovalRow) -> Result<(), StoreError> {
        let approved = list_to_text(&row.approved)?;
        self.write(
            &format!(
                "INSERT INTO agent_approvals ({APPROVAL_COLS}) VALUES ({}) \
                 ON CONFLICT (agent_id) DO UPDATE SET {}",
                placeholders(9),
                set_excluded(APPROVAL_COLS)
            ),
            &[
                (&row.agent_id, Type::TEXT),
                (&approved, Type::TEXT),
                (&row.permissions_hash, Type::TEXT),
                (&row.manifest_hash, Type::TEXT),
                (&row.entrypoint, Type::TEXT),
                (&row.approved_by, Type::TEXT),
                (&row.approved_at, Type::INT8),
                (&row.revoked_at, Type::INT8),
                (&row.revoked_by, Type::TEXT),
            ],
        )
        .map(|_| ())
    }

    fn agent_run_get(&mut self, run_id: &str) -> Result<Option<AgentRunRow>, StoreError> {
        let r = self
            .pg()
            .query_typed_opt(
                &format!("SELECT {RUN_COLS} FROM agent_runs WHERE run_id = $1"),
                &[(&run_id, Type::TEXT)],
            )
            .map_err(map_err)?;
        Ok(r.as_ref().map(run_row))
    }

    fn agent_run_put(&mut self, row: &AgentRunRow) -> Result<(), StoreError> {
        // An upsert keyed by the run id only: a conflict with *another* live run of the agent
        // (the partial unique index) is a constraint error, rolled back alone by `write`'s
        // savepoint so the transaction stays usable, as on SQLite.
        self.write(
            &format!(
                "INSERT INTO agent_runs ({RUN_COLS}) VALUES ({}) \
                 ON CONFLICT (run_id) DO UPDATE SET {}",
                placeholders(20),
                set_excluded(RUN_COLS)
            ),
            &[
                (&row.run_id, Type::TEXT),
                (&row.agent_id, Type::TEXT),
                (&row.status, Type::TEXT),
                (&row.requested_by, Type::TEXT),
                (&row.commit, Type::TEXT),
                (&row.created_ms, Type::INT8),
                (&row.started_ms, Type::INT8),
                (&row.ended_ms, Type::INT8),
                (&row.pid, Type::INT8),
                (&row.start_time, Type::INT8),
                (&row.boot_id, Type::TEXT),
                (&row.monitor_pid, Type::INT8),
                (&row.monitor_start_time, Type::INT8),
                (&row.session_id, Type::TEXT),
                (&row.last_heartbeat_ms, Type::INT8),
                (&row.heartbeat_interval_ms, Type::INT8),
                (&row.stop_requested_ms, Type::INT8),
                (&row.exit_code, Type::INT8),
                (&row.signal, Type::INT8),
                (&row.reason, Type::TEXT),
            ],
        )
        .map(|_| ())
    }

    fn agent_run_live(&mut self, agent_id: &str) -> Result<Option<AgentRunRow>, StoreError> {
        let r = self
            .pg()
            .query_typed_opt(
                &format!(
                    "SELECT {RUN_COLS} FROM agent_runs \
                     WHERE agent_id = $1 AND status IN ('starting', 'running')"
                ),
                &[(&agent_id, Type::TEXT)],
            )
            .map_err(map_err)?;
        Ok(r.as_ref().map(run_row))
    }

    fn agent_run_list(
        &mut self,
        agent_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AgentRunRow>, StoreError> {
        let limit = i64::from(limit);
        let rows = self
            .pg()
            .query_typed(
                &format!(
                    "SELECT {RUN_COLS} FROM agent_runs WHERE ($1::text IS NULL OR agent_id = $1) \
                     ORDER BY created_ms DESC, run_id DESC LIMIT $2"
                ),
                &[(&agent_id, Type::TEXT), (&limit, Type::INT8)],
            )
            .map_err(map_err)?;
        Ok(rows.iter().map(run_row).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_as_canonical_json_and_corruption_is_refused() {
        let v = vec!["b".to_owned(), "a \"q\"".to_owned()];
        let t = list_to_text(&v).unwrap();
        assert_eq!(text_to_list(&t).unwrap(), v);
        assert!(matches!(text_to_list("{}"), Err(StoreError::Corrupt(_))));
        assert!(matches!(text_to_list("[1]"), Err(StoreError::Corrupt(_))));
        assert!(matches!(
            text_to_list("not json"),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn upserts_set_every_column_but_the_key() {
        let s = set_excluded(RUN_COLS);
        assert!(!s.contains("run_id ="), "{s}");
        assert_eq!(s.matches("= EXCLUDED.").count(), 19, "{s}");
        assert_eq!(
            set_excluded(CATALOG_COLS).matches("= EXCLUDED.").count(),
            22
        );
        assert_eq!(
            set_excluded(APPROVAL_COLS).matches("= EXCLUDED.").count(),
            8
        );
        assert_eq!(placeholders(3), "$1, $2, $3");
    }
}
