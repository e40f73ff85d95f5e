//! `vaultgate init | status | token … | whoami | lockdown … | audit … | key rotate`: argv →
//! typed calls into [`crate::vault`] → a report for the printer.
//!
//! The helpers [`home`], [`caller`], [`open`] and [`refused`] are for every family that uses
//! the vault (lease, grant, agent): one way to locate the home, read the token, boot, and
//! report a refusal.

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::json;

use super::Ctx;
use crate::exit::{EXIT_CODES_HELP, ExitStatus};
use crate::vault::ops::{Authority, NewTokenSpec};
use crate::vault::report::{AUDIT_SCHEMA, SCHEMA, VaultReport};
use crate::vault::store::{AuditFilter, AuditRow, TokenRow};
use crate::vault::{self, ActFailure, Caller, Home, PresentedToken, Vault};

fn help(examples: &str) -> String {
    format!("Examples:\n{examples}\n\n{EXIT_CODES_HELP}")
}

/// The vault's top-level commands (flattened into the main command list).
#[derive(Debug, Subcommand)]
pub enum VaultCmd {
    /// Create a new vault home with a master key, a database and a first admin token
    ///
    /// The home (`--home`, `VAULTGATE_HOME`, default `~/.vaultgate`) must not exist or be an
    /// empty folder: init never overwrites a home or generates a key over a database. The
    /// admin token is printed exactly once.
    #[command(after_help = help(
        "  vaultgate init --home ~/.vaultgate\n  \
         export VAULTGATE_TOKEN=vgt_…   # the token init printed"
    ))]
    Init,

    /// Run every boot step and print its result
    ///
    /// Exit 0 when every step passes, 2 when a step refuses (the step and reason are named),
    /// 1 when `--deep` finds a problem.
    #[command(after_help = help("  vaultgate status\n  vaultgate status --deep --json"))]
    Status {
        /// Also run SQLite's integrity check and walk the whole audit chain
        #[arg(long)]
        deep: bool,
    },

    /// Create, list and revoke tokens
    #[command(subcommand)]
    Token(TokenCmd),

    /// Show who the presented token is and what it may do
    #[command(after_help = help("  VAULTGATE_TOKEN=vgt_… vaultgate whoami"))]
    Whoami,

    /// Turn lockdown (the kill switch) on or off
    ///
    /// While on, every privileged command is refused with `security.denied`. Needs `admin`.
    #[command(subcommand)]
    Lockdown(LockdownCmd),

    /// Read, verify and export the audit log
    #[command(subcommand)]
    Audit(AuditCmd),

    /// Manage the master key
    #[command(subcommand)]
    Key(KeyCmd),

    /// Move the vault's database to another store (PostgreSQL: docs/scale.md)
    #[command(subcommand)]
    Store(StoreCmd),
}

/// `store …`.
#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Copy this SQLite home's state and audit chain into PostgreSQL; needs `admin`
    ///
    /// The target schema (the URL's `search_path`, default `public`) must hold no vaultgate
    /// tables. The chain is verified on the server before the home switches: the anchor is
    /// rewritten for PostgreSQL and `vault.db` is renamed `vault.db.migrated`. Then set
    /// `VAULTGATE_DATABASE_URL` (or `database_url` in config.json, written by this command when
    /// the URL carries no password).
    #[command(after_help = help(
        "  vaultgate store migrate --to postgres://vaultgate_owner@db.internal/vaultgate"
    ))]
    Migrate {
        /// The PostgreSQL URL (`postgres://user@host:port/db`; use `?options=-csearch_path%3DS` for a schema)
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// `token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create a token (printed once); needs `admin`
    #[command(after_help = help(
        "  vaultgate token create --name codex-builder --role 3B-secret-lease --ttl 8h\n  \
         vaultgate token create --name reader --capability audit:read --capability lease:read"
    ))]
    Create(CreateArgs),
    /// List tokens (accessors and capabilities, never secrets); needs `token:read`
    #[command(after_help = help("  vaultgate token list --json"))]
    List,
    /// Revoke a token by accessor; needs `admin`
    #[command(after_help = help("  vaultgate token revoke 0123456789abcdef"))]
    Revoke {
        /// The token's accessor (the 16 hex digits after `vgt_`)
        accessor: String,
    },
}

