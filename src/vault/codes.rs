//! The vault's stable reason codes (documented in `docs/vault.md` and `docs/audit.md`; the full
//! list is pinned by a test so a rename is a visible change).
//!
//! A boot step that fails names one of these; a denied request's `security.denied` audit row
//! carries one as `metadata.reason`; `audit verify` reports its findings with the `audit-*` ones.

use crate::report::FindingCode;

/// Every reason the vault refuses, denies or fails verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VaultCode {
    // --- init
    /// `init` found something already at the home path (a home is never overwritten).
    HomeExists,
    // --- boot step 1: configuration
    /// `config.json` is absent.
    ConfigMissing,
    /// `config.json` is unreadable, not strict JSON, has an unknown field, or fails validation.
    ConfigInvalid,
    /// `config.json` is writable by group/others, a symlink, or owned by another user.
    ConfigInsecure,
    // --- boot step 2: home and key
    /// The home folder does not exist.
    HomeMissing,
    /// The home is a symlink, not a folder, owned by another user, or group/world accessible.
    HomeInsecure,
    /// `master.key` is absent.
    KeyMissing,
    /// `master.key` is a symlink or not a regular file.
    KeySymlink,
    /// `master.key` is readable or writable by group or others.
    KeyInsecureMode,
    /// `master.key` belongs to another user.
    KeyWrongOwner,
    /// `master.key` is not exactly 32 bytes.
    KeyWrongLength,
    /// `master.key` does not unwrap the database's root key (another vault's key, or edited).
    KeyMismatch,
    // --- boot step 3: database
    /// `vault.db` is absent.
    DbMissing,
    /// The database cannot be opened or read as a vaultgate database.
    DbUnreadable,
    /// The database's file mode or owner is unsafe.
    DbInsecure,
    /// The database has a schema migration this binary does not know (written by a newer one).
    SchemaTooNew,
    /// The audit table's append-only triggers are missing or altered.
    SchemaTampered,
    /// SQLite's integrity check reported corruption (`status` runs it).
    DbCorrupt,
    // --- boot step 4: audit head
    /// The head anchor file beside the database is absent.
    AuditAnchorMissing,
    /// The head anchor is unreadable, malformed, or its MAC does not verify.
    AuditAnchorInvalid,
    /// The database holds fewer audit rows than the anchor recorded (tail truncated or an
    /// older copy of the database restored).
    AuditTruncated,
    /// The schema changed since the last audited write (DDL outside vaultgate: triggers
    /// dropped and recreated, tables altered).
    AuditSchemaChanged,
    /// The row the anchor names has another MAC than the anchor recorded.
    AuditHeadMismatch,
    /// A row's MAC does not match its contents (an edited row).
    AuditMacMismatch,
    /// A row's `prev_mac` is not the previous row's MAC (a row removed, reordered or inserted).
    AuditChainBroken,
    /// Sequence numbers are not 1, 2, 3, … (a row deleted or inserted).
    AuditSeqGap,
    /// A row's fields are malformed (bad hex, metadata not a canonical JSON object).
    AuditRowInvalid,
    /// An offline export file is malformed.
    AuditExportInvalid,
    // --- boot step 5: clock
    /// The clock reads more than 120 s before the latest time the vault has seen.
    ClockRegression,
    // --- boot step 6: lockdown
    /// Lockdown is on: privileged commands are refused.
    LockdownActive,
    // --- identity and capabilities
    /// No token was presented (`VAULTGATE_TOKEN` or `--token-file`).
    TokenMissing,
    /// The presented token is not `vgt_<accessor>_<secret>`.
    TokenMalformed,
    /// No token with that accessor exists.
    TokenUnknown,
    /// The accessor exists but the secret does not match.
    TokenInvalid,
    /// The token's expiry has passed.
    TokenExpired,
    /// The token was revoked.
    TokenRevoked,
    /// `--token-file` is group/world readable, a symlink, or unreadable.
    TokenFileInsecure,
    /// The token lacks the capability the command needs.
    CapabilityMissing,
    /// The token is bound to another project.
    ProjectMismatch,
    /// A capability name is not one vaultgate defines.
    CapabilityUnknown,
    /// A role name is not defined in the configuration.
    RoleUnknown,
    /// `token revoke` named an accessor that does not exist.
    TokenNotFound,
    /// A token name or project is empty, too long, or has characters outside `[A-Za-z0-9._:/-]`.
    TokenNameInvalid,
}

impl VaultCode {
    /// The code of a finding the vault made (boot turns an audit finding back into its step's
    /// reason). Every vault finding is built from a `VaultCode`, so the lookup always succeeds;
    /// were it ever to miss, the answer is still a refusal (`audit-chain-broken`), never a pass.
    pub fn of_finding(f: &crate::report::Finding) -> Self {
        Self::all()
            .iter()
            .copied()
            .find(|c| c.as_str() == f.code)
            .unwrap_or(Self::AuditChainBroken)
    }
}

