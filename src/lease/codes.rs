//! The lease family's stable reason codes (registry, ingest, bind contracts and leases),
//! documented in `docs/leases.md`. The full list is pinned by a test so a rename is a visible
//! change. A refused `lease mint` writes exactly one `VIOLATION` audit row carrying one of these.

use crate::report::FindingCode;

/// Every reason the lease family can refuse or mark something ineligible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LeaseCode {
    /// The project folder declares no capabilities file at its root.
    IngestDeclarationMissing,
    /// No registered asset owns the scanned folder.
    IngestAssetUnregistered,
    /// The asset has no owner.
    IngestOwnerMissing,
    /// A declared capability resolves to no configured provider.
    IngestCapabilityUnknown,
    /// A scope given to `ingest bind` is not among the project's declared capabilities.
    IngestScopeUndeclared,
    /// The project's files changed since the scan (its manifest digest differs).
    IngestManifestChanged,
    /// `--ingest` names no bind contract.
    LeaseContractUnknown,
    /// The contract's phase does not allow leases.
    LeasePhaseClosed,
    /// The contract's eligibility verdict is FAIL.
    LeaseIneligible,
    /// `lease mint` was given no `--ttl`.
    LeaseTtlMissing,
    /// The TTL is shorter than 60 s.
    LeaseTtlTooShort,
    /// The TTL is longer than the contract's maximum.
    LeaseTtlTooLong,
    /// `lease mint` was given no `--scope`.
    LeaseScopeMissing,
    /// A requested scope is not inside the contract's approved scopes.
    LeaseScopeBroaden,
    /// The contract already has its maximum number of active leases.
    LeaseCapExceeded,
    /// The handle names no lease.
    LeaseUnknown,
    /// The lease was revoked.
    LeaseRevoked,
    /// The lease expired.
    LeaseExpired,
    /// The lease's row no longer matches its sealed material (a hand-edited expiry, scope or
    /// ciphertext): decryption failed.
    LeaseTampered,
    /// The caller may revoke only its own leases and this one is someone else's.
    LeaseNotOwner,
}

impl FindingCode for LeaseCode {
    fn as_str(self) -> &'static str {
        match self {
            Self::IngestDeclarationMissing => "ingest-declaration-missing",
            Self::IngestAssetUnregistered => "ingest-asset-unregistered",
            Self::IngestOwnerMissing => "ingest-owner-missing",
            Self::IngestCapabilityUnknown => "ingest-capability-unknown",
            Self::IngestScopeUndeclared => "ingest-scope-undeclared",
            Self::IngestManifestChanged => "ingest-manifest-changed",
            Self::LeaseContractUnknown => "lease-contract-unknown",
            Self::LeasePhaseClosed => "lease-phase-closed",
            Self::LeaseIneligible => "lease-ineligible",
            Self::LeaseTtlMissing => "lease-ttl-missing",
            Self::LeaseTtlTooShort => "lease-ttl-too-short",
            Self::LeaseTtlTooLong => "lease-ttl-too-long",
            Self::LeaseScopeMissing => "lease-scope-missing",
            Self::LeaseScopeBroaden => "lease-scope-broaden",
            Self::LeaseCapExceeded => "lease-cap-exceeded",
            Self::LeaseUnknown => "lease-unknown",
            Self::LeaseRevoked => "lease-revoked",
            Self::LeaseExpired => "lease-expired",
            Self::LeaseTampered => "lease-tampered",
            Self::LeaseNotOwner => "lease-not-owner",
        }
    }

    fn all() -> &'static [Self] {
        &[
            Self::IngestDeclarationMissing,
            Self::IngestAssetUnregistered,
            Self::IngestOwnerMissing,
            Self::IngestCapabilityUnknown,
            Self::IngestScopeUndeclared,
            Self::IngestManifestChanged,
            Self::LeaseContractUnknown,
            Self::LeasePhaseClosed,
            Self::LeaseIneligible,
            Self::LeaseTtlMissing,
            Self::LeaseTtlTooShort,
            Self::LeaseTtlTooLong,
            Self::LeaseScopeMissing,
            Self::LeaseScopeBroaden,
            Self::LeaseCapExceeded,
            Self::LeaseUnknown,
            Self::LeaseRevoked,
            Self::LeaseExpired,
            Self::LeaseTampered,
            Self::LeaseNotOwner,
        ]
    }
}

impl LeaseCode {
    /// The code for its kebab-case text (used when reading a stored reason back).
    pub fn parse(s: &str) -> Option<Self> {
        Self::all().iter().copied().find(|c| c.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pinned list: renaming, adding or removing a code must change this test (and
    /// `docs/leases.md`) on purpose.
    #[test]
    fn lease_codes_are_pinned() {
        let codes: Vec<&str> = LeaseCode::all().iter().map(|c| c.as_str()).collect();
        assert_eq!(
            codes,
            [
                "ingest-declaration-missing",
                "ingest-asset-unregistered",
                "ingest-owner-missing",
                "ingest-capability-unknown",
                "ingest-scope-undeclared",
                "ingest-manifest-changed",
                "lease-contract-unknown",
                "lease-phase-closed",
                "lease-ineligible",
                "lease-ttl-missing",
                "lease-ttl-too-short",
                "lease-ttl-too-long",
                "lease-scope-missing",
                "lease-scope-broaden",
                "lease-cap-exceeded",
                "lease-unknown",
                "lease-revoked",
                "lease-expired",
                "lease-tampered",
                "lease-not-owner",
            ]
        );
        for c in LeaseCode::all() {
            assert_eq!(LeaseCode::parse(c.as_str()), Some(*c));
        }
    }
}
