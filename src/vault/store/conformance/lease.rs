//! Conformance of the lease family's invariants, written against [`crate::vault::store::Store`]:
//! the revocation triple (all or nothing, exactly when revoked), compare-and-swap state
//! changes, expiry finding only what is due, and a rolled-back mint leaving nothing behind but
//! the refusal's audit row.

use super::core::append_one;
use super::registry::{asset, contract, ingest};
use super::{Harness, ensure};
use crate::vault::store::lease::{LeaseFilter, LeaseRow};
use crate::vault::store::{SecretRow, Store, TxMode};

fn e(x: impl std::fmt::Display) -> String {
    x.to_string()
}

/// An active lease row for tests.
pub fn lease(handle: &str, expires_at: i64) -> LeaseRow {
    LeaseRow {
        handle: handle.into(),
        ingest_id: "i1".into(),
        scopes: vec!["ai.x".into()],
        issued_at: 1_000,
        expires_at,
        status: "active".into(),
        issued_by: "acc".into(),
        fingerprint: "f".repeat(64),
        secret_id: handle.into(),
        revoked_at: None,
        revoked_by: None,
        revoked_reason: None,
        expired_at: None,
    }
}

fn secret(id: &str) -> SecretRow {
    SecretRow {
        id: id.into(),
        scope: "ai.x".into(),
        expires_at: Some(2_000),
        key_id: "k".into(),
        wrapped_key: vec![1; 72],
        ciphertext: vec![2; 72],
        created_at: 1_000,
    }
}

fn with_contract(s: &mut dyn Store) -> Result<(), String> {
    let mut tx = s.begin(TxMode::Write).map_err(e)?;
    tx.registry_asset_insert(&asset("a", "/p")).map_err(e)?;
    tx.registry_ingest_insert(&ingest("i1", Some("a")))
        .map_err(e)?;
    tx.registry_contract_insert(&contract("i1")).map_err(e)?;
    tx.commit().map_err(e)
}

/// The database refuses a partial revocation triple and a status that disagrees with it.
pub fn revocation_triple_is_a_constraint(h: &mut dyn Harness) -> Result<(), String> {
    let mut s = h.fresh();
    with_contract(s.as_mut())?;
    let mut tx = s.begin(TxMode::Write).map_err(e)?;
    let mut partial = lease("l1", 2_000);
    partial.status = "revoked".into();
    partial.revoked_at = Some(1_500);
    partial.revoked_by = Some("acc".into());
    ensure(
        tx.lease_insert(&partial).is_err(),
        "a revoked lease without a reason was accepted",
    )?;
    let mut no_status = lease("l2", 2_000);
    no_status.revoked_at = Some(1_500);
    no_status.revoked_by = Some("acc".into());
    no_status.revoked_reason = Some("r".into());
    ensure(
        tx.lease_insert(&no_status).is_err(),
        "an active lease with a revocation was accepted",
    )?;
    let mut bare = lease("l3", 2_000);
    bare.status = "revoked".into();
    ensure(
        tx.lease_insert(&bare).is_err(),
        "a revoked lease without its triple was accepted",
    )?;
    ensure(
        tx.lease_insert(&lease("l4", 900)).is_err(),
        "a lease expiring before issue was accepted",
    )?;
    Ok(())
}

