//! `vaultgate zip audit`.

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Args, ValueEnum};

use crate::bundle::{self, AuditOptions, Nested};
use crate::cli::Ctx;
use crate::exit::ExitStatus;
use crate::sarif;

pub(super) const AUDIT_AFTER_HELP: &str = "\
Examples:
  vaultgate zip audit dist/bundle.zip
  vaultgate zip audit dist/bundle.zip --max-size 2147483648 --json
  vaultgate zip audit dist/bundle.zip --structure-only

Every finding has a stable code (see docs/zip.md). The audit reads the archive's raw structure
(end records, ZIP64 records, central directory, every local header) before decompressing
anything, then streams every entry's data to check its real size and CRC-32 (nothing is
extracted). Members that are ZIP archives themselves (by their first bytes, whatever their
name) are audited the same way, up to --max-depth levels, within the one --max-size budget.
--structure-only skips the data and says so. --deep, the old name of the default, is accepted.

Text output: one line per finding, `CODE  #N  ENTRY  MESSAGE`, where #N is the entry's index in
the central directory (0-based, as in --json `entries[].index`) and #- marks a finding about
the whole archive.

Fails (exit 1) on any error finding, including an archive that cannot be parsed at all.";

/// Arguments of `vaultgate zip audit`.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // independent clap switches
pub struct AuditArgs {
    /// The ZIP archive to audit
    #[arg(value_name = "BUNDLE.zip")]
    pub(super) bundle: PathBuf,

    /// Most entries the archive may declare
    ///
    /// Entries past the limit are not read; the audit fails with `zip-too-many-entries`.
    #[arg(long, value_name = "N", default_value_t = AuditOptions::default().max_entries)]
    pub(super) max_entries: u64,

    /// Most total uncompressed bytes (declared, and actual with --deep)
    #[arg(long = "max-size", value_name = "BYTES", default_value_t = AuditOptions::default().max_total_size)]
    pub(super) max_size: u64,

    /// Highest declared uncompressed/compressed ratio of any one entry
    #[arg(long, value_name = "R", default_value_t = AuditOptions::default().max_ratio,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(super) max_ratio: u64,

    /// Longest entry name, in bytes
    #[arg(long, value_name = "N", default_value_t = AuditOptions::default().max_name_len,
          value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    pub(super) max_name_len: usize,

    /// Do not report build byproducts (`__pycache__/`, `*.pyc`, `.git/`, `target/`, …)
    #[arg(long)]
    pub(super) allow_byproducts: bool,

    /// Report setuid, setgid and world-writable modes (`zip-mode-unsafe`) as warnings
    #[arg(long)]
    pub(super) allow_unsafe_modes: bool,

    /// Check only the headers and layout: do not decompress any entry
    ///
    /// Faster, but a lying CRC-32 or size and nested archives go unseen; the report says the
    /// data was not checked.
    #[arg(long, conflicts_with_all = ["deep", "nested", "max_depth"])]
    pub(super) structure_only: bool,

    /// Accepted for compatibility: checking the data is the default now
    #[arg(long, hide = true)]
    pub(super) deep: bool,

    /// What to do with members that are ZIP archives themselves
    #[arg(long, value_enum, value_name = "MODE", default_value = "audit")]
    pub(super) nested: NestedArg,

    /// Deepest level of nested archives audited (the bundle's own members are level 1)
    #[arg(long, value_name = "N", default_value_t = AuditOptions::default().max_depth)]
    pub(super) max_depth: u32,

    #[command(flatten)]
    pub(super) format: crate::cli::FormatArg,
}

/// `--nested`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum NestedArg {
    /// Audit them with every rule, recursively
    Audit,
    /// Refuse any (`zip-nested-archive`)
    Refuse,
    /// Treat them as data
    Ignore,
}

/// Run `zip audit`.
pub(super) fn dispatch(args: &AuditArgs, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    let opts = AuditOptions {
        max_entries: args.max_entries,
        max_total_size: args.max_size,
        max_ratio: args.max_ratio,
        max_name_len: args.max_name_len,
        allow_byproducts: args.allow_byproducts,
        allow_unsafe_modes: args.allow_unsafe_modes,
        deep: !args.structure_only,
        nested: match args.nested {
            NestedArg::Audit => Nested::Audit,
            NestedArg::Refuse => Nested::Refuse,
            NestedArg::Ignore => Nested::Ignore,
        },
        max_depth: args.max_depth,
    };
    let report = bundle::audit_file(&args.bundle, &opts)?;
    ctx.emit_as(args.format.format, &report, || {
        let codes = sarif::codes::<bundle::ZipCode>();
        let file = sarif::Artifact::File(args.bundle.clone());
        sarif::Run::new("zip audit", codes, &report.findings, file)
    })
}
