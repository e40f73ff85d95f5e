//! The ordered gates of `grant mint`, as a pure function of the request and the policy, and
//! the grant they produce. The first gate that refuses decides the outcome; the last gate (no
//! other draft or active grant for the target) is the store's partial unique index, checked
//! inside the insert's transaction, so it cannot race.
//!
//! Order: action → commit flag → sovereign risk → namespace/axis/target allowlist → quorum →
//! rollback plan → (store) idempotent re-run or `active_grant_exists`.

use serde_json::{Value, json};

use super::codes::GrantCode;
use super::policy::GrantPolicy;
use super::request::{ACTION, ApprovalRequest, Risk};

/// The mode every grant's evidence records: this handler only authorises dry runs.
pub const MODE: &str = "dry-run";

/// A grant as the gates decided it, before the store gives it a time and a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantDraft {
    /// `GBA-C1-<apr_code>`.
    pub auth_code: String,
    /// The build target (one active grant each).
    pub target: String,
    /// Namespace and axis, kept for `grant show`.
    pub namespace: String,
    /// Axis.
    pub axis: String,
    /// Lifetime in seconds, clamped.
    pub ttl_secs: u64,
    /// The request's reference.
    pub request_ref: String,
    /// `{apr_code, quorum, manifest_hash}`.
    pub approval_ref: Value,
    /// `{plan_ref, manifest_hash, step_name, mode: "dry-run"}`.
    pub evidence: Value,
    /// The rollback plan's reference.
    pub rollback_plan_ref: String,
}

impl GrantDraft {
    /// Always `false`, whatever the request says: these grants never allow a commit.
    pub const COMMIT_ALLOWED: bool = false;
    /// Always `false`, whatever the request says.
    pub const REQUIRES_SOVEREIGN_ESIGN: bool = false;
}

