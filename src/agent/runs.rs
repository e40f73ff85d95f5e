//! Run, stop, status, list, info and logs; the monitor's recorder.
//!
//! Contract:
//! - `run` admits only an enabled agent whose approval is current (no drift against the
//!   catalog or the installed revision), installed and built at the installed commit, with no
//!   live run; the admission and its `agent.run_started` row commit together, then the
//!   detached monitor is started and `run` returns once the agent is running (or reports why
//!   it is not).
//! - `stop` never signals a pid whose start time or boot id differ from the record
//!   (`agent-pid-reused`, `security.denied`); it sends SIGTERM to the group, waits up to the
//!   timeout, then SIGKILL, and waits for the group to be empty.
//! - A live run whose monitor lock is free is shown as `crashed` (`monitor_lost`); `run` and
//!   `stop` record it so.
//! - Heartbeats and the session id are telemetry: written to the run row, not audited.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::build::child_env;
use super::codes::AgentCode;
use super::layout::{Layout, private_dir};
use super::lifecycle::{AgentError, deny, drift, failed, installed_manifest, parse_id, refuse};
use super::manifest::{AgentId, EntrypointType};
use super::monitor::{self, Outcome, Recorder, Spec};
use super::process::{self, Identity, Liveness, Signalled};
use super::report::AgentReport;
use crate::report::{Finding, escape_for_display};
use crate::vault::store::TxMode;
use crate::vault::store::agent::{AgentApprovalRow, AgentCatalogRow, AgentRunRow};
use crate::vault::{Act, ActError, Actor, Caller, Metadata, NewEvent, Severity, Vault};

/// Default heartbeat interval announced to agents.
pub const HEARTBEAT_MS: u64 = 5000;
/// Default per-stream log cap, in bytes per file (two files per stream).
pub const LOG_CAP: u64 = 4 * 1024 * 1024;
/// The longest Unix socket path the kernel accepts (`sun_path` minus the NUL).
const MAX_SOCKET_PATH: usize = 107;
/// How long a `starting` run may lack a monitor lock before it is considered lost.
const START_GRACE_MS: i64 = 30_000;

fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn rfc3339_ms(v: Option<i64>) -> Value {
    match v.and_then(|m| u64::try_from(m).ok()) {
        Some(m) => {
            let t = UNIX_EPOCH + Duration::from_millis(m);
            Value::from(humantime::format_rfc3339_millis(t).to_string())
        }
        None => Value::Null,
    }
}

/// Options of `agent run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Announced in `core.welcome`; three missed intervals show the run `unhealthy`.
    pub heartbeat_interval_ms: u64,
    /// Bytes per log file before rotation.
    pub log_cap: u64,
    /// How long to wait for the monitor to report the agent started.
    pub start_deadline: Duration,
    /// The binary that becomes the monitor (this executable).
    pub exe: PathBuf,
    /// A clock override to hand to the monitor (`--now`), if any.
    pub now_override: Option<String>,
}

/// Is the run's monitor alive (holding its lock)?
pub fn monitor_alive(layout: &Layout, run_id: &str) -> bool {
    let Ok(f) = std::fs::File::open(layout.lock(run_id)) else {
        return false;
    };
    match f.try_lock_shared() {
        Ok(()) => false,
        // Held, or cannot tell: alive (never report a live run as crashed on doubt).
        Err(std::fs::TryLockError::WouldBlock | std::fs::TryLockError::Error(_)) => true,
    }
}

/// The state shown for a run: the stored status, corrected for a lost monitor and missed
/// heartbeats. Returns `(state, reason)`.
pub fn derived_state(layout: &Layout, r: &AgentRunRow, now_ms: i64) -> (String, Option<String>) {
    let live = r.status == "running" || r.status == "starting";
    if !live {
        return (r.status.clone(), r.reason.clone());
    }
    if !monitor_alive(layout, &r.run_id)
        && (r.status == "running" || now_ms - r.created_ms > START_GRACE_MS)
    {
        return ("crashed".into(), Some("monitor_lost".into()));
    }
    if r.status == "starting" {
        return ("starting".into(), None);
    }
    let since = r.last_heartbeat_ms.or(r.started_ms).unwrap_or(r.created_ms);
    if now_ms - since > 3 * r.heartbeat_interval_ms {
        return ("unhealthy".into(), Some("missed_heartbeats".into()));
    }
    ("running".into(), None)
}

fn run_json(layout: &Layout, r: &AgentRunRow, now_ms: i64) -> Value {
    let (state, reason) = derived_state(layout, r, now_ms);
    json!({
        "run_id": r.run_id,
        "agent_id": r.agent_id,
        "state": state,
        "recorded_status": r.status,
        "reason": reason,
        "commit": r.commit,
        "pid": r.pid,
        "start_time": r.start_time,
        "boot_id": r.boot_id,
        "monitor_pid": r.monitor_pid,
        "session": r.session_id.is_some(),
        "created_at": rfc3339_ms(Some(r.created_ms)),
        "started_at": rfc3339_ms(r.started_ms),
        "ended_at": rfc3339_ms(r.ended_ms),
        "last_heartbeat_at": rfc3339_ms(r.last_heartbeat_ms),
        "heartbeat_interval_ms": r.heartbeat_interval_ms,
        "exit_code": r.exit_code,
        "signal": r.signal,
        "log_dir": layout.log_dir(&AgentId::parse(&r.agent_id).unwrap_or_else(|_| placeholder_id()), &r.run_id).display().to_string(),
    })
}

