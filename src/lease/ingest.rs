//! Ingest: reading what a project declares, resolving it against the configured providers,
//! and judging a bind contract's eligibility. Pure functions plus one read-only scan of the
//! project folder; the scan never runs project code (it reads one JSON file and hashes files).
//!
//! The declaration is `vaultgate.capabilities.json` at the project's root (see
//! `docs/leases.md`): `{"schema": "vaultgate/capabilities/v1", "capabilities": ["ai.gemini.inference"]}`,
//! unknown fields refused. The project's manifest digest is the SHA-256 of the manifest that
//! `vaultgate manifest generate` would write for the folder (same walk, same excludes).

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::codes::LeaseCode;
use super::rules::check_scope_name;
use crate::hash::{Sha256Digest, sha256_bytes};
use crate::manifest::{self, GenerateOptions};
use crate::output::Progress;
use crate::report::{Finding, Location, escape_for_display};

/// The declaration file's name at the project root.
pub const DECLARATION_FILE: &str = "vaultgate.capabilities.json";
/// The declaration's schema tag.
pub const DECLARATION_SCHEMA: &str = "vaultgate/capabilities/v1";
/// The largest declaration read (a hostile project cannot make the scan read gigabytes).
pub const DECLARATION_MAX_BYTES: u64 = 64 * 1024;

/// Why a scan could not run (exit 2): the folder or its declaration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The folder cannot be opened.
    #[error("cannot open project folder `{}`: {source}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The path is not a folder.
    #[error("`{}` is not a folder", .0.display())]
    NotAFolder(PathBuf),
    /// The declaration is a symlink, a folder, too large, or unreadable.
    #[error("declaration `{}`: {reason}", path.display())]
    Declaration {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The manifest of the folder could not be computed.
    #[error("cannot compute the manifest of `{}`: {source}", path.display())]
    Manifest {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: manifest::ManifestError,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeclaration {
    schema: String,
    capabilities: Vec<String>,
}

/// A validated declaration: sorted, de-duplicated, well-formed capability names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// The declared capabilities, sorted.
    pub capabilities: Vec<String>,
}

impl Declaration {
    /// Parse and validate the declaration's bytes; `path` only labels errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, IngestError> {
        let bad = |reason: String| IngestError::Declaration {
            path: path.to_path_buf(),
            reason,
        };
        let raw: RawDeclaration = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if raw.schema != DECLARATION_SCHEMA {
            return Err(bad(format!(
                "schema is `{}`, expected `{DECLARATION_SCHEMA}`",
                escape_for_display(&raw.schema)
            )));
        }
        if raw.capabilities.is_empty() {
            return Err(bad("declares no capabilities".into()));
        }
        let mut caps = raw.capabilities;
        for (i, c) in caps.iter().enumerate() {
            check_scope_name(c).map_err(|r| {
                bad(format!(
                    "capabilities[{i}] `{}`: {r}",
                    escape_for_display(c)
                ))
            })?;
        }
        caps.sort();
        if let Some([dup, _]) = caps.windows(2).find(|w| w[0] == w[1]) {
            return Err(bad(format!("capability `{dup}` is declared twice")));
        }
        Ok(Self { capabilities: caps })
    }
}

/// What a scan found.
#[derive(Debug, Clone)]
pub struct Scan {
    /// The folder, canonicalised.
    pub root: PathBuf,
    /// The declaration, when the folder has one.
    pub declaration: Option<Declaration>,
    /// SHA-256 of the folder's manifest.
    pub manifest_digest: Sha256Digest,
    /// Files the manifest lists.
    pub files: usize,
}

/// Read the folder's declaration and compute its manifest digest. Runs no project code.
pub fn scan(dir: &Path) -> Result<Scan, IngestError> {
    let root = fs::canonicalize(dir).map_err(|source| IngestError::Folder {
        path: dir.to_path_buf(),
        source,
    })?;
    if !root.is_dir() {
        return Err(IngestError::NotAFolder(dir.to_path_buf()));
    }
    let declaration = read_declaration(&root)?;
    let mut opts = GenerateOptions::new(&root);
    opts.allow_empty = true;
    let entries =
        manifest::compute(&opts, &Progress::hidden()).map_err(|source| IngestError::Manifest {
            path: root.clone(),
            source,
        })?;
    let digest = sha256_bytes(&manifest::render(&entries));
    Ok(Scan {
        root,
        declaration,
        manifest_digest: digest,
        files: entries.len(),
    })
}

