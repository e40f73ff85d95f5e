//! `vaultgate manifest generate | verify | digest`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::Ctx;
use crate::exit::{ExitStatus, with_exit_codes};
use crate::manifest::{self, GenerateOptions, MANIFEST_NAME, ManifestVerifyOptions};
use crate::walk::{Excludes, SymlinkPolicy, WalkError, WalkOptions};

/// Trees with at least this many files get a progress bar (on a terminal).
const PROGRESS_THRESHOLD: u64 = 5_000;

const GENERATE_HELP: &str = "\
Examples:
  vaultgate manifest generate                    # ./manifest.txt for the current folder
  vaultgate manifest generate dist -o dist.sha256
  vaultgate manifest generate . --exclude '*.log' --exclude docs/build
  vaultgate manifest generate dist -o -          # print instead of writing
  sha256sum -c manifest.txt                      # GNU coreutils reads the result

Nothing is written (exit 2) when a file is unreadable, a symlink or special file is refused, a
glob is bad or the tree is empty.";

const VERIFY_HELP: &str = "\
Examples:
  vaultgate manifest verify                      # ./manifest.txt against the current folder
  vaultgate manifest verify dist/manifest.txt    # a FILE: that manifest, rooted at its folder
  vaultgate manifest verify -m dist/manifest.txt # the same, spelled out
  vaultgate manifest verify dist --json | jq .summary

Passes when every listed file matches, none is missing and nothing is unlisted. Fails (exit 1)
on a mismatch or a missing, unlisted or refused file, each reported. Cannot run (exit 2) on a
malformed manifest (the line is named), an unreadable file or bad flags.";

const DIGEST_HELP: &str = "\
The SHA-256 of the manifest's bytes is the one value a CI gate pins: it commits to every
listed path and digest at once. The manifest is parsed strictly first; a malformed manifest
is refused (exit 2) rather than digested.

Example:
  vaultgate manifest digest dist/manifest.txt";

/// Manifest commands.
#[derive(Debug, Subcommand)]
pub enum ManifestCmd {
    /// Write a sorted, sha256sum-compatible manifest of a tree
    ///
    /// Lines are `<64 lowercase hex>  <path>`, `/` separators, sorted by path bytes, with a final
    /// newline: the same tree gives the same bytes whatever the walk order or thread count. Names
    /// with `\`, LF or CR are written in sha256sum's escaped form; a file named `-` as `./-`.
    /// Files are hashed in parallel and streamed; the manifest is written atomically.
    #[command(after_help = with_exit_codes(GENERATE_HELP))]
    Generate(GenerateArgs),

    /// Check a tree against a manifest, strictly
    ///
    /// Reads our manifests and anything GNU sha256sum writes (text and binary markers, escaped
    /// names, --tag lines), plus `#` comments, CRLF endings and upper-case hex. Unlike
    /// `sha256sum -c`, a malformed line is an error, and files present but not listed fail.
    #[command(after_help = with_exit_codes(VERIFY_HELP))]
    Verify(VerifyArgs),

    /// Print the SHA-256 of a manifest's bytes (the value to pin in CI)
    #[command(after_help = with_exit_codes(DIGEST_HELP))]
    Digest(DigestArgs),
}

/// Walk options shared by generate and verify.
#[derive(Debug, Args)]
pub struct WalkArgs {
    /// Leave out paths matching GLOB (repeatable)
    ///
    /// A glob without `/` matches a name at any depth (`*.log`); a glob with `/` matches the
    /// whole relative path (`docs/build`, `src/**/*.tmp`). `*` does not cross `/`; `**` does.
    #[arg(long = "exclude", value_name = "GLOB")]
    excludes: Vec<String>,

    /// Do not skip the default byproducts
    ///
    /// By default `.git/`, `target/`, `__pycache__/`, `.pytest_cache/`, `node_modules/`,
    /// `*.pyc` and `.DS_Store` are left out at any depth.
    #[arg(long)]
    no_default_excludes: bool,

    /// What to do with symlinks: refuse (the default) reports each one and fails
    #[arg(long, value_enum, default_value_t = SymlinkArg::Refuse, value_name = "POLICY")]
    symlinks: SymlinkArg,

    /// Hashing threads (0 = one per core)
    #[arg(long, default_value_t = 0, env = "VAULTGATE_THREADS", value_name = "N")]
    threads: usize,

    /// Accept an empty tree (generate) or a manifest listing nothing (verify)
    #[arg(long)]
    allow_empty: bool,
}

/// `--symlinks`: the CLI's own enum, mapped onto [`SymlinkPolicy`] (the core knows no clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SymlinkArg {
    /// Refuse: every symlink is reported and nothing is written.
    Refuse,
    /// Follow links and hash what they point to (loops are refused).
    Follow,
    /// Leave links out as if they were not there.
    Skip,
}