/// Revoke and expire are compare-and-swap from `active`: once each, first writer kept.
pub fn state_changes_are_compare_and_swap(h: &mut dyn Harness) -> Result<(), String> {
    let mut s = h.fresh();
    with_contract(s.as_mut())?;
    let mut tx = s.begin(TxMode::Write).map_err(e)?;
    tx.lease_insert(&lease("l1", 2_000)).map_err(e)?;
    tx.lease_insert(&lease("l2", 2_000)).map_err(e)?;
    ensure(
        tx.lease_count_active("i1").map_err(e)? == 2,
        "two active leases expected",
    )?;
    ensure(
        tx.lease_revoke("l1", 1_500, "first", "r1").map_err(e)?,
        "the first revoke did not apply",
    )?;
    ensure(
        !tx.lease_revoke("l1", 1_600, "second", "r2").map_err(e)?,
        "a second revoke applied",
    )?;
    let l = tx.lease_get("l1").map_err(e)?.ok_or("l1 vanished")?;
    ensure(
        l.status == "revoked"
            && l.revoked_by.as_deref() == Some("first")
            && l.revoked_reason.as_deref() == Some("r1")
            && l.revoked_at == Some(1_500),
        format!("the first revocation was not kept: {l:?}"),
    )?;
    ensure(
        !tx.lease_expire("l1", 2_500).map_err(e)?,
        "a revoked lease expired",
    )?;
    ensure(
        tx.lease_expire("l2", 2_500).map_err(e)?,
        "the expiry did not apply",
    )?;
    ensure(
        !tx.lease_expire("l2", 2_600).map_err(e)?,
        "a lease expired twice",
    )?;
    ensure(
        !tx.lease_revoke("l2", 2_700, "x", "y").map_err(e)?,
        "an expired lease was revoked",
    )?;
    ensure(
        tx.lease_count_active("i1").map_err(e)? == 0,
        "no active lease expected",
    )?;
    let only_revoked = tx
        .lease_list(&LeaseFilter {
            status: Some("revoked".into()),
            ..LeaseFilter::default()
        })
        .map_err(e)?;
    ensure(
        only_revoked.len() == 1 && only_revoked[0].handle == "l1",
        "the status filter is wrong",
    )?;
    Ok(())
}

/// `lease_due` returns only active leases at or past expiry, soonest first, bounded.
pub fn due_finds_only_what_is_due(h: &mut dyn Harness) -> Result<(), String> {
    let mut s = h.fresh();
    with_contract(s.as_mut())?;
    let mut tx = s.begin(TxMode::Write).map_err(e)?;
    for (i, exp) in [1_900, 1_100, 5_000, 1_500].into_iter().enumerate() {
        tx.lease_insert(&lease(&format!("l{i}"), exp)).map_err(e)?;
    }
    tx.lease_revoke("l3", 1_050, "a", "r").map_err(e)?;
    let due: Vec<String> = tx
        .lease_due(2_000, 10)
        .map_err(e)?
        .into_iter()
        .map(|l| l.handle)
        .collect();
    ensure(due == ["l1", "l0"], format!("due at 2000: {due:?}"))?;
    ensure(
        tx.lease_due(2_000, 1).map_err(e)?.len() == 1,
        "the limit was ignored",
    )?;
    ensure(
        tx.lease_due(1_000, 10).map_err(e)?.is_empty(),
        "nothing is due at 1000",
    )?;
    Ok(())
}

/// A mint that is refused rolls back: no lease row, no secret row; the refusal's own audit
/// row, written afterwards in its own transaction, is the only trace.
pub fn refused_mint_leaves_only_its_audit_row(h: &mut dyn Harness) -> Result<(), String> {
    let mut s = h.fresh();
    with_contract(s.as_mut())?;
    let before = {
        let mut tx = s.begin(TxMode::Read).map_err(e)?;
        tx.audit_head().map_err(e)?.map_or(0, |h| h.seq)
    };
    {
        let mut tx = s.begin(TxMode::Write).map_err(e)?;
        tx.secret_insert(&secret("l1")).map_err(e)?;
        tx.lease_insert(&lease("l1", 2_000)).map_err(e)?;
        // Dropped without commit: the refusal path.
    }
    let key = crate::vault::crypto::derive(&[7u8; 32], "conformance");
    append_one(s.as_mut(), &key, "VIOLATION")?;
    let mut tx = s.begin(TxMode::Read).map_err(e)?;
    ensure(
        tx.lease_get("l1").map_err(e)?.is_none(),
        "the refused lease row persisted",
    )?;
    ensure(
        tx.secret_get("l1").map_err(e)?.is_none(),
        "the refused lease's secret persisted",
    )?;
    let head = tx.audit_head().map_err(e)?.ok_or("no audit head")?;
    ensure(head.seq == before + 1, "exactly one audit row expected")?;
    let row = tx.audit_get(head.seq).map_err(e)?.ok_or("no audit row")?;
    ensure(
        row.event_type == "VIOLATION",
        "the only new row is the VIOLATION",
    )?;
    Ok(())
}

/// Run every lease conformance check.
pub fn run_all(h: &mut dyn Harness) -> Result<(), String> {
    revocation_triple_is_a_constraint(h)?;
    state_changes_are_compare_and_swap(h)?;
    due_finds_only_what_is_due(h)?;
    refused_mint_leaves_only_its_audit_row(h)
}
