//! Secret storage: material exists only encrypted at rest.
//!
//! Each secret gets a random 32-byte data key. The material is sealed with the data key
//! (XChaCha20-Poly1305, random 24-byte nonce) under associated data
//! `vaultgate/secret-data/v1\n{canonical {expires_at, id, scope}}`; the data key is sealed with
//! the master key under `vaultgate/secret-wrap/v1\n{canonical {expires_at, id, key_id, scope}}`.
//! A hand-edited expiry or scope, or a ciphertext or wrapped key moved to another row, fails
//! decryption. Key rotation re-wraps the data key only (the data AAD has no key id).
//!
//! Destroying deletes the row with SQLite's `secure_delete` on (freed pages are zeroed) and,
//! after the commit, checkpoints and truncates the WAL so no page image of it survives there.
//!
//! These are methods on [`AuditedTx`] so a family stores a secret in the same transaction as
//! its own row and audit event (a lease's metadata row and `LEASE_ISSUED`).

use serde_json::json;

use super::act::{ActError, AuditedTx};
use super::crypto::{self, DataKey, SecretBytes};
use super::store::{SecretRow, StoreError};
use super::{Vault, VaultError};

/// The metadata a secret is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMeta {
    /// Unique id (e.g. the lease handle).
    pub id: String,
    /// What it may be used for.
    pub scope: String,
    /// Unix seconds after which the owner must not use it.
    pub expires_at: Option<i64>,
}

fn data_aad(m: &SecretMeta) -> Vec<u8> {
    let v = json!({"id": m.id, "scope": m.scope, "expires_at": m.expires_at});
    let mut out = b"vaultgate/secret-data/v1\n".to_vec();
    crate::canon::write(&v, &mut out).unwrap_or_else(|e| unreachable!("plain JSON: {e}"));
    out
}

fn wrap_aad(m: &SecretMeta, key_id: &str) -> Vec<u8> {
    let v = json!({"id": m.id, "scope": m.scope, "expires_at": m.expires_at, "key_id": key_id});
    let mut out = b"vaultgate/secret-wrap/v1\n".to_vec();
    crate::canon::write(&v, &mut out).unwrap_or_else(|e| unreachable!("plain JSON: {e}"));
    out
}

/// Seal material for storage under `master` (key id `key_id`).
pub fn seal(
    master: &crypto::MasterKey,
    key_id: &str,
    meta: &SecretMeta,
    material: &SecretBytes,
    created_at: i64,
) -> Result<SecretRow, crypto::CryptoError> {
    let dk = DataKey::generate()?;
    let what = format!("secret `{}`", meta.id);
    let ciphertext = crypto::seal(dk.expose(), material.expose(), &data_aad(meta), &what)?;
    let wrapped_key = crypto::seal(master.expose(), dk.expose(), &wrap_aad(meta, key_id), &what)?;
    Ok(SecretRow {
        id: meta.id.clone(),
        scope: meta.scope.clone(),
        expires_at: meta.expires_at,
        key_id: key_id.to_owned(),
        wrapped_key,
        ciphertext,
        created_at,
    })
}

/// Unwrap a stored row's data key (for re-wrapping or opening).
pub fn unwrap_data_key(
    master: &crypto::MasterKey,
    row: &SecretRow,
) -> Result<DataKey, crypto::CryptoError> {
    let meta = SecretMeta {
        id: row.id.clone(),
        scope: row.scope.clone(),
        expires_at: row.expires_at,
    };
    let what = format!("secret `{}`", row.id);
    let dk = crypto::open(
        master.expose(),
        &row.wrapped_key,
        &wrap_aad(&meta, &row.key_id),
        &what,
    )?;
    DataKey::from_slice(&what, dk.expose())
}

/// Open a stored row: the material, or an error if anything bound into it was altered.
pub fn open_row(
    master: &crypto::MasterKey,
    row: &SecretRow,
) -> Result<SecretBytes, crypto::CryptoError> {
    let meta = SecretMeta {
        id: row.id.clone(),
        scope: row.scope.clone(),
        expires_at: row.expires_at,
    };
    let dk = unwrap_data_key(master, row)?;
    crypto::open(
        dk.expose(),
        &row.ciphertext,
        &data_aad(&meta),
        &format!("secret `{}`", row.id),
    )
}

