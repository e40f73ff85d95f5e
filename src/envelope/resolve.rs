//! Where a path really is, relative to the root: lexically and physically.
//!
//! A path given to `envelope check` is relative to the root (or absolute). It is located twice:
//! - **lexically**: joined to the root and normalised (`.` dropped, `..` removes the previous
//!   component) without touching the disk, which is what the caller *named*;
//! - **physically**: walked component by component from the root, following every symlink of
//!   the parts that exist (up to 40 links) with `..` applied to the physical folder reached,
//!   which is what the kernel would *touch*. Once a component does not exist, the rest is
//!   appended lexically ("does not exist yet" is fine: `create` needs it).
//!
//! Each form is either inside the root (a `/`-separated relative path, `""` for the root
//! itself) or outside it. Any other failure — permission denied, a link loop, a file used as
//! a folder, a name that is not UTF-8 — is an error: the path cannot be judged.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::EnvelopeError;
use crate::report::{escape_bytes_for_display, escape_for_display};

/// The most symlinks followed while resolving one path (Linux's own limit).
const MAX_LINKS: u32 = 40;

/// The folder every path must stay in.
#[derive(Debug, Clone)]
pub struct Root {
    canonical: PathBuf,
    lexical: PathBuf,
}

impl Root {
    /// Open `dir` as the root: it must exist and be a folder.
    pub fn open(dir: &Path) -> Result<Self, EnvelopeError> {
        let err = |reason: String| EnvelopeError::Root {
            path: dir.to_path_buf(),
            reason,
        };
        let canonical = std::fs::canonicalize(dir).map_err(|e| err(e.to_string()))?;
        if !canonical.is_dir() {
            return Err(err("not a folder".to_owned()));
        }
        let lexical = normalise(&std::path::absolute(dir).map_err(|e| err(e.to_string()))?);
        Ok(Self { canonical, lexical })
    }

    /// The root with every symlink resolved.
    pub fn canonical(&self) -> &Path {
        &self.canonical
    }

    /// `abs` relative to the root, if it lies inside (either spelling of the root counts for a
    /// lexical path; a physical path is always compared with the canonical root).
    fn inside(&self, abs: &Path, lexical: bool) -> Result<Place, EnvelopeError> {
        let rel = abs.strip_prefix(&self.canonical).ok().or_else(|| {
            if lexical {
                abs.strip_prefix(&self.lexical).ok()
            } else {
                None
            }
        });
        match rel {
            None => Ok(Place::Outside(abs.to_path_buf())),
            Some(rel) => Ok(Place::Inside(slash_path(rel, abs)?)),
        }
    }
}

/// Where one form of a path lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Inside the root: `/`-separated, relative, `""` for the root itself.
    Inside(String),
    /// Outside the root: the absolute path.
    Outside(PathBuf),
}

impl Place {
    /// For display: the relative path (`.` for the root) or the absolute one.
    pub fn display(&self) -> String {
        match self {
            Self::Inside(rel) if rel.is_empty() => ".".to_owned(),
            Self::Inside(rel) => escape_for_display(rel),
            Self::Outside(abs) => escape_bytes_for_display(abs.as_os_str().as_encoded_bytes()),
        }
    }
}

/// A path located both ways.
#[derive(Debug, Clone)]
pub struct Located {
    /// The path as given, escaped for display.
    pub given: String,
    /// Where it lies by name.
    pub lexical: Place,
    /// Where it lies on disk.
    pub physical: Place,
    /// The lexical absolute path.
    pub lexical_abs: PathBuf,
    /// The physical absolute path.
    pub physical_abs: PathBuf,
    /// The physical path is an existing folder.
    pub is_dir: bool,
    /// The physical path exists (as anything).
    pub exists: bool,
}

