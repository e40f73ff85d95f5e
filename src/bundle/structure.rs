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
            if let Some(e) = entry.and_then(|i| self.entries.get(usize::try_from(i).ok()?)) {
                f.subject = super::names::display(&e.raw_name);
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

/// One parsed extra field.
struct Extra<'a> {
    id: u16,
    data: &'a [u8],
}

/// Split an extra-field area; `Err` says why the lengths do not add up.
fn split_extras(mut area: &[u8]) -> Result<Vec<Extra<'_>>, String> {
    let mut out = Vec::new();
    while !area.is_empty() {
        if area.len() < 4 {
            return Err(format!(
                "{} stray bytes after the last extra field",
                area.len()
            ));
        }
        let id = le16(area, 0);
        let len = usize::from(le16(area, 2));
        if 4 + len > area.len() {
            return Err(format!(
                "extra field 0x{id:04x} declares {len} bytes but only {} remain",
                area.len() - 4
            ));
        }
        if out.iter().any(|e: &Extra<'_>| e.id == id) {
            return Err(format!(
                "extra field 0x{id:04x} appears twice (readers pick different copies)"
            ));
        }
        out.push(Extra {
            id,
            data: &area[4..4 + len],
        });
        area = &area[4 + len..];
    }
    Ok(out)
}