/// `token create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name for the token, e.g. `codex-builder`
    #[arg(long, value_name = "N")]
    name: String,
    /// A role from the configuration, expanded into its capabilities now
    #[arg(
        long,
        value_name = "R",
        conflicts_with = "capability",
        required_unless_present = "capability"
    )]
    role: Option<String>,
    /// A capability (repeatable), e.g. `lease:mint`, `agent:*`
    #[arg(long, value_name = "C")]
    capability: Vec<String>,
    /// Lifetime, e.g. `8h`, `30m` (default: no expiry)
    #[arg(long, value_name = "D")]
    ttl: Option<String>,
    /// Bind the token to one project
    #[arg(long, value_name = "P")]
    project: Option<String>,
}

/// `lockdown …`.
#[derive(Debug, Subcommand)]
pub enum LockdownCmd {
    /// Refuse every privileged command until `lockdown off`
    #[command(after_help = help("  vaultgate lockdown on --reason 'leaked token suspected'"))]
    On {
        /// Why (recorded in the audit log)
        #[arg(long, value_name = "R")]
        reason: String,
    },
    /// End lockdown
    #[command(after_help = help("  vaultgate lockdown off --reason 'token rotated'"))]
    Off {
        /// Why (recorded in the audit log)
        #[arg(long, value_name = "R")]
        reason: String,
    },
}

/// `audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Print the newest audit rows; needs `audit:read`
    #[command(after_help = help(
        "  vaultgate audit tail -n 20\n  vaultgate audit tail --type security.denied --since 2026-01-01T00:00:00Z"
    ))]
    Tail {
        /// How many rows
        #[arg(short = 'n', long, default_value_t = 20, value_name = "N")]
        lines: u64,
        /// Only this event type
        #[arg(long = "type", value_name = "T")]
        event_type: Option<String>,
        /// Only rows at or after this RFC 3339 UTC instant
        #[arg(long, value_name = "T")]
        since: Option<String>,
    },
    /// Walk the whole chain: every MAC, every link, the head anchor; needs `audit:read`
    ///
    /// With `--export FILE --audit-key-file KEY`, verifies an export offline instead (no
    /// home or token needed).
    #[command(after_help = help(
        "  vaultgate audit verify\n  vaultgate audit verify --export audit.jsonl --audit-key-file audit.key"
    ))]
    Verify {
        /// An export made by `audit export --jsonl`
        #[arg(long, value_name = "FILE", requires = "audit_key_file")]
        export: Option<PathBuf>,
        /// Also check a checkpoint printed by `audit checkpoint` (`SEQ:MAC:TIME`): the row must
        /// still be in the log with that MAC and time (a rewound database is caught)
        #[arg(long, value_name = "CHECKPOINT", conflicts_with = "export")]
        checkpoint: Option<String>,
        /// The audit key (64 hex digits), written by `audit key export`
        #[arg(long, value_name = "FILE", requires = "export")]
        audit_key_file: Option<PathBuf>,
    },
    /// Print the head as a checkpoint `SEQ:MAC:TIME` to keep outside the database; needs `audit:read`
    ///
    /// Publish it somewhere the database's operators cannot rewrite (a CI artifact, a ticket, a
    /// signed commit); `audit verify --checkpoint` later proves the log still holds it.
    #[command(after_help = help(
        "  vaultgate audit checkpoint > checkpoint.txt\n  vaultgate audit verify --checkpoint \"$(cat checkpoint.txt)\""
    ))]
    Checkpoint,
    /// Write the log as JSON Lines: a header, then one canonical row per line; needs `audit:read`
    #[command(after_help = help("  vaultgate audit export --jsonl -o audit.jsonl"))]
    Export {
        /// JSON Lines (the only format; required so the format is explicit)
        #[arg(long, required = true)]
        jsonl: bool,
        /// Write to this file (default: stdout)
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Write the audit MAC key to a 0600 file for offline verification; needs `admin`
    ///
    /// The audit key lets its holder verify (and forge) audit rows, never decrypt secrets.
    #[command(after_help = help("  vaultgate audit key export -o audit.key"))]
    Key {
        /// Must be `export`
        #[arg(value_parser = ["export"])]
        action: String,
        /// The file to create (must not exist)
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

/// `key …`.
#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// New master key; re-wrap every key in one transaction; retire the old one; needs `admin`
    #[command(after_help = help("  vaultgate key rotate"))]
    Rotate,
}

/// The home named by `--home` / `VAULTGATE_HOME` / `~/.vaultgate`.
pub fn home(ctx: &Ctx) -> anyhow::Result<Home> {
    Home::resolve(
        ctx.home.as_deref(),
        None,
        std::env::var_os("HOME").map(PathBuf::from),
    )
    .map_err(anyhow::Error::msg)
}

/// The caller's token: `--token-file`, else `VAULTGATE_TOKEN`, else none.
pub fn caller(ctx: &Ctx) -> Caller {
    if let Some(f) = &ctx.token_file {
        return match PresentedToken::from_file(f) {
            Ok(t) => Caller::Token(t),
            Err(e) => Caller::Malformed(e),
        };
    }
    match std::env::var("VAULTGATE_TOKEN") {
        Ok(t) if !t.is_empty() => {
            let t = vault::SecretString::new(t);
            match PresentedToken::parse(t.expose()) {
                Ok(p) => Caller::Token(p),
                Err(e) => Caller::Malformed(e),
            }
        }
        _ => Caller::Missing,
    }
}

/// Boot the home (every step); a refused step is an error naming it (exit 2).
pub fn open(ctx: &Ctx) -> anyhow::Result<Vault<'_>> {
    let h = home(ctx)?;
    Ok(Vault::open(&h, ctx.clock.as_ref())?)
}

