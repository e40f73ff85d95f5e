//! The one tree walk: which files count, and which entries are refused. Manifest generate,
//! manifest verify and `zip pack` all walk through here.
//!
//! A walk is configured by a [`WalkOptions`], built and validated once at the boundary (the CLI
//! compiles the exclude globs into [`Excludes`]; a bad glob is refused there, before any file is
//! read). Directories are pruned by the excludes before they are read. Symlinks follow the
//! [`SymlinkPolicy`]; FIFOs, sockets and devices are always refused; a name that is not valid
//! UTF-8 is refused (it could not be written in a manifest both tools read the same way).
//! Problems are collected, never dropped, so one run names every offending entry.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use walkdir::WalkDir;

use crate::report::{escape_bytes_for_display, escape_for_display};

/// What to do with symbolic links. (The CLI maps its own `--symlinks` enum onto this one.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SymlinkPolicy {
    /// Refuse: every symlink is reported and nothing is written.
    #[default]
    Refuse,
    /// Follow links and hash what they point to (loops are refused).
    Follow,
    /// Leave links out as if they were not there.
    Skip,
}

/// Directory names skipped by default, at any depth.
pub const DEFAULT_EXCLUDED_DIRS: &[&str] = &[
    ".git",
    "target",
    "__pycache__",
    ".pytest_cache",
    "node_modules",
];
/// File-name globs skipped by default, at any depth.
pub const DEFAULT_EXCLUDED_FILES: &[&str] = &["*.pyc", ".DS_Store"];

/// Why a walk could not be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    /// An exclude glob does not compile.
    #[error("invalid exclude glob `{glob}`: {reason}")]
    BadGlob {
        /// The glob as given.
        glob: String,
        /// Why it does not compile.
        reason: String,
    },
}

/// How to walk a tree: the compiled excludes and the symlink policy. Build it once at the
/// boundary; the walk itself cannot fail to start.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Which paths are left out.
    pub excludes: Excludes,
    /// What to do with symlinks.
    pub symlinks: SymlinkPolicy,
}

impl WalkOptions {
    /// A walk with these excludes and this symlink policy.
    pub fn new(excludes: Excludes, symlinks: SymlinkPolicy) -> Self {
        Self { excludes, symlinks }
    }

    /// Every entry counts (no excludes at all), symlinks refused: what checking a tree that
    /// must match a manifest exactly needs.
    pub fn exact() -> Self {
        Self::new(Excludes::none(), SymlinkPolicy::Refuse)
    }
}

impl Default for WalkOptions {
    /// The default excludes, symlinks refused.
    fn default() -> Self {
        Self::new(Excludes::defaults(), SymlinkPolicy::Refuse)
    }
}

/// Which paths a walk leaves out: compiled globs, so a value of this type is always valid.
#[derive(Debug, Clone)]
pub struct Excludes {
    by_name: GlobSet,
    by_path: GlobSet,
    default_dirs: bool,
}

impl Excludes {
    /// Compile user globs (a glob without `/` matches a name at any depth; a glob with `/`
    /// matches the whole relative path) plus the default excludes when asked.
    pub fn new(globs: &[String], default_excludes: bool) -> Result<Self, WalkError> {
        let mut by_name = GlobSetBuilder::new();
        let mut by_path = GlobSetBuilder::new();
        let compile = |g: &str| {
            globset::GlobBuilder::new(g)
                .literal_separator(true)
                .build()
                .map_err(|e| WalkError::BadGlob {
                    glob: g.to_owned(),
                    reason: e.kind().to_string(),
                })
        };
        for g in globs {
            let g = g.trim_end_matches('/');
            if g.contains('/') {
                by_path.add(compile(g.trim_start_matches("./"))?);
            } else {
                by_name.add(compile(g)?);
            }
        }
        if default_excludes {
            for g in DEFAULT_EXCLUDED_FILES {
                by_name.add(Glob::new(g).map_err(|e| WalkError::BadGlob {
                    glob: (*g).to_owned(),
                    reason: e.kind().to_string(),
                })?);
            }
        }
        let build = |b: GlobSetBuilder| {
            b.build().map_err(|e| WalkError::BadGlob {
                glob: globs.join(" "),
                reason: e.to_string(),
            })
        };
        Ok(Self {
            by_name: build(by_name)?,
            by_path: build(by_path)?,
            default_dirs: default_excludes,
        })
    }

