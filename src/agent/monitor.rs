//! The run monitor: the detached process that starts one agent, captures its output, serves
//! the runtime socket, and records how the run ended.
//!
//! Contract (the CLI's hidden `agent __monitor` calls [`run`] after `setsid`):
//! - Holds an exclusive lock on `run/<run>/monitor.lock` for its whole life: a free lock on a
//!   run recorded as live means the monitor died (`monitor_lost`).
//! - Makes itself a child subreaper, so the agent's orphaned grandchildren stay below it.
//! - Generates the session token from the OS random source; it lives only in this process and
//!   in the agent's environment: never written to disk, a log, the database or the audit log,
//!   and redacted from the agent's own output.
//! - Starts the agent in its own process group with exactly the environment of the spec plus
//!   `VAULTGATE_SESSION_TOKEN`, stdin on `/dev/null`, stdout and stderr drained by two threads
//!   into [`CappedLog`]s (never blocking the agent on anything but the disk).
//! - When the group leader exits, kills what is left of its group **before** reaping it (the
//!   zombie leader keeps the group id from being reused), then reaps and records the exit:
//!   `stopped` after a requested stop or a 0 exit, `crashed` otherwise.

use std::io::Read as _;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::logs::{CappedLog, LineRedactingWriter, Redactor};
use super::process::{self, Identity};
use super::protocol::{self, FrameError, Message};

/// Everything the monitor needs, written by `agent run` to `run/<run>/spec.json` (no secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The run id.
    pub run_id: String,
    /// The agent id.
    pub agent_id: String,
    /// The program (absolute path, or `mix`).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its working folder.
    pub cwd: PathBuf,
    /// Its whole environment (except the session token).
    pub env: Vec<(String, String)>,
    /// Where `stdout.log` and `stderr.log` go.
    pub log_dir: PathBuf,
    /// Bytes per log file before rotation.
    pub log_cap: u64,
    /// The socket path.
    pub socket: PathBuf,
    /// The lock file proving the monitor alive.
    pub lock: PathBuf,
    /// Heartbeat interval announced in `core.welcome`.
    pub heartbeat_interval_ms: u64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `true`: stopped (requested, or exit 0); `false`: crashed.
    pub stopped: bool,
    /// Exit code, when it exited.
    pub exit_code: Option<i32>,
    /// Signal, when a signal ended it.
    pub signal: Option<i32>,
    /// Bytes of stdout / stderr captured, and dropped by rotation.
    pub stdout: (u64, u64),
    /// Same for stderr.
    pub stderr: (u64, u64),
}

/// Where the monitor records what happens (the vault store, in the product).
pub trait Recorder: Send + Sync {
    /// The agent started (audited `agent.run_started`).
    fn started(&self, agent: &Identity, monitor: &Identity) -> Result<(), String>;
    /// The agent could not start (audited `agent.run_crashed`).
    fn start_failed(&self, why: &str) -> Result<(), String>;
    /// A hello succeeded: the session id is recorded, the heartbeat clock starts.
    fn hello(&self, session_id: &str) -> Result<(), String>;
    /// A heartbeat arrived.
    fn heartbeat(&self) -> Result<(), String>;
    /// A client was refused (audited `security.denied`); `why` holds no secret.
    fn denied(&self, why: &str) -> Result<(), String>;
    /// Was a stop requested for this run?
    fn stop_requested(&self) -> bool;
    /// The run ended (audited `agent.run_stopped` or `agent.run_crashed`).
    fn finished(&self, outcome: &Outcome) -> Result<(), String>;
}

/// Why the monitor could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// A file or socket operation failed.
    #[error("cannot {0}: {1}")]
    Io(String, std::io::Error),
    /// Recording failed.
    #[error("cannot record the run: {0}")]
    Record(String),
    /// The lock is held by another monitor.
    #[error("another monitor holds `{0}`")]
    Locked(PathBuf),
}

fn io(what: &str, p: &Path) -> impl FnOnce(std::io::Error) -> MonitorError {
    let what = format!("{what} `{}`", p.display());
    move |e| MonitorError::Io(what, e)
}

