//! `vaultgate provider|asset|ingest|lease …`: argv → typed requests for [`crate::lease`],
//! reports → printer. `lease exec` exits with the child's code.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};

use super::Ctx;
use super::vault::{caller, open};
use crate::exit::{EXIT_CODES_HELP, ExitStatus};
use crate::lease::exec::{DEFAULT_ENV, Delivery};
use crate::lease::registry::{self, BindRequest, Failure};
use crate::lease::report::RefusedReport;
use crate::lease::rules::{DEFAULT_MAX_ACTIVE, LeaseStatus, Phase};
use crate::lease::service::{self, MintRequest};
use crate::vault::store::lease::LeaseFilter;

fn help(examples: &str) -> String {
    format!("Examples:\n{examples}\n\n{EXIT_CODES_HELP}")
}

/// `provider …`.
#[derive(Debug, Subcommand)]
pub enum ProviderCmd {
    /// Add a provider (or more capabilities to one) in the home's configuration; needs `provider:manage`
    #[command(after_help = help("  vaultgate provider add gemini --capability ai.gemini.inference"))]
    Add {
        /// The provider's name
        name: String,
        /// A capability it offers (repeat for several), e.g. `ai.gemini.inference`
        #[arg(long = "capability", value_name = "C", required = true)]
        capabilities: Vec<String>,
    },
}

/// `asset …`.
#[derive(Debug, Subcommand)]
pub enum AssetCmd {
    /// Register a project folder as an asset with an owner; needs `asset:register`
    #[command(after_help = help("  vaultgate asset register c1-vocab --owner team-c1 --path ./c1-vocab"))]
    Register {
        /// The asset's name (the project a token may be bound to)
        name: String,
        /// Who owns it
        #[arg(long, value_name = "O")]
        owner: String,
        /// The project folder
        #[arg(long, value_name = "DIR")]
        path: PathBuf,
    },
    /// List the registered assets; needs `asset:read`
    #[command(after_help = help("  vaultgate asset list --json"))]
    List,
}

/// The phases a contract can be bound in (mapped onto [`Phase`]).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PhaseArg {
    /// Building: leases allowed
    Build,
    /// Releasing: leases allowed
    Release,
    /// Under review: no leases
    Review,
    /// Retired: no leases
    Retired,
}

impl From<PhaseArg> for Phase {
    fn from(p: PhaseArg) -> Self {
        match p {
            PhaseArg::Build => Phase::Build,
            PhaseArg::Release => Phase::Release,
            PhaseArg::Review => Phase::Review,
            PhaseArg::Retired => Phase::Retired,
        }
    }
}

/// `ingest …`.
#[derive(Debug, Subcommand)]
pub enum IngestCmd {
    /// Read a project's declared capabilities, resolve them, record its manifest digest; needs `ingest:scan`
    ///
    /// Reads `vaultgate.capabilities.json` at the folder's root and hashes the folder's files
    /// as `manifest generate` would. Runs no project code.
    #[command(after_help = help("  vaultgate ingest scan ./c1-vocab"))]
    Scan {
        /// The project folder
        dir: PathBuf,
    },
    /// Create the bind contract of an ingest, with its eligibility verdict; needs `ingest:bind`
    ///
    /// Exit 0 when the contract is eligible (PASS), 1 when it is recorded ineligible (FAIL,
    /// every reason listed).
    #[command(after_help = help("  vaultgate ingest bind ing_… --scope ai.gemini.inference --max-ttl 1h"))]
    Bind(BindArgs),
    /// Show one ingest and its contract; needs `ingest:read`
    #[command(after_help = help("  vaultgate ingest show ing_… --json"))]
    Show {
        /// The ingest id
        id: String,
    },
    /// List every ingest and its contract; needs `ingest:read`
    #[command(after_help = help("  vaultgate ingest list"))]
    List,
}

/// Arguments of `ingest bind`.
#[derive(Debug, Args)]
pub struct BindArgs {
    /// The ingest id `ingest scan` printed
    ingest: String,
    /// An approved scope (repeat); must be among the declared capabilities
    #[arg(long = "scope", value_name = "S", required = true)]
    scopes: Vec<String>,
    /// The longest lease this contract allows (60 s … 24 h), e.g. `15m`
    #[arg(long, value_name = "D")]
    max_ttl: String,
    /// The contract's phase
    #[arg(long, value_enum, default_value_t = PhaseArg::Build, value_name = "P")]
    phase: PhaseArg,
    /// Active leases allowed at once
    #[arg(long, default_value_t = DEFAULT_MAX_ACTIVE, value_name = "N")]
    max_active: u32,
}