/// Print a refusal (exit 1) or hand an error on (exit 2).
pub fn refused(
    ctx: &Ctx,
    schema: &'static str,
    action: &str,
    f: ActFailure,
) -> anyhow::Result<ExitStatus> {
    match f {
        ActFailure::Refused { refusal, audit_seq } => Ok(ctx
            .printer
            .emit(&VaultReport::refused(schema, action, &refusal, audit_seq))),
        ActFailure::Error(e) => Err(e.into()),
    }
}

fn token_json(t: &TokenRow) -> serde_json::Value {
    json!({
        "accessor": t.accessor, "name": t.name, "capabilities": t.capabilities,
        "role": t.role, "project": t.project, "created_at": t.created_at,
        "expires_at": t.expires_at, "revoked_at": t.revoked_at, "revoked_by": t.revoked_by,
        "created_by": t.created_by,
    })
}

fn row_line(r: &AuditRow) -> String {
    format!(
        "{:>6} {} {:<18} {}:{} {}{} {}",
        r.seq,
        r.at,
        r.event_type,
        r.actor_type,
        r.actor_id,
        r.subject_type.as_deref().unwrap_or("-"),
        r.subject_id
            .as_deref()
            .map(|s| format!(":{s}"))
            .unwrap_or_default(),
        r.metadata
    )
}

