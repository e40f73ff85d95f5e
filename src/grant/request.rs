//! The approval-request record `grant mint --request` reads (the specification's C1 request;
//! every field is documented in `docs/grants.md`). Unknown fields are refused: a typo such as
//! `comit: true` must never read as "commit absent, so false".
//!
//! `commit_allowed` and `requires_sovereign_esign` may appear (the upstream record carries
//! them) but are never trusted: a grant always stores both as `false`.

use serde::Deserialize;

use crate::hash::Sha256Digest;

/// The largest request file read.
pub const REQUEST_MAX_BYTES: u64 = 64 * 1024;
/// The only action a build grant authorises.
pub const ACTION: &str = "authorize_build_step";

/// How risky the requested step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Sovereign: never grantable by this handler.
    Sovereign,
}

/// The approval quorum as the request reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quorum {
    /// Distinct approvals needed.
    pub required: u32,
    /// Who approved (distinct names count once).
    pub approvals: Vec<String>,
    /// Whether the approval system says the quorum passed.
    pub passed: bool,
}

impl Quorum {
    /// Passed only when the record says so *and* the distinct approvals reach `required`
    /// (at least one): a `passed: true` with too few approvers is not believed.
    pub fn has_passed(&self) -> bool {
        let mut names: Vec<&str> = self
            .approvals
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        names.sort_unstable();
        names.dedup();
        self.passed && self.required >= 1 && names.len() >= self.required as usize
    }

    /// `"<distinct approvals>/<required>"` as stored in `approval_ref.quorum`.
    pub fn summary(&self) -> String {
        let mut names: Vec<&str> = self.approvals.iter().map(|s| s.trim()).collect();
        names.sort_unstable();
        names.dedup();
        names.retain(|s| !s.is_empty());
        format!("{}/{}", names.len(), self.required)
    }
}

/// One approval-request record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// Always `vaultgate/approval-request/v1`.
    pub schema: String,
    /// The approval's code; the grant's `auth_code` is `GBA-C1-<apr_code>`.
    pub apr_code: String,
    /// Reference of the originating request.
    pub request_ref: String,
    /// What is asked: must be `authorize_build_step`.
    pub action: String,
    /// Policy namespace (`DRYRUN-NS`).
    pub namespace: String,
    /// Policy axis (`dot:c1:vocab`).
    pub axis: String,
    /// The build target (`DOT_C1_VOCAB_BUILD`); one active grant per target.
    pub target: String,
    /// The step's risk.
    pub risk: Risk,
    /// `true` asks for a real, committing run: never granted.
    pub commit: bool,
    /// The approval quorum.
    pub quorum: Quorum,
    /// SHA-256 of the manifest the step builds from.
    pub manifest_hash: Sha256Digest,
    /// The build plan's reference.
    pub plan_ref: String,
    /// The step's name.
    pub step_name: String,
    /// The rollback plan's reference (required).
    #[serde(default)]
    pub rollback_plan_ref: Option<String>,
    /// The grant's lifetime in seconds (default 7,200; clamped to 60 … 86,400).
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// Who asked (recorded in the audit row when given).
    #[serde(default)]
    pub requested_by: Option<String>,
    /// Carried by upstream records; ignored (always stored `false`).
    #[serde(default)]
    pub commit_allowed: Option<bool>,
    /// Carried by upstream records; ignored (always stored `false`).
    #[serde(default)]
    pub requires_sovereign_esign: Option<bool>,
}

/// The schema tag of a request.
pub const REQUEST_SCHEMA: &str = "vaultgate/approval-request/v1";

/// Why a request was not accepted as a record (the detail never reaches the protocol line,
/// only stderr, and never echoes a field's value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MalformedRequest(pub String);

