//! `manifest generate`: walk, hash in parallel, render, write atomically.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::{ManifestEntry, ManifestError, hashing, render};
use crate::fsutil;
use crate::hash::{Sha256Digest, sha256_bytes};
use crate::output::{self, Progress, Render, Style, json_object};
use crate::walk::{ProblemKind, WalkOptions};

/// What to list and where to write it.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// The tree to list.
    pub root: PathBuf,
    /// The manifest file to write (omitted from the listing when it lies inside `root`).
    pub output: PathBuf,
    /// How to walk the tree (compiled excludes, symlink policy).
    pub walk: WalkOptions,
    /// Hashing threads; 0 = one per core.
    pub threads: usize,
    /// Accept an empty tree.
    pub allow_empty: bool,
}

impl GenerateOptions {
    /// Defaults for `root`: output `root/manifest.txt`, default excludes, refuse symlinks.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            output: root.join(super::MANIFEST_NAME),
            root,
            walk: WalkOptions::default(),
            threads: 0,
            allow_empty: false,
        }
    }
}

/// What `generate` wrote.
#[derive(Debug, Clone)]
pub struct GenerateReport {
    /// The tree.
    pub root: PathBuf,
    /// The manifest written (`None` when the bytes went to stdout).
    pub output: Option<PathBuf>,
    /// Number of files listed.
    pub files: usize,
    /// Bytes hashed.
    pub bytes: u64,
    /// SHA-256 of the manifest bytes (the value a CI gate pins).
    pub digest: Sha256Digest,
}

/// Walk and hash `opts.root`; entries sorted by path bytes.
pub fn compute(
    opts: &GenerateOptions,
    progress: &Progress,
) -> Result<Vec<ManifestEntry>, ManifestError> {
    compute_with_size(opts, progress).map(|(e, _)| e)
}

fn compute_with_size(
    opts: &GenerateOptions,
    progress: &Progress,
) -> Result<(Vec<ManifestEntry>, u64), ManifestError> {
    let (tree, hashes) =
        hashing::hash_tree(&opts.root, &opts.output, &opts.walk, opts.threads, progress)?;
    if !tree.problems.is_empty() {
        let problems = tree
            .problems
            .iter()
            .map(|p| match &p.kind {
                ProblemKind::Symlink => {
                    format!(
                        "symlink `{}`\n    help: --symlinks follow|skip to choose",
                        p.rel
                    )
                }
                ProblemKind::Special => {
                    format!("special file `{}` (FIFO, socket or device)", p.rel)
                }
                ProblemKind::NonUtf8 => format!("name `{}` is not valid UTF-8", p.rel),
                ProblemKind::Unreadable(e) => format!("cannot read `{}`: {e}", p.rel),
            })
            .collect();
        return Err(ManifestError::Refused {
            root: opts.root.clone(),
            problems,
        });
    }
    if tree.files.is_empty() && !opts.allow_empty {
        return Err(ManifestError::EmptyTree(opts.root.clone()));
    }
    progress.finish();
    let mut entries = Vec::with_capacity(tree.files.len());
    let mut unreadable = Vec::new();
    let mut bytes = 0u64;
    for (f, h) in tree.files.iter().zip(hashes) {
        match h {
            Ok(done) => {
                bytes += done.len;
                entries.push(ManifestEntry {
                    path: f.rel.clone(),
                    digest: done.digest,
                });
            }
            Err(e) => unreadable.push(format!(
                "`{}`: {e}",
                crate::report::escape_for_display(&f.rel)
            )),
        }
    }
    if !unreadable.is_empty() {
        return Err(ManifestError::Unreadable {
            root: opts.root.clone(),
            files: unreadable,
        });
    }
    Ok((entries, bytes))
}

/// Compute and render the manifest; write it atomically to `opts.output` unless `to_stdout`,
/// in which case the bytes are returned for the caller to print.
pub fn generate(
    opts: &GenerateOptions,
    progress: &Progress,
) -> Result<GenerateReport, ManifestError> {
    generate_to(opts, progress, false).map(|(r, _)| r)
}

/// Like [`generate`]; with `to_stdout` nothing is written and the bytes are returned.
pub fn generate_to(
    opts: &GenerateOptions,
    progress: &Progress,
    to_stdout: bool,
) -> Result<(GenerateReport, Vec<u8>), ManifestError> {
    let (entries, bytes) = compute_with_size(opts, progress)?;
    let text = render(&entries);
    let output = if to_stdout {
        None
    } else {
        fsutil::write_atomic_bytes(&opts.output, &text)?;
        Some(opts.output.clone())
    };
    let report = GenerateReport {
        root: opts.root.clone(),
        output,
        files: entries.len(),
        bytes,
        digest: sha256_bytes(&text),
    };
    Ok((report, text))
}

fn shown(p: &Path) -> String {
    crate::report::escape_for_display(&p.to_string_lossy())
}

impl Render for GenerateReport {
    crate::render_head!(super::SCHEMA, output::passes);
    fn to_json(&self) -> Map<String, Value> {
        json_object(json!({
            "command": "generate",
            "root": self.root.to_string_lossy(),
            "output": self.output.as_deref().map(Path::to_string_lossy),
            "manifest_sha256": self.digest.to_hex(),
            "summary": {"files": self.files, "bytes": self.bytes},
        }))
    }
    fn render_text(&self, style: &Style) -> String {
        let target = self
            .output
            .as_deref()
            .map_or_else(|| "stdout".to_owned(), |p| format!("`{}`", shown(p)));
        format!(
            "{} {target}: {} files, {} bytes hashed\nmanifest sha256: {}\n",
            style.good("wrote"),
            self.files,
            self.bytes,
            self.digest
        )
    }
    fn summary_line(&self) -> String {
        format!("manifest generate: {} files", self.files)
    }
}