/// Run the gates in order; the first refusal wins.
pub fn evaluate(req: &ApprovalRequest, policy: &GrantPolicy) -> Result<GrantDraft, GrantCode> {
    if req.action != ACTION {
        return Err(GrantCode::RejectActionSuperset);
    }
    if req.commit {
        return Err(GrantCode::RejectRealRunCommitNotAllowed);
    }
    if req.risk == Risk::Sovereign {
        return Err(GrantCode::RejectSovereignRisk);
    }
    if !policy.allows(&req.namespace, &req.axis, &req.target) {
        return Err(GrantCode::RejectScopeNotC1Dryrun);
    }
    if !req.quorum.has_passed() {
        return Err(GrantCode::RejectQuorumNotPassed);
    }
    let rollback = match &req.rollback_plan_ref {
        Some(r) if !r.trim().is_empty() => r.clone(),
        _ => return Err(GrantCode::RejectRollbackPlanMissing),
    };
    let manifest = req.manifest_hash.to_hex();
    Ok(GrantDraft {
        auth_code: req.auth_code(),
        target: req.target.clone(),
        namespace: req.namespace.clone(),
        axis: req.axis.clone(),
        ttl_secs: policy.ttl(req.ttl_seconds),
        request_ref: req.request_ref.clone(),
        approval_ref: json!({
            "apr_code": req.apr_code,
            "quorum": req.quorum.summary(),
            "manifest_hash": manifest,
        }),
        evidence: json!({
            "plan_ref": req.plan_ref,
            "manifest_hash": manifest,
            "step_name": req.step_name,
            "mode": MODE,
        }),
        rollback_plan_ref: rollback,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(edit: impl FnOnce(&mut serde_json::Value)) -> ApprovalRequest {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/grant/apr-c1.json"
        ))
        .unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        edit(&mut v);
        ApprovalRequest::parse(&serde_json::to_vec(&v).unwrap()).unwrap()
    }

    fn outcome(edit: impl FnOnce(&mut serde_json::Value)) -> Result<GrantDraft, GrantCode> {
        evaluate(&req(edit), &GrantPolicy::shipped().unwrap())
    }

    #[test]
    fn the_c1_request_passes_every_gate() {
        let d = outcome(|_| {}).unwrap();
        assert_eq!(d.auth_code, "GBA-C1-APR-C1-0001");
        assert_eq!(d.ttl_secs, 7200);
        assert_eq!(d.evidence["mode"], "dry-run");
        assert_eq!(d.approval_ref["quorum"], "2/2");
        assert_eq!(d.rollback_plan_ref, "plans/c1-vocab-rollback.md");
    }

    #[test]
    fn each_gate_refuses_with_its_code() {
        use GrantCode::*;
        type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: Vec<(Edit, GrantCode)> = vec![
            (
                Box::new(|v| v["action"] = "authorize_everything".into()),
                RejectActionSuperset,
            ),
            (
                Box::new(|v| v["commit"] = true.into()),
                RejectRealRunCommitNotAllowed,
            ),
            (
                Box::new(|v| v["risk"] = "sovereign".into()),
                RejectSovereignRisk,
            ),
            (
                Box::new(|v| v["namespace"] = "PROD-NS".into()),
                RejectScopeNotC1Dryrun,
            ),
            (
                Box::new(|v| v["axis"] = "dot:c2:vocab".into()),
                RejectScopeNotC1Dryrun,
            ),
            (
                Box::new(|v| v["target"] = "OTHER".into()),
                RejectScopeNotC1Dryrun,
            ),
            (
                Box::new(|v| v["quorum"]["passed"] = false.into()),
                RejectQuorumNotPassed,
            ),
            (
                Box::new(|v| v["quorum"]["approvals"] = json!(["a"])),
                RejectQuorumNotPassed,
            ),
            (
                Box::new(|v| v["rollback_plan_ref"] = " ".into()),
                RejectRollbackPlanMissing,
            ),
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("rollback_plan_ref");
                }),
                RejectRollbackPlanMissing,
            ),
        ];
        for (edit, code) in cases {
            assert_eq!(outcome(edit), Err(code));
        }
    }

    #[test]
    fn gates_run_in_order() {
        // Everything wrong at once: the action gate speaks first, then commit, then risk.
        let all_wrong = |v: &mut serde_json::Value| {
            v["commit"] = true.into();
            v["risk"] = "sovereign".into();
            v["target"] = "OTHER".into();
            v["quorum"]["passed"] = false.into();
        };
        assert_eq!(
            outcome(|v| {
                all_wrong(v);
                v["action"] = "x".into();
            }),
            Err(GrantCode::RejectActionSuperset)
        );
        assert_eq!(
            outcome(all_wrong),
            Err(GrantCode::RejectRealRunCommitNotAllowed)
        );
        assert_eq!(
            outcome(|v| {
                all_wrong(v);
                v["commit"] = false.into();
            }),
            Err(GrantCode::RejectSovereignRisk)
        );
    }

    #[test]
    fn commit_allowed_in_the_request_changes_nothing() {
        let d = outcome(|v| {
            v["commit_allowed"] = true.into();
            v["requires_sovereign_esign"] = true.into();
        })
        .unwrap();
        assert_eq!(d, outcome(|_| {}).unwrap());
        const { assert!(!GrantDraft::COMMIT_ALLOWED && !GrantDraft::REQUIRES_SOVEREIGN_ESIGN) };
    }

    #[test]
    fn ttl_is_clamped_from_the_request() {
        assert_eq!(
            outcome(|v| v["ttl_seconds"] = 5.into()).unwrap().ttl_secs,
            60
        );
        assert_eq!(
            outcome(|v| v["ttl_seconds"] = 999_999.into())
                .unwrap()
                .ttl_secs,
            86_400
        );
        assert_eq!(
            outcome(|v| {
                v.as_object_mut().unwrap().remove("ttl_seconds");
            })
            .unwrap()
            .ttl_secs,
            7200
        );
    }
}
