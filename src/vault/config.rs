//! The home's configuration file, `config.json` (boot step 1).
//!
//! Strict JSON (duplicate keys refused, through [`crate::canon::parse`]), every object with
//! `deny_unknown_fields`, then validated into a [`ValidConfig`]; nothing else reads the raw
//! form. Writers ([`save`]) go through a temp file + fsync + rename, so a crash or a refused
//! change leaves the old file. Format (`docs/vault.md` documents each field):
//!
//! ```json
//! {
//!   "version": 1,
//!   "providers": {"gemini": {"capabilities": ["ai.gemini.inference"]}},
//!   "roles": {"auditor": ["audit:read"]},
//!   "agents": {"discovery_roots": ["~/Projects", "agents"]}
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::caps::{Capability, CapabilitySet, SHIPPED_ROLES};
use crate::fsutil::{self, FsError};

/// The file name inside the home.
pub const FILE: &str = "config.json";

/// The only configuration version this binary reads.
pub const VERSION: u32 = 1;

/// `config.json` as written on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Format version (1).
    pub version: u32,
    /// Provider name → what it offers.
    #[serde(default)]
    pub providers: BTreeMap<String, RawProvider>,
    /// Role name → the capabilities it bundles.
    #[serde(default)]
    pub roles: BTreeMap<String, Vec<String>>,
    /// Agent settings.
    #[serde(default)]
    pub agents: RawAgents,
    /// A `postgres://` URL selecting the PostgreSQL store (`VAULTGATE_DATABASE_URL` wins);
    /// absent: the home's SQLite `vault.db`. See `docs/scale.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

/// One provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// Provider capabilities (scopes a lease can be bound to), e.g. `ai.gemini.inference`.
    pub capabilities: Vec<String>,
}

/// Agent settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgents {
    /// Folders `agent discover` walks by default. `~/` is the user's `$HOME`; a relative path
    /// is relative to the home.
    pub discovery_roots: Vec<String>,
}

impl Default for RawAgents {
    fn default() -> Self {
        Self {
            discovery_roots: vec!["~/Projects".into(), "agents".into()],
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// Not strict JSON, or not the documented shape.
    #[error("`{}` is not a valid vaultgate configuration: {reason}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A value fails validation.
    #[error("`{}`: {field}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// A JSON pointer to the field.
        field: String,
        /// What was wrong.
        reason: String,
    },
}

/// A provider after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// Its capabilities (sorted, unique).
    pub capabilities: BTreeSet<String>,
}

/// A configuration that passed validation: the only form the vault uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidConfig {
    raw: RawConfig,
    providers: BTreeMap<String, Provider>,
    roles: BTreeMap<String, CapabilitySet>,
}

fn is_name(s: &str, extra: &[char]) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

impl ValidConfig {
    /// Validate a raw configuration (`path` only labels errors).
    pub fn validate(raw: RawConfig, path: &Path) -> Result<Self, ConfigError> {
        let invalid = |field: String, reason: String| ConfigError::Invalid {
            path: path.to_owned(),
            field,
            reason,
        };
        if raw.version != VERSION {
            return Err(invalid(
                "/version".into(),
                format!(
                    "version {} is not supported (this binary reads {VERSION})",
                    raw.version
                ),
            ));
        }
        if let Some(u) = &raw.database_url
            && !super::store::postgres::is_postgres_url(u)
        {
            return Err(invalid(
                "/database_url".into(),
                "must be a postgres:// or postgresql:// URL".into(),
            ));
        }
        let mut providers = BTreeMap::new();
        for (name, p) in &raw.providers {
            if !is_name(name, &['.', '_', '-']) || name.chars().any(|c| c.is_ascii_uppercase()) {
                return Err(invalid(
                    format!("/providers/{name}"),
                    "a provider name is lowercase letters, digits, `.`, `_`, `-`".into(),
                ));
            }
            let mut caps = BTreeSet::new();
            for (i, c) in p.capabilities.iter().enumerate() {
                if !is_name(c, &['.', '_', '-', ':']) || c.chars().any(|c| c.is_ascii_uppercase()) {
                    return Err(invalid(
                        format!("/providers/{name}/capabilities/{i}"),
                        format!("`{c}` is not a provider capability (lowercase, `a.b.c`)"),
                    ));
                }
                if !caps.insert(c.clone()) {
                    return Err(invalid(
                        format!("/providers/{name}/capabilities/{i}"),
                        format!("`{c}` is listed twice"),
                    ));
                }
            }
            providers.insert(name.clone(), Provider { capabilities: caps });
        }
        let mut roles = BTreeMap::new();
        for (name, caps) in &raw.roles {
            if !is_name(name, &['.', '_', '-']) {
                return Err(invalid(
                    format!("/roles/{name}"),
                    "a role name is letters, digits, `.`, `_`, `-`".into(),
                ));
            }
            let mut set = CapabilitySet::default();
            for (i, c) in caps.iter().enumerate() {
                let cap = Capability::parse(c)
                    .map_err(|e| invalid(format!("/roles/{name}/{i}"), e.to_string()))?;
                set.0.insert(cap);
            }
            roles.insert(name.clone(), set);
        }
        for (i, r) in raw.agents.discovery_roots.iter().enumerate() {
            if r.is_empty() || r.contains('\0') {
                return Err(invalid(
                    format!("/agents/discovery_roots/{i}"),
                    "a discovery root is a non-empty path".into(),
                ));
            }
        }
        Ok(Self {
            raw,
            providers,
            roles,
        })
    }

