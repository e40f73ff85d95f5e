//! `vaultgate grant …`: exactly one protocol line per `mint|consume|revoke`
//! (`OK | SKIP:<reason> | FAIL:<reason>`, exit 0 / 0 / 1; 2 with `FAIL:vault_unavailable`
//! when the vault cannot run). Details go to stderr, never input echoed.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

use super::Ctx;
use super::vault::{caller, open};
use crate::exit::{EXIT_CODES_HELP, ExitStatus};
use crate::grant::GrantCode;
use crate::grant::policy::GrantPolicy;
use crate::grant::service::{self, Outcome, ReadFailure};

fn help(examples: &str) -> String {
    format!(
        "Examples:\n{examples}\n\nPrints exactly one line: OK, SKIP:<reason> (exit 0) or FAIL:<reason> (exit 1;\nexit 2 with FAIL:vault_unavailable when the vault cannot be opened).\n\n{EXIT_CODES_HELP}"
    )
}

/// `grant …`.
#[derive(Debug, Subcommand)]
pub enum GrantCmd {
    /// Mint a single-use build grant from an approval request; needs `grant:mint`
    ///
    /// Gates in order: action `authorize_build_step`, commit false, risk not sovereign,
    /// namespace/axis/target allowed by the policy, quorum passed, rollback plan present, no
    /// other draft or active grant for the target. The code is `GBA-C1-<apr_code>`; minting
    /// the same request again prints `OK` without a second grant.
    #[command(after_help = help("  vaultgate grant mint --request fixtures/grant/apr-c1.json"))]
    Mint {
        /// The approval-request record (JSON, see docs/grants.md)
        #[arg(long, value_name = "APR.json")]
        request: PathBuf,
        /// A grant policy file instead of the shipped default (DRYRUN-NS / dot:c1:vocab / DOT_C1_VOCAB_BUILD)
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
    /// Consume a grant (once); needs `grant:consume`
    #[command(after_help = help("  vaultgate grant consume GBA-C1-APR-C1-0001"))]
    Consume {
        /// The grant's auth code
        code: String,
    },
    /// Revoke a grant; needs `grant:revoke`
    #[command(after_help = help("  vaultgate grant revoke GBA-C1-APR-C1-0001 --reason 'plan withdrawn'"))]
    Revoke {
        /// The grant's auth code
        code: String,
        /// Why
        #[arg(long, value_name = "R")]
        reason: String,
    },
    /// List grants; needs `grant:read`
    #[command(after_help = format!("Examples:\n  vaultgate grant list --json\n\n{EXIT_CODES_HELP}"))]
    List,
    /// Show one grant; needs `grant:read`
    #[command(after_help = format!("Examples:\n  vaultgate grant show GBA-C1-APR-C1-0001\n\n{EXIT_CODES_HELP}"))]
    Show {
        /// The grant's auth code
        code: String,
    },
}

fn emit(ctx: &Ctx, o: &Outcome) -> ExitStatus {
    if let (Some(d), Some(_)) = (&o.detail, o.reason) {
        ctx.printer.warn(d);
    }
    ctx.printer.emit(o)
}

/// Run a grant command.
pub fn dispatch(cmd: GrantCmd, ctx: &Ctx) -> Result<ExitStatus> {
    let who = caller(ctx);
    match cmd {
        GrantCmd::Mint { request, policy } => {
            let policy = match policy
                .as_deref()
                .map_or_else(GrantPolicy::shipped, GrantPolicy::load)
            {
                Ok(p) => p,
                Err(e) => {
                    return Ok(emit(
                        ctx,
                        &Outcome::refused("mint", GrantCode::RejectPolicyInvalid, e.to_string()),
                    ));
                }
            };
            let req = match service::read_request(&request) {
                Ok(r) => r,
                Err(o) => return Ok(emit(ctx, &o)),
            };
            let o = match open(ctx) {
                Ok(mut v) => service::mint(&mut v, &who, &req, &policy),
                Err(e) => Outcome::refused("mint", GrantCode::VaultUnavailable, format!("{e:#}")),
            };
            Ok(emit(ctx, &o))
        }
        GrantCmd::Consume { code } => {
            let o = match open(ctx) {
                Ok(mut v) => service::consume(&mut v, &who, &code),
                Err(e) => {
                    Outcome::refused("consume", GrantCode::VaultUnavailable, format!("{e:#}"))
                }
            };
            Ok(emit(ctx, &o))
        }
        GrantCmd::Revoke { code, reason } => {
            let o = match open(ctx) {
                Ok(mut v) => service::revoke(&mut v, &who, &code, &reason),
                Err(e) => Outcome::refused("revoke", GrantCode::VaultUnavailable, format!("{e:#}")),
            };
            Ok(emit(ctx, &o))
        }
        GrantCmd::List | GrantCmd::Show { .. } => {
            let code = match &cmd {
                GrantCmd::Show { code } => Some(code.as_str()),
                _ => None,
            };
            let mut v = open(ctx)?;
            match service::read(&mut v, &who, code) {
                Ok(r) => Ok(ctx.printer.emit(&r)),
                Err(ReadFailure::Refused(code, msg)) => Ok(emit(
                    ctx,
                    &Outcome::refused(
                        if matches!(cmd, GrantCmd::List) {
                            "list"
                        } else {
                            "show"
                        },
                        code,
                        msg,
                    ),
                )),
                Err(ReadFailure::Vault(e)) => Err(e.into()),
            }
        }
    }
}
