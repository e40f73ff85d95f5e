//! Capabilities and roles.
//!
//! Authority is capability-based: a token holds a set of [`Capability`] names; a role is only a
//! named bundle, expanded when a token is created and stored as capabilities (so editing a role
//! later never widens an issued token). Every check names the one capability it needs; deny by
//! default.
//!
//! Names: `admin`, or `<family>:<action>` where both parts are lowercase `[a-z0-9-]`. A held
//! `<family>:*` grants every action of that family (`agent:*` grants `agent:run`); nothing else
//! is a wildcard, and `admin` does **not** imply any other capability (an administrator who
//! wants to mint leases gives a token the `lease:mint` capability like anyone else).
//!
//! Only names in [`KNOWN`] (or a known family's `*`) can be put on a token, so a typo fails at
//! `token create`, never silently at use. Families extending the list add to [`KNOWN`].

use std::collections::BTreeSet;
use std::fmt;

/// Every capability vaultgate checks (documented in `docs/vault.md`).
pub const KNOWN: &[&str] = &[
    "admin",
    "audit:read",
    "token:read",
    "provider:manage",
    "asset:register",
    "asset:read",
    "ingest:scan",
    "ingest:bind",
    "ingest:read",
    "lease:mint",
    "lease:exec",
    "lease:revoke",
    "lease:revoke-any",
    "lease:read",
    "lease:sweep",
    "grant:mint",
    "grant:consume",
    "grant:revoke",
    "grant:read",
    "agent:discover",
    "agent:install",
    "agent:build",
    "agent:enable",
    "agent:revoke",
    "agent:run",
    "agent:stop",
    "agent:read",
];

/// A validated capability name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Capability(String);

/// A capability name that is malformed or unknown.
#[derive(Debug, thiserror::Error)]
#[error("unknown capability `{0}`\nhelp: known capabilities: {list}", list = KNOWN.join(", "))]
pub struct UnknownCapability(pub String);

impl Capability {
    /// Parse and check against [`KNOWN`] (a family wildcard `family:*` is accepted when the
    /// family has known actions).
    pub fn parse(s: &str) -> Result<Self, UnknownCapability> {
        if KNOWN.contains(&s) {
            return Ok(Self(s.to_owned()));
        }
        if let Some(family) = s.strip_suffix(":*")
            && KNOWN
                .iter()
                .any(|k| k.split_once(':').is_some_and(|(f, _)| f == family))
        {
            return Ok(Self(s.to_owned()));
        }
        Err(UnknownCapability(s.to_owned()))
    }

    /// A capability named by vaultgate's own code (a constant from [`KNOWN`]).
    ///
    /// Families call this with literals; an unknown literal is a bug caught by the unit tests
    /// of the family, and it fails closed anyway: no token can hold an unknown name.
    pub fn named(s: &'static str) -> Self {
        Self(s.to_owned())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Does holding `self` satisfy a check for `needed`?
    pub fn grants(&self, needed: &Capability) -> bool {
        if self.0 == needed.0 {
            return true;
        }
        match (self.0.strip_suffix(":*"), needed.0.split_once(':')) {
            (Some(family), Some((f, _))) => family == f,
            _ => false,
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A set of capabilities held by a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilitySet(pub BTreeSet<Capability>);

impl CapabilitySet {
    /// Does the set satisfy `needed`?
    pub fn allows(&self, needed: &Capability) -> bool {
        self.0.iter().any(|c| c.grants(needed))
    }
    /// The names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|c| c.0.clone()).collect()
    }
}

/// The roles shipped in a new home's `config.json` (name, capabilities).
pub const SHIPPED_ROLES: &[(&str, &[&str])] = &[
    (
        "admin",
        &[
            "admin",
            "audit:read",
            "token:read",
            "provider:manage",
            "asset:register",
            "asset:read",
            "ingest:scan",
            "ingest:bind",
            "ingest:read",
            "lease:read",
            "lease:revoke-any",
            "lease:sweep",
            "grant:read",
            "grant:revoke",
            "agent:*",
        ],
    ),
    (
        "builder",
        &[
            "ingest:scan",
            "ingest:read",
            "lease:exec",
            "lease:read",
            "grant:consume",
            "grant:read",
            "agent:read",
            "agent:build",
        ],
    ),
    (
        "operator",
        &[
            "agent:*",
            "grant:mint",
            "grant:consume",
            "grant:revoke",
            "grant:read",
            "lease:read",
            "lease:revoke-any",
            "lease:sweep",
            "audit:read",
        ],
    ),
    (
        "auditor",
        &[
            "audit:read",
            "token:read",
            "lease:read",
            "grant:read",
            "agent:read",
        ],
    ),
    // The lease specification's seed identity: a `codex-builder` token holding this role is the
    // one that may mint leases.
    (
        "3B-secret-lease",
        &["lease:mint", "lease:exec", "lease:revoke", "lease:read"],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_only_their_family() {
        let star = Capability::parse("agent:*").unwrap();
        assert!(star.grants(&Capability::named("agent:run")));
        assert!(!star.grants(&Capability::named("lease:mint")));
        let admin = Capability::parse("admin").unwrap();
        assert!(!admin.grants(&Capability::named("lease:mint")));
        assert!(Capability::parse("lease:mnit").is_err());
        assert!(Capability::parse("nope:*").is_err());
        assert!(Capability::parse("*").is_err());
    }

    #[test]
    fn shipped_roles_use_known_names() {
        for (role, caps) in SHIPPED_ROLES {
            for c in *caps {
                assert!(Capability::parse(c).is_ok(), "{role}: {c}");
            }
        }
    }
}
