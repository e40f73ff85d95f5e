//! Key material and authenticated encryption.
//!
//! Contract:
//! - Every secret type here ([`SecretBytes`], [`MasterKey`], [`RootKey`], [`MacKey`]) has a
//!   hand-written `Debug`/`Display` that prints `<redacted>`, is zeroized on drop, and has no
//!   conversion into a string, JSON or audit metadata.
//! - Randomness comes only from the OS ([`random_bytes`], `getrandom`); a failure is an error,
//!   never a weaker fallback.
//! - Encryption is XChaCha20-Poly1305 with a random 24-byte nonce per message; the associated
//!   data binds a ciphertext to its metadata so a swapped or hand-edited row fails decryption.
//! - Key hierarchy: the master key (`master.key`, 32 bytes) wraps the vault's *root key*
//!   (random, stored wrapped in the database) and every secret's *data key*. The audit MAC key
//!   and the token MAC key are derived from the root key with HKDF-SHA256, so rotating the
//!   master key re-wraps the root without invalidating the audit chain or issued tokens.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

/// Length of every symmetric key in the vault.
pub const KEY_LEN: usize = 32;
/// XChaCha20-Poly1305 nonce length.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub const TAG_LEN: usize = 16;

/// Errors from the cryptographic layer. None of them carries key or plaintext bytes.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The OS random source failed.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    /// Authentication failed: wrong key, edited ciphertext or edited associated data.
    #[error(
        "decryption of {what} failed: wrong key, or the ciphertext or its metadata was altered"
    )]
    Open {
        /// What was being decrypted (`the root key`, `secret `abc``).
        what: String,
    },
    /// A key or blob had the wrong length.
    #[error("{what} has {actual} bytes, expected {expected}")]
    Length {
        /// What it is.
        what: String,
        /// Expected length.
        expected: usize,
        /// Actual length.
        actual: usize,
    },
    /// The AEAD refused to encrypt (message too long).
    #[error("encryption of {what} failed")]
    Seal {
        /// What was being encrypted.
        what: String,
    },
}

/// Fill a buffer from the OS random source.
pub fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|e| CryptoError::Random(e.to_string()))
}

/// `n` random bytes as a zeroizing secret.
pub fn random_bytes(n: usize) -> Result<SecretBytes, CryptoError> {
    let mut v = vec![0u8; n];
    fill_random(&mut v)?;
    Ok(SecretBytes(v))
}

/// Secret bytes of any length: redacted in `Debug`/`Display`, zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wrap bytes (the caller's copy should be dropped or zeroized).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
    /// The bytes. Never print, log or serialise them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// `true` when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes(<redacted>)")
    }
}

impl fmt::Display for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A secret string (a token as presented): redacted, zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wrap a string.
    pub fn new(s: String) -> Self {
        Self(s)
    }
    /// The text. Never print, log or serialise it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

macro_rules! key_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Zeroizing<[u8; KEY_LEN]>);

        impl $name {
            /// From exactly [`KEY_LEN`] bytes.
            pub fn from_slice(what: &str, bytes: &[u8]) -> Result<Self, CryptoError> {
                let arr: [u8; KEY_LEN] = bytes.try_into().map_err(|_| CryptoError::Length {
                    what: what.to_owned(),
                    expected: KEY_LEN,
                    actual: bytes.len(),
                })?;
                Ok(Self(Zeroizing::new(arr)))
            }
            /// A fresh random key.
            pub fn generate() -> Result<Self, CryptoError> {
                let mut k = Zeroizing::new([0u8; KEY_LEN]);
                fill_random(&mut k[..])?;
                Ok(Self(k))
            }
            /// The key bytes. Never print, log or serialise them.
            pub fn expose(&self) -> &[u8; KEY_LEN] {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("<redacted>")
            }
        }
    };
}

key_type!(
    /// The master key from `master.key`: wraps the root key and every data key.
    MasterKey
);
key_type!(
    /// The vault's root key (stored wrapped by the master key); the audit and token MAC keys
    /// are derived from it.
    RootKey
);
key_type!(
    /// A MAC key (audit rows, token secrets, the head anchor).
    MacKey
);
key_type!(
    /// A per-secret data key.
    DataKey
);

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of the concatenation of `parts`.
pub fn hmac(key: &[u8; KEY_LEN], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// An HMAC-SHA256 key whose inner and outer pads are computed once, for MAC'ing many messages
/// (the audit chain walk): each message clones the keyed state instead of re-keying.
#[derive(Clone)]
pub struct KeyedHmac(HmacSha256);

impl fmt::Debug for KeyedHmac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyedHmac(<redacted>)")
    }
}

