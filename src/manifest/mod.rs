//! Manifests: `manifest.txt` files that GNU `sha256sum -c` and `vaultgate manifest verify` both
//! read, written deterministically (same tree → same bytes, whatever the walk order or thread
//! count) and verified strictly (every listed file matches, nothing is missing, nothing is
//! unlisted, and a malformed line is an error, never skipped).

mod codes;
mod digest;
mod format;
mod generate;
mod hashing;
mod verify;

use std::path::PathBuf;

pub use codes::ManifestCode;
pub use digest::{DigestReport, digest, read_manifest};
pub use format::{LineError, ManifestEntry, ParsedLine, parse, render};
pub use generate::{GenerateOptions, GenerateReport, compute, generate, generate_to};
pub use verify::{FileResult, FileStatus, ManifestVerifyOptions, ManifestVerifyReport, verify};

use crate::fsutil::FsError;
use crate::report::indented_list as list;

/// The fuzz oracle, shared by the `manifest_parse` target and the regression replay: whatever
/// [`parse`] accepts survives render → parse unchanged. Panics when that fails.
#[allow(clippy::expect_used)] // a fuzz oracle: panicking is how it reports a broken invariant
pub fn fuzz_check(data: &[u8]) {
    let Ok(lines) = parse(data) else { return };
    let mut entries: Vec<ManifestEntry> = lines.into_iter().map(|l| l.entry).collect();
    let again: Vec<ManifestEntry> = parse(&render(&entries))
        .expect("a rendered manifest must parse")
        .into_iter()
        .map(|l| l.entry)
        .collect();
    entries.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    assert_eq!(entries, again, "render -> parse changed the entries");
}

/// The `--json` schema of every manifest command.
pub const SCHEMA: &str = "vaultgate/manifest/v1";

/// The default manifest file name.
pub const MANIFEST_NAME: &str = "manifest.txt";

/// Errors that stop a manifest command (exit 2). Check failures are findings, not errors.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A manifest line is malformed.
    #[error("malformed manifest `{}` line {line}: {reason}", manifest.display())]
    Malformed {
        /// The manifest file.
        manifest: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The manifest lists nothing.
    #[error("manifest `{}` lists no files\nhelp: pass --allow-empty if an empty manifest is expected", .0.display())]
    EmptyManifest(PathBuf),
    /// The tree has no files.
    #[error("no files to list under `{}`\nhelp: pass --allow-empty if an empty tree is expected", .0.display())]
    EmptyTree(PathBuf),
    /// The root is not a directory.
    #[error("`{}` is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// Entries that cannot be listed (symlinks under `refuse`, special files, non-UTF-8 names).
    #[error("refusing to write a manifest of `{}`: {}", root.display(), list(problems))]
    Refused {
        /// The tree.
        root: PathBuf,
        /// One line per offending entry.
        problems: Vec<String>,
    },
    /// Files that could not be read while generating.
    #[error("cannot read {} file(s) under `{}`: {}", files.len(), root.display(), list(files))]
    Unreadable {
        /// The tree.
        root: PathBuf,
        /// One line per unreadable file.
        files: Vec<String>,
    },
    /// An I/O error on a named file.
    #[error(transparent)]
    Fs(#[from] FsError),
}