/// Run a vault command.
#[allow(clippy::too_many_lines)] // one arm per command, each a few lines
pub fn dispatch(cmd: VaultCmd, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    match cmd {
        VaultCmd::Init => {
            if let Some(url) = crate::vault::store::postgres::selected_url(None) {
                bail!(
                    "{} is set ({}): `init` creates a SQLite home; unset it, run `init`, then `vaultgate store migrate --to URL` (docs/scale.md)",
                    crate::vault::store::postgres::ENV_URL,
                    crate::vault::store::postgres::describe(&url)
                );
            }
            let h = home(ctx)?;
            let out = vault::init::init(&h, ctx.clock.as_ref())?;
            let shown = out.home.display().to_string();
            Ok(ctx.printer.emit(&VaultReport::pass(
                SCHEMA,
                json!({"home": shown, "token": out.token.expose(), "accessor": out.accessor, "key_id": out.key_id}),
                vec![
                    format!("created the vault at {shown} (key id {})", out.key_id),
                    format!("admin token: {}", out.token.expose()),
                    "help: store this token now (e.g. in a 0600 file for --token-file); it is never shown again".into(),
                ],
                format!("vault initialised; admin token accessor {}", out.accessor),
            )))
        }
        VaultCmd::Status { deep } => {
            let h = home(ctx)?;
            let (boot, vault) = vault::boot(&h, ctx.clock.as_ref());
            let mut extra = Vec::new();
            if deep && let Ok(mut v) = vault {
                let problems = v.store().integrity_check()?;
                extra.push((
                    "integrity".to_owned(),
                    (!problems.is_empty()).then_some("db-corrupt"),
                    if problems.is_empty() {
                        "quick_check ok".to_owned()
                    } else {
                        problems.join("; ")
                    },
                ));
                let o = v.audit_verify_chain()?;
                extra.push((
                    "chain".to_owned(),
                    o.issues.first().map(|f| f.code),
                    format!("{} rows, {} problem(s)", o.rows, o.issue_total),
                ));
            }
            let report = VaultReport::status(h.root(), &boot, extra);
            Ok(ctx.printer.emit(&report))
        }
        VaultCmd::Token(t) => token(t, ctx),
        VaultCmd::Whoami => {
            let mut v = open(ctx)?;
            match v.whoami(&caller(ctx)) {
                Ok(p) => Ok(ctx.printer.emit(&VaultReport::pass(
                    SCHEMA,
                    json!({"accessor": p.accessor, "name": p.name, "capabilities": p.capabilities.names(),
                           "role": p.role, "project": p.project, "expires_at": p.expires_at}),
                    vec![
                        format!("token {} ({})", p.accessor, p.name),
                        format!("capabilities: {}", p.capabilities.names().join(", ")),
                    ],
                    format!("authenticated as {}", p.name),
                ))),
                Err(f) => refused(ctx, SCHEMA, "whoami", f),
            }
        }
        VaultCmd::Lockdown(l) => {
            let (on, reason) = match l {
                LockdownCmd::On { reason } => (true, reason),
                LockdownCmd::Off { reason } => (false, reason),
            };
            if reason.trim().is_empty() {
                bail!("`--reason` must not be empty");
            }
            let mut v = open(ctx)?;
            match v.set_lockdown(&caller(ctx), on, &reason) {
                Ok(was) => Ok(ctx.printer.emit(&VaultReport::pass(
                    SCHEMA,
                    json!({"lockdown": on, "was_on": was}),
                    vec![],
                    format!("lockdown {}", if on { "ON" } else { "off" }),
                ))),
                Err(f) => refused(ctx, SCHEMA, "lockdown", f),
            }
        }
        VaultCmd::Audit(a) => audit(a, ctx),
        VaultCmd::Key(KeyCmd::Rotate) => {
            let mut v = open(ctx)?;
            match v.key_rotate(&caller(ctx)) {
                Ok(r) => Ok(ctx.printer.emit(&VaultReport::pass(
                    SCHEMA,
                    json!({"old_key_id": r.old_key_id, "new_key_id": r.new_key_id, "rewrapped": r.rewrapped}),
                    vec![],
                    format!(
                        "master key rotated: {} -> {}, {} data key(s) re-wrapped",
                        r.old_key_id, r.new_key_id, r.rewrapped
                    ),
                ))),
                Err(f) => refused(ctx, SCHEMA, "key rotate", f),
            }
        }
        VaultCmd::Store(StoreCmd::Migrate { to }) => store_migrate(ctx, &to),
    }
}

