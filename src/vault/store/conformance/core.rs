//! Conformance of the vault core: the append-only audit chain, head-first serialisation of
//! writers, rollback of state when the audit insert fails, real deletion of secrets.

use super::{Harness, ensure};
use crate::vault::audit::{self, ChainVerifier, Metadata};
use crate::vault::crypto::MacKey;
use crate::vault::store::{AuditHead, AuditRow, SecretRow, Store, TokenRow, Tx, TxMode};

fn e(x: impl std::fmt::Display) -> String {
    x.to_string()
}

/// A correctly chained row after `head` (what `AuditedTx::append` builds).
pub fn next_row(
    key: &MacKey,
    head: Option<&AuditHead>,
    event_type: &str,
) -> Result<AuditRow, String> {
    let mut row = AuditRow {
        seq: head.map_or(0, |h| h.seq) + 1,
        event_id: uuid::Uuid::new_v4().to_string(),
        at: "2026-01-01T00:00:00Z".into(),
        event_type: event_type.into(),
        actor_type: "system".into(),
        actor_id: "conformance".into(),
        subject_type: None,
        subject_id: None,
        correlation_id: None,
        causation_id: None,
        severity: "info".into(),
        metadata: Metadata::new().str("k", "v").to_canonical()?,
        prev_mac: head.map_or_else(|| audit::GENESIS.to_owned(), |h| h.mac.clone()),
        mac: String::new(),
    };
    row.mac = audit::compute_mac(key, &row, &mut Vec::new()).ok_or("bad prev mac")?;
    Ok(row)
}

/// Append one row in its own transaction, head read first.
pub fn append_one(
    store: &mut dyn Store,
    key: &MacKey,
    event_type: &str,
) -> Result<AuditRow, String> {
    let mut tx = store.begin(TxMode::Write).map_err(e)?;
    let head = tx.audit_head().map_err(e)?;
    let row = next_row(key, head.as_ref(), event_type)?;
    tx.audit_insert(&row).map_err(e)?;
    tx.commit().map_err(e)?;
    Ok(row)
}

fn token(accessor: &str) -> TokenRow {
    TokenRow {
        accessor: accessor.into(),
        name: "t".into(),
        secret_mac: vec![0u8; 32],
        capabilities: vec!["admin".into()],
        role: None,
        project: None,
        created_at: 1,
        expires_at: None,
        revoked_at: None,
        revoked_by: None,
        created_by: "-".into(),
    }
}

fn verify_all(store: &mut dyn Store, key: &MacKey) -> Result<u64, String> {
    let mut v = ChainVerifier::new(key);
    let mut tx = store.begin(TxMode::Read).map_err(e)?;
    tx.audit_scan(1, &mut |r| {
        v.push(&r);
        true
    })
    .map_err(e)?;
    ensure(
        v.issue_total == 0,
        format!("the chain does not verify: {:?}", v.issues),
    )?;
    Ok(v.rows)
}

/// Appends only at `head + 1` with the head's MAC as `prev_mac`; nothing rewrites a row.
pub fn audit_is_append_only(h: &mut dyn Harness) -> Result<(), String> {
    let key = MacKey::generate().map_err(e)?;
    let mut s = h.fresh();
    let r1 = append_one(s.as_mut(), &key, "a")?;
    let r2 = append_one(s.as_mut(), &key, "b")?;
    let mut tx = s.begin(TxMode::Write).map_err(e)?;
    // A second row 2, a gap, and a wrong prev_mac must all be refused.
    ensure(
        tx.audit_insert(&r2).is_err(),
        "a duplicate seq was accepted",
    )?;
    let mut gap = next_row(
        &key,
        Some(&AuditHead {
            seq: 3,
            mac: r2.mac.clone(),
        }),
        "c",
    )?;
    ensure(tx.audit_insert(&gap).is_err(), "a seq gap was accepted")?;
    gap = next_row(
        &key,
        Some(&AuditHead {
            seq: 2,
            mac: r1.mac.clone(),
        }),
        "c",
    )?;
    ensure(
        tx.audit_insert(&gap).is_err(),
        "a row not chained to the head was accepted",
    )?;
    drop(tx);
    let mut tx = s.begin(TxMode::Read).map_err(e)?;
    ensure(tx.audit_get(1).map_err(e)? == Some(r1), "row 1 changed")?;
    ensure(tx.audit_get(2).map_err(e)? == Some(r2), "row 2 changed")?;
    drop(tx);
    ensure(verify_all(s.as_mut(), &key)? == 2, "expected 2 rows")
}

/// A dropped transaction keeps nothing, neither state nor audit.
pub fn dropped_transaction_rolls_back(h: &mut dyn Harness) -> Result<(), String> {
    let key = MacKey::generate().map_err(e)?;
    let mut s = h.fresh();
    {
        let mut tx = s.begin(TxMode::Write).map_err(e)?;
        tx.token_insert(&token("aaaaaaaaaaaaaaaa")).map_err(e)?;
        let head = tx.audit_head().map_err(e)?;
        tx.audit_insert(&next_row(&key, head.as_ref(), "token.created")?)
            .map_err(e)?;
    }
    let mut tx = s.begin(TxMode::Read).map_err(e)?;
    ensure(
        tx.token_get("aaaaaaaaaaaaaaaa").map_err(e)?.is_none(),
        "state survived a rollback",
    )?;
    ensure(
        tx.audit_head().map_err(e)?.is_none(),
        "an audit row survived a rollback",
    )
}