#[allow(clippy::unwrap_used)] // "invalid" matches the id pattern; only shown for a corrupt row.
fn placeholder_id() -> AgentId {
    AgentId::parse("invalid").unwrap()
}

fn run_line(layout: &Layout, r: &AgentRunRow, now_ms: i64) -> String {
    let (state, reason) = derived_state(layout, r, now_ms);
    let mut s = format!("{}  {}  {state}", r.agent_id, r.run_id);
    if let Some(reason) = reason {
        s.push_str(&format!(" ({reason})"));
    }
    if let Some(pid) = r.pid {
        s.push_str(&format!("  pid {pid}"));
    }
    if let Some(c) = r.exit_code {
        s.push_str(&format!("  exit {c}"));
    }
    if let Some(sig) = r.signal {
        s.push_str(&format!(
            "  signal {}",
            process::signal_name(i32::try_from(sig).unwrap_or(0))
        ));
    }
    s
}

/// The agent's status word: `running`, `error`, `stopped`, `enabled`, `installed`, `local_dev`.
fn agent_status(
    layout: &Layout,
    row: &AgentCatalogRow,
    approval: Option<&AgentApprovalRow>,
    last: Option<&AgentRunRow>,
    now_ms: i64,
) -> &'static str {
    let last_state = last.map(|r| derived_state(layout, r, now_ms).0);
    match last_state.as_deref() {
        Some("running" | "starting" | "unhealthy") => return "running",
        Some("crashed") => return "error",
        _ => {}
    }
    if row.build_status == "failed" {
        return "error";
    }
    if last_state.as_deref() == Some("stopped") {
        return "stopped";
    }
    if approval.is_some_and(|a| a.revoked_at.is_none()) {
        return "enabled";
    }
    if row.installed_commit.is_some() {
        return "installed";
    }
    "local_dev"
}

fn now_ms(vault: &mut Vault<'_>) -> Result<i64, AgentError> {
    Ok(ms(vault.effective_now()?))
}

/// `agent list`.
pub fn list(vault: &mut Vault<'_>, caller: &Caller) -> Result<AgentReport, AgentError> {
    let act = Act::new("agent.list", "agent:read").in_lockdown();
    if let Err(f) = vault.authorize_read(caller, &act) {
        return failed("list", "catalog", f);
    }
    let layout = Layout::new(vault.home().root());
    let now = now_ms(vault)?;
    let mut tx = vault.store().begin(TxMode::Read)?;
    let rows = tx.agent_catalog_list()?;
    let mut r = AgentReport::new("list");
    let mut items = Vec::new();
    for row in &rows {
        let approval = tx.agent_approval_get(&row.agent_id)?;
        let last = tx
            .agent_run_list(Some(&row.agent_id), 1)?
            .into_iter()
            .next();
        let status = agent_status(&layout, row, approval.as_ref(), last.as_ref(), now);
        r.lines.push(format!(
            "{:<40} {:<10} build:{:<9} {}",
            row.agent_id, status, row.build_status, row.version
        ));
        items.push(json!({
            "agent_id": row.agent_id,
            "name": row.name,
            "version": row.version,
            "status": status,
            "build_status": row.build_status,
            "installed_commit": row.installed_commit,
            "last_run": last.as_ref().map(|l| run_json(&layout, l, now)),
        }));
    }
    r.summary = format!("{} agents in the catalog", rows.len());
    Ok(r.with("agents", Value::Array(items)))
}

