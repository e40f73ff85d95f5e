//! `manifest verify`: every listed file must match, none may be missing, none unlisted.
//!
//! Listed files are checked even when an exclude would hide them from the walk (excludes only
//! decide which *unlisted* files are reported). A listed path is resolved component by
//! component without following symlinks (unless the policy says `follow`), so a link in a
//! parent folder cannot redirect the check outside the tree.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::hashing::Hashed;
use super::{ManifestCode, ManifestError, ParsedLine, hashing};
use crate::hash::Sha256Digest;
use crate::output::{Progress, Render, Style, json_object, verdict};
use crate::report::{Finding, Severity, escape_for_display};
use crate::walk::{self, ProblemKind, SymlinkPolicy, WalkOptions, WalkedFile};

/// What to verify against what.
#[derive(Debug, Clone)]
pub struct ManifestVerifyOptions {
    /// The tree.
    pub root: PathBuf,
    /// The manifest file.
    pub manifest: PathBuf,
    /// Report unlisted files as warnings instead of failures.
    pub allow_unlisted: bool,
    /// Accept a manifest that lists nothing.
    pub allow_empty: bool,
    /// How to walk the tree: the excludes decide only which *unlisted* files are reported; the
    /// symlink policy also decides how listed paths are resolved.
    pub walk: WalkOptions,
    /// Hashing threads; 0 = one per core.
    pub threads: usize,
}

impl ManifestVerifyOptions {
    /// Strict defaults for `root` with the manifest at `root/manifest.txt`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            manifest: root.join(super::MANIFEST_NAME),
            root,
            allow_unlisted: false,
            allow_empty: false,
            walk: WalkOptions::default(),
            threads: 0,
        }
    }
}

/// The outcome for one listed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// Content matches.
    Ok,
    /// Content differs.
    Mismatch,
    /// Not there.
    Missing,
    /// Could not be read.
    Unreadable,
    /// A directory or another non-file.
    NotAFile,
    /// A symlink (refused by policy).
    Symlink,
}

impl FileStatus {
    /// The word used in text and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Mismatch => "mismatch",
            Self::Missing => "missing",
            Self::Unreadable => "unreadable",
            Self::NotAFile => "not-a-file",
            Self::Symlink => "symlink",
        }
    }
}

/// One listed file's result.
#[derive(Debug, Clone)]
pub struct FileResult {
    /// Path as listed (normalised).
    pub path: String,
    /// Manifest line number.
    pub line: usize,
    /// Outcome.
    pub status: FileStatus,
    /// The manifest's digest.
    pub expected: Sha256Digest,
    /// The file's digest, when it could be read.
    pub actual: Option<Sha256Digest>,
    /// Extra detail (the I/O error).
    pub detail: Option<String>,
}

impl FileResult {
    /// Record the outcome of hashing this file.
    fn settle(&mut self, hashed: Result<Hashed, String>) {
        match hashed {
            Ok(done) => {
                self.actual = Some(done.digest);
                self.status = if done.digest == self.expected {
                    FileStatus::Ok
                } else {
                    FileStatus::Mismatch
                };
            }
            Err(e) => {
                self.status = FileStatus::Unreadable;
                self.detail = Some(e);
            }
        }
    }
}

/// The verification report.
#[derive(Debug, Clone)]
pub struct ManifestVerifyReport {
    /// The tree.
    pub root: PathBuf,
    /// The manifest.
    pub manifest: PathBuf,
    /// SHA-256 of the manifest bytes.
    pub manifest_digest: Sha256Digest,
    /// Every listed file, in manifest order.
    pub files: Vec<FileResult>,
    /// Files present but not listed, sorted.
    pub unlisted: Vec<String>,
    /// Whether unlisted files are tolerated.
    pub allow_unlisted: bool,
    /// Entries in the tree that are refused whatever the manifest says.
    pub tree_findings: Vec<Finding>,
    /// A tree entry could not be read (forces exit 2).
    pub tree_unreadable: bool,
}