/// A fresh session token: `vgs_` + 64 hex digits from the OS random source.
pub fn new_session_token() -> Result<String, String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| format!("the OS random source failed: {e}"))?;
    Ok(format!("vgs_{}", hex::encode(b)))
}

/// Run the agent of `spec` to its end, recording through `rec`.
// The steps are one sequence whose order is the contract (lock, token, socket, spawn, record,
// drain, serve, wait, kill, reap, record); reading it top to bottom is the point.
#[allow(clippy::too_many_lines)]
pub fn run(spec: &Spec, rec: &Arc<dyn Recorder>) -> Result<Outcome, MonitorError> {
    let lock = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&spec.lock)
        .map_err(io("open", &spec.lock))?;
    if lock.try_lock().is_err() {
        return Err(MonitorError::Locked(spec.lock.clone()));
    }
    // Orphaned grandchildren re-parent to us, not to init, so none escapes the kill below.
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));

    let token = new_session_token().map_err(MonitorError::Record)?;
    let redactor = Redactor::new(std::slice::from_ref(&token));

    std::fs::create_dir_all(&spec.log_dir).map_err(io("create", &spec.log_dir))?;
    let _ = std::fs::remove_file(&spec.socket);
    let listener = UnixListener::bind(&spec.socket).map_err(io("bind", &spec.socket))?;
    std::fs::set_permissions(&spec.socket, std::fs::Permissions::from_mode(0o600))
        .map_err(io("chmod", &spec.socket))?;

    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env("VAULTGATE_SESSION_TOKEN", &token)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let why = format!("cannot start `{}`: {e}", spec.program.display());
            rec.start_failed(&why).map_err(MonitorError::Record)?;
            return Err(MonitorError::Io(
                format!("start `{}`", spec.program.display()),
                e,
            ));
        }
    };
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let me = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    let agent_id = process::identify(pid).map_err(io("identify", Path::new("agent")))?;
    let monitor_id = process::identify(me).map_err(io("identify", Path::new("monitor")))?;
    if let Err(e) = rec.started(&agent_id, &monitor_id) {
        process::kill_group_now(pid);
        let _ = child.wait();
        return Err(MonitorError::Record(e));
    }

    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>, name: &str| {
        let path = spec.log_dir.join(name);
        let cap = spec.log_cap;
        let redactor = redactor.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(drain_pipe(pipe, &path, cap, redactor));
        });
        rx
    };
    // Larger pipes (1 MiB, the default unprivileged maximum) mean fewer wake-ups of the drains
    // per byte the agent writes; a kernel that refuses keeps the default size.
    for fd in [
        child.stdout.as_ref().map(AsFd::as_fd),
        child.stderr.as_ref().map(AsFd::as_fd),
    ]
    .into_iter()
    .flatten()
    {
        let _ = rustix::pipe::fcntl_setpipe_size(fd, 1 << 20);
    }
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        "stdout.log",
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        "stderr.log",
    );

    let shutdown = Arc::new(AtomicBool::new(false));
    let server = {
        let shutdown = Arc::clone(&shutdown);
        let rec = Arc::clone(rec);
        let ctx = Arc::new(Session {
            token,
            agent_id: spec.agent_id.clone(),
            run_id: spec.run_id.clone(),
            interval: spec.heartbeat_interval_ms,
        });
        std::thread::spawn(move || serve(&listener, &shutdown, &ctx, &rec))
    };

    // Wait for the leader's exit without reaping it, kill the rest of its group, then reap.
    let rpid = rustix::process::Pid::from_child(&child);
    let _ = rustix::process::waitid(
        rustix::process::WaitId::Pid(rpid),
        rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOWAIT,
    );
    process::kill_group_now(pid);
    let status = child.wait().map_err(io("wait for", Path::new("agent")))?;
    // Reap the grandchildren the kill re-parented to us (we are their subreaper); a process that
    // left the group and lives on is not waited for beyond the bound.
    let reap_until = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        match rustix::process::wait(rustix::process::WaitOptions::NOHANG) {
            Ok(Some(_)) => {}
            Ok(None) if std::time::Instant::now() < reap_until => {
                std::thread::sleep(Duration::from_millis(2));
            }
            _ => break,
        }
    }

    shutdown.store(true, Ordering::SeqCst);
    let _ = UnixStream::connect(&spec.socket);
    let _ = server.join();
    let _ = std::fs::remove_file(&spec.socket);

    // The group is dead, so the pipes reach end of file at once, unless a process that left
    // the group (its own `setsid`) still holds one: then stop waiting after a bound.
    let bound = Duration::from_secs(5);
    let stdout = out
        .recv_timeout(bound)
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let stderr = err
        .recv_timeout(bound)
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let exit_code = status.code();
    let signal = status.signal();
    let stopped = exit_code == Some(0) || rec.stop_requested();
    let outcome = Outcome {
        stopped,
        exit_code,
        signal,
        stdout,
        stderr,
    };
    rec.finished(&outcome).map_err(MonitorError::Record)?;
    drop(lock);
    Ok(outcome)
}

