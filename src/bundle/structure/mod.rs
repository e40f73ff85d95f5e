//! The raw ZIP structure reader: end-of-central-directory, ZIP64 records, central directory and
//! every local header, read from the bytes before anything is decompressed.
//!
//! Contract: [`read_structure`] never trusts a declared size for an allocation and never reads
//! the archive into memory: it seeks and reads bounded buffers (the EOCD search reads at most
//! 64 KiB + 22 bytes; each header at most 46 + 3 × 65535 bytes), so memory is bounded by the
//! entry limit, not by the archive size. Everything odd is a [`Finding`] located at its entry, never
//! a silent correction: the reader notes prepended bytes, trailing bytes, gaps, overlaps, hidden
//! local headers, and every disagreement between the records a reader could choose to believe.
//! It returns `Err` only for I/O errors (the audit could not run).

mod central;
mod eocd;
mod extras;
mod layout;
mod local;

use central::{locate_central_directory, read_central_directory};
use eocd::find_end_records;
use layout::check_layout;
use local::check_local_headers;

use std::io::{self, BufReader, Read, Seek, SeekFrom};

use super::codes::ZipCode;
use crate::report::{Finding, Location};

pub(crate) const SIG_LOCAL: u32 = 0x0403_4b50;
const SIG_CENTRAL: u32 = 0x0201_4b50;
const SIG_EOCD: u32 = 0x0605_4b50;
const SIG_Z64_EOCD: u32 = 0x0606_4b50;
const SIG_Z64_LOCATOR: u32 = 0x0706_4b50;
const SIG_DESCRIPTOR: u32 = 0x0807_4b50;

const EOCD_LEN: u64 = 22;
const Z64_LOCATOR_LEN: u64 = 20;
const Z64_EOCD_MIN_LEN: u64 = 56;
const CENTRAL_LEN: u64 = 46;
const LOCAL_LEN: u64 = 30;
const U16_MAX: u64 = 0xffff;
const U32_MAX: u64 = 0xffff_ffff;

/// One entry as the central directory declares it, checked against its local header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in the central directory (0-based).
    pub index: usize,
    /// The name as written, decoded as UTF-8 (lossily when invalid: such an entry always has a
    /// `zip-name-encoding` finding).
    pub name: String,
    /// The name bytes exactly as written in the central directory (only the first
    /// `max_name_len` bytes when the name is longer: see `name_len`).
    pub raw_name: Vec<u8>,
    /// The full length of the name as written; larger than `raw_name.len()` only for a name over
    /// the length limit, which always has a `zip-name-too-long` finding. Keeping only a prefix
    /// bounds memory by the limits, not by the archive.
    pub name_len: usize,
    /// The name ends with `/`.
    pub is_dir: bool,
    /// Compression method (0 stored, 8 deflate).
    pub method: u16,
    /// Declared CRC-32.
    pub crc32: u32,
    /// Declared compressed size (ZIP64 resolved).
    pub compressed_size: u64,
    /// Declared uncompressed size (ZIP64 resolved).
    pub uncompressed_size: u64,
    /// Absolute file offset of the entry's compressed data (0 when the local header is unusable).
    pub data_offset: u64,
    /// Unix mode from the high 16 bits of the external attributes, when non-zero.
    pub unix_mode: Option<u32>,
    /// General-purpose bit flags.
    pub flags: u16,
    /// "Version made by" (high byte: host system).
    pub version_made_by: u16,
    /// External file attributes.
    pub external_attr: u32,
    /// Absolute offset of the local header.
    pub local_header_offset: u64,
    /// Extra-field ids of the central record (for type and encryption rules).
    pub extra_ids: Vec<u16>,
    /// Link data found in a PKWARE Unix (0x000d) extra field.
    pub has_link_extra: bool,
    /// The local header and data bounds were verified, so the data can be streamed.
    pub local_ok: bool,
}

/// Where the records are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// Size of the archive in bytes.
    pub file_size: u64,
    /// Offset of the end-of-central-directory record.
    pub eocd_offset: u64,
    /// Length of the archive comment as declared.
    pub comment_len: u64,
    /// Offset of the ZIP64 end record, when there is one.
    pub zip64_eocd_offset: Option<u64>,
    /// Where the central directory really starts.
    pub cd_offset: u64,
    /// Declared central-directory size.
    pub cd_size: u64,
    /// Declared number of entries.
    pub declared_entries: u64,
}

/// What the reader found.
#[derive(Debug, Clone, Default)]
pub struct Structure {
    /// Entries in central-directory order (at most the entry limit).
    pub entries: Vec<Entry>,
    /// Every structural problem; one about an entry has its `entry_index` and, once
    /// [`read_structure`] returns, the entry's name as its subject.
    pub findings: Vec<Finding>,
    /// The record positions, when an end record was found.
    pub layout: Option<Layout>,
    /// `(start, end, index)` of every entry whose local header was verified.
    extents: Vec<(u64, u64, usize)>,
}