enum Resolved {
    File(PathBuf),
    Missing,
    NotAFile,
    Symlink,
    Unreadable(String),
}

/// Resolve `rel` under `root` one component at a time, never following a link unless asked.
fn resolve(root: &Path, rel: &str, policy: SymlinkPolicy) -> Resolved {
    let parts: Vec<&str> = rel.split('/').collect();
    let mut p = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        p.push(part);
        let last = i + 1 == parts.len();
        let meta = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Resolved::Missing,
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Resolved::Missing,
            Err(e) => return Resolved::Unreadable(e.to_string()),
        };
        let meta = if meta.file_type().is_symlink() {
            match policy {
                SymlinkPolicy::Refuse => return Resolved::Symlink,
                SymlinkPolicy::Skip => return Resolved::Missing,
                SymlinkPolicy::Follow => match fs::metadata(&p) {
                    Ok(m) => m,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Resolved::Missing,
                    Err(e) => return Resolved::Unreadable(e.to_string()),
                },
            }
        } else {
            meta
        };
        if last {
            return if meta.is_file() {
                Resolved::File(p)
            } else {
                Resolved::NotAFile
            };
        }
        if !meta.is_dir() {
            return Resolved::Missing;
        }
    }
    Resolved::Missing
}

/// Verify `opts.root` against `opts.manifest`.
pub fn verify(
    opts: &ManifestVerifyOptions,
    progress: &Progress,
) -> Result<ManifestVerifyReport, ManifestError> {
    // The raw bytes are only needed for their digest and are not kept (a 100,000-line manifest
    // is ~9 MB).
    let (lines, manifest_digest) = super::read_manifest(&opts.manifest)?;
    if lines.is_empty() && !opts.allow_empty {
        return Err(ManifestError::EmptyManifest(opts.manifest.clone()));
    }
    // Every walked file is hashed while the walk goes on (nearly all are listed; hashing the odd
    // unlisted one is cheaper than walking first and hashing after).
    let (tree, walked_hashes) = hashing::hash_tree(
        &opts.root,
        &opts.manifest,
        &opts.walk,
        opts.threads,
        progress,
    )?;
    let (files, tree_findings, tree_unreadable) =
        check_listed(opts, lines, &tree, walked_hashes, progress);
    let listed: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let unlisted: Vec<String> = tree
        .files
        .iter()
        .filter(|f| !listed.contains(f.rel.as_str()))
        .map(|f| f.rel.clone())
        .collect();
    Ok(ManifestVerifyReport {
        root: opts.root.clone(),
        manifest: opts.manifest.clone(),
        manifest_digest,
        files,
        unlisted,
        allow_unlisted: opts.allow_unlisted,
        tree_findings,
        tree_unreadable,
    })
}

/// Hash every listed file and turn the walk's refused entries into findings.
fn check_listed(
    opts: &ManifestVerifyOptions,
    lines: Vec<ParsedLine>,
    tree: &walk::Walk,
    mut walked_hashes: Vec<Result<Hashed, String>>,
    progress: &Progress,
) -> (Vec<FileResult>, Vec<Finding>, bool) {
    // Listed files take the hash computed during the walk, or, when an exclude hid them from
    // the walk, are hashed from a path resolved without following links.
    let walked: HashMap<&str, usize> = tree
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.rel.as_str(), i))
        .collect();
    let mut files: Vec<FileResult> = Vec::with_capacity(lines.len());
    let mut extra: Vec<WalkedFile> = Vec::new();
    let mut extra_slots: Vec<usize> = Vec::new();
    for l in lines {
        let mut hashed = None;
        let (status, detail) = if let Some(&i) = walked.get(l.entry.path.as_str()) {
            // Each walked file is listed at most once (duplicates are refused by the parser).
            hashed = Some(std::mem::replace(&mut walked_hashes[i], Err(String::new())));
            (FileStatus::Ok, None)
        } else {
            match resolve(&opts.root, &l.entry.path, opts.walk.symlinks) {
                Resolved::File(abs) => {
                    extra_slots.push(files.len());
                    // Size unknown (0): hashed by reading to end of file, never by shortcut.
                    extra.push(WalkedFile {
                        rel: String::new(),
                        abs,
                        len: 0,
                        mode: 0,
                    });
                    (FileStatus::Ok, None)
                }
                Resolved::Missing => (FileStatus::Missing, None),
                Resolved::NotAFile => (FileStatus::NotAFile, None),
                Resolved::Symlink => (FileStatus::Symlink, None),
                Resolved::Unreadable(e) => (FileStatus::Unreadable, Some(e)),
            }
        };
        let mut result = FileResult {
            path: l.entry.path,
            line: l.line,
            status,
            expected: l.entry.digest,
            actual: None,
            detail,
        };
        if let Some(h) = hashed {
            result.settle(h);
        }
        files.push(result);
    }
    drop(walked_hashes);
    let to_hash: Vec<&WalkedFile> = extra.iter().collect();
    let follow = opts.walk.symlinks == SymlinkPolicy::Follow;
    let hashes = hashing::hash_all(&to_hash, opts.threads, follow, progress);
    progress.finish();
    for (slot, h) in extra_slots.into_iter().zip(hashes) {
        files[slot].settle(h);
    }
    let (findings, unreadable) = refused_findings(&files, tree);
    (files, findings, unreadable)
}

