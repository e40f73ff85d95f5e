//! `vaultgate zip …`: audit (and, later, pack) bundle ZIPs.

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Args, Subcommand};

use crate::bundle::{self, AuditOptions};
use crate::cli::Ctx;
use crate::exit::ExitStatus;
use crate::sarif;

const AUDIT_AFTER_HELP: &str = "\
Examples:
  vaultgate zip audit dist/bundle.zip
  vaultgate zip audit dist/bundle.zip --deep --max-size 2147483648 --json

Every finding has a stable code (see docs/zip.md). The audit reads the archive's raw structure
(end records, ZIP64 records, central directory, every local header) before decompressing
anything; --deep also streams every entry's data (nothing is written to disk).

Exit codes:
  0  pass: no finding
  1  findings were reported (including an archive that cannot be parsed at all)
  2  could not run: usage, I/O, configuration or internal error";

/// Audit and pack bundle ZIPs.
#[derive(Debug, Subcommand)]
pub enum ZipCmd {
    /// Refuse any hostile, inconsistent or unclean bundle ZIP
    ///
    /// Checks names, collisions, entry types, header differentials, layout, encryption,
    /// compression methods, build byproducts and size limits, and reports every finding.
    #[command(after_help = AUDIT_AFTER_HELP)]
    Audit(AuditArgs),

    /// Pack a tree into a clean, byte-reproducible bundle with a regenerated manifest
    #[command(after_help = super::pack::PACK_HELP)]
    Pack(super::pack::PackArgs),
}

/// Arguments of `vaultgate zip audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The ZIP archive to audit
    #[arg(value_name = "BUNDLE.zip")]
    pub bundle: PathBuf,

    /// Most entries the archive may declare
    ///
    /// Entries past the limit are not read; the audit fails with `zip-too-many-entries`.
    #[arg(long, value_name = "N", default_value_t = AuditOptions::default().max_entries)]
    pub max_entries: u64,

    /// Most total uncompressed bytes (declared, and actual with --deep)
    #[arg(long = "max-size", value_name = "BYTES", default_value_t = AuditOptions::default().max_total_size)]
    pub max_size: u64,

    /// Highest declared uncompressed/compressed ratio of any one entry
    #[arg(long, value_name = "R", default_value_t = AuditOptions::default().max_ratio,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_ratio: u64,

    /// Longest entry name, in bytes
    #[arg(long, value_name = "N", default_value_t = AuditOptions::default().max_name_len,
          value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    pub max_name_len: usize,

    /// Do not report build byproducts (`__pycache__/`, `*.pyc`, `.git/`, `target/`, …)
    #[arg(long)]
    pub allow_byproducts: bool,

    /// Also decompress every entry as a stream and check its actual size and CRC-32
    ///
    /// Nothing is written to disk; the size limits apply to the actual bytes.
    #[arg(long)]
    pub deep: bool,

    #[command(flatten)]
    pub format: crate::cli::FormatArg,
}

/// Run a `zip` subcommand.
pub fn dispatch(cmd: ZipCmd, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    match cmd {
        ZipCmd::Pack(args) => super::pack::dispatch(args, ctx),
        ZipCmd::Audit(args) => {
            let opts = AuditOptions {
                max_entries: args.max_entries,
                max_total_size: args.max_size,
                max_ratio: args.max_ratio,
                max_name_len: args.max_name_len,
                allow_byproducts: args.allow_byproducts,
                deep: args.deep,
            };
            let report = bundle::audit_file(&args.bundle, &opts)?;
            ctx.emit_as(args.format.format, &report, || {
                let codes = sarif::codes::<bundle::ZipCode>();
                let file = sarif::Artifact::File(args.bundle.clone());
                sarif::Run::new("zip audit", codes, &report.findings, file)
            })
        }
    }
}