impl From<SymlinkArg> for SymlinkPolicy {
    fn from(a: SymlinkArg) -> Self {
        match a {
            SymlinkArg::Refuse => Self::Refuse,
            SymlinkArg::Follow => Self::Follow,
            SymlinkArg::Skip => Self::Skip,
        }
    }
}

impl WalkArgs {
    /// Raw flags → validated walk options: the globs are compiled here, so a bad one is refused
    /// (exit 2, naming it) before any file is read.
    fn options(&self) -> Result<WalkOptions, WalkError> {
        let excludes = Excludes::new(&self.excludes, !self.no_default_excludes)?;
        Ok(WalkOptions::new(excludes, self.symlinks.into()))
    }
}

/// Arguments of `manifest generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The tree to list
    #[arg(default_value = ".")]
    dir: PathBuf,

    /// Where to write the manifest (`-` for stdout) [default: DIR/manifest.txt]
    ///
    /// When it lies inside DIR it is left out of the listing.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    #[command(flatten)]
    walk: WalkArgs,
}

/// Arguments of `manifest verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The tree to check, or a manifest FILE [default: the manifest's folder, else `.`]
    ///
    /// A file here means that manifest, rooted at its folder, as `sha256sum -c FILE` reads it:
    /// `manifest verify dist/manifest.txt` is `manifest verify dist -m dist/manifest.txt`.
    #[arg(value_name = "DIR|FILE")]
    dir: Option<PathBuf>,

    /// The manifest to check against [default: DIR/manifest.txt]
    #[arg(short, long, value_name = "FILE")]
    manifest: Option<PathBuf>,

    /// Report files present but not listed as warnings instead of failing
    #[arg(long)]
    allow_unlisted: bool,

    #[command(flatten)]
    walk: WalkArgs,

    #[command(flatten)]
    format: super::FormatArg,
}

/// Arguments of `manifest digest`.
#[derive(Debug, Args)]
pub struct DigestArgs {
    /// The manifest file
    #[arg(default_value = MANIFEST_NAME)]
    file: PathBuf,
}

/// Run a manifest command.
pub fn dispatch(cmd: ManifestCmd, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    match cmd {
        ManifestCmd::Generate(a) => {
            let to_stdout = a.output.as_deref() == Some(std::path::Path::new("-"));
            let mut opts = GenerateOptions::new(a.dir.clone());
            if let Some(o) = a.output.filter(|_| !to_stdout) {
                opts.output = o;
            }
            opts.walk = a.walk.options()?;
            opts.threads = a.walk.threads;
            opts.allow_empty = a.walk.allow_empty;
            let progress = ctx.printer.progress(0, PROGRESS_THRESHOLD, "hashing");
            let (report, bytes) = manifest::generate_to(&opts, &progress, to_stdout)?;
            if to_stdout {
                return Ok(ctx.printer.product(&String::from_utf8_lossy(&bytes)));
            }
            Ok(ctx.printer.emit(&report))
        }
        ManifestCmd::Verify(a) => {
            let (root, manifest) = match (a.dir, a.manifest) {
                (Some(f), None) if f.is_file() => (crate::fsutil::parent_dir(&f).to_path_buf(), f),
                (Some(f), Some(_)) if f.is_file() => anyhow::bail!(
                    "`{}` is a file, and --manifest names the manifest already\n\
                     help: pass the tree to check as DIR, or the manifest alone as FILE",
                    f.display()
                ),
                (Some(d), Some(m)) => (d, m),
                (Some(d), None) => (d.clone(), d.join(MANIFEST_NAME)),
                (None, Some(m)) => (crate::fsutil::parent_dir(&m).to_path_buf(), m),
                (None, None) => (PathBuf::from("."), PathBuf::from(MANIFEST_NAME)),
            };
            let mut opts = ManifestVerifyOptions::new(root);
            opts.manifest = manifest;
            opts.allow_unlisted = a.allow_unlisted;
            opts.allow_empty = a.walk.allow_empty;
            opts.walk = a.walk.options()?;
            opts.threads = a.walk.threads;
            let progress = ctx.printer.progress(0, PROGRESS_THRESHOLD, "verifying");
            let report = manifest::verify(&opts, &progress)?;
            let findings = report.findings();
            ctx.emit_as(a.format.format, &report, || {
                let codes = crate::sarif::codes::<manifest::ManifestCode>();
                let root = crate::sarif::Artifact::UnderRoot(opts.root.clone());
                crate::sarif::Run::new("manifest verify", codes, &findings, root)
            })
        }
        ManifestCmd::Digest(a) => Ok(ctx.printer.emit(&manifest::digest(&a.file)?)),
    }
}
