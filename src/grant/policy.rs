//! The grant policy: which namespace / axis / target triples a build grant may be minted for,
//! and the default TTL. The shipped default allows exactly the C1 dry run (`DRYRUN-NS` /
//! `dot:c1:vocab` / `DOT_C1_VOCAB_BUILD`); `--policy FILE` replaces it. Unknown fields are
//! refused; a policy can narrow but never widen the 60 … 86,400 s TTL bounds.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The policy file's schema tag.
pub const POLICY_SCHEMA: &str = "vaultgate/grant-policy/v1";
/// The shortest grant.
pub const MIN_TTL_SECS: u64 = 60;
/// The longest grant.
pub const MAX_TTL_SECS: u64 = 86_400;
/// The default lifetime of a grant.
pub const DEFAULT_TTL_SECS: u64 = 7_200;

/// The shipped default policy (also in `fixtures/grant/policy-c1.json`).
pub const DEFAULT_POLICY: &str = r#"{
  "schema": "vaultgate/grant-policy/v1",
  "allow": [
    {"namespace": "DRYRUN-NS", "axis": "dot:c1:vocab", "target": "DOT_C1_VOCAB_BUILD"}
  ],
  "default_ttl_seconds": 7200
}
"#;

/// A namespace / axis / target triple.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Namespace.
    pub namespace: String,
    /// Axis.
    pub axis: String,
    /// Target.
    pub target: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    schema: String,
    allow: Vec<Scope>,
    #[serde(default)]
    default_ttl_seconds: Option<u64>,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantPolicy {
    /// The allowed triples (never empty).
    pub allow: Vec<Scope>,
    /// The TTL when the request names none, within bounds.
    pub default_ttl: u64,
}

/// Why a policy was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Unreadable.
    #[error("cannot read grant policy `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: crate::fsutil::FsError,
    },
    /// Invalid.
    #[error("invalid grant policy `{}`: {reason}", path.display())]
    Invalid {
        /// The file (`<default>` for the built-in one).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl GrantPolicy {
    /// The shipped default.
    pub fn shipped() -> Result<Self, PolicyError> {
        Self::parse(Path::new("<default>"), DEFAULT_POLICY.as_bytes())
    }

    /// Read and validate a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let bytes = crate::fsutil::read(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &bytes)
    }

    /// Validate a policy's bytes; `path` labels errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, PolicyError> {
        let bad = |reason: String| PolicyError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let raw: RawPolicy = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if raw.schema != POLICY_SCHEMA {
            return Err(bad(format!("`schema` must be `{POLICY_SCHEMA}`")));
        }
        if raw.allow.is_empty() {
            return Err(bad(
                "`allow` is empty: the policy would allow nothing".into()
            ));
        }
        if raw.allow.iter().any(|s| {
            [&s.namespace, &s.axis, &s.target]
                .iter()
                .any(|v| v.trim().is_empty())
        }) {
            return Err(bad("an `allow` entry has an empty field".into()));
        }
        let default_ttl = raw.default_ttl_seconds.unwrap_or(DEFAULT_TTL_SECS);
        if !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&default_ttl) {
            return Err(bad(format!(
                "`default_ttl_seconds` must lie within {MIN_TTL_SECS} … {MAX_TTL_SECS}"
            )));
        }
        Ok(Self {
            allow: raw.allow,
            default_ttl,
        })
    }

    /// Whether the triple is allowed (exact, case-sensitive match).
    pub fn allows(&self, namespace: &str, axis: &str, target: &str) -> bool {
        self.allow
            .iter()
            .any(|s| s.namespace == namespace && s.axis == axis && s.target == target)
    }

    /// The grant's TTL: the request's, else the default, clamped to 60 … 86,400 s.
    pub fn ttl(&self, requested: Option<u64>) -> u64 {
        clamp_ttl(requested.unwrap_or(self.default_ttl))
    }
}

/// Clamp a TTL to 60 … 86,400 seconds.
pub fn clamp_ttl(secs: u64) -> u64 {
    secs.clamp(MIN_TTL_SECS, MAX_TTL_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_allows_only_c1_dryrun() {
        let p = GrantPolicy::shipped().unwrap();
        assert!(p.allows("DRYRUN-NS", "dot:c1:vocab", "DOT_C1_VOCAB_BUILD"));
        assert!(!p.allows("PROD-NS", "dot:c1:vocab", "DOT_C1_VOCAB_BUILD"));
        assert!(!p.allows("DRYRUN-NS", "dot:c1:vocab", "dot_c1_vocab_build"));
        assert_eq!(p.default_ttl, 7200);
        let file = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/grant/policy-c1.json"
        ))
        .unwrap();
        assert_eq!(GrantPolicy::parse(Path::new("f"), &file).unwrap(), p);
    }

    #[test]
    fn ttl_is_clamped() {
        let p = GrantPolicy::shipped().unwrap();
        assert_eq!(p.ttl(None), 7200);
        assert_eq!(p.ttl(Some(1)), 60);
        assert_eq!(p.ttl(Some(0)), 60);
        assert_eq!(p.ttl(Some(100_000)), 86_400);
        assert_eq!(p.ttl(Some(u64::MAX)), 86_400);
        assert_eq!(p.ttl(Some(600)), 600);
    }

    #[test]
    fn bad_policies_are_refused() {
        for bad in [
            r#"{"schema":"vaultgate/grant-policy/v1","allow":[]}"#,
            r#"{"schema":"vaultgate/grant-policy/v1","allow":[{"namespace":"a","axis":"b","target":"c","x":1}]}"#,
            r#"{"schema":"vaultgate/grant-policy/v1","allow":[{"namespace":"a","axis":"b","target":""}]}"#,
            r#"{"schema":"vaultgate/grant-policy/v1","allow":[{"namespace":"a","axis":"b","target":"c"}],"default_ttl_seconds":5}"#,
            r#"{"schema":"other","allow":[{"namespace":"a","axis":"b","target":"c"}]}"#,
            r#"{"schema":"vaultgate/grant-policy/v1","allow":[{"namespace":"a","axis":"b","target":"c"}],"extra":true}"#,
        ] {
            assert!(
                GrantPolicy::parse(Path::new("p"), bad.as_bytes()).is_err(),
                "{bad}"
            );
        }
    }
}