/// `agent info`.
// One field per line of the report.
#[allow(clippy::too_many_lines)]
pub fn info(vault: &mut Vault<'_>, caller: &Caller, id: &str) -> Result<AgentReport, AgentError> {
    let act = Act::new("agent.info", "agent:read").in_lockdown();
    if let Err(f) = vault.authorize_read(caller, &act) {
        return failed("info", id, f);
    }
    let layout = Layout::new(vault.home().root());
    let now = now_ms(vault)?;
    let (row, approval, last) = {
        let mut tx = vault.store().begin(TxMode::Read)?;
        let row = tx.agent_catalog_get(id)?;
        let approval = tx.agent_approval_get(id)?;
        let last = tx.agent_run_list(Some(id), 1)?.into_iter().next();
        (row, approval, last)
    };
    let Some(row) = row else {
        let mut r = AgentReport::refused(
            "info",
            Finding::error(
                AgentCode::NotFound,
                escape_for_display(id),
                format!("no agent `{}` in the catalog", escape_for_display(id)),
            ),
        );
        r.summary = "not found".into();
        return Ok(r);
    };
    let status = agent_status(&layout, &row, approval.as_ref(), last.as_ref(), now);
    let current = approval.as_ref().filter(|a| a.revoked_at.is_none());
    let mut r = AgentReport::new("info");
    r.lines.push(format!("id            {}", row.agent_id));
    r.lines
        .push(format!("name          {}", escape_for_display(&row.name)));
    r.lines.push(format!(
        "version       {}",
        escape_for_display(&row.version)
    ));
    r.lines.push(format!("status        {status}"));
    r.lines.push(format!("build         {}", row.build_status));
    r.lines.push(format!(
        "manifest      {}",
        escape_for_display(&row.manifest_path)
    ));
    r.lines.push(format!(
        "entrypoint    {}:{}",
        row.entrypoint_type, row.entrypoint_value
    ));
    r.lines.push(format!(
        "installed     {}",
        row.installed_commit.as_deref().unwrap_or("-")
    ));
    for p in &row.permissions {
        let mark = if current.is_some_and(|a| a.approved.contains(p)) {
            "approved"
        } else {
            "requested"
        };
        r.lines.push(format!("permission    {p}  ({mark})"));
    }
    if let Some(l) = &last {
        r.lines
            .push(format!("last run      {}", run_line(&layout, l, now)));
    }
    r.summary = format!("`{}` is {status}", row.agent_id);
    Ok(r.with("agent_id", json!(row.agent_id))
        .with("name", json!(row.name))
        .with("version", json!(row.version))
        .with("description", json!(row.description))
        .with("status", json!(status))
        .with("build_status", json!(row.build_status))
        .with("build_message", json!(row.build_message))
        .with("manifest_path", json!(row.manifest_path))
        .with("manifest_hash", json!(row.manifest_hash))
        .with("permissions_hash", json!(row.permissions_hash))
        .with(
            "entrypoint",
            json!({"type": row.entrypoint_type, "value": row.entrypoint_value}),
        )
        .with(
            "source",
            json!({"git_url": row.git_url, "ref": row.git_ref}),
        )
        .with("capabilities", json!(row.capabilities))
        .with("installed_commit", json!(row.installed_commit))
        .with("requested_permissions", json!(row.permissions))
        .with(
            "approved_permissions",
            json!(current.map(|a| a.approved.clone())),
        )
        .with(
            "approval",
            json!(approval.as_ref().map(|a| json!({
                "permissions_hash": a.permissions_hash,
                "manifest_hash": a.manifest_hash,
                "entrypoint": a.entrypoint,
                "approved_by": a.approved_by,
                "revoked": a.revoked_at.is_some(),
            }))),
        )
        .with(
            "last_run",
            json!(last.as_ref().map(|l| run_json(&layout, l, now))),
        ))
}

/// The argv of an entrypoint in `src`.
fn argv(kind: EntrypointType, value: &str, src: &Path) -> (PathBuf, Vec<String>) {
    match kind {
        EntrypointType::Command => (src.join(value), Vec::new()),
        EntrypointType::MixTask => (PathBuf::from("mix"), vec![value.to_owned()]),
        EntrypointType::Release => (src.join(value), vec!["start".to_owned()]),
    }
}

fn lost_run(
    tx: &mut crate::vault::AuditedTx<'_>,
    mut live: AgentRunRow,
    actor: Actor,
) -> Result<(), ActError> {
    live.status = "crashed".into();
    live.reason = Some("monitor_lost".into());
    live.ended_ms = Some(ms(tx.now()));
    tx.ops().agent_run_put(&live)?;
    tx.append(
        NewEvent::new("agent.run_crashed", actor)
            .subject("agent", live.agent_id.clone())
            .severity(Severity::Warning)
            .meta(
                Metadata::new()
                    .str("run_id", live.run_id.clone())
                    .str("reason", "monitor_lost"),
            ),
    )?;
    Ok(())
}