    /// The configuration a new home starts with: no providers, the shipped roles, the default
    /// discovery roots.
    pub fn shipped() -> Self {
        let raw = RawConfig {
            version: VERSION,
            providers: BTreeMap::new(),
            roles: SHIPPED_ROLES
                .iter()
                .map(|(n, caps)| {
                    (
                        (*n).to_owned(),
                        caps.iter().map(|c| (*c).to_owned()).collect(),
                    )
                })
                .collect(),
            agents: RawAgents::default(),
            database_url: None,
        };
        Self::validate(raw, Path::new(FILE))
            .unwrap_or_else(|e| unreachable!("the shipped configuration validates: {e}"))
    }

    /// The configured PostgreSQL URL, if any (`VAULTGATE_DATABASE_URL` overrides it).
    pub fn database_url(&self) -> Option<&str> {
        self.raw.database_url.as_deref()
    }

    /// The raw form (to edit and re-validate, e.g. `provider add`).
    pub fn raw(&self) -> &RawConfig {
        &self.raw
    }

    /// Every provider.
    pub fn providers(&self) -> &BTreeMap<String, Provider> {
        &self.providers
    }

    /// Every role, expanded.
    pub fn roles(&self) -> &BTreeMap<String, CapabilitySet> {
        &self.roles
    }

    /// One role, expanded.
    pub fn role(&self, name: &str) -> Option<&CapabilitySet> {
        self.roles.get(name)
    }

    /// The provider offering a capability (first by name), if any.
    pub fn provider_for(&self, capability: &str) -> Option<&str> {
        self.providers
            .iter()
            .find(|(_, p)| p.capabilities.contains(capability))
            .map(|(n, _)| n.as_str())
    }

    /// The default discovery roots, resolved: `~/` against `user_home`, relative against `home`.
    pub fn discovery_roots(&self, home: &Path, user_home: Option<&Path>) -> Vec<PathBuf> {
        self.raw
            .agents
            .discovery_roots
            .iter()
            .filter_map(|r| {
                if let Some(rest) = r.strip_prefix("~/") {
                    user_home.map(|h| h.join(rest))
                } else if r == "~" {
                    user_home.map(Path::to_path_buf)
                } else {
                    let p = Path::new(r);
                    Some(if p.is_absolute() {
                        p.to_path_buf()
                    } else {
                        home.join(p)
                    })
                }
            })
            .collect()
    }
}

/// Parse and validate configuration bytes.
pub fn parse(bytes: &[u8], path: &Path) -> Result<ValidConfig, ConfigError> {
    let parse_err = |reason: String| ConfigError::Parse {
        path: path.to_owned(),
        reason,
    };
    let value = crate::canon::parse(bytes).map_err(|e| parse_err(e.to_string()))?;
    let raw: RawConfig = serde_json::from_value(value).map_err(|e| parse_err(e.to_string()))?;
    ValidConfig::validate(raw, path)
}

/// Read `home/config.json` (the caller checks the file's owner and mode first).
pub fn load(home: &Path) -> Result<ValidConfig, ConfigError> {
    let path = home.join(FILE);
    let bytes = fsutil::read(&path)?;
    parse(&bytes, &path)
}

/// The bytes written for a configuration (pretty JSON, sorted keys, final newline).
pub fn render(config: &ValidConfig) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(&config.raw)
        .unwrap_or_else(|e| unreachable!("a RawConfig always serialises: {e}"));
    s.push('\n');
    s.into_bytes()
}

/// Atomically replace `home/config.json` with `config` (temp file, fsync, rename, fsync of
/// the folder; the file keeps mode 0600).
pub fn save(home: &Path, config: &ValidConfig) -> Result<(), ConfigError> {
    let path = home.join(FILE);
    fsutil::write_atomic_bytes(&path, &render(config))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_round_trips() {
        let c = ValidConfig::shipped();
        let again = parse(&render(&c), Path::new("x")).unwrap();
        assert_eq!(c, again);
        assert!(
            c.role("3B-secret-lease")
                .unwrap()
                .allows(&Capability::named("lease:mint"))
        );
    }

    #[test]
    fn unknown_fields_and_duplicates_fail_closed() {
        let p = Path::new("c.json");
        assert!(parse(br#"{"version":1,"providrs":{}}"#, p).is_err());
        assert!(parse(br#"{"version":1,"version":1}"#, p).is_err());
        assert!(parse(br#"{"version":2}"#, p).is_err());
        assert!(parse(br#"{"version":1,"roles":{"x":["lease:mnit"]}}"#, p).is_err());
        assert!(
            parse(
                br#"{"version":1,"providers":{"gemini":{"capabilities":["ai.gemini.inference"],"x":1}}}"#,
                p
            )
            .is_err()
        );
        let ok = parse(
            br#"{"version":1,"providers":{"gemini":{"capabilities":["ai.gemini.inference"]}}}"#,
            p,
        )
        .unwrap();
        assert_eq!(ok.provider_for("ai.gemini.inference"), Some("gemini"));
    }

    #[test]
    fn discovery_roots_resolve() {
        let c = ValidConfig::shipped();
        let roots = c.discovery_roots(Path::new("/h"), Some(Path::new("/u")));
        assert_eq!(
            roots,
            vec![PathBuf::from("/u/Projects"), PathBuf::from("/h/agents")]
        );
    }
}