/// `store migrate --to URL` (see [`crate::vault::store::postgres::migrate`]).
fn store_migrate(ctx: &Ctx, to: &str) -> anyhow::Result<ExitStatus> {
    use crate::vault::store::postgres;
    if postgres::selected_url(None).is_some() {
        bail!(
            "{} is set: `store migrate` reads this home's SQLite database, so unset it for the migration",
            postgres::ENV_URL
        );
    }
    if !postgres::is_postgres_url(to) {
        bail!("`--to` must be a postgres:// or postgresql:// URL");
    }
    let target = postgres::describe(to);
    let mut v = open(ctx)?;
    let act = vault::Act::new("store.migrate", "admin");
    if let Err(f) = v.act(&caller(ctx), &act, |tx, who| {
        tx.append(
            vault::NewEvent::new("store.migrate", who.actor())
                .subject("store", "postgres")
                .meta(vault::Metadata::new().str("target", target.clone())),
        )?;
        Ok(())
    }) {
        return refused(ctx, SCHEMA, "store migrate", f);
    }
    let out = postgres::migrate::migrate(&mut v, to)?;
    let h = v.home().clone();
    let config = v.config().clone();
    drop(v);
    let db = h.db_path();
    let moved = db.with_extension("db.migrated");
    std::fs::rename(&db, &moved)
        .with_context(|| format!("cannot rename `{}` after the migration", db.display()))?;
    for side in ["-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{side}", db.display()));
        if p.exists() {
            std::fs::rename(&p, format!("{}{side}", moved.display()))
                .with_context(|| format!("cannot rename `{}`", p.display()))?;
        }
    }
    let has_password = std::str::FromStr::from_str(to)
        .ok()
        .is_some_and(|c: ::postgres::Config| c.get_password().is_some());
    let wrote_config = if has_password {
        false
    } else {
        let mut raw = config.raw().clone();
        raw.database_url = Some(to.to_owned());
        let valid = vault::config::ValidConfig::validate(raw, &h.config_path())?;
        vault::config::save(h.root(), &valid)?;
        true
    };
    let mut lines: Vec<String> = out
        .tables
        .iter()
        .map(|(t, n)| format!("{t}: {n} row(s)"))
        .collect();
    lines.push(format!(
        "the chain verified on the server up to row {} (MAC {})",
        out.head_seq, out.head_mac
    ));
    lines.push(format!(
        "the SQLite database is kept as `{}`",
        moved.display()
    ));
    lines.push(if wrote_config {
        "config.json now names this database (`database_url`)".into()
    } else {
        format!(
            "help: the URL has a password, so it was not written to config.json: set {} on every machine",
            postgres::ENV_URL
        )
    });
    Ok(ctx.printer.emit(&VaultReport::pass(
        SCHEMA,
        json!({"target": out.target, "tables": out.tables, "head_seq": out.head_seq, "head_mac": out.head_mac, "config_written": wrote_config}),
        lines,
        format!("migrated to {}", out.target),
    )))
}

fn token(t: TokenCmd, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    let mut v = open(ctx)?;
    let who = caller(ctx);
    match t {
        TokenCmd::Create(a) => {
            let ttl = a
                .ttl
                .as_deref()
                .map(crate::clock::parse_duration)
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let spec = NewTokenSpec {
                name: a.name,
                authority: match a.role {
                    Some(r) => Authority::Role(r),
                    None => Authority::Capabilities(a.capability),
                },
                ttl,
                project: a.project,
            };
            match v.token_create(&who, &spec) {
                Ok(c) => {
                    let mut body = token_json(&c.row);
                    if let serde_json::Value::Object(m) = &mut body {
                        m.insert("token".into(), c.text.expose().into());
                    }
                    Ok(ctx.printer.emit(&VaultReport::pass(
                        SCHEMA,
                        body,
                        vec![
                            format!("token: {}", c.text.expose()),
                            format!("capabilities: {}", c.row.capabilities.join(", ")),
                            "help: store this token now; it is never shown again".into(),
                        ],
                        format!("created token {} ({})", c.row.accessor, c.row.name),
                    )))
                }
                Err(f) => refused(ctx, SCHEMA, "token create", f),
            }
        }
        TokenCmd::List => match v.token_list(&who) {
            Ok(rows) => {
                let lines = rows
                    .iter()
                    .map(|t| {
                        format!(
                            "{}  {:<20} {}{}  {}",
                            t.accessor,
                            t.name,
                            if t.revoked_at.is_some() {
                                "revoked "
                            } else {
                                ""
                            },
                            t.project
                                .as_deref()
                                .map(|p| format!("project={p}"))
                                .unwrap_or_default(),
                            t.capabilities.join(",")
                        )
                    })
                    .collect();
                let n = rows.len();
                Ok(ctx.printer.emit(&VaultReport::pass(
                    SCHEMA,
                    json!({"tokens": rows.iter().map(token_json).collect::<Vec<_>>()}),
                    lines,
                    format!("{n} token(s)"),
                )))
            }
            Err(f) => refused(ctx, SCHEMA, "token list", f),
        },
        TokenCmd::Revoke { accessor } => match v.token_revoke(&who, &accessor) {
            Ok(row) => Ok(ctx.printer.emit(&VaultReport::pass(
                SCHEMA,
                token_json(&row),
                vec![],
                format!(
                    "token {} revoked (by {})",
                    row.accessor,
                    row.revoked_by.as_deref().unwrap_or("-")
                ),
            ))),
            Err(f) => refused(ctx, SCHEMA, "token revoke", f),
        },
    }
}

