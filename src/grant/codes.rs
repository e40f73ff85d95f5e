//! The grant family's reason codes: the `<reason>` of the one-line protocol
//! `OK | SKIP:<reason> | FAIL:<reason>` (documented in `docs/grants.md`). They are snake_case,
//! unlike the other families' kebab-case codes, because the protocol fixes that shape.
//!
//! The issue states the protocol as `^(OK|SKIP:[a-z_]+|FAIL:[a-z_]+)$` and, in the same breath,
//! names the code `reject_scope_not_c1_dryrun`, whose `1` that pattern does not admit. The code
//! is kept verbatim (consumers match on it) and the reason class is `[a-z0-9_]`; every other
//! code fits the narrower pattern, which a test pins so no further digit slips in.

use crate::report::FindingCode;

/// Whether a refusal is a skip (exit 0: nothing to do) or a failure (exit 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `SKIP:<reason>`, exit 0.
    Skip,
    /// `FAIL:<reason>`, exit 1.
    Fail,
}

/// Every reason a grant command can refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GrantCode {
    /// The request's action is not `authorize_build_step`.
    RejectActionSuperset,
    /// The request asks for a real (committing) run.
    RejectRealRunCommitNotAllowed,
    /// The request's risk is `sovereign`.
    RejectSovereignRisk,
    /// Namespace, axis or target is not in the policy's allowlist.
    RejectScopeNotC1Dryrun,
    /// The approval quorum has not passed.
    RejectQuorumNotPassed,
    /// The request names no rollback plan.
    RejectRollbackPlanMissing,
    /// Another draft or active grant exists for the same target.
    ActiveGrantExists,
    /// The same `auth_code` exists for a different request, or was already spent.
    RejectAuthCodeConflict,
    /// The request file cannot be read.
    RejectRequestUnreadable,
    /// The request is not a valid approval-request record.
    RejectRequestMalformed,
    /// The policy file cannot be read or is invalid.
    RejectPolicyInvalid,
    /// The caller's token is missing, unknown, expired, revoked or lacks the capability.
    RejectUnauthorized,
    /// The vault is in lockdown.
    RejectLockdown,
    /// No grant has this code.
    RejectAuthUnknown,
    /// The grant was already consumed (the spec's `REJECT_AUTH_ALREADY_CONSUMED`).
    RejectAuthAlreadyConsumed,
    /// The grant expired.
    RejectAuthExpired,
    /// The grant was revoked.
    RejectAuthRevoked,
    /// The vault could not be opened or the store failed (exit 2).
    VaultUnavailable,
}

impl GrantCode {
    /// Skip or fail.
    pub fn kind(self) -> Kind {
        match self {
            Self::RejectActionSuperset | Self::ActiveGrantExists => Kind::Skip,
            _ => Kind::Fail,
        }
    }

    /// The protocol line for this refusal.
    pub fn line(self) -> String {
        match self.kind() {
            Kind::Skip => format!("SKIP:{}", self.as_str()),
            Kind::Fail => format!("FAIL:{}", self.as_str()),
        }
    }

    /// The code for its text.
    pub fn parse(s: &str) -> Option<Self> {
        Self::all().iter().copied().find(|c| c.as_str() == s)
    }
}

