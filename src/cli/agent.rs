//! `vaultgate agent …`: argv → typed calls into [`crate::agent`] → a report for the printer.
//!
//! A refusal (a missing capability, an unapproved permission, drift, a reused pid) is a
//! verdict: exit 1 with a finding and a `security.denied` audit row. A home that fails to boot,
//! git or the file system failing mean the command could not run: exit 2.

use std::io::{Read as _, Seek as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::Ctx;
use super::vault::{caller, home, open};
use crate::agent::lifecycle;
use crate::agent::runs::{self, RunOptions};
use crate::clock::{self, Clock};
use crate::exit::{ExitStatus, with_exit_codes};
use crate::vault::Vault;

fn help(examples: &str) -> String {
    with_exit_codes(&format!(
        "Examples:\n{examples}\n\nExit 1 when refused (a finding names the reason and a `security.denied` row is audited)."
    ))
}

fn duration(s: &str) -> Result<Duration, String> {
    clock::parse_duration(s)
}

/// Discover, install, build, enable, run and stop OpenSentience agents.
#[derive(Debug, Subcommand)]
pub enum AgentCmd {
    /// Find `opensentience.agent.json` manifests and record them in the catalog
    ///
    /// Walks the roots (default: the configuration's `agents.discovery_roots`, i.e.
    /// `~/Projects` and the home's `agents/`), skipping `.git`, `target` and `node_modules`,
    /// never following links, at most 8 levels deep. Parses manifests without executing
    /// anything. New agents are audited `agent.discovered`, changed ones `agent.updated`;
    /// invalid manifests are reported (exit 1) and stored nowhere.
    #[command(after_help = help("  vaultgate agent discover\n  vaultgate agent discover --root ~/src --root /opt/agents"))]
    Discover {
        /// A folder to walk instead of the configured roots (repeatable)
        #[arg(long = "root", value_name = "DIR")]
        roots: Vec<PathBuf>,
    },

    /// List the catalog with each agent's status and build status
    #[command(after_help = help("  vaultgate agent list\n  vaultgate --json agent list | jq '.agents[].status'"))]
    List,

    /// Show one agent: manifest fields, requested and approved permissions, last run
    #[command(after_help = help("  vaultgate agent info com.example.notes"))]
    Info {
        /// The agent id
        id: String,
    },

    /// Clone the agent's source at a pinned commit (never builds or runs it)
    ///
    /// Runs the real `git` with a cleared environment, a protocol allowlist (https, ssh;
    /// `file` only with `--allow-file-url`), hooks and submodules off, into
    /// `<home>/agents/<id>/src`, detached at the commit the ref resolves to. URLs and refs
    /// that begin with `-` or hold `..`, whitespace or control characters are refused before
    /// git runs.
    #[command(after_help = help("  vaultgate agent install com.example.notes --ref v1.2.0\n  vaultgate agent install com.example.local --allow-file-url"))]
    Install {
        /// The agent id
        id: String,
        /// A tag, branch or commit (default: the manifest's `source.ref`, else the default branch)
        #[arg(long = "ref", value_name = "REF")]
        git_ref: Option<String>,
        /// Allow a `file://` source URL
        #[arg(long)]
        allow_file_url: bool,
    },

    /// Build the installed revision: this executes the agent's code
    ///
    /// Refused without `--trust`. Runs the documented steps for the entrypoint type with no
    /// shell, a cleared environment (`PATH`, `LANG`, `HOME`/`TMPDIR` inside the home) and a
    /// bounded, redacted output kept in `<home>/agents/<id>/build.log`. Audited as crossing the
    /// trust boundary.
    #[command(after_help = help("  vaultgate agent build com.example.notes --trust"))]
    Build {
        /// The agent id
        id: String,
        /// Confirm that you trust the agent's code to run on this machine
        #[arg(long)]
        trust: bool,
        /// Kill the build after this long
        #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = duration)]
        timeout: Duration,
    },

    /// Approve some or all requested permissions, binding the approval to the manifest
    ///
    /// Approved ⊆ requested: any other permission is refused. The approval is bound to the
    /// requested-permissions hash, the manifest hash and the entrypoint; if the permissions
    /// or the entrypoint change, `run` is refused until the agent is enabled again.
    #[command(after_help = help("  vaultgate agent enable com.example.notes --approve filesystem:read:~/notes/**\n  vaultgate agent enable com.example.notes --all"))]
    Enable {
        /// The agent id
        id: String,
        /// A requested permission to approve (repeatable)
        #[arg(long = "approve", value_name = "PERM", conflicts_with = "all")]
        approve: Vec<String>,
        /// Approve every requested permission
        #[arg(long)]
        all: bool,
    },

    /// Revoke the agent's approval (it cannot run until enabled again)
    #[command(after_help = help("  vaultgate agent revoke com.example.notes"))]
    Revoke {
        /// The agent id
        id: String,
    },

    /// Start an enabled agent under a detached monitor; returns once it runs
    ///
    /// The agent runs in its own process group with a cleared environment plus
    /// `VAULTGATE_AGENT_ID`, `VAULTGATE_RUN_ID`, `VAULTGATE_SESSION_TOKEN` (random, never stored)
    /// and `VAULTGATE_SOCKET`. Its stdout and stderr go to capped, rotated, redacted logs.
    #[command(after_help = help("  vaultgate agent run com.example.notes\n  vaultgate agent status com.example.notes"))]
    Run {
        /// The agent id
        id: String,
        /// The heartbeat interval announced to the agent (three missed = `unhealthy`)
        #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration)]
        heartbeat_interval: Duration,
        /// Bytes per log file before it rotates (two files per stream are kept)
        #[arg(long, value_name = "BYTES", default_value_t = runs::LOG_CAP)]
        log_cap: u64,
    },

    /// Stop the agent's run: SIGTERM to its process group, SIGKILL at the timeout
    ///
    /// Refuses to signal a pid whose start time or boot id differ from the run's record.
    #[command(after_help = help("  vaultgate agent stop com.example.notes --timeout 5s"))]
    Stop {
        /// The agent id
        id: String,
        /// How long to wait after SIGTERM before SIGKILL
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
        timeout: Duration,
    },

    /// Show runs: running, unhealthy (three missed heartbeats), stopped, crashed
    ///
    /// A run whose monitor died is shown as `crashed` (`monitor_lost`).
    #[command(after_help = help("  vaultgate agent status\n  vaultgate --json agent status com.example.notes"))]
    Status {
        /// Only this agent's runs
        id: Option<String>,
    },

    /// Print a run's captured stdout and stderr (already redacted)
    #[command(after_help = help("  vaultgate agent logs com.example.notes\n  vaultgate agent logs com.example.notes --follow"))]
    Logs {
        /// The agent id
        id: String,
        /// A run id (default: the latest run)
        #[arg(long, value_name = "RUN")]
        run: Option<String>,
        /// Keep printing new output until the run ends
        #[arg(long)]
        follow: bool,
    },

    /// The run monitor (started by `agent run`; not for direct use)
    #[command(name = "__monitor", hide = true, after_help = help("  (started by `vaultgate agent run`)"))]
    Monitor(MonitorArgs),
}

/// The hidden monitor's arguments.
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// The run to supervise
    #[arg(long)]
    run: String,
}