impl FindingCode for VaultCode {
    fn as_str(self) -> &'static str {
        match self {
            Self::HomeExists => "home-exists",
            Self::ConfigMissing => "config-missing",
            Self::ConfigInvalid => "config-invalid",
            Self::ConfigInsecure => "config-insecure",
            Self::HomeMissing => "home-missing",
            Self::HomeInsecure => "home-insecure",
            Self::KeyMissing => "key-missing",
            Self::KeySymlink => "key-symlink",
            Self::KeyInsecureMode => "key-insecure-mode",
            Self::KeyWrongOwner => "key-wrong-owner",
            Self::KeyWrongLength => "key-wrong-length",
            Self::KeyMismatch => "key-mismatch",
            Self::DbMissing => "db-missing",
            Self::DbUnreadable => "db-unreadable",
            Self::DbInsecure => "db-insecure",
            Self::SchemaTooNew => "schema-too-new",
            Self::SchemaTampered => "schema-tampered",
            Self::DbCorrupt => "db-corrupt",
            Self::AuditAnchorMissing => "audit-anchor-missing",
            Self::AuditAnchorInvalid => "audit-anchor-invalid",
            Self::AuditTruncated => "audit-truncated",
            Self::AuditSchemaChanged => "audit-schema-changed",
            Self::AuditHeadMismatch => "audit-head-mismatch",
            Self::AuditMacMismatch => "audit-mac-mismatch",
            Self::AuditChainBroken => "audit-chain-broken",
            Self::AuditSeqGap => "audit-seq-gap",
            Self::AuditRowInvalid => "audit-row-invalid",
            Self::AuditExportInvalid => "audit-export-invalid",
            Self::ClockRegression => "clock-regression",
            Self::LockdownActive => "lockdown-active",
            Self::TokenMissing => "token-missing",
            Self::TokenMalformed => "token-malformed",
            Self::TokenUnknown => "token-unknown",
            Self::TokenInvalid => "token-invalid",
            Self::TokenExpired => "token-expired",
            Self::TokenRevoked => "token-revoked",
            Self::TokenFileInsecure => "token-file-insecure",
            Self::CapabilityMissing => "capability-missing",
            Self::ProjectMismatch => "project-mismatch",
            Self::CapabilityUnknown => "capability-unknown",
            Self::RoleUnknown => "role-unknown",
            Self::TokenNotFound => "token-not-found",
            Self::TokenNameInvalid => "token-name-invalid",
        }
    }

    fn all() -> &'static [Self] {
        &[
            Self::HomeExists,
            Self::ConfigMissing,
            Self::ConfigInvalid,
            Self::ConfigInsecure,
            Self::HomeMissing,
            Self::HomeInsecure,
            Self::KeyMissing,
            Self::KeySymlink,
            Self::KeyInsecureMode,
            Self::KeyWrongOwner,
            Self::KeyWrongLength,
            Self::KeyMismatch,
            Self::DbMissing,
            Self::DbUnreadable,
            Self::DbInsecure,
            Self::SchemaTooNew,
            Self::SchemaTampered,
            Self::DbCorrupt,
            Self::AuditAnchorMissing,
            Self::AuditAnchorInvalid,
            Self::AuditTruncated,
            Self::AuditSchemaChanged,
            Self::AuditHeadMismatch,
            Self::AuditMacMismatch,
            Self::AuditChainBroken,
            Self::AuditSeqGap,
            Self::AuditRowInvalid,
            Self::AuditExportInvalid,
            Self::ClockRegression,
            Self::LockdownActive,
            Self::TokenMissing,
            Self::TokenMalformed,
            Self::TokenUnknown,
            Self::TokenInvalid,
            Self::TokenExpired,
            Self::TokenRevoked,
            Self::TokenFileInsecure,
            Self::CapabilityMissing,
            Self::ProjectMismatch,
            Self::CapabilityUnknown,
            Self::RoleUnknown,
            Self::TokenNotFound,
            Self::TokenNameInvalid,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_list_is_pinned() {
        let all: Vec<&str> = VaultCode::all().iter().map(|c| c.as_str()).collect();
        assert_eq!(
            all.join(" "),
            "home-exists config-missing config-invalid config-insecure home-missing \
             home-insecure key-missing key-symlink key-insecure-mode key-wrong-owner \
             key-wrong-length key-mismatch db-missing db-unreadable db-insecure schema-too-new \
             schema-tampered db-corrupt audit-anchor-missing audit-anchor-invalid \
             audit-truncated audit-schema-changed audit-head-mismatch audit-mac-mismatch \
             audit-chain-broken audit-seq-gap audit-row-invalid audit-export-invalid \
             clock-regression lockdown-active token-missing token-malformed token-unknown \
             token-invalid token-expired token-revoked token-file-insecure capability-missing \
             project-mismatch capability-unknown role-unknown token-not-found token-name-invalid"
        );
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/vault.md"))
            .unwrap_or_default()
            + &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/audit.md"))
                .unwrap_or_default();
        for c in all {
            assert!(docs.contains(&format!("`{c}`")), "`{c}` is not documented");
        }
    }
}