/// Re-wrap a row's data key from `old` to `new` (key rotation).
pub fn rewrap(
    old: &crypto::MasterKey,
    new: &crypto::MasterKey,
    new_key_id: &str,
    row: &SecretRow,
) -> Result<Vec<u8>, crypto::CryptoError> {
    let dk = unwrap_data_key(old, row)?;
    let meta = SecretMeta {
        id: row.id.clone(),
        scope: row.scope.clone(),
        expires_at: row.expires_at,
    };
    crypto::seal(
        new.expose(),
        dk.expose(),
        &wrap_aad(&meta, new_key_id),
        &format!("secret `{}`", row.id),
    )
}

impl AuditedTx<'_> {
    /// Generate `len` random bytes, store them encrypted under `meta`, and return them (the
    /// caller derives a fingerprint or hands them to a child; never prints them).
    pub fn secret_generate(
        &mut self,
        meta: &SecretMeta,
        len: usize,
    ) -> Result<SecretBytes, ActError> {
        let material = crypto::random_bytes(len)?;
        self.secret_put(meta, &material)?;
        Ok(material)
    }

    /// Store given material encrypted under `meta`.
    pub fn secret_put(
        &mut self,
        meta: &SecretMeta,
        material: &SecretBytes,
    ) -> Result<(), ActError> {
        let keys = self.keys();
        let row = seal(&keys.master, &keys.key_id, meta, material, self.now_unix())?;
        self.ops().secret_insert(&row)?;
        Ok(())
    }

    /// Decrypt a stored secret (`None` when there is no such id). Fails when the row's
    /// metadata or ciphertext was altered.
    pub fn secret_open(&mut self, id: &str) -> Result<Option<(SecretMeta, SecretBytes)>, ActError> {
        let Some(row) = self.ops().secret_get(id)? else {
            return Ok(None);
        };
        let material = open_row(&self.keys().master, &row)?;
        Ok(Some((
            SecretMeta {
                id: row.id,
                scope: row.scope,
                expires_at: row.expires_at,
            },
            material,
        )))
    }

    /// Delete a secret's row (securely); `true` if it existed. Call
    /// [`Vault::purge_freed`] after the act commits to clear the WAL as well.
    pub fn secret_destroy(&mut self, id: &str) -> Result<bool, ActError> {
        Ok(self.ops().secret_delete(id)?)
    }
}

impl Vault<'_> {
    /// Decrypt a stored secret outside an act (read transaction). `None` when absent.
    pub fn secret_read(
        &mut self,
        id: &str,
    ) -> Result<Option<(SecretMeta, SecretBytes)>, VaultError> {
        let row = {
            let mut tx = self.store.begin(super::store::TxMode::Read)?;
            tx.secret_get(id)?
        };
        let Some(row) = row else { return Ok(None) };
        let material = open_row(&self.keys.master, &row)?;
        Ok(Some((
            SecretMeta {
                id: row.id,
                scope: row.scope,
                expires_at: row.expires_at,
            },
            material,
        )))
    }

    /// After destroying secrets: checkpoint and truncate the WAL so their pages are gone.
    pub fn purge_freed(&mut self) -> Result<(), VaultError> {
        self.store
            .purge_freed()
            .map_err(|e: StoreError| VaultError::Store(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_bound_and_rotation_rewraps() {
        let k1 = crypto::MasterKey::generate().unwrap();
        let k2 = crypto::MasterKey::generate().unwrap();
        let meta = SecretMeta {
            id: "l1".into(),
            scope: "ai.gemini.inference".into(),
            expires_at: Some(100),
        };
        let material = SecretBytes::new(vec![9u8; 32]);
        let row = seal(&k1, "id1", &meta, &material, 0).unwrap();
        assert_eq!(open_row(&k1, &row).unwrap(), material);
        let mut edited = row.clone();
        edited.expires_at = Some(10_000);
        assert!(open_row(&k1, &edited).is_err());
        let mut scope = row.clone();
        scope.scope = "other".into();
        assert!(open_row(&k1, &scope).is_err());
        let other = seal(
            &k1,
            "id1",
            &SecretMeta {
                id: "l2".into(),
                ..meta.clone()
            },
            &material,
            0,
        )
        .unwrap();
        let mut swapped = row.clone();
        swapped.ciphertext = other.ciphertext.clone();
        assert!(open_row(&k1, &swapped).is_err());
        let mut rotated = row.clone();
        rotated.wrapped_key = rewrap(&k1, &k2, "id2", &row).unwrap();
        rotated.key_id = "id2".into();
        assert_eq!(open_row(&k2, &rotated).unwrap(), material);
        assert!(open_row(&k1, &rotated).is_err());
    }
}