/// `agent run`.
#[allow(clippy::too_many_lines)] // admission, spec, spawn, wait: one sequence
pub fn run(
    vault: &mut Vault<'_>,
    caller: &Caller,
    id: &str,
    opts: &RunOptions,
) -> Result<AgentReport, AgentError> {
    let act = Act::new("agent.run", "agent:run");
    if let Err(f) = vault.authorize_read(caller, &act) {
        return failed("run", id, f);
    }
    let id = match parse_id(vault, caller, &act, id)? {
        Ok(i) => i,
        Err(r) => return Ok(r),
    };
    let layout = Layout::new(vault.home().root());
    let run_id = uuid::Uuid::new_v4().to_string();
    let socket = layout.socket(&run_id);
    if socket.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(AgentError::Other(format!(
            "the runtime socket path `{}` is longer than {MAX_SOCKET_PATH} bytes\nhelp: use a shorter `--home`",
            socket.display()
        )));
    }
    let interval = i64::try_from(opts.heartbeat_interval_ms).unwrap_or(i64::MAX);
    let admitted = vault.act(caller, &act, |tx, who| {
        let sid = id.as_str();
        let Some(row) = tx.ops().agent_catalog_get(sid)? else {
            return Err(refuse(AgentCode::NotFound, sid, format!("no agent `{id}` in the catalog")).into());
        };
        let approval = tx.ops().agent_approval_get(sid)?;
        let Some(approval) = approval.filter(|a| a.revoked_at.is_none()) else {
            return Err(refuse(AgentCode::NotEnabled, sid, format!("`{id}` is not enabled (or its approval was revoked)\nhelp: `vaultgate agent enable {id} --approve PERM…`")).into());
        };
        let Some(commit) = row.installed_commit.clone() else {
            return Err(refuse(AgentCode::NotInstalled, sid, format!("`{id}` is not installed")).into());
        };
        if row.build_status != "built" || row.build_commit.as_deref() != Some(commit.as_str()) {
            return Err(refuse(AgentCode::NotBuilt, sid, format!("`{id}` is not built at its installed commit {commit}\nhelp: `vaultgate agent build {id} --trust`")).into());
        }
        let installed = installed_manifest(&layout, &id)
            .map_err(|m| ActError::from(refuse(AgentCode::InstalledManifestMismatch, sid, m)))?;
        if let Err(why) = drift(&approval, &row, &installed) {
            return Err(refuse(AgentCode::ApprovalDrift, sid, format!("{why}; `{id}` cannot run until it is approved again\nhelp: review the manifest, then `vaultgate agent enable {id} …`")).into());
        }
        if let Some(live) = tx.ops().agent_run_live(sid)? {
            let now = ms(tx.now());
            if derived_state(&layout, &live, now).0 == "crashed" {
                lost_run(tx, live, Actor::system())?;
            } else {
                return Err(refuse(AgentCode::AlreadyRunning, sid, format!("`{id}` is already running (run {})", live.run_id)).into());
            }
        }
        let row_run = AgentRunRow {
            run_id: run_id.clone(),
            agent_id: id.to_string(),
            status: "starting".into(),
            requested_by: who.accessor.clone(),
            commit: commit.clone(),
            created_ms: ms(tx.now()),
            started_ms: None,
            ended_ms: None,
            pid: None,
            start_time: None,
            boot_id: None,
            monitor_pid: None,
            monitor_start_time: None,
            session_id: None,
            last_heartbeat_ms: None,
            heartbeat_interval_ms: interval,
            stop_requested_ms: None,
            exit_code: None,
            signal: None,
            reason: None,
        };
        tx.ops().agent_run_put(&row_run)?;
        tx.append(
            NewEvent::new("agent.run_started", who.actor())
                .subject("agent", id.to_string())
                .meta(
                    Metadata::new()
                        .str("run_id", run_id.clone())
                        .str("commit", commit.clone())
                        .str("entrypoint", approval.entrypoint.clone())
                        .list("approved", approval.approved.clone()),
                ),
        )?;
        Ok(installed.manifest.entrypoint)
    });
    let entrypoint = match admitted {
        Ok(e) => e,
        Err(f) => return failed("run", id.as_str(), f),
    };

    let src = layout.src(&id);
    let (program, args) = argv(entrypoint.kind, &entrypoint.value, &src);
    private_dir(&layout.agent_home(&id))?;
    private_dir(&layout.agent_tmp(&id))?;
    private_dir(&layout.run_dir(&run_id))?;
    private_dir(&layout.log_dir(&id, &run_id))?;
    let mut env: Vec<(String, String)> = child_env(&layout.agent_home(&id), &layout.agent_tmp(&id))
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    env.push(("VAULTGATE_AGENT_ID".into(), id.to_string()));
    env.push(("VAULTGATE_RUN_ID".into(), run_id.clone()));
    env.push(("VAULTGATE_SOCKET".into(), socket.display().to_string()));
    let spec = Spec {
        run_id: run_id.clone(),
        agent_id: id.to_string(),
        program,
        args,
        cwd: src,
        env,
        log_dir: layout.log_dir(&id, &run_id),
        log_cap: opts.log_cap,
        socket,
        lock: layout.lock(&run_id),
        heartbeat_interval_ms: opts.heartbeat_interval_ms,
    };
    let spec_bytes =
        serde_json::to_vec_pretty(&spec).map_err(|e| AgentError::Other(e.to_string()))?;
    crate::fsutil::write_atomic_bytes(&layout.spec(&run_id), &spec_bytes)?;

    let mut cmd = Command::new(&opts.exe);
    cmd.env_clear()
        .arg("agent")
        .arg("__monitor")
        .arg("--run")
        .arg(&run_id)
        .env("VAULTGATE_HOME", vault.home().root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(p) = std::env::var_os("PATH") {
        cmd.env("PATH", p);
    }
    if let Some(n) = &opts.now_override {
        cmd.env("VAULTGATE_NOW", n);
    }
    let start = Instant::now();
    if let Err(e) = cmd.spawn() {
        let why = format!("cannot start the monitor `{}`: {e}", opts.exe.display());
        record_end(vault, &run_id, None, "start_failed")?;
        return Err(AgentError::Other(why));
    }
    // Wait (bounded) for the monitor to report the agent running, or why it is not.
    let deadline = start + opts.start_deadline;
    let row = loop {
        let r = vault.store().begin(TxMode::Read)?.agent_run_get(&run_id)?;
        match r {
            Some(r) if r.status != "starting" => break Some(r),
            _ if Instant::now() >= deadline => break None,
            _ => std::thread::sleep(Duration::from_millis(2)),
        }
    };
    let elapsed = start.elapsed();
    let mut rep = AgentReport::new("run");
    let Some(row) = row else {
        let lost = !monitor_alive(&layout, &run_id);
        if lost {
            record_end(vault, &run_id, None, "monitor_lost")?;
        }
        rep.findings.push(Finding::error(
            AgentCode::RunFailed,
            id.as_str(),
            format!(
                "the monitor did not report the agent started within {}",
                humantime::format_duration(opts.start_deadline)
            ),
        ));
        rep.summary = format!("`{id}` did not start");
        return Ok(rep.with("run_id", json!(run_id)));
    };
    let now = now_ms(vault)?;
    rep.lines.push(run_line(&layout, &row, now));
    if row.status == "running" {
        rep.summary = format!(
            "`{id}` running as run {run_id} (pid {})",
            row.pid.unwrap_or(0)
        );
    } else {
        rep.findings.push(Finding::error(
            AgentCode::RunFailed,
            id.as_str(),
            format!(
                "the agent ended at once ({})",
                row.reason.clone().unwrap_or_else(|| row.status.clone())
            ),
        ));
        rep.summary = format!("`{id}` did not stay up");
    }
    Ok(rep
        .with("run", run_json(&layout, &row, now))
        .with("run_id", json!(run_id))
        .with(
            "elapsed_ms",
            json!(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)),
        ))
}

