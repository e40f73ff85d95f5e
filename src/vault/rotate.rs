//! `vaultgate key rotate`: a new master key; the root key and every data key are re-wrapped
//! in one transaction; the old key is retired (overwritten by the rename).
//!
//! Crash safety, step by step (boot settles every intermediate state, see
//! [`super::boot`]):
//! 1. the new key is written to `master.key.next` (`O_EXCL`, 0600, fsync) — a crash here
//!    leaves the database on the old key id: boot discards `master.key.next`;
//! 2. one transaction re-wraps the root key and every secret's data key, sets `key_id`, and
//!    appends `key.rotated` — a crash before its commit is the same as 1;
//! 3. `master.key.next` is renamed over `master.key` and the folder fsynced — a crash between
//!    the commit and the rename leaves the database on the new key id while `master.key` holds
//!    the old one: boot sees that `master.key.next` matches the database and completes the
//!    rename.

use super::act::{Act, ActError, ActFailure, Caller};
use super::audit::{Metadata, NewEvent, Severity};
use super::boot::root_aad;
use super::crypto::{self, Keys, MasterKey, RootKey};
use super::home;
use super::{Vault, VaultError, meta, secret};
use crate::fsutil;

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// The retired key's id.
    pub old_key_id: String,
    /// The new key's id.
    pub new_key_id: String,
    /// Data keys re-wrapped.
    pub rewrapped: u64,
}

impl Vault<'_> {
    /// Rotate the master key (capability `admin`).
    pub fn key_rotate(&mut self, caller: &Caller) -> Result<Rotated, ActFailure> {
        let next_path = self.home.next_key_path();
        let new = MasterKey::generate().map_err(VaultError::from)?;
        let new_id = crypto::key_id(&new);
        home::write_key_exclusive(&next_path, &new).map_err(VaultError::from)?;
        let old = self.keys.master.clone();
        let old_id = self.keys.key_id.clone();
        let nk = new.clone();
        let nid = new_id.clone();
        let res = self.act(caller, &Act::new("key.rotate", "admin"), move |tx, who| {
            let ops = tx.ops();
            let vault_id = ops
                .meta_get(meta::VAULT_ID)?
                .ok_or_else(|| ActError::Family("the database has no vault id".into()))?;
            let wrapped = hex::decode(
                ops.meta_get(meta::ROOT_WRAPPED)?
                    .ok_or_else(|| ActError::Family("the database has no root key".into()))?,
            )
            .map_err(|_| ActError::Family("the wrapped root key is not hex".into()))?;
            let root = crypto::open(
                old.expose(),
                &wrapped,
                &root_aad(&vault_id, &old_id),
                "the root key",
            )?;
            let root = RootKey::from_slice("the root key", root.expose())?;
            let rewrapped_root = crypto::seal(
                nk.expose(),
                root.expose(),
                &root_aad(&vault_id, &nid),
                "the root key",
            )?;
            ops.meta_set(meta::ROOT_WRAPPED, &hex::encode(rewrapped_root))?;
            ops.meta_set(meta::KEY_ID, &nid)?;
            let mut n = 0u64;
            for row in ops.secret_all()? {
                let w = secret::rewrap(&old, &nk, &nid, &row)?;
                ops.secret_rewrap(&row.id, &nid, &w)?;
                n += 1;
            }
            tx.append(
                NewEvent::new("key.rotated", who.actor())
                    .severity(Severity::Critical)
                    .subject("key", nid.clone())
                    .meta(
                        Metadata::new()
                            .str("old_key_id", old_id.clone())
                            .str("new_key_id", nid.clone())
                            .int("rewrapped", i64::try_from(n).unwrap_or(i64::MAX)),
                    ),
            )?;
            Ok((n, root))
        });
        let (n, root) = match res {
            Ok(v) => v,
            Err(e) => {
                // Never committed: the database still names the old key.
                let _ = std::fs::remove_file(&next_path);
                return Err(e);
            }
        };
        std::fs::rename(&next_path, self.home.key_path()).map_err(|e| {
            VaultError::from(fsutil::FsError::new(
                "rename into place",
                self.home.key_path(),
                e,
            ))
        })?;
        fsutil::fsync_dir(self.home.root()).map_err(VaultError::from)?;
        let old_key_id = self.keys.key_id.clone();
        self.keys = Keys::new(new, &root);
        Ok(Rotated {
            old_key_id,
            new_key_id: new_id,
            rewrapped: n,
        })
    }
}