fn read_declaration(root: &Path) -> Result<Option<Declaration>, IngestError> {
    let path = root.join(DECLARATION_FILE);
    let bad = |reason: String| IngestError::Declaration {
        path: path.clone(),
        reason,
    };
    let meta = match fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    if !meta.file_type().is_file() {
        return Err(bad("is not a regular file (symlinks are refused)".into()));
    }
    if meta.len() > DECLARATION_MAX_BYTES {
        return Err(bad(format!(
            "is {} bytes, more than the {DECLARATION_MAX_BYTES} allowed",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    fs::File::open(&path)
        .and_then(|f| f.take(DECLARATION_MAX_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| bad(e.to_string()))?;
    Declaration::parse(&path, &bytes).map(Some)
}

/// Capability → the providers that offer it (from the home's configuration).
pub type ProviderIndex = BTreeMap<String, Vec<String>>;

/// Build the capability index from `provider → capabilities`.
pub fn index_providers<'a>(
    providers: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> ProviderIndex {
    let mut idx = ProviderIndex::new();
    for (p, caps) in providers {
        for c in caps {
            idx.entry(c.clone()).or_default().push(p.to_owned());
        }
    }
    for v in idx.values_mut() {
        v.sort();
        v.dedup();
    }
    idx
}

/// Each declared capability and the providers it resolves to (empty when none).
pub fn resolve(declared: &[String], index: &ProviderIndex) -> Vec<(String, Vec<String>)> {
    declared
        .iter()
        .map(|c| (c.clone(), index.get(c).cloned().unwrap_or_default()))
        .collect()
}

/// The registered asset an ingest belongs to, as eligibility needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetFacts {
    /// Asset name.
    pub name: String,
    /// Its owner (empty means none).
    pub owner: String,
}

/// Everything eligibility is decided from.
#[derive(Debug, Clone)]
pub struct EligibilityInput<'a> {
    /// The asset owning the scanned folder, if one is registered.
    pub asset: Option<&'a AssetFacts>,
    /// Whether the folder had a declaration.
    pub declared: bool,
    /// Declared capabilities and their providers.
    pub resolution: &'a [(String, Vec<String>)],
    /// The scopes `ingest bind` approves.
    pub scopes: &'a [String],
    /// The manifest digest recorded at scan and the one computed at bind.
    pub digests: (&'a str, &'a str),
}

/// PASS (no findings) or FAIL with every reason: asset registered with an owner, a declaration
/// present, every declared capability resolving to a provider (nothing unknown declared), and
/// every approved scope among the declared capabilities.
pub fn eligibility(input: &EligibilityInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    match input.asset {
        None => out.push(Finding::error(
            LeaseCode::IngestAssetUnregistered,
            "asset",
            "no registered asset owns the scanned folder",
        )),
        Some(a) if a.owner.trim().is_empty() => out.push(Finding::error(
            LeaseCode::IngestOwnerMissing,
            a.name.clone(),
            format!("asset `{}` has no owner", a.name),
        )),
        Some(_) => {}
    }
    if !input.declared {
        out.push(Finding::error(
            LeaseCode::IngestDeclarationMissing,
            DECLARATION_FILE,
            format!("the project declares no capabilities (`{DECLARATION_FILE}` is missing)"),
        ));
    }
    for (cap, providers) in input.resolution {
        if providers.is_empty() {
            out.push(
                Finding::error(
                    LeaseCode::IngestCapabilityUnknown,
                    cap.clone(),
                    format!("declared capability `{cap}` resolves to no configured provider"),
                )
                .at(Location {
                    file: Some(DECLARATION_FILE.into()),
                    field: Some("capabilities".into()),
                    ..Location::default()
                }),
            );
        }
    }
    let (scanned, now) = input.digests;
    if scanned != now {
        out.push(Finding::error(
            LeaseCode::IngestManifestChanged,
            "manifest",
            format!("the project's files changed since the scan (manifest digest `{scanned}` then, `{now}` now)\nhelp: scan again and bind the new ingest"),
        ));
    }
    for s in input.scopes {
        if !input.resolution.iter().any(|(c, _)| c == s) {
            out.push(Finding::error(
                LeaseCode::IngestScopeUndeclared,
                s.clone(),
                format!("scope `{s}` is not among the project's declared capabilities"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(s: &str) -> Result<Declaration, IngestError> {
        Declaration::parse(Path::new(DECLARATION_FILE), s.as_bytes())
    }

    #[test]
    fn declaration_is_strict() {
        let ok =
            decl(r#"{"schema":"vaultgate/capabilities/v1","capabilities":["b.x","a.y"]}"#).unwrap();
        assert_eq!(ok.capabilities, ["a.y", "b.x"]);
        for bad in [
            r#"{"schema":"vaultgate/capabilities/v1","capabilities":["a"],"extra":1}"#,
            r#"{"schema":"vaultgate/capabilities/v2","capabilities":["a"]}"#,
            r#"{"schema":"vaultgate/capabilities/v1","capabilities":[]}"#,
            r#"{"schema":"vaultgate/capabilities/v1","capabilities":["a","a"]}"#,
            r#"{"schema":"vaultgate/capabilities/v1","capabilities":["A\nB"]}"#,
            r#"{"capabilities":["a"]}"#,
            "not json",
        ] {
            assert!(decl(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resolution_uses_every_provider() {
        let gem = vec!["ai.gemini.inference".to_owned()];
        let other = vec!["ai.gemini.inference".to_owned(), "ai.x".to_owned()];
        let idx = index_providers([("gemini", gem.as_slice()), ("proxy", other.as_slice())]);
        let r = resolve(&["ai.gemini.inference".into(), "ai.none".into()], &idx);
        assert_eq!(r[0].1, ["gemini", "proxy"]);
        assert!(r[1].1.is_empty());
    }

    fn codes(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.code).collect()
    }

    #[test]
    fn eligibility_passes_only_when_everything_holds() {
        let asset = AssetFacts {
            name: "c1".into(),
            owner: "team".into(),
        };
        let res = vec![("ai.gemini.inference".to_owned(), vec!["gemini".to_owned()])];
        let scopes = vec!["ai.gemini.inference".to_owned()];
        let input = EligibilityInput {
            asset: Some(&asset),
            declared: true,
            resolution: &res,
            scopes: &scopes,
            digests: ("d", "d"),
        };
        assert!(eligibility(&input).is_empty());

        let unowned = AssetFacts {
            owner: " ".into(),
            ..asset.clone()
        };
        let res_bad = vec![("ai.none".to_owned(), vec![])];
        let bad_scopes = vec!["ai.other".to_owned()];
        let f = eligibility(&EligibilityInput {
            asset: Some(&unowned),
            declared: true,
            resolution: &res_bad,
            scopes: &bad_scopes,
            digests: ("d", "d"),
        });
        assert_eq!(
            codes(&f),
            [
                "ingest-owner-missing",
                "ingest-capability-unknown",
                "ingest-scope-undeclared"
            ]
        );
        let f = eligibility(&EligibilityInput {
            asset: None,
            declared: false,
            resolution: &[],
            scopes: &scopes,
            digests: ("before", "after"),
        });
        assert_eq!(
            codes(&f),
            [
                "ingest-asset-unregistered",
                "ingest-declaration-missing",
                "ingest-manifest-changed",
                "ingest-scope-undeclared"
            ]
        );
    }

    #[test]
    fn scan_reads_the_declaration_and_digests_without_running_anything() {
        let d = tempfile::tempdir().unwrap();
        fs::write(
            d.path().join(DECLARATION_FILE),
            r#"{"schema":"vaultgate/capabilities/v1","capabilities":["ai.gemini.inference"]}"#,
        )
        .unwrap();
        // A build script that would leave a mark if anything ran it.
        fs::write(d.path().join("build.sh"), "#!/bin/sh\ntouch ran\n").unwrap();
        let s = scan(d.path()).unwrap();
        assert_eq!(s.declaration.unwrap().capabilities, ["ai.gemini.inference"]);
        assert_eq!(s.files, 2);
        assert!(!d.path().join("ran").exists());
        let again = scan(d.path()).unwrap();
        assert_eq!(again.manifest_digest, s.manifest_digest);
        fs::write(d.path().join("build.sh"), "changed").unwrap();
        assert_ne!(scan(d.path()).unwrap().manifest_digest, s.manifest_digest);
    }

    #[test]
    fn scan_refuses_a_symlinked_declaration() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("real.json"), "{}").unwrap();
        std::os::unix::fs::symlink("real.json", d.path().join(DECLARATION_FILE)).unwrap();
        assert!(matches!(
            scan(d.path()),
            Err(IngestError::Declaration { .. })
        ));
    }
}