impl KeyedHmac {
    /// Key it.
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        Self(
            <HmacSha256 as KeyInit>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length")),
        )
    }
    /// Constant-time check of the tag of the concatenation of `parts`.
    pub fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        let mut mac = self.0.clone();
        for p in parts {
            mac.update(p);
        }
        mac.verify_slice(tag).is_ok()
    }
}

/// Constant-time check of an HMAC-SHA256 tag.
pub fn hmac_verify(key: &[u8; KEY_LEN], parts: &[&[u8]], tag: &[u8]) -> bool {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    for p in parts {
        mac.update(p);
    }
    mac.verify_slice(tag).is_ok()
}

/// HKDF-SHA256 expansion of `ikm` for one purpose (`info`).
pub fn derive(ikm: &[u8; KEY_LEN], info: &str) -> MacKey {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(b"vaultgate/v1"), ikm);
    let mut okm = Zeroizing::new([0u8; KEY_LEN]);
    hk.expand(info.as_bytes(), &mut okm[..])
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA256 output length"));
    MacKey(okm)
}

/// The public id of a master key: 16 hex digits of an HMAC under the key. Reveals nothing about
/// the key; lets boot tell which key the database was wrapped with.
pub fn key_id(master: &MasterKey) -> String {
    let tag = hmac(master.expose(), &[b"vaultgate/key-id/v1"]);
    hex::encode(&tag[..8])
}

/// `nonce ‖ ciphertext ‖ tag` of `plaintext` under `key` with associated data `aad`.
pub fn seal(
    key: &[u8; KEY_LEN],
    plaintext: &[u8],
    aad: &[u8],
    what: &str,
) -> Result<Vec<u8>, CryptoError> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let ct = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Seal {
            what: what.to_owned(),
        })?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Open a blob made by [`seal`].
pub fn open(
    key: &[u8; KEY_LEN],
    blob: &[u8],
    aad: &[u8],
    what: &str,
) -> Result<SecretBytes, CryptoError> {
    if blob.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Open {
            what: what.to_owned(),
        });
    }
    let (nonce, ct) = blob.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce
        .try_into()
        .unwrap_or_else(|_| unreachable!("split_at gives NONCE_LEN bytes"));
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad })
        .map(SecretBytes)
        .map_err(|_| CryptoError::Open {
            what: what.to_owned(),
        })
}

/// The keys a booted vault holds.
#[derive(Debug, Clone)]
pub struct Keys {
    /// The master key and its id.
    pub master: MasterKey,
    /// `key_id(master)`.
    pub key_id: String,
    /// The audit-row MAC key.
    pub audit: MacKey,
    /// The token-secret MAC key.
    pub token: MacKey,
}

impl Keys {
    /// Derive the working keys from the master key and the unwrapped root key.
    pub fn new(master: MasterKey, root: &RootKey) -> Self {
        let key_id = key_id(&master);
        Self {
            master,
            key_id,
            audit: derive(root.expose(), "vaultgate/audit-mac/v1"),
            token: derive(root.expose(), "vaultgate/token-mac/v1"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_types_are_redacted() {
        let s = SecretBytes::new(b"hunter2-secret".to_vec());
        assert_eq!(format!("{s}"), "<redacted>");
        assert!(!format!("{s:?}").contains("hunter2"));
        let k = MasterKey::from_slice("k", &[7u8; 32]).unwrap();
        assert_eq!(format!("{k:?}"), "MasterKey(<redacted>)");
        let t = SecretString::new("vgt_a_b".into());
        assert!(!format!("{t:?} {t}").contains("vgt_"));
    }

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let k = [1u8; 32];
        let blob = seal(&k, b"material", b"meta-a", "x").unwrap();
        assert_eq!(
            open(&k, &blob, b"meta-a", "x").unwrap().expose(),
            b"material"
        );
        assert!(open(&k, &blob, b"meta-b", "x").is_err());
        assert!(open(&[2u8; 32], &blob, b"meta-a", "x").is_err());
        let mut bad = blob.clone();
        bad[30] ^= 1;
        assert!(open(&k, &bad, b"meta-a", "x").is_err());
        assert!(open(&k, &blob[..10], b"meta-a", "x").is_err());
    }

    #[test]
    fn key_lengths_are_checked() {
        assert!(MasterKey::from_slice("k", &[0u8; 31]).is_err());
        assert!(MasterKey::from_slice("k", &[0u8; 33]).is_err());
    }

    #[test]
    fn hmac_verify_is_consistent() {
        let k = [3u8; 32];
        let t = hmac(&k, &[b"a", b"b"]);
        assert!(hmac_verify(&k, &[b"ab"], &t));
        assert!(!hmac_verify(&k, &[b"ac"], &t));
    }
}