/// Copy one of the agent's pipes into its capped, redacted log until end of file.
fn drain_pipe(
    pipe: Option<Box<dyn std::io::Read + Send>>,
    path: &Path,
    cap: u64,
    redactor: Redactor,
) -> std::io::Result<(u64, u64)> {
    let mut w = LineRedactingWriter::new(CappedLog::create(path, cap)?, redactor);
    if let Some(mut pipe) = pipe {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    // A full disk must not block the agent: drop and keep draining.
                    let _ = w.feed(&buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
    w.finish()
}

struct Session {
    token: String,
    agent_id: String,
    run_id: String,
    interval: u64,
}

fn serve(
    listener: &UnixListener,
    shutdown: &AtomicBool,
    s: &Arc<Session>,
    rec: &Arc<dyn Recorder>,
) {
    for conn in listener.incoming() {
        if shutdown.load(Ordering::SeqCst) {
            break;
        }
        let Ok(conn) = conn else { continue };
        let s = Arc::clone(s);
        let rec = Arc::clone(rec);
        std::thread::spawn(move || connection(conn, &s, &rec));
    }
}

fn refuse(conn: &mut UnixStream, rec: &Arc<dyn Recorder>, code: &str, why: &str) {
    let _ = rec.denied(why);
    let _ = protocol::write_frame(
        conn,
        &Message::new(
            "core.error",
            serde_json::json!({"code": code, "message": why}),
        ),
    );
    let _ = conn.shutdown(std::net::Shutdown::Both);
}

fn connection(mut conn: UnixStream, s: &Session, rec: &Arc<dyn Recorder>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let hello = match protocol::read_frame(&mut conn) {
        Ok(m) => m,
        Err(FrameError::Closed) => return,
        Err(e) => return refuse(&mut conn, rec, "bad-frame", &e.to_string()),
    };
    if let Err(why) = protocol::check_hello(&hello, &s.token, &s.agent_id) {
        return refuse(&mut conn, rec, "hello-refused", &why);
    }
    let session_id = uuid::Uuid::new_v4().to_string();
    if rec.hello(&session_id).is_err() {
        return;
    }
    let welcome = Message::new(
        "core.welcome",
        serde_json::json!({"run_id": s.run_id, "heartbeat_interval_ms": s.interval, "session_id": session_id}),
    );
    if protocol::write_frame(&mut conn, &welcome).is_err() {
        return;
    }
    let _ = conn.set_read_timeout(None);
    loop {
        match protocol::read_frame(&mut conn) {
            Ok(m) if m.kind == "agent.heartbeat" => {
                let _ = rec.heartbeat();
            }
            Ok(m) => {
                let why = format!(
                    "message type `{}` is not part of protocol {}",
                    crate::report::escape_for_display(&m.kind),
                    protocol::PROTOCOL
                );
                return refuse(&mut conn, rec, "unknown-type", &why);
            }
            Err(FrameError::Closed) => return,
            Err(e) => return refuse(&mut conn, rec, "bad-frame", &e.to_string()),
        }
    }
}