/// When the audit insert fails inside the database, the state change of the same
/// transaction does not happen.
pub fn failed_audit_insert_rolls_back_the_act(h: &mut dyn Harness) -> Result<(), String> {
    let key = MacKey::generate().map_err(e)?;
    let mut s = h.fresh();
    append_one(s.as_mut(), &key, "vault.initialized")?;
    h.fail_audit_inserts_of("token.created");
    let mut s = h.reopen();
    let attempt = (|| -> Result<(), String> {
        let mut tx: Box<dyn Tx + '_> = s.begin(TxMode::Write).map_err(e)?;
        let head = tx.audit_head().map_err(e)?;
        tx.token_insert(&token("bbbbbbbbbbbbbbbb")).map_err(e)?;
        tx.audit_insert(&next_row(&key, head.as_ref(), "token.created")?)
            .map_err(e)?;
        tx.commit().map_err(e)
    })();
    ensure(
        attempt.is_err(),
        "the injected audit failure did not fail the transaction",
    )?;
    let mut tx = s.begin(TxMode::Read).map_err(e)?;
    ensure(
        tx.token_get("bbbbbbbbbbbbbbbb").map_err(e)?.is_none(),
        "the act's state survived its failed audit row",
    )?;
    ensure(
        tx.audit_head().map_err(e)?.map(|h| h.seq) == Some(1),
        "the head moved",
    )?;
    drop(tx);
    // Other events still append.
    append_one(s.as_mut(), &key, "other")?;
    ensure(verify_all(s.as_mut(), &key)? == 2, "expected 2 rows")
}

/// Writers on separate handles, each reading the head first inside its write transaction,
/// never fork the chain.
pub fn concurrent_writers_never_fork(h: &mut dyn Harness) -> Result<(), String> {
    let key = MacKey::generate().map_err(e)?;
    let mut first = h.fresh();
    let handles: Vec<Box<dyn Store>> = (0..4).map(|_| h.reopen()).collect();
    let mut threads = Vec::new();
    for mut st in handles {
        let k = key.clone();
        threads.push(std::thread::spawn(move || -> Result<(), String> {
            for _ in 0..25 {
                append_one(st.as_mut(), &k, "w")?;
            }
            Ok(())
        }));
    }
    for t in threads {
        t.join().map_err(|_| "a writer panicked".to_owned())??;
    }
    ensure(
        verify_all(first.as_mut(), &key)? == 100,
        "expected 100 rows",
    )
}

/// A deleted secret is gone; a re-wrap changes only its key columns.
pub fn secrets_delete_and_rewrap(h: &mut dyn Harness) -> Result<(), String> {
    let mut s = h.fresh();
    let row = SecretRow {
        id: "s1".into(),
        scope: "x".into(),
        expires_at: Some(5),
        key_id: "k1".into(),
        wrapped_key: vec![1, 2, 3],
        ciphertext: vec![4, 5, 6],
        created_at: 1,
    };
    let mut tx = s.begin(TxMode::Write).map_err(e)?;
    tx.secret_insert(&row).map_err(e)?;
    ensure(
        tx.secret_insert(&row).is_err(),
        "a duplicate secret id was accepted",
    )?;
    tx.secret_rewrap("s1", "k2", &[9]).map_err(e)?;
    let got = tx.secret_get("s1").map_err(e)?.ok_or("secret missing")?;
    ensure(
        got.key_id == "k2" && got.wrapped_key == vec![9] && got.ciphertext == row.ciphertext,
        "re-wrap changed the wrong columns",
    )?;
    ensure(
        tx.secret_delete("s1").map_err(e)?,
        "delete reported nothing deleted",
    )?;
    ensure(
        tx.secret_get("s1").map_err(e)?.is_none(),
        "a deleted secret is still readable",
    )?;
    ensure(
        !tx.secret_delete("s1").map_err(e)?,
        "a second delete reported a deletion",
    )?;
    tx.commit().map_err(e)?;
    s.purge_freed().map_err(e)
}

/// Token revocation sets both columns once and keeps the first revoker.
pub fn token_revocation_is_once(h: &mut dyn Harness) -> Result<(), String> {
    let mut s = h.fresh();
    let mut tx = s.begin(TxMode::Write).map_err(e)?;
    tx.token_insert(&token("cccccccccccccccc")).map_err(e)?;
    ensure(
        tx.token_revoke("cccccccccccccccc", 10, "first")
            .map_err(e)?,
        "first revoke failed",
    )?;
    ensure(
        !tx.token_revoke("cccccccccccccccc", 11, "second")
            .map_err(e)?,
        "second revoke reported success",
    )?;
    let t = tx
        .token_get("cccccccccccccccc")
        .map_err(e)?
        .ok_or("token missing")?;
    ensure(
        t.revoked_at == Some(10) && t.revoked_by.as_deref() == Some("first"),
        "the first revoker was not kept",
    )
}

/// Run every core check.
pub fn run_all(h: &mut dyn Harness) -> Result<(), String> {
    audit_is_append_only(h).map_err(|m| format!("audit_is_append_only: {m}"))?;
    dropped_transaction_rolls_back(h)
        .map_err(|m| format!("dropped_transaction_rolls_back: {m}"))?;
    failed_audit_insert_rolls_back_the_act(h)
        .map_err(|m| format!("failed_audit_insert_rolls_back_the_act: {m}"))?;
    concurrent_writers_never_fork(h).map_err(|m| format!("concurrent_writers_never_fork: {m}"))?;
    secrets_delete_and_rewrap(h).map_err(|m| format!("secrets_delete_and_rewrap: {m}"))?;
    token_revocation_is_once(h).map_err(|m| format!("token_revocation_is_once: {m}"))
}