/// Run an `agent` subcommand.
pub fn dispatch(cmd: AgentCmd, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    if let AgentCmd::Monitor(m) = cmd {
        return monitor(ctx, &m);
    }
    let who = caller(ctx);
    let mut vault = open(ctx)?;
    let v = &mut vault;
    let report = match cmd {
        AgentCmd::Discover { roots } => lifecycle::discover(v, &who, &roots)?,
        AgentCmd::List => runs::list(v, &who)?,
        AgentCmd::Info { id } => runs::info(v, &who, &id)?,
        AgentCmd::Install {
            id,
            git_ref,
            allow_file_url,
        } => lifecycle::install(v, &who, &id, git_ref.as_deref(), allow_file_url)?,
        AgentCmd::Build { id, trust, timeout } => lifecycle::build(v, &who, &id, trust, timeout)?,
        AgentCmd::Enable { id, approve, all } => lifecycle::enable(v, &who, &id, &approve, all)?,
        AgentCmd::Revoke { id } => lifecycle::revoke(v, &who, &id)?,
        AgentCmd::Run {
            id,
            heartbeat_interval,
            log_cap,
        } => {
            let opts = RunOptions {
                heartbeat_interval_ms: u64::try_from(heartbeat_interval.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1),
                log_cap,
                start_deadline: Duration::from_secs(10),
                exe: std::env::current_exe().context("cannot locate the vaultgate executable")?,
                now_override: std::env::var("VAULTGATE_NOW").ok(),
            };
            runs::run(v, &who, &id, &opts)?
        }
        AgentCmd::Stop { id, timeout } => runs::stop(v, &who, &id, timeout)?,
        AgentCmd::Status { id } => runs::status(v, &who, id.as_deref())?,
        AgentCmd::Logs { id, run, follow } => {
            return logs(ctx, v, &who, &id, run.as_deref(), follow);
        }
        AgentCmd::Monitor(_) => unreachable_monitor()?,
    };
    Ok(ctx.printer.emit(&report))
}