impl ApprovalRequest {
    /// Parse and check the shape of a record (not the gates: those decide the outcome).
    pub fn parse(bytes: &[u8]) -> Result<Self, MalformedRequest> {
        let r: Self = serde_json::from_slice(bytes).map_err(|e| {
            // serde's message may quote the offending value; keep only its position.
            MalformedRequest(format!(
                "not an approval-request record (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if r.schema != REQUEST_SCHEMA {
            return Err(MalformedRequest(format!(
                "`schema` must be `{REQUEST_SCHEMA}`"
            )));
        }
        check_code("apr_code", &r.apr_code)?;
        for (name, v) in [
            ("request_ref", &r.request_ref),
            ("action", &r.action),
            ("namespace", &r.namespace),
            ("axis", &r.axis),
            ("target", &r.target),
            ("plan_ref", &r.plan_ref),
            ("step_name", &r.step_name),
        ] {
            check_text(name, v)?;
        }
        if let Some(v) = &r.rollback_plan_ref {
            check_text_or_empty("rollback_plan_ref", v)?;
        }
        if let Some(v) = &r.requested_by {
            check_text("requested_by", v)?;
        }
        for a in &r.quorum.approvals {
            check_text_or_empty("quorum.approvals", a)?;
        }
        Ok(r)
    }

    /// The deterministic grant code: `GBA-C1-<apr_code>`.
    pub fn auth_code(&self) -> String {
        auth_code_for(&self.apr_code)
    }
}

/// `GBA-C1-<apr_code>`.
pub fn auth_code_for(apr_code: &str) -> String {
    format!("GBA-C1-{apr_code}")
}

/// An `apr_code`: 1–64 of `A-Z a-z 0-9 - _ .`.
fn check_code(name: &str, v: &str) -> Result<(), MalformedRequest> {
    if (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        Ok(())
    } else {
        Err(MalformedRequest(format!(
            "`{name}` must be 1-64 characters of letters, digits, `-`, `_` and `.`"
        )))
    }
}

fn check_text(name: &str, v: &str) -> Result<(), MalformedRequest> {
    if v.trim().is_empty() {
        return Err(MalformedRequest(format!("`{name}` is empty")));
    }
    check_text_or_empty(name, v)
}

/// Printable text up to 512 bytes: no control characters that could forge a line anywhere.
fn check_text_or_empty(name: &str, v: &str) -> Result<(), MalformedRequest> {
    if v.len() > 512 || v.chars().any(char::is_control) {
        Err(MalformedRequest(format!(
            "`{name}` must be at most 512 bytes of printable text"
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn c1() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/grant/apr-c1.json"
        ))
        .unwrap()
    }

    #[test]
    fn the_shipped_c1_request_parses() {
        let r = ApprovalRequest::parse(&c1()).unwrap();
        assert_eq!(r.action, ACTION);
        assert_eq!(r.target, "DOT_C1_VOCAB_BUILD");
        assert!(!r.commit);
        assert!(r.quorum.has_passed());
        assert_eq!(r.auth_code(), format!("GBA-C1-{}", r.apr_code));
    }

    fn with(
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> Result<ApprovalRequest, MalformedRequest> {
        let mut v: serde_json::Value = serde_json::from_slice(&c1()).unwrap();
        edit(&mut v);
        ApprovalRequest::parse(&serde_json::to_vec(&v).unwrap())
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        assert!(with(|v| v["comit"] = true.into()).is_err());
        assert!(with(|v| v["quorum"]["extra"] = 1.into()).is_err());
        assert!(with(|v| v["risk"] = "extreme".into()).is_err());
        assert!(with(|v| v["manifest_hash"] = "abc".into()).is_err());
        assert!(with(|v| v["apr_code"] = "A B".into()).is_err());
        assert!(with(|v| v["target"] = "X\nOK".into()).is_err());
        assert!(with(|v| v["schema"] = "other".into()).is_err());
        assert!(with(|v| v["commit"] = "false".into()).is_err());
        assert!(
            with(|v| {
                v.as_object_mut().unwrap().remove("commit");
            })
            .is_err()
        );
        // The ignored upstream fields are accepted.
        assert!(with(|v| v["commit_allowed"] = true.into()).is_ok());
    }

    #[test]
    fn a_malformed_message_never_echoes_the_value() {
        let e = with(|v| v["risk"] = "SECRET-LOOKING-VALUE".into()).unwrap_err();
        assert!(!e.0.contains("SECRET-LOOKING-VALUE"), "{}", e.0);
    }

    #[test]
    fn quorum_is_counted_not_believed() {
        let q = |required, approvals: &[&str], passed| Quorum {
            required,
            approvals: approvals.iter().map(|s| (*s).to_owned()).collect(),
            passed,
        };
        assert!(q(2, &["a", "b"], true).has_passed());
        assert!(!q(2, &["a", "a"], true).has_passed());
        assert!(!q(2, &["a", "b"], false).has_passed());
        assert!(!q(0, &[], true).has_passed());
        assert!(!q(1, &[" "], true).has_passed());
        assert_eq!(q(2, &["b", "a", "a"], true).summary(), "2/2");
    }
}