/// Lease statuses for `--status`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    /// Usable
    Active,
    /// Revoked
    Revoked,
    /// Expired
    Expired,
}

/// `lease …`.
#[derive(Debug, Subcommand)]
pub enum LeaseCmd {
    /// Mint a lease under a bind contract; needs `lease:mint`
    ///
    /// Only when every check passes: the contract exists, its phase allows leases, it is
    /// eligible, a TTL is given and lies within 60 s … the contract's maximum, every scope is
    /// inside the contract, the active-lease cap is not reached. Prints metadata only (handle,
    /// scopes, times, fingerprint). A refusal persists nothing but one `VIOLATION` audit row.
    #[command(after_help = help("  vaultgate lease mint --ingest ing_… --scope ai.gemini.inference --ttl 10m"))]
    Mint {
        /// The bind contract (its ingest id)
        #[arg(long, value_name = "ID")]
        ingest: String,
        /// A scope (repeat); each inside the contract's scopes
        #[arg(long = "scope", value_name = "S")]
        scopes: Vec<String>,
        /// How long the lease lasts, e.g. `10m` (required: without it the mint is refused)
        #[arg(long, value_name = "D")]
        ttl: Option<String>,
    },
    /// Revoke a lease and destroy its material; `lease:revoke` (own) or `lease:revoke-any`
    #[command(after_help = help("  vaultgate lease revoke vgl_… --reason 'build finished'"))]
    Revoke {
        /// The lease handle
        handle: String,
        /// Why (recorded with the revocation)
        #[arg(long, value_name = "R")]
        reason: String,
    },
    /// List leases (metadata only); needs `lease:read`
    #[command(after_help = help("  vaultgate lease list --ingest ing_… --status active"))]
    List {
        /// Only this contract's
        #[arg(long, value_name = "ID")]
        ingest: Option<String>,
        /// Only this status
        #[arg(long, value_enum, value_name = "S")]
        status: Option<StatusArg>,
        /// At most this many (newest first)
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
    /// Show one lease (metadata only); needs `lease:read`
    #[command(after_help = help("  vaultgate lease show vgl_… --json"))]
    Show {
        /// The lease handle
        handle: String,
    },
    /// Run a command with the lease's secret; needs `lease:exec`
    ///
    /// No shell; a cleared environment (PATH, HOME, USER, LOGNAME, LANG, LC_ALL, LC_CTYPE,
    /// TERM, TZ, TMPDIR) plus the secret as 64 hex digits in `--env NAME` (default
    /// `VAULTGATE_LEASE_SECRET`), or with `--file` in a 0600 file in a private folder whose path
    /// is in `VAULTGATE_LEASE_FILE` (removed when the child ends). Never the caller's
    /// `VAULTGATE_TOKEN`. Core dumps off; signals forwarded; exits with the child's code.
    /// Revocation and expiry stop further use through vaultgate, not a copy the child keeps.
    #[command(after_help = help("  vaultgate lease exec vgl_… --env API_KEY -- ./build.sh --release\n  vaultgate lease exec vgl_… --file -- ./upload.sh"))]
    Exec {
        /// The lease handle
        handle: String,
        /// Put the secret in this environment variable
        #[arg(long, value_name = "NAME", conflicts_with = "file")]
        env: Option<String>,
        /// Deliver the secret in a private file instead
        #[arg(long)]
        file: bool,
        /// The command and its arguments (after `--`)
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<OsString>,
    },
    /// Expire what is due (every lease and grant command does this first); needs `lease:sweep`
    #[command(after_help = help("  vaultgate lease sweep --json"))]
    Sweep,
}

fn seconds(flag: &str, text: &str) -> Result<u64> {
    crate::clock::parse_duration(text)
        .map(|d| d.as_secs())
        .map_err(|e| anyhow::anyhow!("`{flag}`: {e}"))
}

fn finish<R: crate::output::Render>(
    ctx: &Ctx,
    command: &'static str,
    r: Result<R, Failure>,
) -> Result<ExitStatus> {
    match r {
        Ok(report) => Ok(ctx.printer.emit(&report)),
        Err(Failure::Refused { refusal, audit_seq }) => Ok(ctx.printer.emit(&RefusedReport {
            command,
            code: refusal.code,
            message: refusal.message,
            audit_seq,
        })),
        Err(Failure::Error(e)) => Err(e.into()),
    }
}

/// Run a `provider` command.
pub fn provider(cmd: ProviderCmd, ctx: &Ctx) -> Result<ExitStatus> {
    let ProviderCmd::Add { name, capabilities } = cmd;
    let mut v = open(ctx)?;
    let r = registry::provider_add(&mut v, &caller(ctx), &name, &capabilities);
    finish(ctx, "provider add", r)
}

/// Run an `asset` command.
pub fn asset(cmd: AssetCmd, ctx: &Ctx) -> Result<ExitStatus> {
    let mut v = open(ctx)?;
    let who = caller(ctx);
    match cmd {
        AssetCmd::Register { name, owner, path } => {
            let r = registry::asset_register(&mut v, &who, &name, &owner, &path);
            finish(ctx, "asset register", r)
        }
        AssetCmd::List => finish(ctx, "asset list", registry::asset_list(&mut v, &who)),
    }
}

/// Run an `ingest` command.
pub fn ingest(cmd: IngestCmd, ctx: &Ctx) -> Result<ExitStatus> {
    let mut v = open(ctx)?;
    let who = caller(ctx);
    match cmd {
        IngestCmd::Scan { dir } => finish(
            ctx,
            "ingest scan",
            registry::ingest_scan(&mut v, &who, &dir),
        ),
        IngestCmd::Bind(a) => {
            let req = BindRequest {
                ingest: a.ingest,
                scopes: a.scopes,
                max_ttl_secs: seconds("--max-ttl", &a.max_ttl)?,
                phase: a.phase.into(),
                max_active: a.max_active,
            };
            finish(
                ctx,
                "ingest bind",
                registry::ingest_bind(&mut v, &who, &req),
            )
        }
        IngestCmd::Show { id } => finish(
            ctx,
            "ingest show",
            registry::ingest_read(&mut v, &who, Some(&id)),
        ),
        IngestCmd::List => finish(
            ctx,
            "ingest list",
            registry::ingest_read(&mut v, &who, None),
        ),
    }
}

/// Run a `lease` command.
pub fn lease(cmd: LeaseCmd, ctx: &Ctx) -> Result<ExitStatus> {
    let who = caller(ctx);
    match cmd {
        LeaseCmd::Mint {
            ingest,
            scopes,
            ttl,
        } => {
            let ttl_secs = ttl.as_deref().map(|t| seconds("--ttl", t)).transpose()?;
            let mut v = open(ctx)?;
            let req = MintRequest {
                ingest,
                scopes,
                ttl_secs,
            };
            finish(ctx, "lease mint", service::mint(&mut v, &who, &req))
        }
        LeaseCmd::Revoke { handle, reason } => {
            let mut v = open(ctx)?;
            finish(
                ctx,
                "lease revoke",
                service::revoke(&mut v, &who, &handle, &reason),
            )
        }
        LeaseCmd::List {
            ingest,
            status,
            limit,
        } => {
            let mut v = open(ctx)?;
            let filter = LeaseFilter {
                ingest_id: ingest,
                status: status.map(|s| {
                    match s {
                        StatusArg::Active => LeaseStatus::Active,
                        StatusArg::Revoked => LeaseStatus::Revoked,
                        StatusArg::Expired => LeaseStatus::Expired,
                    }
                    .as_str()
                    .to_owned()
                }),
                limit,
            };
            finish(ctx, "lease list", service::list(&mut v, &who, &filter))
        }
        LeaseCmd::Show { handle } => {
            let mut v = open(ctx)?;
            finish(ctx, "lease show", service::show(&mut v, &who, &handle))
        }
        LeaseCmd::Sweep => {
            let mut v = open(ctx)?;
            finish(ctx, "lease sweep", service::sweep_cmd(&mut v, &who))
        }
        LeaseCmd::Exec {
            handle,
            env,
            file,
            command,
        } => {
            let delivery = if file {
                Delivery::File
            } else {
                Delivery::Env(env.unwrap_or_else(|| DEFAULT_ENV.to_owned()))
            };
            let outcome = {
                let mut v = open(ctx)?;
                service::exec(&mut v, &who, &handle, &delivery, &command)
            };
            match outcome {
                Ok(exit) => {
                    // The child's own code is the product of `lease exec`; the vault is
                    // closed and the secret dropped by now.
                    std::process::exit(i32::from(exit.process_code()))
                }
                Err(e) => finish::<crate::lease::report::SweepReport>(ctx, "lease exec", Err(e)),
            }
        }
    }
}
