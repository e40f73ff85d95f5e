//! The discovery walk: find `opensentience.agent.json` files under the roots and parse them,
//! **executing nothing**.
//!
//! Contract: the walk never follows symbolic links, skips `.git`, `target` and `node_modules`
//! folders (and any folder the caller excludes, such as the home's installed clones), descends
//! at most [`MAX_DEPTH`] levels, and reads each manifest with the bounded, link-refusing
//! [`manifest::read`]. A root that does not exist is reported, not an error (the default
//! `~/Projects` may be absent); an unreadable folder inside a root is an error, because a
//! partial walk must not look like a complete one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::codes::AgentCode;
use super::manifest::{self, MANIFEST_FILE, ManifestProblem, ParsedManifest};
use crate::fsutil::FsError;

/// How deep below a root the walk looks for manifests.
pub const MAX_DEPTH: usize = 8;

/// Folder names never entered.
pub const SKIPPED_DIRS: &[&str] = &[".git", "target", "node_modules"];

/// One manifest file found by the walk.
#[derive(Debug, Clone)]
pub struct Found {
    /// The manifest's path.
    pub path: PathBuf,
    /// The parsed manifest, or why it was refused.
    pub result: Result<ParsedManifest, ManifestProblem>,
}

/// What a walk saw.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    /// Every manifest found, sorted by path bytes.
    pub found: Vec<Found>,
    /// Roots that do not exist.
    pub missing_roots: Vec<PathBuf>,
    /// Folders entered.
    pub folders: u64,
}

impl Walk {
    /// Valid manifests by id; an id declared by two files makes both a `agent-duplicate-id`
    /// refusal (moved into the refused list), so the catalog never silently picks one.
    pub fn split(self) -> (BTreeMap<String, Found>, Vec<Found>) {
        let mut by_id: BTreeMap<String, Vec<Found>> = BTreeMap::new();
        let mut refused = Vec::new();
        for f in self.found {
            match &f.result {
                Ok(p) => by_id
                    .entry(p.manifest.id.as_str().to_owned())
                    .or_default()
                    .push(f),
                Err(_) => refused.push(f),
            }
        }
        let mut valid = BTreeMap::new();
        for (id, mut list) in by_id {
            if list.len() == 1 {
                if let Some(f) = list.pop() {
                    valid.insert(id, f);
                }
            } else {
                let paths: Vec<String> =
                    list.iter().map(|f| f.path.display().to_string()).collect();
                for f in list {
                    refused.push(Found {
                        path: f.path,
                        result: Err(ManifestProblem {
                            code: AgentCode::DuplicateId,
                            field: Some("/id".into()),
                            message: format!(
                                "agent id `{id}` is declared by {} manifests: {}",
                                paths.len(),
                                paths.join(", ")
                            ),
                        }),
                    });
                }
            }
        }
        refused.sort_by(|a, b| a.path.cmp(&b.path));
        (valid, refused)
    }
}

/// Walk `roots`, skipping the folders in `exclude` (compared as given, after the root join).
pub fn walk(roots: &[PathBuf], exclude: &[PathBuf]) -> Result<Walk, FsError> {
    let mut out = Walk::default();
    for root in roots {
        match std::fs::symlink_metadata(root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.missing_roots.push(root.clone());
                continue;
            }
            Err(e) => return Err(FsError::new("stat", root, e)),
            Ok(m) if !m.is_dir() => {
                return Err(FsError::new(
                    "walk",
                    root,
                    std::io::Error::other(
                        "a discovery root must be a folder (links are not followed)",
                    ),
                ));
            }
            Ok(_) => {}
        }
        let it = walkdir::WalkDir::new(root)
            .follow_links(false)
            .max_depth(MAX_DEPTH)
            .into_iter()
            .filter_entry(|e| {
                !(e.depth() > 0
                    && e.file_type().is_dir()
                    && (e
                        .file_name()
                        .to_str()
                        .is_some_and(|n| SKIPPED_DIRS.contains(&n))
                        || exclude.iter().any(|x| x == e.path())))
            });
        for entry in it {
            let entry = entry.map_err(|e| {
                let path = e.path().unwrap_or(root).to_path_buf();
                FsError::new("walk", path, e.into())
            })?;
            if entry.file_type().is_dir() {
                out.folders += 1;
                continue;
            }
            if entry.file_name() != MANIFEST_FILE {
                continue;
            }
            let path = entry.into_path();
            let result = match manifest::read(&path) {
                Ok(p) => Ok(p),
                Err(Ok(problem)) => Err(problem),
                Err(Err(io)) => return Err(FsError::new("read", &path, io)),
            };
            out.found.push(Found { path, result });
        }
    }
    out.found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// `true` when `path` is under `dir` lexically (used to exclude the home's clones).
pub fn is_under(path: &Path, dir: &Path) -> bool {
    path.starts_with(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{"id":"ID","name":"n","version":"1","description":"d",
      "source":{"git_url":"https://example.com/x.git"},
      "entrypoint":{"type":"command","value":"run.sh"},"permissions":[],"capabilities":[]}"#;

    fn put(root: &Path, rel: &str, id: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, OK.replace("ID", id)).unwrap();
    }

    #[test]
    fn walk_skips_build_folders_links_and_depth() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        put(r, "a/opensentience.agent.json", "a");
        put(r, "b/.git/opensentience.agent.json", "git");
        put(r, "b/target/opensentience.agent.json", "target");
        put(r, "b/node_modules/x/opensentience.agent.json", "nm");
        put(r, "1/2/3/4/5/6/7/8/9/opensentience.agent.json", "deep");
        put(r, "excluded/opensentience.agent.json", "ex");
        std::os::unix::fs::symlink(r.join("a"), r.join("link")).unwrap();
        std::fs::write(r.join("bad/opensentience.agent.json").tap_mkdir(), "{").unwrap();
        let w = walk(&[r.to_path_buf(), r.join("absent")], &[r.join("excluded")]).unwrap();
        let ids: Vec<String> = w
            .found
            .iter()
            .filter_map(|f| f.result.as_ref().ok())
            .map(|p| p.manifest.id.to_string())
            .collect();
        assert_eq!(ids, ["a"]);
        assert_eq!(w.found.len(), 2, "the bad manifest is reported too");
        assert_eq!(w.missing_roots, [r.join("absent")]);
    }

    #[test]
    fn duplicate_ids_are_refused_both() {
        let t = tempfile::tempdir().unwrap();
        put(t.path(), "x/opensentience.agent.json", "same");
        put(t.path(), "y/opensentience.agent.json", "same");
        put(t.path(), "z/opensentience.agent.json", "other");
        let (valid, refused) = walk(&[t.path().to_path_buf()], &[]).unwrap().split();
        assert_eq!(valid.keys().collect::<Vec<_>>(), ["other"]);
        assert_eq!(refused.len(), 2);
        assert!(
            refused
                .iter()
                .all(|f| f.result.as_ref().unwrap_err().code == AgentCode::DuplicateId)
        );
    }

    trait TapMkdir {
        fn tap_mkdir(self) -> Self;
    }
    impl TapMkdir for PathBuf {
        fn tap_mkdir(self) -> Self {
            std::fs::create_dir_all(self.parent().unwrap()).unwrap();
            self
        }
    }
}