/// Record a run's end by vaultgate itself (the monitor is gone or never started).
fn record_end(
    vault: &mut Vault<'_>,
    run_id: &str,
    outcome: Option<&Outcome>,
    reason: &str,
) -> Result<(), AgentError> {
    let now = ms(vault.effective_now()?);
    vault.system_act(|tx| {
        let Some(mut row) = tx.ops().agent_run_get(run_id)? else {
            return Err(ActError::Family(format!("run `{run_id}` vanished").into()));
        };
        if row.status != "starting" && row.status != "running" {
            // Already recorded (the monitor won the race): note nothing twice.
            tx.append(
                NewEvent::new("agent.run_checked", Actor::system())
                    .subject("agent", row.agent_id.clone())
                    .meta(
                        Metadata::new()
                            .str("run_id", run_id.to_owned())
                            .str("status", row.status.clone()),
                    ),
            )?;
            return Ok(());
        }
        let stopped = outcome.is_some_and(|o| o.stopped);
        row.status = if stopped { "stopped" } else { "crashed" }.into();
        row.ended_ms = Some(now);
        row.exit_code = outcome.and_then(|o| o.exit_code).map(i64::from);
        row.signal = outcome.and_then(|o| o.signal).map(i64::from);
        row.reason = Some(reason.to_owned());
        tx.ops().agent_run_put(&row)?;
        let event = if stopped {
            "agent.run_stopped"
        } else {
            "agent.run_crashed"
        };
        let mut meta = Metadata::new()
            .str("run_id", run_id.to_owned())
            .str("reason", reason.to_owned());
        if let Some(c) = row.exit_code {
            meta = meta.int("exit_code", c);
        }
        if let Some(s) = row.signal {
            meta = meta.int("signal", s).str(
                "signal_name",
                process::signal_name(i32::try_from(s).unwrap_or(0)),
            );
        }
        tx.append(
            NewEvent::new(event, Actor::system())
                .subject("agent", row.agent_id.clone())
                .severity(if stopped {
                    Severity::Info
                } else {
                    Severity::Warning
                })
                .meta(meta),
        )?;
        Ok(())
    })?;
    Ok(())
}