impl Structure {
    fn issue(&mut self, code: ZipCode, entry: Option<usize>, message: String) {
        let location = Location {
            entry_index: entry.map(|i| i as u64),
            ..Location::default()
        };
        self.findings
            .push(Finding::error(code, "archive", message).at(location));
    }

    fn warning(&mut self, code: ZipCode, message: String) {
        self.findings
            .push(Finding::warning(code, "archive", message));
    }

    /// Name each entry finding after its entry (findings are raised while the entries are
    /// still being read, so the subject is filled in once they all are).
    fn name_subjects(&mut self) {
        for f in &mut self.findings {
            let entry = f.location.as_ref().and_then(|l| l.entry_index);
            let index = entry.and_then(|i| usize::try_from(i).ok());
            if let Some((i, e)) = index.and_then(|i| Some((i, self.entries.get(i)?))) {
                f.subject = crate::bundle::names::entry_subject(i, &e.raw_name);
            }
        }
    }
}

/// A reader that remembers its position so that short forward seeks reuse the buffer.
struct At<R> {
    inner: BufReader<R>,
    pos: u64,
    size: u64,
}

impl<R: Read + Seek> At<R> {
    fn new(inner: R, size: u64) -> io::Result<Self> {
        let mut inner = BufReader::with_capacity(64 * 1024, inner);
        inner.seek(SeekFrom::Start(0))?;
        Ok(Self {
            inner,
            pos: 0,
            size,
        })
    }

    /// `true` when `len` bytes at `off` lie inside the file.
    fn fits(&self, off: u64, len: u64) -> bool {
        off.checked_add(len).is_some_and(|end| end <= self.size)
    }

    fn seek_to(&mut self, off: u64) -> io::Result<()> {
        if off == self.pos {
            return Ok(());
        }
        let delta = i128::from(off) - i128::from(self.pos);
        match i64::try_from(delta) {
            Ok(d) => self.inner.seek_relative(d)?,
            Err(_) => {
                self.inner.seek(SeekFrom::Start(off))?;
            }
        }
        self.pos = off;
        Ok(())
    }

    /// Read exactly `buf.len()` bytes at `off` (callers check [`Self::fits`] first).
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        self.seek_to(off)?;
        self.inner.read_exact(buf)?;
        self.pos = off + buf.len() as u64;
        Ok(())
    }

    fn vec_at(&mut self, off: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut v = vec![0; len];
        self.read_at(off, &mut v)?;
        Ok(v)
    }

    fn u32_at(&mut self, off: u64) -> io::Result<u32> {
        let mut b = [0; 4];
        self.read_at(off, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
}

/// Little-endian field access on a header buffer whose length the caller checked.
fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from(le32(b, at)) | (u64::from(le32(b, at + 4)) << 32)
}

/// Read the archive's structure. `max_entries` bounds how many central records are kept and
/// `max_name_len` how many bytes of each name.
pub fn read_structure<R: Read + Seek>(
    reader: R,
    file_size: u64,
    max_entries: u64,
    max_name_len: usize,
) -> io::Result<Structure> {
    let mut st = Structure::default();
    read_into(reader, file_size, max_entries, max_name_len, &mut st)?;
    st.name_subjects();
    Ok(st)
}

