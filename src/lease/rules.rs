//! The pure rules of a lease: TTL bounds, scope containment, contract phases, the active-lease
//! cap, and the fingerprint. No I/O, no clock: the store layer calls these inside its
//! transaction and turns a refusal into the single `VIOLATION` row.

use sha2::{Digest, Sha256};

use super::codes::LeaseCode;
use crate::hash::Sha256Digest;

/// The shortest lease: 60 seconds.
pub const MIN_TTL_SECS: u64 = 60;
/// The longest any contract may allow: 24 hours.
pub const MAX_TTL_SECS: u64 = 86_400;
/// Active leases a contract allows at once unless `ingest bind --max-active` says otherwise.
pub const DEFAULT_MAX_ACTIVE: u32 = 8;
/// The domain prefix hashed before the material, so a lease fingerprint can never be confused
/// with (or replayed as) a SHA-256 of the same bytes computed for another purpose.
pub const FINGERPRINT_DOMAIN: &[u8] = b"vaultgate/lease-fingerprint/v1\0";
/// Bytes of secret material per lease.
pub const MATERIAL_LEN: usize = 32;

/// SHA-256 of `FINGERPRINT_DOMAIN ‖ material`: identifies the material without revealing it.
pub fn fingerprint(material: &[u8]) -> Sha256Digest {
    let mut h = Sha256::new();
    h.update(FINGERPRINT_DOMAIN);
    h.update(material);
    let out: [u8; 32] = h.finalize().into();
    Sha256Digest(out)
}

/// A bind contract's maximum TTL: within 60 s … 86,400 s.
pub fn check_max_ttl(secs: u64) -> Result<u64, String> {
    if (MIN_TTL_SECS..=MAX_TTL_SECS).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!(
            "a contract's maximum TTL must lie within {MIN_TTL_SECS} s … {MAX_TTL_SECS} s, got {secs} s"
        ))
    }
}

/// A requested lease TTL against the contract's maximum: missing, too short and too long are
/// each their own violation.
pub fn check_ttl(requested: Option<u64>, contract_max: u64) -> Result<u64, LeaseCode> {
    let ttl = requested.ok_or(LeaseCode::LeaseTtlMissing)?;
    if ttl < MIN_TTL_SECS {
        return Err(LeaseCode::LeaseTtlTooShort);
    }
    if ttl > contract_max.min(MAX_TTL_SECS) {
        return Err(LeaseCode::LeaseTtlTooLong);
    }
    Ok(ttl)
}

/// `true` when `scope` is inside `approved`: equal to it, or a dotted refinement of it
/// (`ai.gemini.inference.flash` is inside `ai.gemini.inference`; `ai.gemini` is broader).
pub fn scope_within(scope: &str, approved: &str) -> bool {
    scope == approved
        || scope
            .strip_prefix(approved)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Every requested scope lies inside one of the contract's; none given is its own violation.
pub fn check_scopes(requested: &[String], contract: &[String]) -> Result<(), LeaseCode> {
    if requested.is_empty() {
        return Err(LeaseCode::LeaseScopeMissing);
    }
    if requested
        .iter()
        .all(|s| contract.iter().any(|c| scope_within(s, c)))
    {
        Ok(())
    } else {
        Err(LeaseCode::LeaseScopeBroaden)
    }
}

/// A capability or scope name: `segment(.segment)*`, each segment lowercase ASCII letters,
/// digits, `-` or `_`, at most 128 bytes in all. Anything else is refused at the edge so a
/// hostile name can never forge an output line or a prefix match.
pub fn check_scope_name(s: &str) -> Result<(), String> {
    let ok_segment = |seg: &str| {
        !seg.is_empty()
            && seg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    if s.len() <= 128 && s.split('.').all(ok_segment) {
        Ok(())
    } else {
        Err("a scope is dot-separated segments of lowercase letters, digits, `-` and `_` (at most 128 bytes)".into())
    }
}

/// The phase of a bind contract: only `build` and `release` allow leases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Building: leases allowed (the default).
    Build,
    /// Releasing: leases allowed.
    Release,
    /// Under review: no leases.
    Review,
    /// Retired: no leases, ever again.
    Retired,
}

impl Phase {
    /// Every phase, in documentation order.
    pub const ALL: &'static [Self] = &[Self::Build, Self::Release, Self::Review, Self::Retired];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Build => "build",
            Self::Release => "release",
            Self::Review => "review",
            Self::Retired => "retired",
        }
    }

    /// The phase for its stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.as_str() == s)
    }

    /// Whether a lease may be minted under a contract in this phase.
    pub fn allows_leases(self) -> bool {
        matches!(self, Self::Build | Self::Release)
    }
}