fn unreachable_monitor() -> anyhow::Result<crate::agent::report::AgentReport> {
    anyhow::bail!("the monitor subcommand was dispatched twice; this is a bug in vaultgate")
}

fn logs(
    ctx: &Ctx,
    v: &mut Vault<'_>,
    who: &crate::vault::Caller,
    id: &str,
    run: Option<&str>,
    follow: bool,
) -> anyhow::Result<ExitStatus> {
    let (row, files) = match runs::log_files(v, who, id, run)? {
        Ok(x) => x,
        Err(report) => return Ok(ctx.printer.emit(&report)),
    };
    if !follow {
        let mut out = String::new();
        for f in &files {
            let bytes = crate::fsutil::read(f)?;
            out.push_str(&format!(
                "==> {} <==\n",
                f.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ));
            out.push_str(&String::from_utf8_lossy(&bytes));
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        return Ok(ctx.printer.product(&out));
    }
    // Follow the current stdout and stderr files until the run ends.
    let dir = files
        .first()
        .and_then(|f| f.parent())
        .map(PathBuf::from)
        .unwrap_or_default();
    let mut offsets = [0u64, 0u64];
    loop {
        let live = runs::run_is_live(v, &row.run_id)?;
        for (i, name) in ["stdout.log", "stderr.log"].iter().enumerate() {
            let path = dir.join(name);
            let Ok(mut f) = std::fs::File::open(&path) else {
                continue;
            };
            let len = f.metadata().map_or(0, |m| m.len());
            if len < offsets[i] {
                offsets[i] = 0; // rotated
            }
            if len > offsets[i] {
                f.seek(std::io::SeekFrom::Start(offsets[i]))?;
                let mut buf = Vec::new();
                f.take(len - offsets[i]).read_to_end(&mut buf)?;
                offsets[i] = len;
                if ctx.printer.product(&String::from_utf8_lossy(&buf)) == ExitStatus::Error {
                    return Ok(ExitStatus::Error);
                }
            }
        }
        if !live {
            return Ok(ExitStatus::Pass);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn monitor(ctx: &Ctx, m: &MonitorArgs) -> anyhow::Result<ExitStatus> {
    let h = home(ctx)?;
    // The monitor lives as long as the run; its clock must outlive every thread it starts.
    let clock: &'static dyn Clock = Box::leak(clock::from_override(
        std::env::var("VAULTGATE_NOW").ok().as_deref(),
    )?);
    let vault = Vault::open(&h, clock)?;
    runs::monitor_main(vault, &m.run).map_err(anyhow::Error::msg)?;
    Ok(ExitStatus::Pass)
}