impl FindingCode for GrantCode {
    fn as_str(self) -> &'static str {
        match self {
            Self::RejectActionSuperset => "reject_action_superset",
            Self::RejectRealRunCommitNotAllowed => "reject_real_run_commit_not_allowed",
            Self::RejectSovereignRisk => "reject_sovereign_risk",
            Self::RejectScopeNotC1Dryrun => "reject_scope_not_c1_dryrun",
            Self::RejectQuorumNotPassed => "reject_quorum_not_passed",
            Self::RejectRollbackPlanMissing => "reject_rollback_plan_missing",
            Self::ActiveGrantExists => "active_grant_exists",
            Self::RejectAuthCodeConflict => "reject_auth_code_conflict",
            Self::RejectRequestUnreadable => "reject_request_unreadable",
            Self::RejectRequestMalformed => "reject_request_malformed",
            Self::RejectPolicyInvalid => "reject_policy_invalid",
            Self::RejectUnauthorized => "reject_unauthorized",
            Self::RejectLockdown => "reject_lockdown",
            Self::RejectAuthUnknown => "reject_auth_unknown",
            Self::RejectAuthAlreadyConsumed => "reject_auth_already_consumed",
            Self::RejectAuthExpired => "reject_auth_expired",
            Self::RejectAuthRevoked => "reject_auth_revoked",
            Self::VaultUnavailable => "vault_unavailable",
        }
    }

    fn all() -> &'static [Self] {
        &[
            Self::RejectActionSuperset,
            Self::RejectRealRunCommitNotAllowed,
            Self::RejectSovereignRisk,
            Self::RejectScopeNotC1Dryrun,
            Self::RejectQuorumNotPassed,
            Self::RejectRollbackPlanMissing,
            Self::ActiveGrantExists,
            Self::RejectAuthCodeConflict,
            Self::RejectRequestUnreadable,
            Self::RejectRequestMalformed,
            Self::RejectPolicyInvalid,
            Self::RejectUnauthorized,
            Self::RejectLockdown,
            Self::RejectAuthUnknown,
            Self::RejectAuthAlreadyConsumed,
            Self::RejectAuthExpired,
            Self::RejectAuthRevoked,
            Self::VaultUnavailable,
        ]
    }
}

/// The protocol: exactly one of these lines per `grant mint|consume|revoke`.
pub const LINE_PATTERN: &str = "^(OK|SKIP:[a-z0-9_]+|FAIL:[a-z0-9_]+)$";

/// `true` when `line` obeys the protocol (checked without a regex engine).
pub fn is_protocol_line(line: &str) -> bool {
    let reason_ok = |r: &str| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    line == "OK"
        || line.strip_prefix("SKIP:").is_some_and(reason_ok)
        || line.strip_prefix("FAIL:").is_some_and(reason_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pinned list: renaming, adding or removing a code must change this test (and
    /// `docs/grants.md`) on purpose.
    #[test]
    fn grant_codes_are_pinned() {
        let codes: Vec<String> = GrantCode::all().iter().map(|c| c.line()).collect();
        assert_eq!(
            codes,
            [
                "SKIP:reject_action_superset",
                "FAIL:reject_real_run_commit_not_allowed",
                "FAIL:reject_sovereign_risk",
                "FAIL:reject_scope_not_c1_dryrun",
                "FAIL:reject_quorum_not_passed",
                "FAIL:reject_rollback_plan_missing",
                "SKIP:active_grant_exists",
                "FAIL:reject_auth_code_conflict",
                "FAIL:reject_request_unreadable",
                "FAIL:reject_request_malformed",
                "FAIL:reject_policy_invalid",
                "FAIL:reject_unauthorized",
                "FAIL:reject_lockdown",
                "FAIL:reject_auth_unknown",
                "FAIL:reject_auth_already_consumed",
                "FAIL:reject_auth_expired",
                "FAIL:reject_auth_revoked",
                "FAIL:vault_unavailable",
            ]
        );
        for c in GrantCode::all() {
            assert!(is_protocol_line(&c.line()));
            // Only the spec-named C1 code carries a digit (see the module doc).
            let narrow = c
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_');
            assert!(
                narrow || *c == GrantCode::RejectScopeNotC1Dryrun,
                "{}",
                c.as_str()
            );
            assert_eq!(GrantCode::parse(c.as_str()), Some(*c));
        }
    }

    #[test]
    fn protocol_lines() {
        assert!(is_protocol_line("OK"));
        for bad in [
            "ok", "OK ", "SKIP:", "FAIL:A", "FAIL:x-y", "FAIL:x\n", "SKIP:a:b",
        ] {
            assert!(!is_protocol_line(bad), "{bad:?}");
        }
    }
}
