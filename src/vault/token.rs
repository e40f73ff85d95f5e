//! Tokens: `vgt_<accessor>_<secret>`.
//!
//! The accessor (16 lowercase hex digits) is public: it is what outputs and the audit log show.
//! The secret (64 lowercase hex digits, 32 bytes from the OS random source) is shown exactly
//! once, when the token is created; the database keeps only `HMAC(token key, accessor ‖ "_" ‖
//! secret)`, compared in constant time. A token is presented through `VAULTGATE_TOKEN` or a
//! `--token-file` (0600), never as a command-line argument (argv is visible to every user).

use std::fmt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::codes::VaultCode;
use super::crypto::{self, MacKey, SecretString};

/// The prefix of every token.
pub const PREFIX: &str = "vgt_";
const ACCESSOR_HEX: usize = 16;
const SECRET_HEX: usize = 64;

/// A token as presented by a caller: parsed, the secret kept redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedToken {
    accessor: String,
    secret: SecretString,
}

impl fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PresentedToken({}, <redacted>)", self.accessor)
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Why a presented token could not even be looked up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TokenFormatError {
    /// `token-malformed` or `token-file-insecure`.
    pub code: VaultCode,
    /// Never contains the token text.
    pub message: String,
}

impl PresentedToken {
    /// Parse `vgt_<16 hex>_<64 hex>` (surrounding whitespace, e.g. a file's newline, is
    /// ignored). The error never echoes the input.
    pub fn parse(text: &str) -> Result<Self, TokenFormatError> {
        let t = text.trim();
        let malformed = || TokenFormatError {
            code: VaultCode::TokenMalformed,
            message: "the presented token is not of the form `vgt_<accessor>_<secret>`".into(),
        };
        let rest = t.strip_prefix(PREFIX).ok_or_else(malformed)?;
        let (acc, secret) = rest.split_once('_').ok_or_else(malformed)?;
        if !is_lower_hex(acc, ACCESSOR_HEX) || !is_lower_hex(secret, SECRET_HEX) {
            return Err(malformed());
        }
        Ok(Self {
            accessor: acc.to_owned(),
            secret: SecretString::new(secret.to_owned()),
        })
    }

    /// Read a token file: a regular file of ours, not a symlink, no group/other access.
    pub fn from_file(path: &Path) -> Result<Self, TokenFormatError> {
        let insecure = |m: String| TokenFormatError {
            code: VaultCode::TokenFileInsecure,
            message: m,
        };
        let shown = path.display();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| insecure(format!("cannot open the token file `{shown}`: {e}")))?;
        let md = file
            .metadata()
            .map_err(|e| insecure(format!("cannot inspect the token file `{shown}`: {e}")))?;
        if !md.is_file() || md.uid() != super::home::euid() || md.mode() & 0o077 != 0 {
            return Err(insecure(format!(
                "the token file `{shown}` must be a regular file of yours with mode 0600\nhelp: chmod 600 {shown}"
            )));
        }
        let mut text = zeroize::Zeroizing::new(String::new());
        std::io::Read::read_to_string(&mut std::io::Read::take(&file, 4096), &mut text)
            .map_err(|e| insecure(format!("cannot read the token file `{shown}`: {e}")))?;
        Self::parse(&text)
    }

    /// The public accessor.
    pub fn accessor(&self) -> &str {
        &self.accessor
    }

    /// Does the secret match the stored MAC? (constant time)
    pub fn matches(&self, key: &MacKey, stored_mac: &[u8]) -> bool {
        crypto::hmac_verify(
            key.expose(),
            &[
                self.accessor.as_bytes(),
                b"_",
                self.secret.expose().as_bytes(),
            ],
            stored_mac,
        )
    }
}

/// A freshly generated token: the full text (shown once) and what the database stores.
pub struct NewToken {
    /// `vgt_<accessor>_<secret>`: print once, never store.
    pub text: SecretString,
    /// The accessor.
    pub accessor: String,
    /// The MAC to store.
    pub secret_mac: Vec<u8>,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewToken({}, <redacted>)", self.accessor)
    }
}

/// Generate a token from the OS random source.
pub fn generate(key: &MacKey) -> Result<NewToken, crypto::CryptoError> {
    let acc = crypto::random_bytes(ACCESSOR_HEX / 2)?;
    let sec = crypto::random_bytes(SECRET_HEX / 2)?;
    let accessor = hex::encode(acc.expose());
    let secret = zeroize::Zeroizing::new(hex::encode(sec.expose()));
    let secret_mac = crypto::hmac(
        key.expose(),
        &[accessor.as_bytes(), b"_", secret.as_bytes()],
    )
    .to_vec();
    let text = SecretString::new(format!("{PREFIX}{accessor}_{}", secret.as_str()));
    Ok(NewToken {
        text,
        accessor,
        secret_mac,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_match() {
        let key = MacKey::generate().unwrap();
        let t = generate(&key).unwrap();
        let p = PresentedToken::parse(t.text.expose()).unwrap();
        assert_eq!(p.accessor(), t.accessor);
        assert!(p.matches(&key, &t.secret_mac));
        assert!(!p.matches(&MacKey::generate().unwrap(), &t.secret_mac));
        assert!(!format!("{p:?}").contains(&t.text.expose()[21..]));
    }

    #[test]
    fn malformed_tokens_are_refused_without_echo() {
        for bad in [
            "",
            "vgt_",
            "vgt_abc_def",
            "xyz_0123456789abcdef_0000000000000000000000000000000000000000000000000000000000000000",
            "vgt_0123456789ABCDEF_0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            let e = PresentedToken::parse(bad).unwrap_err();
            assert_eq!(e.code, VaultCode::TokenMalformed);
            assert!(bad.len() < 10 || !e.message.contains(bad));
        }
    }
}
