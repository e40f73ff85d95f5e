//! A tiny raw-bytes ZIP writer for tests: every field is settable, so a test can build exactly
//! the hostile archive it needs (the `zip` crate refuses to write most of them). Shared by the
//! unit tests (`#[cfg(test)] mod testkit`) and the end-to-end tests (`#[path]` include).
#![allow(dead_code, clippy::unwrap_used, clippy::cast_possible_truncation)]

use std::io::Write as _;

/// One entry to write.
#[derive(Debug, Clone)]
pub struct E {
    pub name: Vec<u8>,
    /// Name written in the local header (default: `name`).
    pub local_name: Option<Vec<u8>>,
    /// Bytes written as the entry's data (already compressed for deflate).
    pub data: Vec<u8>,
    pub method: u16,
    pub crc: u32,
    pub usize: u32,
    pub flags: u16,
    /// Flags written in the local header (default: `flags`).
    pub local_flags: Option<u16>,
    pub made_by: u16,
    pub ext_attr: u32,
    pub cextra: Vec<u8>,
    pub lextra: Vec<u8>,
    /// Write a signed data descriptor after the data and zeros in the local header.
    pub descriptor: bool,
}

impl E {
    /// A stored entry.
    pub fn stored(name: impl AsRef<[u8]>, data: impl AsRef<[u8]>) -> Self {
        let data = data.as_ref().to_vec();
        Self {
            name: name.as_ref().to_vec(),
            local_name: None,
            crc: crc32fast::hash(&data),
            usize: data.len() as u32,
            data,
            method: 0,
            flags: 0,
            local_flags: None,
            made_by: 0x0314,
            ext_attr: 0o100_644 << 16,
            cextra: Vec::new(),
            lextra: Vec::new(),
            descriptor: false,
        }
    }

    /// A deflated entry.
    pub fn deflated(name: impl AsRef<[u8]>, plain: impl AsRef<[u8]>) -> Self {
        let plain = plain.as_ref();
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(plain).unwrap();
        let mut e = Self::stored(name, plain);
        e.data = enc.finish().unwrap();
        e.method = 8;
        e
    }

    /// A directory entry (`name` should end with `/`).
    pub fn dir(name: impl AsRef<[u8]>) -> Self {
        let mut e = Self::stored(name, b"");
        e.ext_attr = (0o040_755 << 16) | 0x10;
        e
    }

    /// Set the Unix mode (high 16 bits of the external attributes).
    #[must_use]
    pub fn mode(mut self, mode: u32) -> Self {
        self.ext_attr = mode << 16;
        self
    }
}

/// An extra field: id, length, data.
pub fn extra(id: u16, data: &[u8]) -> Vec<u8> {
    let mut v = id.to_le_bytes().to_vec();
    v.extend_from_slice(&(data.len() as u16).to_le_bytes());
    v.extend_from_slice(data);
    v
}

fn p16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn p32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// Where the pieces landed, for byte-patching tests.
#[derive(Debug, Clone, Default)]
pub struct Built {
    pub bytes: Vec<u8>,
    pub local_offsets: Vec<usize>,
    pub cd_offset: usize,
    pub central_offsets: Vec<usize>,
    pub eocd_offset: usize,
}

/// Write a whole archive.
pub fn build(entries: &[E]) -> Vec<u8> {
    build_with(entries, b"").bytes
}

/// Write a whole archive with an archive comment, and say where everything is.
pub fn build_with(entries: &[E], comment: &[u8]) -> Built {
    let mut b = Built::default();
    let mut out = Vec::new();
    for e in entries {
        b.local_offsets.push(out.len());
        let lname = e.local_name.as_ref().unwrap_or(&e.name);
        p32(&mut out, 0x0403_4b50);
        p16(&mut out, 20);
        p16(&mut out, e.local_flags.unwrap_or(e.flags));
        p16(&mut out, e.method);
        p32(&mut out, 0); // time + date
        let (crc, cs, us) = if e.descriptor {
            (0, 0, 0)
        } else {
            (e.crc, e.data.len() as u32, e.usize)
        };
        p32(&mut out, crc);
        p32(&mut out, cs);
        p32(&mut out, us);
        p16(&mut out, lname.len() as u16);
        p16(&mut out, e.lextra.len() as u16);
        out.extend_from_slice(lname);
        out.extend_from_slice(&e.lextra);
        out.extend_from_slice(&e.data);
        if e.descriptor {
            p32(&mut out, 0x0807_4b50);
            p32(&mut out, e.crc);
            p32(&mut out, e.data.len() as u32);
            p32(&mut out, e.usize);
        }
    }
    b.cd_offset = out.len();
    for (e, &lho) in entries.iter().zip(&b.local_offsets) {
        b.central_offsets.push(out.len());
        p32(&mut out, 0x0201_4b50);
        p16(&mut out, e.made_by);
        p16(&mut out, 20);
        p16(&mut out, e.flags);
        p16(&mut out, e.method);
        p32(&mut out, 0);
        p32(&mut out, e.crc);
        p32(&mut out, e.data.len() as u32);
        p32(&mut out, e.usize);
        p16(&mut out, e.name.len() as u16);
        p16(&mut out, e.cextra.len() as u16);
        p16(&mut out, 0); // comment
        p16(&mut out, 0); // disk
        p16(&mut out, 0); // internal attributes
        p32(&mut out, e.ext_attr);
        p32(&mut out, lho as u32);
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&e.cextra);
    }
    let cd_size = out.len() - b.cd_offset;
    b.eocd_offset = out.len();
    p32(&mut out, 0x0605_4b50);
    p16(&mut out, 0);
    p16(&mut out, 0);
    p16(&mut out, entries.len() as u16);
    p16(&mut out, entries.len() as u16);
    p32(&mut out, cd_size as u32);
    p32(&mut out, b.cd_offset as u32);
    p16(&mut out, comment.len() as u16);
    out.extend_from_slice(comment);
    b.bytes = out;
    b
}

/// Overwrite a little-endian u16 at `at`.
pub fn set16(bytes: &mut [u8], at: usize, v: u16) {
    bytes[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

/// Overwrite a little-endian u32 at `at`.
pub fn set32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