/// Locate `path` (relative to the root, or absolute) both lexically and physically.
pub fn locate(root: &Root, path: &Path) -> Result<Located, EnvelopeError> {
    let given = escape_bytes_for_display(path.as_os_str().as_encoded_bytes());
    if path.as_os_str().is_empty() {
        return Err(EnvelopeError::Request(
            "empty path\nhelp: name the file the operation touches, relative to the root"
                .to_owned(),
        ));
    }
    let lexical_abs = normalise(&root.canonical.join(path));
    let start = if path.is_absolute() {
        PathBuf::from("/")
    } else {
        root.canonical.clone()
    };
    let (physical_abs, is_dir, exists) = physical(start, path, &given)?;
    Ok(Located {
        lexical: root.inside(&lexical_abs, true)?,
        physical: root.inside(&physical_abs, false)?,
        given,
        lexical_abs,
        physical_abs,
        is_dir,
        exists,
    })
}

/// `path` (relative to the working directory, or absolute) with the symlinks of its existing
/// parts resolved; used to recognise the envelope, baseline and journal however they are named.
pub fn physical_from_cwd(path: &Path) -> Result<PathBuf, EnvelopeError> {
    let given = escape_bytes_for_display(path.as_os_str().as_encoded_bytes());
    let start = if path.is_absolute() {
        PathBuf::from("/")
    } else {
        std::env::current_dir().map_err(|e| EnvelopeError::Resolve {
            given: given.clone(),
            reason: format!("cannot read the working directory: {e}"),
        })?
    };
    physical(start, path, &given).map(|(p, _, _)| p)
}

/// Lexical normalisation of an absolute path: drop `.`, let `..` remove the previous component
/// (never above `/`).
pub fn normalise(abs: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The physical path, whether it is an existing folder, and whether it exists.
fn physical(
    start: PathBuf,
    path: &Path,
    given: &str,
) -> Result<(PathBuf, bool, bool), EnvelopeError> {
    let fail = |reason: String| EnvelopeError::Resolve {
        given: given.to_owned(),
        reason,
    };
    let mut cur = start;
    let mut pending: VecDeque<OsString> = components(path);
    let mut links = 0u32;
    let mut missing = false;
    let mut is_dir = cur.is_dir();
    while let Some(c) = pending.pop_front() {
        if c == "." {
            continue;
        }
        if c == ".." {
            cur.pop();
            is_dir = !missing;
            continue;
        }
        let next = cur.join(&c);
        if missing {
            cur = next;
            continue;
        }
        match std::fs::symlink_metadata(&next) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(fail(format!(
                        "more than {MAX_LINKS} symbolic links (a loop?) at `{}`",
                        escape_bytes_for_display(next.as_os_str().as_encoded_bytes())
                    )));
                }
                let target = std::fs::read_link(&next).map_err(|e| {
                    fail(format!(
                        "cannot read link `{}`: {e}",
                        escape_bytes_for_display(next.as_os_str().as_encoded_bytes())
                    ))
                })?;
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                }
                for t in components(&target).into_iter().rev() {
                    pending.push_front(t);
                }
            }
            Ok(meta) => {
                let more = pending.iter().any(|c| c != ".");
                if more && !meta.is_dir() {
                    return Err(fail(format!(
                        "`{}` is not a folder but the path continues beneath it",
                        escape_bytes_for_display(next.as_os_str().as_encoded_bytes())
                    )));
                }
                is_dir = meta.is_dir();
                cur = next;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing = true;
                is_dir = false;
                cur = next;
            }
            Err(e) => {
                return Err(fail(format!(
                    "cannot inspect `{}`: {e}",
                    escape_bytes_for_display(next.as_os_str().as_encoded_bytes())
                )));
            }
        }
    }
    Ok((cur, is_dir && !missing, !missing))
}

fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::CurDir => Some(OsString::from(".")),
            Component::RootDir | Component::Prefix(_) => None,
        })
        .collect()
}

