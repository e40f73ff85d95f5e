//! `vaultgate zip …`: audit and pack bundle ZIPs. One file per subcommand; each builds the
//! core's typed input, calls `crate::bundle`, and hands the report to the printer.

pub(super) mod audit;
pub(super) mod pack;

use clap::Subcommand;

use crate::cli::Ctx;
use crate::exit::ExitStatus;

/// Audit and pack bundle ZIPs.
#[derive(Debug, Subcommand)]
pub enum ZipCmd {
    /// Refuse any hostile, inconsistent or unclean bundle ZIP
    ///
    /// Checks names, collisions, entry types and modes, header differentials, layout,
    /// encryption, compression methods, build byproducts, size limits, every entry's data and
    /// nested archives, and reports every finding.
    #[command(after_help = crate::exit::with_exit_codes(audit::AUDIT_AFTER_HELP))]
    Audit(audit::AuditArgs),

    /// Pack a tree into a clean, byte-reproducible bundle with a regenerated manifest
    #[command(after_help = crate::exit::with_exit_codes(pack::PACK_HELP))]
    Pack(pack::PackArgs),
}

/// Run a `zip` subcommand.
pub fn dispatch(cmd: ZipCmd, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    match cmd {
        ZipCmd::Pack(args) => pack::dispatch(args, ctx),
        ZipCmd::Audit(args) => audit::dispatch(&args, ctx),
    }
}