/// `agent stop`.
#[allow(clippy::too_many_lines)] // identity check, request, TERM, wait, KILL, wait, record
pub fn stop(
    vault: &mut Vault<'_>,
    caller: &Caller,
    id: &str,
    timeout: Duration,
) -> Result<AgentReport, AgentError> {
    let act = Act::new("agent.stop", "agent:stop").in_lockdown();
    if let Err(f) = vault.authorize_read(caller, &act) {
        return failed("stop", id, f);
    }
    let id = match parse_id(vault, caller, &act, id)? {
        Ok(i) => i,
        Err(r) => return Ok(r),
    };
    let layout = Layout::new(vault.home().root());
    let live = vault
        .store()
        .begin(TxMode::Read)?
        .agent_run_live(id.as_str())?;
    let Some(live) = live else {
        return deny(
            vault,
            caller,
            &act,
            id.as_str(),
            refuse(
                AgentCode::NotRunning,
                id.as_str(),
                format!("`{id}` has no live run"),
            ),
        );
    };
    let (Some(pid), Some(start_time), Some(boot_id)) =
        (live.pid, live.start_time, live.boot_id.clone())
    else {
        return deny(
            vault,
            caller,
            &act,
            id.as_str(),
            refuse(
                AgentCode::NotRunning,
                id.as_str(),
                format!(
                    "run {} of `{id}` has not started its agent yet",
                    live.run_id
                ),
            ),
        );
    };
    let ident = Identity {
        pid: i32::try_from(pid).unwrap_or(0),
        start_time: u64::try_from(start_time).unwrap_or(0),
        boot_id,
    };
    let liveness = process::check(&ident)
        .map_err(|e| AgentError::Other(format!("cannot read process {pid}: {e}")))?;
    if liveness == Liveness::Reused {
        return deny(vault, caller, &act, id.as_str(), refuse(
            AgentCode::PidReused,
            id.as_str(),
            format!("pid {pid} of run {} now belongs to another process (its start time differs from the recorded {start_time}); nothing was signalled", live.run_id),
        ).meta(Metadata::new().str("run_id", live.run_id.clone()).int("pid", pid)));
    }
    let run_id = live.run_id.clone();
    let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
    let requested = vault.act(caller, &act, |tx, who| {
        let Some(mut row) = tx.ops().agent_run_get(&run_id)? else {
            return Err(refuse(AgentCode::NotRunning, id.as_str(), "the run vanished").into());
        };
        row.stop_requested_ms = Some(ms(tx.now()));
        tx.ops().agent_run_put(&row)?;
        tx.append(
            NewEvent::new("agent.stop_requested", who.actor())
                .subject("agent", id.to_string())
                .meta(
                    Metadata::new()
                        .str("run_id", run_id.clone())
                        .int("timeout_ms", timeout_ms),
                ),
        )?;
        Ok(())
    });
    if let Err(f) = requested {
        return failed("stop", id.as_str(), f);
    }
    let t0 = Instant::now();
    let mut escalated = false;
    let group = ident.pid;
    let send = |sig| -> Result<Signalled, AgentError> {
        match process::signal_group(&ident, sig)
            .map_err(|e| AgentError::Other(format!("cannot signal group {group}: {e}")))?
        {
            // The leader is gone but members remain: a group id is not reused while any member
            // lives, and the leader's identity was proven above, so the group is still ours.
            Signalled::Gone if process::group_alive(group) => {
                process::kill_group_now_with(group, sig);
                Ok(Signalled::Sent)
            }
            s => Ok(s),
        }
    };
    if send(rustix::process::Signal::TERM)? == Signalled::Reused {
        return deny(
            vault,
            caller,
            &act,
            id.as_str(),
            refuse(
                AgentCode::PidReused,
                id.as_str(),
                format!("pid {pid} was reused before the signal; nothing was signalled"),
            ),
        );
    }
    let term_deadline = t0 + timeout;
    while process::group_alive(group) && Instant::now() < term_deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if process::group_alive(group) {
        escalated = true;
        let _ = send(rustix::process::Signal::KILL)?;
        let kill_deadline = Instant::now() + Duration::from_secs(5);
        while process::group_alive(group) && Instant::now() < kill_deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let group_gone = !process::group_alive(group);
    let stopped_in = t0.elapsed();
    // The monitor records the exit; wait for it (bounded), or record it when it is gone.
    let record_deadline = Instant::now() + Duration::from_secs(5);
    let row = loop {
        let r = vault.store().begin(TxMode::Read)?.agent_run_get(&run_id)?;
        match r {
            Some(r) if r.status != "running" && r.status != "starting" => break Some(r),
            _ if !monitor_alive(&layout, &run_id) => break None,
            _ if Instant::now() >= record_deadline => break None,
            _ => std::thread::sleep(Duration::from_millis(2)),
        }
    };
    if row.is_none() && !monitor_alive(&layout, &run_id) {
        record_end(vault, &run_id, None, "monitor_lost")?;
    }
    let row = vault.store().begin(TxMode::Read)?.agent_run_get(&run_id)?;
    let now = now_ms(vault)?;
    let mut rep = AgentReport::new("stop");
    if let Some(r) = &row {
        rep.lines.push(run_line(&layout, r, now));
    }
    if group_gone {
        rep.summary = format!(
            "`{id}` stopped in {} ms{}",
            stopped_in.as_millis(),
            if escalated {
                " (SIGKILL after the timeout)"
            } else {
                ""
            }
        );
    } else {
        rep.findings.push(Finding::error(
            AgentCode::StopFailed,
            id.as_str(),
            format!("process group {group} survived SIGKILL"),
        ));
        rep.summary = format!("`{id}` did not stop");
    }
    Ok(rep
        .with("run_id", json!(run_id))
        .with("escalated", json!(escalated))
        .with(
            "elapsed_ms",
            json!(u64::try_from(stopped_in.as_millis()).unwrap_or(u64::MAX)),
        )
        .with(
            "run",
            row.map_or(Value::Null, |r| run_json(&layout, &r, now)),
        ))
}

/// `agent status`.
pub fn status(
    vault: &mut Vault<'_>,
    caller: &Caller,
    id: Option<&str>,
) -> Result<AgentReport, AgentError> {
    let act = Act::new("agent.status", "agent:read").in_lockdown();
    if let Err(f) = vault.authorize_read(caller, &act) {
        return failed("status", id.unwrap_or("catalog"), f);
    }
    let layout = Layout::new(vault.home().root());
    let now = now_ms(vault)?;
    let runs = {
        let mut tx = vault.store().begin(TxMode::Read)?;
        if let Some(i) = id {
            tx.agent_run_list(Some(i), 20)?
        } else {
            let mut v = Vec::new();
            for row in tx.agent_catalog_list()? {
                v.extend(tx.agent_run_list(Some(&row.agent_id), 1)?);
            }
            v
        }
    };
    let mut r = AgentReport::new("status");
    for run in &runs {
        r.lines.push(run_line(&layout, run, now));
    }
    let live = runs
        .iter()
        .filter(|x| {
            matches!(
                derived_state(&layout, x, now).0.as_str(),
                "running" | "starting" | "unhealthy"
            )
        })
        .count();
    r.summary = format!("{} runs shown, {live} live", runs.len());
    Ok(r.with(
        "runs",
        Value::Array(runs.iter().map(|x| run_json(&layout, x, now)).collect()),
    ))
}

/// The files of a run's logs, oldest first: `stdout.log.1`, `stdout.log`, `stderr.log.1`,
/// `stderr.log` (those that exist).
pub fn log_files(
    vault: &mut Vault<'_>,
    caller: &Caller,
    id: &str,
    run: Option<&str>,
) -> Result<Result<(AgentRunRow, Vec<PathBuf>), AgentReport>, AgentError> {
    let act = Act::new("agent.logs", "agent:read").in_lockdown();
    if let Err(f) = vault.authorize_read(caller, &act) {
        return failed("logs", id, f).map(Err);
    }
    let Ok(aid) = AgentId::parse(id) else {
        return Ok(Err(AgentReport::refused(
            "logs",
            Finding::error(
                AgentCode::NotFound,
                escape_for_display(id),
                "not an agent id",
            ),
        )));
    };
    let row = {
        let mut tx = vault.store().begin(TxMode::Read)?;
        match run {
            Some(r) => tx.agent_run_get(r)?.filter(|x| x.agent_id == id),
            None => tx.agent_run_list(Some(id), 1)?.into_iter().next(),
        }
    };
    let Some(row) = row else {
        return Ok(Err(AgentReport::refused(
            "logs",
            Finding::error(AgentCode::NotFound, id, format!("`{id}` has no such run")),
        )));
    };
    let layout = Layout::new(vault.home().root());
    let dir = layout.log_dir(&aid, &row.run_id);
    let files = ["stdout.log.1", "stdout.log", "stderr.log.1", "stderr.log"]
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.exists())
        .collect();
    Ok(Ok((row, files)))
}