/// Refused tree entries that are not listed (listed ones are reported with their result), and
/// whether one of them could not be read.
fn refused_findings(files: &[FileResult], tree: &walk::Walk) -> (Vec<Finding>, bool) {
    let listed_shown: HashSet<String> = if tree.problems.is_empty() {
        HashSet::new()
    } else {
        files.iter().map(|f| escape_for_display(&f.path)).collect()
    };
    let mut findings = Vec::new();
    let mut unreadable = false;
    for p in tree
        .problems
        .iter()
        .filter(|p| !listed_shown.contains(&p.rel))
    {
        let (code, msg) = match &p.kind {
            ProblemKind::Symlink => (
                ManifestCode::Symlink,
                "symlink in the tree; help: --symlinks follow|skip to choose".to_owned(),
            ),
            ProblemKind::Special => (
                ManifestCode::SpecialFile,
                "FIFO, socket or device in the tree".to_owned(),
            ),
            ProblemKind::NonUtf8 => (
                ManifestCode::NonUtf8Name,
                "name is not valid UTF-8".to_owned(),
            ),
            ProblemKind::Unreadable(e) => {
                unreadable = true;
                (ManifestCode::UnreadableFile, format!("cannot read: {e}"))
            }
        };
        findings.push(Finding::error(code, p.rel.clone(), msg));
    }
    (findings, unreadable)
}

impl ManifestVerifyReport {
    /// Every finding: listed files that are not ok, unlisted files, refused tree entries.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for f in &self.files {
            let subject = escape_for_display(&f.path);
            let finding = match f.status {
                FileStatus::Ok => continue,
                FileStatus::Mismatch => Finding::error(
                    ManifestCode::HashMismatch,
                    subject,
                    format!(
                        "checksum mismatch: manifest says `{}`, file has `{}`",
                        f.expected,
                        f.actual.map(|d| d.to_hex()).unwrap_or_default()
                    ),
                ),
                FileStatus::Missing => {
                    Finding::error(ManifestCode::MissingFile, subject, "listed file is missing")
                }
                FileStatus::Unreadable => Finding::error(
                    ManifestCode::UnreadableFile,
                    subject,
                    format!(
                        "cannot read: {}",
                        f.detail.as_deref().unwrap_or("unknown error")
                    ),
                ),
                FileStatus::NotAFile => Finding::error(
                    ManifestCode::NotAFile,
                    subject,
                    "listed path is not a regular file",
                ),
                FileStatus::Symlink => Finding::error(
                    ManifestCode::Symlink,
                    subject,
                    "listed path is or passes through a symlink; help: --symlinks follow to check its target",
                ),
            };
            out.push(finding);
        }
        for u in &self.unlisted {
            let msg = "file is present but not listed";
            out.push(if self.allow_unlisted {
                Finding::warning(ManifestCode::UnlistedFile, escape_for_display(u), msg)
            } else {
                Finding::error(ManifestCode::UnlistedFile, escape_for_display(u), msg)
            });
        }
        out.extend(self.tree_findings.iter().cloned());
        out
    }

    /// A file (listed or in the tree) could not be read: the check did not run in full.
    pub fn could_not_run(&self) -> bool {
        self.tree_unreadable || self.count(FileStatus::Unreadable) > 0
    }

    fn count(&self, s: FileStatus) -> usize {
        self.files.iter().filter(|f| f.status == s).count()
    }
}