fn read_into<R: Read + Seek>(
    reader: R,
    file_size: u64,
    max_entries: u64,
    max_name_len: usize,
    st: &mut Structure,
) -> io::Result<()> {
    let mut at = At::new(reader, file_size)?;
    let st = &mut *st;
    let Some(mut layout) = find_end_records(&mut at, st)? else {
        return Ok(());
    };
    let end_of_cd = layout.zip64_eocd_offset.unwrap_or(layout.eocd_offset);
    let Some(cd_start) = locate_central_directory(&mut at, st, &layout, end_of_cd)? else {
        st.layout = Some(layout);
        return Ok(());
    };
    // Offsets inside the archive are relative to where the writer thought it started.
    let base = cd_start.saturating_sub(layout.cd_offset);
    layout.cd_offset = cd_start;
    let complete = read_central_directory(
        &mut at,
        st,
        &layout,
        end_of_cd,
        base,
        (max_entries, max_name_len),
    )?;
    st.layout = Some(layout.clone());
    check_local_headers(&mut at, st, cd_start)?;
    if complete {
        check_layout(&mut at, st, base, cd_start)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // test archives are tiny
mod tests {
    use super::super::testkit::{E, build, build_with, extra, set16, set32};
    use crate::bundle::{AuditOptions, audit_bytes};

    fn codes(bytes: &[u8]) -> Vec<&'static str> {
        audit_bytes(bytes, &AuditOptions::default())
            .findings
            .iter()
            .map(|f| f.code)
            .collect()
    }

    fn has(bytes: &[u8], code: &str) {
        let got = codes(bytes);
        assert!(got.contains(&code), "expected `{code}`, got {got:?}");
    }

    fn two() -> Vec<E> {
        vec![
            E::stored("a.txt", b"hello"),
            E::deflated("b.txt", b"world world world"),
        ]
    }

    #[test]
    fn a_clean_archive_has_no_finding() {
        assert_eq!(codes(&build(&two())), Vec::<&str>::new());
        let r = audit_bytes(&build(&two()), &AuditOptions::default());
        assert_eq!(r.entries[1].name, "b.txt");
        assert_eq!(r.entries[0].data_offset, 30 + 5);
    }

    #[test]
    fn not_a_zip_truncated_or_broken_cd_is_malformed() {
        has(b"hello, world", "zip-malformed");
        has(&[0u8; 100], "zip-malformed");
        let b = build(&two());
        has(&b[..b.len() - 5], "zip-malformed");
        let built = build_with(&two(), b"");
        let mut bytes = built.bytes.clone();
        set32(&mut bytes, built.central_offsets[1], 0x0201_4b51);
        has(&bytes, "zip-malformed");
    }

    #[test]
    fn trailing_bytes_fail_but_one_stray_byte_after_a_comment_only_warns() {
        let mut b = build(&two());
        b.extend_from_slice(b"junk");
        has(&b, "zip-trailing-bytes");
        let mut b = build_with(&two(), b"a comment").bytes;
        b.push(b'.');
        let r = audit_bytes(&b, &AuditOptions::default());
        assert!(r.passed(), "{:?}", r.findings);
        assert_eq!(r.findings[0].code, "zip-trailing-bytes");
    }

    #[test]
    fn prepended_bytes_are_found_shifted_or_not() {
        // Shifted: offsets still relative to the original start (readers rebase silently).
        let mut b = b"#!/bin/sh\nexit 0\n".to_vec();
        b.extend_from_slice(&build(&two()));
        has(&b, "zip-prepended-bytes");
        // Self-extractor style: offsets fixed up to the real positions.
        let built = build_with(&two(), b"");
        let mut b = built.bytes.clone();
        for &c in &built.central_offsets {
            let lho = u32::from_le_bytes(b[c + 42..c + 46].try_into().unwrap());
            set32(&mut b, c + 42, lho + 8);
        }
        set32(&mut b, built.eocd_offset + 16, built.cd_offset as u32 + 8);
        let mut p = b"MZ\0\0stub".to_vec();
        p.extend_from_slice(&b);
        has(&p, "zip-prepended-bytes");
    }

    #[test]
    fn gaps_and_hidden_local_headers_are_found() {
        let built = build_with(&two(), b"");
        let mut b = built.bytes[..built.cd_offset].to_vec();
        b.extend_from_slice(b"\0junk\0");
        b.extend_from_slice(&built.bytes[built.cd_offset..]);
        set32(
            &mut b,
            built.eocd_offset + 6 + 16,
            built.cd_offset as u32 + 6,
        );
        has(&b, "zip-gap");

        let all = build_with(&two(), b"");
        let one = build_with(&two()[..1], b"");
        let mut b = all.bytes[..all.cd_offset].to_vec();
        let cd = b.len();
        b.extend_from_slice(&one.bytes[one.cd_offset..]);
        set32(
            &mut b,
            cd + (one.eocd_offset - one.cd_offset) + 16,
            cd as u32,
        );
        has(&b, "zip-hidden-local-header");
    }

    #[test]
    fn overlapping_or_shared_data_is_found() {
        let built = build_with(&[E::stored("a", b"x"), E::stored("a", b"x")], b"");
        let mut b = built.bytes.clone();
        set32(&mut b, built.central_offsets[1] + 42, 0);
        has(&b, "zip-overlapping-entries");
    }

    #[test]
    fn local_header_differentials_are_found() {
        let mut e = two();
        e[0].local_name = Some(b"evil.sh".to_vec());
        has(&build(&e), "zip-local-header-mismatch");
        let mut e = two();
        e[1].local_flags = Some(0x0800);
        has(&build(&e), "zip-local-header-mismatch");
        let built = build_with(&two(), b"");
        let mut b = built.bytes.clone();
        set32(&mut b, built.local_offsets[0] + 14, 0xdead_beef);
        has(&b, "zip-local-header-mismatch");
        let mut b = built.bytes.clone();
        set16(&mut b, built.local_offsets[0] + 8, 8);
        has(&b, "zip-local-header-mismatch");
        let mut b = built.bytes;
        set32(&mut b, built.local_offsets[0], 0x0403_4b00);
        has(&b, "zip-bad-local-header");
    }

    #[test]
    fn data_descriptors_must_match() {
        let mut e = two();
        for x in &mut e {
            x.descriptor = true;
            x.flags |= 8;
        }
        assert_eq!(codes(&build(&e)), Vec::<&str>::new());
        let built = build_with(&e, b"");
        let mut b = built.bytes.clone();
        // The first descriptor sits right before the second local header.
        set32(&mut b, built.local_offsets[1] - 12, 0x1234_5678);
        has(&b, "zip-data-descriptor-mismatch");
    }

    #[test]
    fn unicode_path_field_must_match_the_name() {
        let mut e = two();
        let mut up = vec![1];
        up.extend_from_slice(&crc32fast::hash(b"a.txt").to_le_bytes());
        up.extend_from_slice(b"other.txt");
        e[0].cextra = extra(0x7075, &up);
        has(&build(&e), "zip-unicode-path-mismatch");
        up.truncate(5);
        up.extend_from_slice(b"a.txt");
        e[0].cextra = extra(0x7075, &up);
        e[0].lextra = extra(0x7075, &up);
        assert_eq!(codes(&build(&e)), Vec::<&str>::new());
    }

    #[test]
    fn extra_fields_must_add_up() {
        let mut e = two();
        e[0].cextra = vec![1, 2, 3];
        has(&build(&e), "zip-bad-extra-field");
        e[0].cextra = extra(0x5455, &[]);
        has(&build(&e), "zip-bad-extra-field");
        let mut twice = extra(0x000a, &[0; 4]);
        twice.extend(extra(0x000a, &[0; 4]));
        e[0].cextra = twice;
        has(&build(&e), "zip-bad-extra-field");
    }

    #[test]
    fn end_record_ambiguities_are_found() {
        // A complete fake end record as the comment: two records end at the end of the file.
        let fake = &build(&[])[..];
        has(&build_with(&two(), fake).bytes, "zip-multiple-eocd");
        let mut comment = 0x0605_4b50u32.to_le_bytes().to_vec();
        comment.extend_from_slice(&[0; 18]);
        comment.extend_from_slice(b"tail");
        has(&build_with(&two(), &comment).bytes, "zip-eocd-in-comment");
    }

    #[test]
    fn counts_sizes_and_disks_must_agree() {
        let built = build_with(&two(), b"");
        let eocd = built.eocd_offset;
        let mut b = built.bytes.clone();
        set16(&mut b, eocd + 10, 1);
        has(&b, "zip-entry-count-mismatch");
        let mut b = built.bytes.clone();
        set16(&mut b, eocd + 8, 3);
        set16(&mut b, eocd + 10, 3);
        has(&b, "zip-entry-count-mismatch");
        let mut b = built.bytes.clone();
        set32(&mut b, eocd + 12, (eocd - built.cd_offset) as u32 - 1);
        has(&b, "zip-central-directory-mismatch");
        let mut b = built.bytes.clone();
        set16(&mut b, eocd + 4, 1);
        has(&b, "zip-multi-disk");
        let mut b = built.bytes.clone();
        set32(&mut b, built.central_offsets[0] + 20, 1 << 30);
        has(&b, "zip-data-out-of-bounds");
    }

    /// Insert ZIP64 end records before the classic end record.
    fn with_zip64(built: &super::super::testkit::Built, entries: u64) -> Vec<u8> {
        let mut b = built.bytes[..built.eocd_offset].to_vec();
        let z64 = b.len() as u64;
        let cd_size = (built.eocd_offset - built.cd_offset) as u64;
        b.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
        b.extend_from_slice(&44u64.to_le_bytes());
        b.extend_from_slice(&[45, 0, 45, 0]);
        b.extend_from_slice(&[0; 8]);
        for v in [entries, entries, cd_size, built.cd_offset as u64] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&z64.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&built.bytes[built.eocd_offset..]);
        b
    }

    #[test]
    fn zip64_records_must_be_needed_and_agree() {
        let built = build_with(&two(), b"");
        has(&with_zip64(&built, 2), "zip-zip64-unneeded");
        has(&with_zip64(&built, 3), "zip-zip64-mismatch");
        // Saturated classic fields that defer to a consistent zip64 record are fine.
        let mut b = with_zip64(&built, 2);
        let eocd = b.len() - 22;
        set16(&mut b, eocd + 8, 0xffff);
        set16(&mut b, eocd + 10, 0xffff);
        assert_eq!(codes(&b), Vec::<&str>::new());
        // Saturated without any zip64 record.
        let mut b = built.bytes;
        set16(&mut b, built.eocd_offset + 8, 0xffff);
        set16(&mut b, built.eocd_offset + 10, 0xffff);
        has(&b, "zip-zip64-mismatch");
    }
}