/// Is the run still live (for `logs --follow`)?
pub fn run_is_live(vault: &mut Vault<'_>, run_id: &str) -> Result<bool, AgentError> {
    let layout = Layout::new(vault.home().root());
    let now = now_ms(vault)?;
    let row = vault.store().begin(TxMode::Read)?.agent_run_get(run_id)?;
    Ok(row.is_some_and(|r| {
        matches!(
            derived_state(&layout, &r, now).0.as_str(),
            "running" | "starting" | "unhealthy"
        )
    }))
}

/// The monitor's recorder: run-row telemetry through the store, ends and denials through
/// audited system acts.
pub struct VaultRecorder {
    vault: Mutex<Vault<'static>>,
    run_id: String,
    agent_id: String,
}

impl VaultRecorder {
    /// Record for `run_id` of `agent_id` in `vault`.
    pub fn new(vault: Vault<'static>, run_id: &str, agent_id: &str) -> Self {
        Self {
            vault: Mutex::new(vault),
            run_id: run_id.to_owned(),
            agent_id: agent_id.to_owned(),
        }
    }

    fn update(
        &self,
        f: impl FnOnce(&mut AgentRunRow, i64) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut v = self
            .vault
            .lock()
            .map_err(|_| "the vault mutex is poisoned".to_owned())?;
        let now = ms(v.clock().now());
        let mut tx = v.store().begin(TxMode::Write).map_err(|e| e.to_string())?;
        let mut row = tx
            .agent_run_get(&self.run_id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("run `{}` is not in the database", self.run_id))?;
        f(&mut row, now)?;
        tx.agent_run_put(&row).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())
    }
}