fn audit(a: AuditCmd, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    if let AuditCmd::Verify {
        export: Some(file),
        audit_key_file: Some(keyf),
        ..
    } = &a
    {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(keyf)
                .with_context(|| format!("cannot read `{}`", keyf.display()))?,
        );
        let raw = zeroize::Zeroizing::new(
            hex::decode(text.trim())
                .map_err(|_| anyhow::anyhow!("`{}` is not 64 hex digits", keyf.display()))?,
        );
        let key = vault::crypto::MacKey::from_slice("the audit key", &raw)?;
        let f = crate::fsutil::open(file)?;
        let o = vault::verify::verify_export(&mut BufReader::new(f), &key)?;
        return Ok(ctx.printer.emit(&VaultReport::verify(&o, "export")));
    }
    let mut v = if matches!(a, AuditCmd::Verify { .. }) {
        // Inspection boot: a failed audit check is reported with every finding of the walk
        // instead of stopping at boot.
        let h = home(ctx)?;
        vault::boot_for_inspection(&h, ctx.clock.as_ref()).1?
    } else {
        open(ctx)?
    };
    let who = caller(ctx);
    match a {
        AuditCmd::Tail {
            lines,
            event_type,
            since,
        } => {
            if let Some(s) = &since {
                crate::clock::parse_rfc3339(s)
                    .map_err(|e| anyhow::anyhow!("invalid `--since`: {e}"))?;
            }
            let filter = AuditFilter {
                limit: Some(lines),
                event_type,
                since,
            };
            match v.audit_tail(&who, &filter) {
                Ok(rows) => {
                    let n = rows.len();
                    Ok(ctx.printer.emit(&VaultReport::pass(
                        AUDIT_SCHEMA,
                        json!({"rows": rows.iter().map(vault::verify::row_json).collect::<Vec<_>>()}),
                        rows.iter().map(row_line).collect(),
                        format!("{n} row(s)"),
                    )))
                }
                Err(f) => refused(ctx, AUDIT_SCHEMA, "audit tail", f),
            }
        }
        AuditCmd::Verify { checkpoint, .. } => match v.audit_verify(&who) {
            Ok(mut o) => {
                if let Some(cp) = &checkpoint {
                    check_checkpoint(&mut v, cp, &mut o)?;
                }
                Ok(ctx.printer.emit(&VaultReport::verify(&o, "audit log")))
            }
            Err(f) => refused(ctx, AUDIT_SCHEMA, "audit verify", f),
        },
        AuditCmd::Checkpoint => audit_checkpoint(&mut v, &who, ctx),
        AuditCmd::Export { jsonl: _, output } => {
            let mut buf = Vec::new();
            let res = v.audit_export(&who, &mut buf);
            if res.is_ok() {
                if let Some(path) = &output {
                    crate::fsutil::write_atomic_bytes(path, &buf)?;
                } else {
                    // The export is canonical JSON: ASCII only.
                    return Ok(ctx.printer.product(&String::from_utf8_lossy(&buf)));
                }
            }
            match res {
                Ok(n) => Ok(ctx.printer.emit(&VaultReport::pass(
                    AUDIT_SCHEMA,
                    json!({"rows": n}),
                    vec![],
                    format!("exported {n} row(s)"),
                ))),
                Err(f) => refused(ctx, AUDIT_SCHEMA, "audit export", f),
            }
        }
        AuditCmd::Key { action: _, output } => match v.audit_key_export(&who, &output) {
            Ok(fp) => Ok(ctx.printer.emit(&VaultReport::pass(
                AUDIT_SCHEMA,
                json!({"file": output.display().to_string(), "fingerprint": fp}),
                vec![],
                format!(
                    "audit key (fingerprint {fp}) written to {}",
                    output.display()
                ),
            ))),
            Err(f) => refused(ctx, AUDIT_SCHEMA, "audit key export", f),
        },
    }
}

