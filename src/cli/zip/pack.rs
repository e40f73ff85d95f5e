//! `vaultgate zip pack`: reproducible bundles.

use std::path::PathBuf;

use clap::Args;

use crate::bundle::pack::{self, PackOptions};
use crate::cli::Ctx;
use crate::exit::ExitStatus;

/// The `after_help` of `vaultgate zip pack`.
pub(super) const PACK_HELP: &str = "\
The same tree always gives the same bytes: entries sorted by path bytes, a regenerated
manifest.txt, every timestamp SOURCE_DATE_EPOCH (or 1980-01-01), modes 0644 / 0755 (any execute
bit), no directory entries, Deflate level 6. The default byproducts are left out and listed;
symlinks and special files are refused, each named. The bundle is audited before it is renamed
into place; it prints the bundle's and the manifest's SHA-256 for a release script to publish.

Examples:
  vaultgate zip pack dist -o dist.zip
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) vaultgate zip pack dist -o dist.zip --json
  vaultgate gate dist.zip --expect-manifest <manifest sha256 printed above> --run 'sh checks.sh'

Exit 0 means the bundle was written; a symlink, special file or bad name refused, a bad
SOURCE_DATE_EPOCH or an I/O error is exit 2 (could not run), and nothing is written.";

/// Arguments of `zip pack`.
#[derive(Debug, Args)]
pub struct PackArgs {
    /// The tree to pack
    dir: PathBuf,

    /// The bundle to write (replaced atomically; left untouched when packing fails)
    #[arg(short, long, value_name = "BUNDLE.zip")]
    output: PathBuf,

    /// Timestamp for every entry, in seconds since 1970 [default: 1980-01-01]
    ///
    /// Decimal digits only, between 315532800 (1980-01-01) and 4354819199 (2107-12-31), the range
    /// a ZIP timestamp can hold; anything else is refused. Rounded down to an even second.
    #[arg(long, env = "SOURCE_DATE_EPOCH", value_name = "SECS")]
    source_date_epoch: Option<String>,
}

/// Run `zip pack`.
pub(super) fn dispatch(a: PackArgs, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    let epoch = a
        .source_date_epoch
        .as_deref()
        .map(pack::parse_source_date_epoch)
        .transpose()?;
    let report = pack::pack(&PackOptions {
        root: a.dir,
        output: a.output,
        epoch,
    })?;
    Ok(ctx.printer.emit(&report))
}