impl Render for ManifestVerifyReport {
    crate::render_head!(super::SCHEMA, |r: &Self| verdict(
        &r.findings(),
        r.could_not_run()
    ));
    fn to_json(&self) -> Map<String, Value> {
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|f| {
                json!({
                    "path": f.path,
                    "line": f.line,
                    "status": f.status.as_str(),
                    "expected": f.expected.to_hex(),
                    "actual": f.actual.map(|d| d.to_hex()),
                    "detail": f.detail,
                })
            })
            .collect();
        json_object(json!({
            "command": "verify",
            "root": self.root.to_string_lossy(),
            "manifest": self.manifest.to_string_lossy(),
            "manifest_sha256": self.manifest_digest.to_hex(),
            "files": files,
            "unlisted": self.unlisted,
            "findings": self.findings(),
            "summary": {
                "listed": self.files.len(),
                "ok": self.count(FileStatus::Ok),
                "mismatch": self.count(FileStatus::Mismatch),
                "missing": self.count(FileStatus::Missing),
                "unreadable": self.count(FileStatus::Unreadable),
                "not_a_file": self.count(FileStatus::NotAFile),
                "symlink": self.count(FileStatus::Symlink),
                "unlisted": self.unlisted.len(),
                "unlisted_allowed": self.allow_unlisted,
            },
        }))
    }
    fn render_text(&self, style: &Style) -> String {
        let mut out = String::new();
        for f in &self.files {
            let word = f.status.as_str().to_uppercase();
            let word = if f.status == FileStatus::Ok {
                style.good("ok")
            } else {
                style.bad(&word)
            };
            out.push_str(&format!("{word:<10} {}", escape_for_display(&f.path)));
            if f.status == FileStatus::Mismatch {
                let actual = f.actual.map(|d| d.to_hex()).unwrap_or_default();
                out.push_str(&format!(
                    "  manifest says {}, file has {actual}",
                    f.expected
                ));
            }
            if let Some(d) = &f.detail {
                out.push_str(&format!("  {d}"));
            }
            out.push('\n');
        }
        for u in &self.unlisted {
            let word = if self.allow_unlisted {
                style.warn("unlisted")
            } else {
                style.bad("UNLISTED")
            };
            out.push_str(&format!("{word:<10} {}\n", escape_for_display(u)));
        }
        for f in &self.tree_findings {
            out.push_str(&format!(
                "{:<10} {}  {}\n",
                style.bad("REFUSED"),
                f.subject,
                f.message
            ));
        }
        let warnings = self
            .findings()
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count();
        out.push_str(&format!(
            "{}: {}\n",
            style.bold("manifest verify"),
            self.summary_line()
        ));
        if warnings > 0 {
            out.push_str(&format!("{warnings} warning(s)\n"));
        }
        out
    }
    fn summary_line(&self) -> String {
        format!(
            "{}: {} listed, {} ok, {} mismatch, {} missing, {} unreadable, {} unlisted (manifest sha256 {})",
            self.status().verdict().to_uppercase(),
            self.files.len(),
            self.count(FileStatus::Ok),
            self.count(FileStatus::Mismatch),
            self.count(FileStatus::Missing),
            self.count(FileStatus::Unreadable) + usize::from(self.tree_unreadable),
            self.unlisted.len(),
            self.manifest_digest
        )
    }
}