/// `audit verify --checkpoint SEQ:MAC:TIME`: the checkpointed row must still be in the log,
/// unchanged (its MAC and time), and the log must not end before it. A problem is added to the
/// outcome as an issue (exit 1); a malformed checkpoint is a usage error.
fn check_checkpoint(
    v: &mut Vault<'_>,
    cp: &str,
    o: &mut vault::verify::VerifyOutcome,
) -> anyhow::Result<()> {
    use vault::VaultCode;
    let mut parts = cp.trim().splitn(3, ':');
    let (Some(seq), Some(mac), Some(at)) = (parts.next(), parts.next(), parts.next()) else {
        anyhow::bail!("`--checkpoint` must be `SEQ:MAC:TIME` as printed by `audit checkpoint`");
    };
    let seq: u64 = seq
        .parse()
        .map_err(|_| anyhow::anyhow!("`--checkpoint`: `{seq}` is not a row number"))?;
    if mac.len() != 64 || !mac.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("`--checkpoint`: the MAC must be 64 hex digits");
    }
    let row = {
        let mut tx = v.store().begin(vault::store::TxMode::Read)?;
        tx.audit_get(seq)?
    };
    let issue = match row {
        None => Some((
            VaultCode::AuditTruncated,
            format!(
                "the checkpointed row {seq} is not in the log (it ends at row {}): the database was rewound or cut",
                o.head_seq
            ),
        )),
        Some(r) if r.mac != mac || r.at != at => Some((
            VaultCode::AuditHeadMismatch,
            format!("row {seq} differs from the checkpoint: the log was rewritten or replaced"),
        )),
        Some(_) => None,
    };
    if let Some((code, message)) = issue {
        o.issue_total += 1;
        o.issues
            .push(vault::audit::audit_finding(code, Some(seq), message));
    }
    Ok(())
}

/// `audit checkpoint`: the head as `SEQ:MAC:TIME` (capability `audit:read`).
fn audit_checkpoint(v: &mut Vault<'_>, who: &Caller, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    let filter = AuditFilter {
        limit: Some(1),
        event_type: None,
        since: None,
    };
    match v.audit_tail(who, &filter) {
        Ok(rows) => {
            let Some(r) = rows.last() else {
                anyhow::bail!("the audit log is empty: there is nothing to checkpoint");
            };
            let line = format!("{}:{}:{}", r.seq, r.mac, r.at);
            if ctx.printer.is_json() {
                Ok(ctx.printer.emit(&VaultReport::pass(
                    AUDIT_SCHEMA,
                    json!({"checkpoint": line, "seq": r.seq, "mac": r.mac, "at": r.at}),
                    vec![],
                    format!("checkpoint at row {}", r.seq),
                )))
            } else {
                Ok(ctx.printer.product(&format!("{line}\n")))
            }
        }
        Err(f) => refused(ctx, AUDIT_SCHEMA, "audit checkpoint", f),
    }
}
