//! Expiry: every lease and grant command first expires what is due.
//!
//! Due means `status = active` and `expires_at <= now`, where now is the vault's effective
//! time (the later of the clock and the latest time seen, so a clock set back never revives
//! anything). Each due lease is flipped to `expired` by compare-and-swap, its material is
//! destroyed, and `LEASE_EXPIRED` is appended in the same transaction, so the event is written
//! exactly once however many processes sweep at the same moment. Finding what is due reads
//! the partial index on expiry only: the cost is O(due), not O(all leases).

use crate::vault::audit::{Actor, Metadata, NewEvent};
use crate::vault::store::TxMode;
use crate::vault::{ActError, AuditedTx, Vault, VaultError};

/// How many due rows are handled per query (the loop repeats until none is left).
const BATCH: u64 = 512;

/// The rollback message when a racing process already swept everything.
const NOTHING_DUE: &str = "nothing was due any more";

/// What one sweep expired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Leases expired.
    pub leases: u64,
    /// Grants expired.
    pub grants: u64,
}

/// Expire everything due inside `tx` (the caller's act), as `actor`.
pub fn expire_due_in(tx: &mut AuditedTx<'_>, actor: &Actor) -> Result<Swept, ActError> {
    let now = tx.now_unix();
    let mut swept = Swept::default();
    loop {
        let due = tx.ops().lease_due(now, BATCH)?;
        if due.is_empty() {
            break;
        }
        for l in due {
            if tx.ops().lease_expire(&l.handle, now)? {
                let destroyed = tx.secret_destroy(&l.secret_id)?;
                tx.append(
                    NewEvent::new("LEASE_EXPIRED", actor.clone())
                        .subject("lease", &l.handle)
                        .meta(
                            Metadata::new()
                                .str("ingest", &l.ingest_id)
                                .int("expires_at", l.expires_at)
                                .bool("destroyed", destroyed),
                        ),
                )?;
                swept.leases += 1;
            }
        }
    }
    loop {
        let due = tx.ops().grant_due(now, BATCH)?;
        if due.is_empty() {
            break;
        }
        for g in due {
            if tx.ops().grant_expire(&g.auth_code)? {
                tx.append(
                    NewEvent::new("GRANT_EXPIRED", actor.clone())
                        .subject("grant", &g.auth_code)
                        .meta(
                            Metadata::new()
                                .str("target", &g.target)
                                .int("expires_at", g.expires_at),
                        ),
                )?;
                swept.grants += 1;
            }
        }
    }
    Ok(swept)
}

/// The sweep run before every lease and grant command: a read-only look first (one indexed
/// probe each), and a write only when something is due, as vaultgate itself.
pub fn before_command(vault: &mut Vault<'_>) -> Result<Swept, VaultError> {
    let now = crate::vault::boot::unix(vault.effective_now()?);
    let due = {
        let mut tx = vault.store().begin(TxMode::Read)?;
        !tx.lease_due(now, 1)?.is_empty() || !tx.grant_due(now, 1)?.is_empty()
    };
    if !due {
        return Ok(Swept::default());
    }
    let swept = match vault.system_act(|tx| {
        let swept = expire_due_in(tx, &Actor::system())?;
        if swept == Swept::default() {
            // Another process swept between the look and the lock: nothing to commit, and an
            // act without an audit row may not commit, so leave by the error path.
            return Err(ActError::Family(NOTHING_DUE.into()));
        }
        Ok(swept)
    }) {
        Ok(s) => s,
        Err(VaultError::Act(msg)) if msg == NOTHING_DUE => return Ok(Swept::default()),
        Err(e) => return Err(e),
    };
    if swept.leases > 0 {
        vault.purge_freed()?;
    }
    Ok(swept)
}
