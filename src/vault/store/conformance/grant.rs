//! Conformance of the grant family's invariants, written against [`crate::vault::store::Store`]:
//! one draft or active grant per target as a database guarantee (the insert itself is refused,
//! whatever the caller checked), consume as compare-and-swap with its pair set together, the
//! revocation triple, and the always-false commit flags.

use super::{Harness, ensure};
use crate::vault::store::TxMode;
use crate::vault::store::grant::GrantRow;

fn e(x: impl std::fmt::Display) -> String {
    x.to_string()
}

/// An active grant row for tests.
pub fn grant(code: &str, target: &str) -> GrantRow {
    GrantRow {
        auth_code: code.into(),
        target: target.into(),
        namespace: "DRYRUN-NS".into(),
        axis: "dot:c1:vocab".into(),
        status: "active".into(),
        commit_allowed: false,
        requires_sovereign_esign: false,
        granted_at: 1_000,
        expires_at: 8_200,
        request_ref: "REQ".into(),
        approval_ref: "{}".into(),
        evidence: "{}".into(),
        rollback_plan_ref: "plan".into(),
        granted_by: "acc".into(),
        consumed_at: None,
        consumed_by: None,
        revoked_at: None,
        revoked_by: None,
        revoked_reason: None,
    }
}

/// The store refuses a second draft/active grant for a target, also across connections.
pub fn one_open_grant_per_target(h: &mut dyn Harness) -> Result<(), String> {
    let mut s = h.fresh();
    {
        let mut tx = s.begin(TxMode::Write).map_err(e)?;
        tx.grant_insert(&grant("G1", "T")).map_err(e)?;
        ensure(
            tx.grant_insert(&grant("G2", "T")).is_err(),
            "a second active grant for `T` was accepted",
        )?;
        let mut draft = grant("G3", "T");
        draft.status = "draft".into();
        ensure(
            tx.grant_insert(&draft).is_err(),
            "a draft beside an active grant for `T` was accepted",
        )?;
        ensure(
            tx.grant_insert(&grant("G1", "U")).is_err(),
            "a duplicate auth code was accepted",
        )?;
        tx.grant_insert(&grant("G4", "U")).map_err(e)?;
        tx.commit().map_err(e)?;
    }
    // Another connection sees the committed grant and is refused too.
    let mut other = h.reopen();
    let mut tx = other.begin(TxMode::Write).map_err(e)?;
    ensure(
        tx.grant_insert(&grant("G5", "T")).is_err(),
        "another connection added a second grant for `T`",
    )?;
    ensure(
        tx.grant_open_for_target("T")
            .map_err(e)?
            .map(|g| g.auth_code)
            == Some("G1".into()),
        "open grant lookup failed",
    )?;
    // Once consumed, the target is free again.
    ensure(
        tx.grant_consume("G1", 2_000, "c").map_err(e)?,
        "consume failed",
    )?;
    tx.grant_insert(&grant("G5", "T")).map_err(e)?;
    tx.commit().map_err(e)
}

/// Consume succeeds exactly once, only while active and unexpired; both fields set together.
pub fn consume_is_compare_and_swap(h: &mut dyn Harness) -> Result<(), String> {
    let mut s = h.fresh();
    let mut tx = s.begin(TxMode::Write).map_err(e)?;
    tx.grant_insert(&grant("G1", "T")).map_err(e)?;
    ensure(
        tx.grant_consume("G1", 2_000, "first").map_err(e)?,
        "the first consume failed",
    )?;
    ensure(
        !tx.grant_consume("G1", 2_001, "second").map_err(e)?,
        "a second consume succeeded",
    )?;
    let g = tx.grant_get("G1").map_err(e)?.ok_or("G1 vanished")?;
    ensure(
        g.status == "consumed"
            && g.consumed_at == Some(2_000)
            && g.consumed_by.as_deref() == Some("first"),
        format!("the first consumer was not kept: {g:?}"),
    )?;
    tx.grant_insert(&grant("G2", "U")).map_err(e)?;
    ensure(
        !tx.grant_consume("G2", 8_200, "late").map_err(e)?,
        "an expired grant was consumed",
    )?;
    let mut half = grant("G3", "V");
    half.status = "consumed".into();
    half.consumed_at = Some(2_000);
    ensure(
        tx.grant_insert(&half).is_err(),
        "a consumed grant without its consumer was accepted",
    )?;
    let mut commit = grant("G4", "W");
    commit.commit_allowed = true;
    ensure(
        tx.grant_insert(&commit).is_err(),
        "a grant allowing a commit was accepted",
    )?;
    let mut esign = grant("G5", "X");
    esign.requires_sovereign_esign = true;
    ensure(
        tx.grant_insert(&esign).is_err(),
        "a grant requiring a sovereign e-sign was accepted",
    )?;
    Ok(())
}

/// Revoke sets the triple together, once; a consumed grant cannot be revoked.
pub fn revocation_triple(h: &mut dyn Harness) -> Result<(), String> {
    let mut s = h.fresh();
    let mut tx = s.begin(TxMode::Write).map_err(e)?;
    tx.grant_insert(&grant("G1", "T")).map_err(e)?;
    ensure(
        tx.grant_revoke("G1", 2_000, "first", "r1").map_err(e)?,
        "revoke failed",
    )?;
    ensure(
        !tx.grant_revoke("G1", 2_001, "second", "r2").map_err(e)?,
        "a second revoke applied",
    )?;
    let g = tx.grant_get("G1").map_err(e)?.ok_or("G1 vanished")?;
    ensure(
        g.revoked_by.as_deref() == Some("first") && g.revoked_reason.as_deref() == Some("r1"),
        "first revoker lost",
    )?;
    ensure(
        !tx.grant_consume("G1", 2_002, "c").map_err(e)?,
        "a revoked grant was consumed",
    )?;
    let mut partial = grant("G2", "U");
    partial.status = "revoked".into();
    partial.revoked_at = Some(1);
    partial.revoked_by = Some("x".into());
    ensure(
        tx.grant_insert(&partial).is_err(),
        "a partial revocation triple was accepted",
    )?;
    tx.grant_insert(&grant("G3", "V")).map_err(e)?;
    ensure(
        tx.grant_due(8_200, 10).map_err(e)?.len() == 1,
        "the due grant was not found",
    )?;
    ensure(tx.grant_expire("G3").map_err(e)?, "expire failed")?;
    ensure(!tx.grant_expire("G3").map_err(e)?, "a grant expired twice")?;
    ensure(
        tx.grant_list().map_err(e)?.len() == 2,
        "grant list is wrong",
    )?;
    Ok(())
}

/// Run every grant conformance check.
pub fn run_all(h: &mut dyn Harness) -> Result<(), String> {
    one_open_grant_per_target(h)?;
    consume_is_compare_and_swap(h)?;
    revocation_triple(h)
}