impl Recorder for VaultRecorder {
    fn started(&self, agent: &Identity, monitor: &Identity) -> Result<(), String> {
        self.update(|row, now| {
            if row.status != "starting" {
                return Err(format!(
                    "run `{}` is `{}`, not starting",
                    row.run_id, row.status
                ));
            }
            row.status = "running".into();
            row.started_ms = Some(now);
            row.pid = Some(i64::from(agent.pid));
            row.start_time = i64::try_from(agent.start_time).ok();
            row.boot_id = Some(agent.boot_id.clone());
            row.monitor_pid = Some(i64::from(monitor.pid));
            row.monitor_start_time = i64::try_from(monitor.start_time).ok();
            Ok(())
        })
    }

    fn start_failed(&self, why: &str) -> Result<(), String> {
        let mut v = self
            .vault
            .lock()
            .map_err(|_| "the vault mutex is poisoned".to_owned())?;
        let run_id = self.run_id.clone();
        let why = why.to_owned();
        let now = ms(v.clock().now());
        v.system_act(|tx| {
            if let Some(mut row) = tx.ops().agent_run_get(&run_id)? {
                row.status = "crashed".into();
                row.reason = Some("start_failed".into());
                row.ended_ms = Some(now);
                tx.ops().agent_run_put(&row)?;
            }
            tx.append(
                NewEvent::new("agent.run_crashed", Actor::system())
                    .subject("agent", self.agent_id.clone())
                    .severity(Severity::Warning)
                    .meta(
                        Metadata::new()
                            .str("run_id", run_id.clone())
                            .str("reason", "start_failed")
                            .str("detail", why.clone()),
                    ),
            )?;
            Ok(())
        })
        .map_err(|e| e.to_string())
    }

    fn hello(&self, session_id: &str) -> Result<(), String> {
        self.update(|row, now| {
            row.session_id = Some(session_id.to_owned());
            row.last_heartbeat_ms = Some(now);
            Ok(())
        })
    }

    fn heartbeat(&self) -> Result<(), String> {
        self.update(|row, now| {
            row.last_heartbeat_ms = Some(now);
            Ok(())
        })
    }

    fn denied(&self, why: &str) -> Result<(), String> {
        let mut v = self
            .vault
            .lock()
            .map_err(|_| "the vault mutex is poisoned".to_owned())?;
        let why = why.to_owned();
        v.system_act(|tx| {
            tx.append(
                NewEvent::new(
                    "security.denied",
                    Actor {
                        actor_type: "anonymous",
                        actor_id: "-".into(),
                    },
                )
                .subject("agent", self.agent_id.clone())
                .severity(Severity::Warning)
                .meta(
                    Metadata::new()
                        .str(
                            "reason",
                            crate::report::FindingCode::as_str(AgentCode::ProtocolDenied),
                        )
                        .str("action", "agent.hello")
                        .str("run_id", self.run_id.clone())
                        .str("detail", why.clone()),
                ),
            )?;
            Ok(())
        })
        .map_err(|e| e.to_string())
    }

    fn stop_requested(&self) -> bool {
        let Ok(mut v) = self.vault.lock() else {
            return false;
        };
        let Ok(mut tx) = v.store().begin(TxMode::Read) else {
            return false;
        };
        tx.agent_run_get(&self.run_id)
            .ok()
            .flatten()
            .is_some_and(|r| r.stop_requested_ms.is_some())
    }

    fn finished(&self, outcome: &Outcome) -> Result<(), String> {
        let mut v = self
            .vault
            .lock()
            .map_err(|_| "the vault mutex is poisoned".to_owned())?;
        let reason = if outcome.signal.is_some() {
            "signalled"
        } else {
            "exited"
        };
        let reason = if outcome.stopped && outcome.exit_code != Some(0) {
            "stopped"
        } else {
            reason
        };
        record_end(&mut v, &self.run_id, Some(outcome), reason).map_err(|e| e.to_string())
    }
}

/// The hidden `agent __monitor --run R`: detach into a new session, then supervise the run.
pub fn monitor_main(vault: Vault<'static>, run_id: &str) -> Result<(), String> {
    // The monitor was started outside any process group of its own, so it is not a group
    // leader and `setsid` succeeds: it leaves the caller's session and terminal.
    rustix::process::setsid().map_err(|e| format!("setsid failed: {e}"))?;
    if uuid::Uuid::parse_str(run_id).is_err() {
        return Err(format!("`{}` is not a run id", escape_for_display(run_id)));
    }
    let layout = Layout::new(vault.home().root());
    let bytes = crate::fsutil::read(&layout.spec(run_id)).map_err(|e| e.to_string())?;
    let spec: Spec =
        serde_json::from_slice(&bytes).map_err(|e| format!("bad monitor spec: {e}"))?;
    if spec.run_id != run_id {
        return Err("the monitor spec names another run".into());
    }
    let agent_id = spec.agent_id.clone();
    let rec: Arc<dyn Recorder> = Arc::new(VaultRecorder::new(vault, run_id, &agent_id));
    monitor::run(&spec, &rec)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