fn slash_path(rel: &Path, whole: &Path) -> Result<String, EnvelopeError> {
    let mut parts = Vec::new();
    for c in rel.components() {
        let s = c
            .as_os_str()
            .to_str()
            .ok_or_else(|| EnvelopeError::Resolve {
                given: escape_bytes_for_display(whole.as_os_str().as_encoded_bytes()),
                reason: "a name is not valid UTF-8, so globs cannot judge it".to_owned(),
            })?;
        parts.push(s);
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("src/sub")).unwrap();
        std::fs::create_dir_all(root.join("secrets")).unwrap();
        std::fs::write(root.join("src/a.rs"), "a").unwrap();
        std::fs::write(root.join("secrets/key"), "k").unwrap();
        std::fs::write(dir.path().join("outside.txt"), "o").unwrap();
        let r = Root::open(&root).unwrap();
        (dir, r)
    }

    fn inside(s: &str) -> Place {
        Place::Inside(s.to_owned())
    }

    #[test]
    fn plain_and_missing_paths() {
        let (_d, root) = setup();
        let l = locate(&root, Path::new("src/a.rs")).unwrap();
        assert_eq!(
            (l.lexical.clone(), l.physical),
            (inside("src/a.rs"), inside("src/a.rs"))
        );
        let l = locate(&root, Path::new("src/new/deep.rs")).unwrap();
        assert_eq!(l.physical, inside("src/new/deep.rs"));
        let l = locate(&root, Path::new("./src/./sub/../a.rs")).unwrap();
        assert_eq!(
            (l.lexical, l.physical),
            (inside("src/a.rs"), inside("src/a.rs"))
        );
        assert_eq!(locate(&root, Path::new(".")).unwrap().lexical, inside(""));
    }

    #[test]
    fn dot_dot_escapes_are_outside() {
        let (_d, root) = setup();
        let l = locate(&root, Path::new("../outside.txt")).unwrap();
        assert!(matches!(l.lexical, Place::Outside(_)));
        assert!(matches!(l.physical, Place::Outside(_)));
        let l = locate(&root, Path::new("src/../../root/src/a.rs")).unwrap();
        assert_eq!(
            l.physical,
            inside("src/a.rs"),
            "leaving and re-entering is inside"
        );
        let l = locate(&root, Path::new("/etc/passwd")).unwrap();
        assert!(matches!(l.lexical, Place::Outside(_)));
    }

    #[test]
    fn symlinks_are_followed_for_the_physical_form() {
        let (d, root) = setup();
        let r = root.canonical().to_path_buf();
        symlink("../secrets/key", r.join("src/innocent")).unwrap();
        symlink(d.path().join("outside.txt"), r.join("src/out")).unwrap();
        symlink("../../secrets", r.join("src/sub/dir")).unwrap();
        let l = locate(&root, Path::new("src/innocent")).unwrap();
        assert_eq!(
            (l.lexical, l.physical),
            (inside("src/innocent"), inside("secrets/key"))
        );
        let l = locate(&root, Path::new("src/out")).unwrap();
        assert!(matches!(l.physical, Place::Outside(_)));
        // `..` after a link applies to the link's target folder, as the kernel does.
        let l = locate(&root, Path::new("src/sub/dir/../src/a.rs")).unwrap();
        // Lexically `dir/..` cancels out; physically `..` leaves `secrets` for the root.
        assert_eq!(l.lexical, inside("src/sub/src/a.rs"));
        assert_eq!(l.physical, inside("src/a.rs"));
        let l = locate(&root, Path::new("src/sub/dir/new-file")).unwrap();
        assert_eq!(l.physical, inside("secrets/new-file"));
    }

    #[test]
    fn loops_and_files_used_as_folders_are_errors() {
        let (_d, root) = setup();
        let r = root.canonical().to_path_buf();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        let err = locate(&root, Path::new("loop1")).unwrap_err().to_string();
        assert!(err.contains("symbolic links"), "{err}");
        let err = locate(&root, Path::new("src/a.rs/x"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a folder"), "{err}");
        assert!(locate(&root, Path::new("")).is_err());
    }

    #[test]
    fn root_must_be_an_existing_folder() {
        let (d, _root) = setup();
        assert!(Root::open(&d.path().join("nope")).is_err());
        assert!(Root::open(&d.path().join("outside.txt")).is_err());
    }
}