    /// Nothing is left out.
    pub fn none() -> Self {
        Self {
            by_name: GlobSet::empty(),
            by_path: GlobSet::empty(),
            default_dirs: false,
        }
    }

    /// Only the default excludes ([`DEFAULT_EXCLUDED_DIRS`], [`DEFAULT_EXCLUDED_FILES`]).
    #[allow(clippy::expect_used)] // invariant: the default globs are constants that compile (pinned by a unit test)
    pub fn defaults() -> Self {
        Self::new(&[], true).expect("the default exclude globs compile")
    }

    /// Is this entry left out? `rel` uses `/` separators.
    pub fn excludes(&self, rel: &str, is_dir: bool) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if is_dir && self.default_dirs && DEFAULT_EXCLUDED_DIRS.contains(&name) {
            return true;
        }
        // `.git` is a file in worktrees and submodules; leave it out just the same.
        if self.default_dirs && name == ".git" {
            return true;
        }
        self.by_name.is_match(name) || self.by_path.is_match(rel)
    }
}

/// A regular file found by the walk.
#[derive(Debug, Clone)]
pub struct WalkedFile {
    /// Relative path, `/` separators.
    pub rel: String,
    /// Path to open.
    pub abs: PathBuf,
    /// Size from the walk's metadata.
    pub len: u64,
    /// Permission bits from the walk's metadata (`st_mode & 0o7777`).
    pub mode: u32,
}

/// Why a walked entry was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// A symlink under the `refuse` policy.
    Symlink,
    /// A FIFO, socket or device.
    Special,
    /// A name that is not valid UTF-8.
    NonUtf8,
    /// The entry could not be read (permission denied, a link loop, a broken link).
    Unreadable(String),
}

/// One refused entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Relative path, escaped for display.
    pub rel: String,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// The result of a walk: files sorted by path bytes, and every refused entry.
#[derive(Debug, Default)]
pub struct Walk {
    /// Regular files.
    pub files: Vec<WalkedFile>,
    /// Refused entries.
    pub problems: Vec<Problem>,
    /// Entries left out by the excludes, escaped for display, with whether each is a folder
    /// (a left-out folder is not descended into, so it appears once).
    pub excluded: Vec<(String, bool)>,
    /// Every folder walked (relative, `/` separators), for callers that report empty ones.
    pub dirs: Vec<String>,
}

/// Walk `root` with `opts`, files sorted by path bytes, each with its size and mode read
/// during the walk (one `statx` per file, on this thread).
pub fn walk(root: &Path, opts: &WalkOptions) -> Walk {
    let mut out = walk_inner(root, opts, None, true, &mut |_, _| {});
    out.files
        .sort_by(|a, b| a.rel.as_bytes().cmp(b.rel.as_bytes()));
    out
}

/// Like [`walk`], but leaves out `omit` (a file such as the manifest itself, relative to root),
/// hands each file to `on_file` (with its index in `files`) as soon as it is found, so hashing
/// can start while the walk goes on, and leaves `files` in walk order. Sizes and modes are left
/// 0: the hashing threads read them from the open file.
pub fn walk_each(
    root: &Path,
    opts: &WalkOptions,
    omit: Option<&str>,
    on_file: &mut dyn FnMut(usize, &WalkedFile),
) -> Walk {
    walk_inner(root, opts, omit, false, on_file)
}