/// Check the layout of the extra fields we interpret; `Err` names the problem.
fn check_known_extra(e: &Extra<'_>, local: bool) -> Result<(), String> {
    match e.id {
        // Extended timestamp: a flags byte, then up to three 4-byte times (central: mtime only).
        0x5455 => {
            let Some((&flags, times)) = e.data.split_first() else {
                return Err("extended timestamp field 0x5455 is empty".into());
            };
            let max = if local {
                (flags & 7).count_ones()
            } else {
                u32::from(flags & 1)
            };
            let n = times.len() / 4;
            if times.len() % 4 != 0 || n > max as usize {
                return Err(format!(
                    "extended timestamp field 0x5455 has {} bytes for flags 0x{flags:02x}",
                    e.data.len()
                ));
            }
            Ok(())
        }
        // PKWARE Unix: atime, mtime, uid, gid (12 bytes), then link data.
        0x000d if e.data.len() < 12 => Err(format!(
            "pkware unix field 0x000d has {} bytes, fewer than its 12 fixed bytes",
            e.data.len()
        )),
        0x7075 if e.data.len() < 5 || e.data[0] != 1 => Err(format!(
            "unicode path field 0x7075 is malformed ({} bytes, version {})",
            e.data.len(),
            e.data.first().copied().unwrap_or(0)
        )),
        _ => Ok(()),
    }
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

struct Eocd {
    off: u64,
    disk: u16,
    cd_disk: u16,
    entries_disk: u16,
    entries: u16,
    cd_size: u32,
    cd_offset: u32,
    comment_len: u16,
}

fn parse_eocd(tail: &[u8], i: usize, tail_start: u64) -> Eocd {
    let b = &tail[i..i + 22];
    Eocd {
        off: tail_start + i as u64,
        disk: le16(b, 4),
        cd_disk: le16(b, 6),
        entries_disk: le16(b, 8),
        entries: le16(b, 10),
        cd_size: le32(b, 12),
        cd_offset: le32(b, 16),
        comment_len: le16(b, 20),
    }
}

/// Find the EOCD (and ZIP64 records), resolving the declared counts, sizes and offsets.
#[allow(clippy::too_many_lines)] // one record's checks, in file order, read best together
fn find_end_records<R: Read + Seek>(
    at: &mut At<R>,
    st: &mut Structure,
) -> io::Result<Option<Layout>> {
    let size = at.size;
    if size < EOCD_LEN {
        st.issue(
            ZipCode::Malformed,
            None,
            format!("file is {size} bytes, too short for a zip archive (at least 22)"),
        );
        return Ok(None);
    }
    let tail_len = size.min(EOCD_LEN + U16_MAX);
    let tail_start = size - tail_len;
    // Bounded: at most 65557 bytes.
    let tail = at.vec_at(tail_start, usize::try_from(tail_len).unwrap_or(0))?;
    let sig = SIG_EOCD.to_le_bytes();
    let candidates: Vec<Eocd> = (0..tail.len().saturating_sub(21))
        .filter(|&i| tail[i..i + 4] == sig)
        .map(|i| parse_eocd(&tail, i, tail_start))
        .collect();
    let ends = |e: &Eocd| e.off + EOCD_LEN + u64::from(e.comment_len);
    let chosen = candidates
        .iter()
        .rposition(|e| ends(e) == size)
        .or_else(|| candidates.len().checked_sub(1));
    let Some(ci) = chosen else {
        st.issue(
            ZipCode::Malformed,
            None,
            "no end-of-central-directory record: not a zip archive, or truncated".into(),
        );
        return Ok(None);
    };
    let eocd = &candidates[ci];
    let end = ends(eocd);
    if end < size {
        let message = format!(
            "{} bytes follow the end-of-central-directory record and its comment",
            size - end
        );
        // One stray byte after a non-empty comment is an off-by-one comment length (Go's
        // `readme.zip` test archive); one byte cannot hold anything, so this only warns.
        if size - end == 1 && eocd.comment_len > 0 && candidates.len() == 1 {
            st.warning(
                ZipCode::TrailingBytes,
                format!("{message} (a miscounted comment)"),
            );
        } else {
            st.issue(ZipCode::TrailingBytes, None, message);
        }
    } else if end > size {
        st.issue(
            ZipCode::Malformed,
            None,
            format!(
                "archive comment declares {} bytes but only {} remain in the file",
                eocd.comment_len,
                size - eocd.off - EOCD_LEN
            ),
        );
    }
    for (i, other) in candidates.iter().enumerate() {
        if i == ci {
            continue;
        }
        if other.off > eocd.off {
            st.issue(
                ZipCode::EocdInComment,
                None,
                format!(
                    "the archive comment contains an end-of-central-directory signature at offset {}",
                    other.off
                ),
            );
        } else if ends(other) == size
            || ends(other) == eocd.off
            || u64::from(other.cd_offset) + u64::from(other.cd_size) == other.off
        {
            st.issue(
                ZipCode::MultipleEocd,
                None,
                format!(
                    "a second plausible end-of-central-directory record at offset {} (the one used is at {})",
                    other.off, eocd.off
                ),
            );
        }
    }
    if eocd.disk != 0 || eocd.cd_disk != 0 {
        st.issue(
            ZipCode::MultiDisk,
            None,
            format!(
                "end record says disk {} with the central directory on disk {}: multi-disk archives are not supported",
                eocd.disk, eocd.cd_disk
            ),
        );
    }
    let mut layout = Layout {
        file_size: size,
        eocd_offset: eocd.off,
        comment_len: u64::from(eocd.comment_len),
        zip64_eocd_offset: None,
        cd_offset: u64::from(eocd.cd_offset),
        cd_size: u64::from(eocd.cd_size),
        declared_entries: u64::from(eocd.entries),
    };
    let saturated = u64::from(eocd.entries) == U16_MAX
        || u64::from(eocd.entries_disk) == U16_MAX
        || u64::from(eocd.cd_size) == U32_MAX
        || u64::from(eocd.cd_offset) == U32_MAX;
    let has_locator =
        eocd.off >= Z64_LOCATOR_LEN && at.u32_at(eocd.off - Z64_LOCATOR_LEN)? == SIG_Z64_LOCATOR;
    if !has_locator {
        if saturated {
            st.issue(
                ZipCode::Zip64Mismatch,
                None,
                "end record has a saturated (0xffff/0xffffffff) field but there is no zip64 end record".into(),
            );
        }
        if eocd.entries != eocd.entries_disk {
            st.issue(
                ZipCode::EntryCountMismatch,
                None,
                format!(
                    "end record declares {} entries in total but {} on this disk",
                    eocd.entries, eocd.entries_disk
                ),
            );
        }
        return Ok(Some(layout));
    }
    let loc_off = eocd.off - Z64_LOCATOR_LEN;
    let mut loc = [0u8; 20];
    at.read_at(loc_off, &mut loc)?;
    let (z64_disk, z64_off, disks) = (le32(&loc, 4), le64(&loc, 8), le32(&loc, 16));
    if z64_disk != 0 || disks > 1 {
        st.issue(
            ZipCode::MultiDisk,
            None,
            format!("zip64 locator says {disks} disks (end record on disk {z64_disk}): multi-disk archives are not supported"),
        );
    }
    if z64_off
        .checked_add(Z64_EOCD_MIN_LEN)
        .is_none_or(|e| e > loc_off)
        || at.u32_at(z64_off)? != SIG_Z64_EOCD
    {
        st.issue(
            ZipCode::Malformed,
            None,
            format!("zip64 locator points to offset {z64_off}, where there is no zip64 end-of-central-directory record"),
        );
        return Ok(None);
    }
    let mut z = [0u8; 56];
    at.read_at(z64_off, &mut z)?;
    let rec_end = le64(&z, 4)
        .checked_add(12)
        .and_then(|n| n.checked_add(z64_off));
    if rec_end != Some(loc_off) {
        st.issue(
            ZipCode::Zip64Mismatch,
            None,
            format!(
                "zip64 end record at {z64_off} declares a size that does not end at the locator (offset {loc_off})"
            ),
        );
    }
    let (z_disk, z_cd_disk) = (le32(&z, 16), le32(&z, 20));
    let (z_entries_disk, z_entries, z_cd_size, z_cd_off) =
        (le64(&z, 24), le64(&z, 32), le64(&z, 40), le64(&z, 48));
    if z_disk != 0 || z_cd_disk != 0 {
        st.issue(
            ZipCode::MultiDisk,
            None,
            format!(
                "zip64 end record says disk {z_disk} with the central directory on disk {z_cd_disk}"
            ),
        );
    }
    if z_entries != z_entries_disk {
        st.issue(
            ZipCode::EntryCountMismatch,
            None,
            format!("zip64 end record declares {z_entries} entries in total but {z_entries_disk} on this disk"),
        );
    }
    let mut resolve = |what: &str, classic: u64, max: u64, z64: u64| -> u64 {
        if classic != max && classic != z64 {
            st.issue(
                ZipCode::Zip64Mismatch,
                None,
                format!("end record says {what} `{classic}` but the zip64 end record says `{z64}`"),
            );
        }
        z64
    };
    layout.declared_entries = resolve("entry count", u64::from(eocd.entries), U16_MAX, z_entries);
    layout.cd_size = resolve(
        "central-directory size",
        u64::from(eocd.cd_size),
        U32_MAX,
        z_cd_size,
    );
    layout.cd_offset = resolve(
        "central-directory offset",
        u64::from(eocd.cd_offset),
        U32_MAX,
        z_cd_off,
    );
    if !saturated {
        st.issue(
            ZipCode::Zip64Unneeded,
            None,
            "zip64 end records are present but no field of the classic end record needs them"
                .into(),
        );
    }
    layout.zip64_eocd_offset = Some(z64_off);
    Ok(Some(layout))
}

/// Decide where the central directory really starts; `None` when it cannot be found.
fn locate_central_directory<R: Read + Seek>(
    at: &mut At<R>,
    st: &mut Structure,
    layout: &Layout,
    end_of_cd: u64,
) -> io::Result<Option<u64>> {
    let (declared, size) = (layout.cd_offset, layout.cd_size);
    let declared_ok = declared.checked_add(size) == Some(end_of_cd);
    if declared_ok {
        return Ok(Some(declared));
    }
    st.issue(
        ZipCode::CentralDirectoryMismatch,
        None,
        format!(
            "central directory declared at offset {declared} with size {size} does not end where the end records start (offset {end_of_cd})"
        ),
    );
    // A shifted archive (bytes prepended): the directory sits right before the end records.
    if let Some(shifted) = end_of_cd.checked_sub(size) {
        let declared_sig = at.fits(declared, 4) && at.u32_at(declared)? == SIG_CENTRAL;
        if shifted > declared
            && !declared_sig
            && (size == 0 || (at.fits(shifted, 4) && at.u32_at(shifted)? == SIG_CENTRAL))
        {
            st.issue(
                ZipCode::PrependedBytes,
                None,
                format!(
                    "the archive is shifted by {} bytes: every offset points before the real records",
                    shifted - declared
                ),
            );
            return Ok(Some(shifted));
        }
    }
    if declared > end_of_cd {
        st.issue(
            ZipCode::Malformed,
            None,
            format!(
                "central directory offset {declared} lies past the end records (offset {end_of_cd})"
            ),
        );
        return Ok(None);
    }
    Ok(Some(declared))
}

/// Walk the central directory; returns `true` when every declared record was read.
fn read_central_directory<R: Read + Seek>(
    at: &mut At<R>,
    st: &mut Structure,
    layout: &Layout,
    end_of_cd: u64,
    base: u64,
    (max_entries, max_name_len): (u64, usize),
) -> io::Result<bool> {
    let cd_start = layout.cd_offset;
    let declared = layout.declared_entries;
    let mut pos = cd_start;
    let mut index = 0usize;
    let mut complete = true;
    let mut fixed = [0u8; 46];
    while (index as u64) < declared {
        if index as u64 >= max_entries {
            st.issue(
                ZipCode::TooManyEntries,
                None,
                format!("archive declares {declared} entries, more than the limit of {max_entries}; the rest were not read"),
            );
            return Ok(false);
        }
        if pos + CENTRAL_LEN > end_of_cd {
            st.issue(
                ZipCode::EntryCountMismatch,
                None,
                format!("end record declares {declared} entries but the central directory holds only {index}"),
            );
            return Ok(false);
        }
        at.read_at(pos, &mut fixed)?;
        let sig = le32(&fixed, 0);
        if sig != SIG_CENTRAL {
            st.issue(
                ZipCode::Malformed,
                Some(index),
                format!(
                    "central directory record {index} at offset {pos} has signature 0x{sig:08x}, not 0x{SIG_CENTRAL:08x}"
                ),
            );
            return Ok(false);
        }
        let (nlen, elen, clen) = (
            u64::from(le16(&fixed, 28)),
            u64::from(le16(&fixed, 30)),
            u64::from(le16(&fixed, 32)),
        );
        let var_end = pos + CENTRAL_LEN + nlen + elen + clen;
        if var_end > end_of_cd {
            st.issue(
                ZipCode::Malformed,
                Some(index),
                format!("central directory record {index} at offset {pos} runs past the end of the central directory"),
            );
            return Ok(false);
        }
        // Bounded: name + extra are at most 2 × 65535 bytes.
        let var = at.vec_at(pos + CENTRAL_LEN, usize::try_from(nlen + elen).unwrap_or(0))?;
        let (raw_name, extra) = var.split_at(usize::try_from(nlen).unwrap_or(0));
        let mut entry = central_entry(st, index, &fixed, raw_name, extra, base);
        if entry.raw_name.len() > max_name_len {
            entry.raw_name.truncate(max_name_len);
            entry.raw_name.shrink_to_fit();
            entry.name = String::from_utf8_lossy(&entry.raw_name).into_owned();
        }
        st.entries.push(entry);
        pos = var_end;
        index += 1;
    }
    if pos != end_of_cd {
        complete = false;
        let more = at.fits(pos, 4) && at.u32_at(pos)? == SIG_CENTRAL;
        if more {
            st.issue(
                ZipCode::EntryCountMismatch,
                None,
                format!("central directory holds more records than the {declared} the end record declares"),
            );
        } else {
            st.issue(
                ZipCode::CentralDirectoryMismatch,
                None,
                format!(
                    "{} unexplained bytes between the last central record and the end records",
                    end_of_cd - pos
                ),
            );
        }
    }
    Ok(complete)
}

/// Build an [`Entry`] from a central record, noting every problem of the record itself.
fn central_entry(
    st: &mut Structure,
    index: usize,
    h: &[u8],
    raw_name: &[u8],
    extra: &[u8],
    base: u64,
) -> Entry {
    let (made_by, flags, method) = (le16(h, 4), le16(h, 8), le16(h, 10));
    let crc32 = le32(h, 16);
    let (mut csize, mut usize_, mut lho) = (
        u64::from(le32(h, 20)),
        u64::from(le32(h, 24)),
        u64::from(le32(h, 42)),
    );
    let disk = le16(h, 34);
    let external_attr = le32(h, 38);
    let mut extra_ids = Vec::new();
    let mut has_link_extra = false;
    let mut disk32 = u32::from(disk);
    match split_extras(extra) {
        Err(why) => st.issue(
            ZipCode::BadExtraField,
            Some(index),
            format!("central extra fields are malformed: {why}"),
        ),
        Ok(extras) => {
            for e in &extras {
                extra_ids.push(e.id);
                if let Err(why) = check_known_extra(e, false) {
                    st.issue(ZipCode::BadExtraField, Some(index), why);
                }
                match e.id {
                    0x0001 => {
                        let mut rest = e.data;
                        let mut take = |what: &str, field: &mut u64| {
                            if *field == U32_MAX {
                                if rest.len() >= 8 {
                                    *field = le64(rest, 0);
                                    rest = &rest[8..];
                                } else {
                                    st.issue(
                                        ZipCode::Zip64Mismatch,
                                        Some(index),
                                        format!("zip64 extra field does not include the {what}"),
                                    );
                                }
                            }
                        };
                        take("uncompressed size", &mut usize_);
                        take("compressed size", &mut csize);
                        take("local header offset", &mut lho);
                        if disk == 0xffff && rest.len() >= 4 {
                            disk32 = le32(rest, 0);
                        }
                    }
                    0x000d if e.data.len() > 12 => has_link_extra = true,
                    0x7075 if e.data.len() >= 5 && e.data[5..] != *raw_name => st.issue(
                        ZipCode::UnicodePathMismatch,
                        Some(index),
                        format!(
                            "unicode path field 0x7075 names it `{}`",
                            super::names::display(&e.data[5..])
                        ),
                    ),
                    _ => {}
                }
            }
        }
    }
    if disk32 != 0 {
        st.issue(
            ZipCode::MultiDisk,
            Some(index),
            format!("entry starts on disk {disk32}: multi-disk archives are not supported"),
        );
    }
    let mode = external_attr >> 16;
    Entry {
        index,
        name: String::from_utf8_lossy(raw_name).into_owned(),
        raw_name: raw_name.to_vec(),
        name_len: raw_name.len(),
        is_dir: raw_name.last() == Some(&b'/'),
        method,
        crc32,
        compressed_size: csize,
        uncompressed_size: usize_,
        data_offset: 0,
        unix_mode: (mode != 0).then_some(mode),
        flags,
        version_made_by: made_by,
        external_attr,
        local_header_offset: lho.wrapping_add(base),
        extra_ids,
        has_link_extra,
        local_ok: false,
    }
}

/// Compare every local header with its central record and find each entry's data.
fn check_local_headers<R: Read + Seek>(
    at: &mut At<R>,
    st: &mut Structure,
    cd_start: u64,
) -> io::Result<()> {
    let mut entries = std::mem::take(&mut st.entries);
    for e in &mut entries {
        check_local_header(at, st, e, cd_start)?;
    }
    st.entries = entries;
    Ok(())
}

#[allow(clippy::too_many_lines)] // one record's checks, in file order, read best together
fn check_local_header<R: Read + Seek>(
    at: &mut At<R>,
    st: &mut Structure,
    e: &mut Entry,
    cd_start: u64,
) -> io::Result<()> {
    let i = Some(e.index);
    let lho = e.local_header_offset;
    if lho.checked_add(LOCAL_LEN).is_none_or(|end| end > cd_start) {
        st.issue(
            ZipCode::BadLocalHeader,
            i,
            format!("local header offset {lho} lies outside the entry area (central directory starts at {cd_start})"),
        );
        return Ok(());
    }
    let mut h = [0u8; 30];
    at.read_at(lho, &mut h)?;
    if le32(&h, 0) != SIG_LOCAL {
        st.issue(
            ZipCode::BadLocalHeader,
            i,
            format!(
                "no local header at offset {lho} (signature 0x{:08x})",
                le32(&h, 0)
            ),
        );
        return Ok(());
    }
    let (flags, method, crc) = (le16(&h, 6), le16(&h, 8), le32(&h, 14));
    let (mut csize, mut usize_) = (u64::from(le32(&h, 18)), u64::from(le32(&h, 22)));
    let (nlen, elen) = (u64::from(le16(&h, 26)), u64::from(le16(&h, 28)));
    let data_offset = lho + LOCAL_LEN + nlen + elen;
    if data_offset > cd_start {
        st.issue(
            ZipCode::BadLocalHeader,
            i,
            format!("local header at offset {lho} runs into the central directory"),
        );
        return Ok(());
    }
    let var = at.vec_at(lho + LOCAL_LEN, usize::try_from(nlen + elen).unwrap_or(0))?;
    let (name, extra) = var.split_at(usize::try_from(nlen).unwrap_or(0));
    let mismatch = |st: &mut Structure, what: &str, local: String, central: String| {
        st.issue(
            ZipCode::LocalHeaderMismatch,
            i,
            format!(
                "local header says {what} `{local}` but the central directory says `{central}`"
            ),
        );
    };
    if name.len() != e.name_len || !name.starts_with(&e.raw_name) {
        mismatch(
            st,
            "name",
            crate::report::escape_bytes_for_display(name),
            super::names::display(&e.raw_name),
        );
    }
    if flags != e.flags {
        mismatch(
            st,
            "flags",
            format!("0x{flags:04x}"),
            format!("0x{:04x}", e.flags),
        );
    }
    if method != e.method {
        mismatch(st, "method", method.to_string(), e.method.to_string());
    }
    let mut local_zip64 = false;
    match split_extras(extra) {
        Err(why) => st.issue(
            ZipCode::BadExtraField,
            i,
            format!("local extra fields are malformed: {why}"),
        ),
        Ok(extras) => {
            for x in &extras {
                if let Err(why) = check_known_extra(x, true) {
                    st.issue(ZipCode::BadExtraField, i, format!("local header: {why}"));
                }
                match x.id {
                    0x0001 => {
                        local_zip64 = true;
                        if usize_ == U32_MAX || csize == U32_MAX {
                            if x.data.len() >= 16 {
                                usize_ = le64(x.data, 0);
                                csize = le64(x.data, 8);
                            } else {
                                st.issue(
                                    ZipCode::Zip64Mismatch,
                                    i,
                                    "local zip64 extra field does not include both sizes".into(),
                                );
                            }
                        }
                    }
                    0x7075 if x.data.len() >= 5 && x.data[5..] != *name => st.issue(
                        ZipCode::UnicodePathMismatch,
                        i,
                        format!(
                            "local unicode path field 0x7075 names it `{}`",
                            super::names::display(&x.data[5..])
                        ),
                    ),
                    _ => {}
                }
            }
        }
    }
    let descriptor = e.flags & 0x0008 != 0;
    // With a data descriptor the local fields may be zero; when they are set they must agree.
    let check_field = |st: &mut Structure, what: &str, local: u64, central: u64| {
        if local != central && !(descriptor && local == 0) {
            mismatch(st, what, local.to_string(), central.to_string());
        }
    };
    if crc != e.crc32 && !(descriptor && crc == 0) {
        mismatch(
            st,
            "crc-32",
            format!("{crc:08x}"),
            format!("{:08x}", e.crc32),
        );
    }
    check_field(st, "compressed size", csize, e.compressed_size);
    check_field(st, "uncompressed size", usize_, e.uncompressed_size);
    let Some(data_end) = data_offset
        .checked_add(e.compressed_size)
        .filter(|&end| end <= cd_start)
    else {
        st.issue(
            ZipCode::DataOutOfBounds,
            i,
            format!(
                "data at offset {data_offset} with compressed size {} runs past the start of the central directory (offset {cd_start})",
                e.compressed_size
            ),
        );
        return Ok(());
    };
    let mut end = data_end;
    if descriptor {
        // The width is implied by zip64 use, which writers disagree on: accept the layout
        // whose values match the central record, and report the expected one otherwise.
        let wide = local_zip64 || e.compressed_size >= U32_MAX || e.uncompressed_size >= U32_MAX;
        let mut found = read_descriptor(at, data_end, cd_start, wide)?;
        if let Some(other) = read_descriptor(at, data_end, cd_start, !wide)? {
            found.get_or_insert_with(Vec::new).extend(other);
        }
        match found {
            None => st.issue(
                ZipCode::DataDescriptorMismatch,
                i,
                format!("flag bit 3 is set but there is no complete data descriptor at offset {data_end}"),
            ),
            Some(candidates) => {
                let found = candidates
                    .iter()
                    .find(|d| d.crc == e.crc32 && d.csize == e.compressed_size && d.usize_ == e.uncompressed_size);
                match (found, candidates.first()) {
                    (Some(d), _) => end = data_end + d.len,
                    (None, Some(d)) => st.issue(
                        ZipCode::DataDescriptorMismatch,
                        i,
                        format!(
                            "data descriptor says crc-32 `{:08x}`, sizes `{}`/`{}` but the central directory says `{:08x}`, `{}`/`{}`",
                            d.crc, d.csize, d.usize_, e.crc32, e.compressed_size, e.uncompressed_size
                        ),
                    ),
                    (None, None) => {}
                }
            }
        }
    }
    e.data_offset = data_offset;
    e.local_ok = true;
    st.extents_push(e.index, lho, end);
    Ok(())
}

struct Descriptor {
    crc: u32,
    csize: u64,
    usize_: u64,
    len: u64,
}

/// Read the data descriptor at `off`, with and without its optional signature.
fn read_descriptor<R: Read + Seek>(
    at: &mut At<R>,
    off: u64,
    limit: u64,
    wide: bool,
) -> io::Result<Option<Vec<Descriptor>>> {
    let body = if wide { 20 } else { 12 };
    let avail = limit.saturating_sub(off).min(body + 4);
    if avail < body {
        return Ok(None);
    }
    let b = at.vec_at(off, usize::try_from(avail).unwrap_or(0))?;
    let parse = |s: &[u8], len: u64| {
        let (csize, usize_) = if wide {
            (le64(s, 4), le64(s, 12))
        } else {
            (u64::from(le32(s, 4)), u64::from(le32(s, 8)))
        };
        Descriptor {
            crc: le32(s, 0),
            csize,
            usize_,
            len,
        }
    };
    let mut out = Vec::new();
    if b.len() as u64 >= body + 4 && le32(&b, 0) == SIG_DESCRIPTOR {
        out.push(parse(&b[4..], body + 4));
    }
    out.push(parse(&b, body));
    Ok(Some(out))
}

impl Structure {
    fn extents_push(&mut self, index: usize, start: u64, end: u64) {
        self.extents.push((start, end, index));
    }
}

/// Every byte between the first local header and the central directory must belong to exactly
/// one entry; anything else is a gap, an overlap or a hidden local header.
fn check_layout<R: Read + Seek>(
    at: &mut At<R>,
    st: &mut Structure,
    base: u64,
    cd_start: u64,
) -> io::Result<()> {
    if st.entries.iter().any(|e| !e.local_ok) {
        return Ok(());
    }
    let mut extents = std::mem::take(&mut st.extents);
    extents.sort_unstable();
    let mut cursor = base;
    let mut last: Option<usize> = None;
    for &(start, end, index) in &extents {
        if start > cursor {
            gap(at, st, cursor, start, last.is_none())?;
        } else if start < cursor {
            let other = last.map_or_else(String::new, |l| format!(" with entry {l}"));
            st.issue(
                ZipCode::OverlappingEntries,
                Some(index),
                format!("entry bytes at offset {start} overlap or share data{other}"),
            );
        }
        if end > cursor {
            cursor = end;
            last = Some(index);
        }
    }
    if cd_start > cursor {
        gap(at, st, cursor, cd_start, last.is_none())?;
    }
    st.extents = extents;
    Ok(())
}

fn gap<R: Read + Seek>(
    at: &mut At<R>,
    st: &mut Structure,
    from: u64,
    to: u64,
    first: bool,
) -> io::Result<()> {
    if let Some(hidden) = find_signature(at, from, to, SIG_LOCAL)? {
        st.issue(
            ZipCode::HiddenLocalHeader,
            None,
            format!("a local header at offset {hidden} is not listed in the central directory"),
        );
    } else if first {
        st.issue(
            ZipCode::PrependedBytes,
            None,
            format!("{} bytes precede the first entry", to - from),
        );
    } else {
        st.issue(
            ZipCode::Gap,
            None,
            format!("{} unexplained bytes at offsets {from}..{to}", to - from),
        );
    }
    Ok(())
}

/// Scan `[from, to)` for a signature with a bounded buffer.
fn find_signature<R: Read + Seek>(
    at: &mut At<R>,
    from: u64,
    to: u64,
    sig: u32,
) -> io::Result<Option<u64>> {
    const CHUNK: u64 = 64 * 1024;
    let sig = sig.to_le_bytes();
    let mut pos = from;
    while pos + 4 <= to {
        let len = (to - pos).min(CHUNK + 3);
        let buf = at.vec_at(pos, usize::try_from(len).unwrap_or(0))?;
        if let Some(i) = buf.windows(4).position(|w| w == sig) {
            return Ok(Some(pos + i as u64));
        }
        pos += len.saturating_sub(3).max(1);
    }
    Ok(None)
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