/// The state of a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaseStatus {
    /// Usable until its expiry.
    Active,
    /// Revoked by someone; material destroyed.
    Revoked,
    /// Expired by the sweep; material destroyed.
    Expired,
}

impl LeaseStatus {
    /// Every status, in documentation order.
    pub const ALL: &'static [Self] = &[Self::Active, Self::Revoked, Self::Expired];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }

    /// The status for its stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_missing_short_long_and_in_range() {
        assert_eq!(check_ttl(None, 3600), Err(LeaseCode::LeaseTtlMissing));
        assert_eq!(check_ttl(Some(59), 3600), Err(LeaseCode::LeaseTtlTooShort));
        assert_eq!(check_ttl(Some(60), 3600), Ok(60));
        assert_eq!(check_ttl(Some(3600), 3600), Ok(3600));
        assert_eq!(check_ttl(Some(3601), 3600), Err(LeaseCode::LeaseTtlTooLong));
        // A corrupt contract maximum above the hard cap is still capped.
        assert_eq!(
            check_ttl(Some(90_000), u64::MAX),
            Err(LeaseCode::LeaseTtlTooLong)
        );
    }

    #[test]
    fn max_ttl_bounds() {
        assert!(check_max_ttl(59).is_err());
        assert!(check_max_ttl(60).is_ok());
        assert!(check_max_ttl(86_400).is_ok());
        assert!(check_max_ttl(86_401).is_err());
    }

    #[test]
    fn scope_containment_is_by_dotted_segment() {
        assert!(scope_within("ai.gemini.inference", "ai.gemini.inference"));
        assert!(scope_within(
            "ai.gemini.inference.flash",
            "ai.gemini.inference"
        ));
        assert!(!scope_within("ai.gemini", "ai.gemini.inference"));
        // A shared string prefix is not containment.
        assert!(!scope_within("ai.gemini.inferencex", "ai.gemini.inference"));
        let contract = vec!["ai.gemini.inference".to_owned()];
        assert_eq!(
            check_scopes(&[], &contract),
            Err(LeaseCode::LeaseScopeMissing)
        );
        assert_eq!(
            check_scopes(&["ai.gemini".into()], &contract),
            Err(LeaseCode::LeaseScopeBroaden)
        );
        assert_eq!(
            check_scopes(
                &["ai.gemini.inference".into(), "ai.openai".into()],
                &contract
            ),
            Err(LeaseCode::LeaseScopeBroaden)
        );
        assert_eq!(
            check_scopes(&["ai.gemini.inference".into()], &contract),
            Ok(())
        );
    }

    #[test]
    fn scope_names_are_strict() {
        assert!(check_scope_name("ai.gemini.inference").is_ok());
        assert!(check_scope_name("ai..x").is_err());
        assert!(check_scope_name("AI.x").is_err());
        assert!(check_scope_name("a\nb").is_err());
        assert!(check_scope_name("").is_err());
        assert!(check_scope_name(&"a".repeat(129)).is_err());
    }

    #[test]
    fn fingerprint_is_domain_separated() {
        let m = [7u8; 32];
        assert_ne!(fingerprint(&m), crate::hash::sha256_bytes(&m));
        assert_eq!(fingerprint(&m), fingerprint(&m));
        assert_ne!(fingerprint(&m), fingerprint(&[8u8; 32]));
    }

    #[test]
    fn phases_and_statuses_round_trip() {
        for p in Phase::ALL {
            assert_eq!(Phase::parse(p.as_str()), Some(*p));
        }
        assert!(Phase::Build.allows_leases() && Phase::Release.allows_leases());
        assert!(!Phase::Review.allows_leases() && !Phase::Retired.allows_leases());
        for s in LeaseStatus::ALL {
            assert_eq!(LeaseStatus::parse(s.as_str()), Some(*s));
        }
    }
}
