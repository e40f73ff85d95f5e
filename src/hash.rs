//! Streaming SHA-256 and the [`Sha256Digest`] newtype.
//!
//! Files are hashed in fixed-size chunks, never read whole into memory. `sha2` picks the CPU's
//! SHA extensions at run time. A digest parses from exactly 64 hex digits (either case) and
//! always displays as lowercase hex, the form `sha256sum` and `hashlib` print.

use std::fmt;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fsutil::{self, FsError, IoContext};

/// Chunk size for streaming reads.
pub const CHUNK: usize = 256 * 1024;

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(pub [u8; 32]);

/// A string that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a SHA-256 digest (expected 64 hex digits)")]
pub struct BadDigest {
    /// The offending text (truncated for display).
    pub value: String,
}

impl Sha256Digest {
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl FromStr for Sha256Digest {
    type Err = BadDigest;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.strip_prefix("sha256:").unwrap_or(s);
        let bad = || BadDigest {
            value: s.chars().take(80).collect(),
        };
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| bad())?;
        Ok(Self(out))
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// SHA-256 of a byte slice.
pub fn sha256_bytes(bytes: &[u8]) -> Sha256Digest {
    Sha256Digest(Sha256::digest(bytes).into())
}

/// SHA-256 of everything a reader yields, streamed through `buf` (reused across calls).
pub fn sha256_reader_with(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<(Sha256Digest, u64)> {
    let mut h = Sha256::new();
    let mut total = 0u64;
    loop {
        let n = match r.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
        total += n as u64;
    }
    Ok((Sha256Digest(h.finalize().into()), total))
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<Sha256Digest, FsError> {
    let mut f = fsutil::open(path)?;
    let mut buf = vec![0u8; CHUNK];
    sha256_reader_with(&mut f, &mut buf)
        .map(|(d, _)| d)
        .ctx("read", path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector_and_parse() {
        let d = sha256_bytes(b"abc");
        assert_eq!(
            d.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            d.to_hex().to_uppercase().parse::<Sha256Digest>().unwrap(),
            d
        );
        assert_eq!(format!("sha256:{d}").parse::<Sha256Digest>().unwrap(), d);
        assert!("abc".parse::<Sha256Digest>().is_err());
        assert!("g".repeat(64).parse::<Sha256Digest>().is_err());
    }

    #[test]
    fn reader_matches_bytes() {
        let data = vec![7u8; CHUNK * 2 + 5];
        let mut buf = vec![0u8; 1000];
        let (d, n) = sha256_reader_with(&mut &data[..], &mut buf).unwrap();
        assert_eq!((d, n), (sha256_bytes(&data), data.len() as u64));
    }
}