fn walk_inner(
    root: &Path,
    opts: &WalkOptions,
    omit: Option<&str>,
    stat: bool,
    on_file: &mut dyn FnMut(usize, &WalkedFile),
) -> Walk {
    let (excludes, symlinks) = (&opts.excludes, opts.symlinks);
    let mut out = Walk::default();
    let walker = WalkDir::new(root)
        .follow_links(symlinks == SymlinkPolicy::Follow)
        .min_depth(1);
    let mut it = walker.into_iter();
    while let Some(next) = it.next() {
        let entry = match next {
            Ok(e) => e,
            Err(e) => {
                let rel = e.path().map_or_else(String::new, |p| display_rel(root, p));
                let reason = if e.loop_ancestor().is_some() {
                    "symlink loop".to_owned()
                } else {
                    e.io_error()
                        .map_or_else(|| e.to_string(), ToString::to_string)
                };
                out.problems.push(Problem {
                    rel,
                    kind: ProblemKind::Unreadable(reason),
                });
                continue;
            }
        };
        let ft = entry.file_type();
        let Some(rel) = utf8_rel(root, entry.path()) else {
            out.problems.push(Problem {
                rel: display_rel(root, entry.path()),
                kind: ProblemKind::NonUtf8,
            });
            if ft.is_dir() {
                it.skip_current_dir();
            }
            continue;
        };
        if excludes.excludes(&rel, ft.is_dir()) {
            out.excluded.push((escape_for_display(&rel), ft.is_dir()));
            if ft.is_dir() {
                it.skip_current_dir();
            }
            continue;
        }
        if ft.is_dir() {
            out.dirs.push(rel);
            continue;
        }
        if ft.is_symlink() {
            if symlinks == SymlinkPolicy::Refuse {
                out.problems.push(Problem {
                    rel: display_rel(root, entry.path()),
                    kind: ProblemKind::Symlink,
                });
            }
            continue;
        }
        if !ft.is_file() {
            out.problems.push(Problem {
                rel: display_rel(root, entry.path()),
                kind: ProblemKind::Special,
            });
            continue;
        }
        if omit == Some(rel.as_str()) {
            continue;
        }
        let (len, mode) = if stat {
            entry
                .metadata()
                .map_or((0, 0), |m| (m.len(), m.permissions().mode() & 0o7777))
        } else {
            (0, 0)
        };
        let file = WalkedFile {
            rel,
            abs: entry.into_path(),
            len,
            mode,
        };
        on_file(out.files.len(), &file);
        out.files.push(file);
    }
    out
}

/// The `/`-separated relative path, or `None` when a component is not UTF-8.
fn utf8_rel(root: &Path, p: &Path) -> Option<String> {
    let rel = p.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for c in rel.components() {
        parts.push(c.as_os_str().to_str()?);
    }
    Some(parts.join("/"))
}

fn display_rel(root: &Path, p: &Path) -> String {
    let rel = p.strip_prefix(root).unwrap_or(p);
    escape_bytes_for_display(rel.as_os_str().as_bytes())
}

/// The manifest's path relative to `root`, when it lies inside it (so the walk can omit it).
pub fn rel_inside(root: &Path, file: &Path) -> Option<String> {
    let root = root.canonicalize().ok()?;
    let parent = crate::fsutil::parent_dir(file).canonicalize().ok()?;
    let name = file.file_name()?.to_str()?;
    let dir = parent.strip_prefix(&root).ok()?;
    let mut parts: Vec<&str> = Vec::new();
    for c in dir.components() {
        parts.push(c.as_os_str().to_str()?);
    }
    parts.push(name);
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_user_excludes() {
        let ex = Excludes::new(&["*.log".into(), "docs/build".into()], true).unwrap();
        assert!(ex.excludes("a/target", true));
        assert!(
            !ex.excludes("a/target", false),
            "a file named target is not a build dir"
        );
        assert!(ex.excludes("x/.git", false), "a worktree's .git file");
        assert!(ex.excludes("m/x.pyc", false));
        assert!(ex.excludes("deep/a.log", false));
        assert!(ex.excludes("docs/build", true));
        assert!(!ex.excludes("other/docs/build", true));
        let none = Excludes::new(&[], false).unwrap();
        assert!(!none.excludes("target", true));
        assert!(!Excludes::none().excludes(".git", true));
        assert!(Excludes::defaults().excludes(".git", true));
        assert!(Excludes::defaults().excludes("a/.DS_Store", false));
    }

    #[test]
    fn bad_glob_is_named() {
        let err = Excludes::new(&["a[".into()], true).unwrap_err();
        assert!(err.to_string().contains("`a[`"), "{err}");
    }
}
