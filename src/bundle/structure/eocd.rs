//! The end of the archive: the end-of-central-directory record (EOCD), chosen among every
//! candidate in the last 64 KiB + 22 bytes, then the ZIP64 locator and end record, whose values
//! are resolved against the classic ones. Every ambiguity (a second EOCD, one in the comment,
//! trailing bytes, saturated fields without ZIP64) is a finding.

use std::io::{self, Read, Seek};

use super::{
    At, EOCD_LEN, Layout, SIG_EOCD, SIG_Z64_EOCD, SIG_Z64_LOCATOR, Structure, U16_MAX, U32_MAX,
    Z64_EOCD_MIN_LEN, Z64_LOCATOR_LEN, le16, le32, le64,
};
use crate::bundle::codes::ZipCode;

pub(super) struct Eocd {
    pub(super) off: u64,
    pub(super) disk: u16,
    pub(super) cd_disk: u16,
    pub(super) entries_disk: u16,
    pub(super) entries: u16,
    pub(super) cd_size: u32,
    pub(super) cd_offset: u32,
    pub(super) comment_len: u16,
}

pub(super) fn parse_eocd(tail: &[u8], i: usize, tail_start: u64) -> Eocd {
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
pub(super) fn find_end_records<R: Read + Seek>(
    at: &mut At<R>,
    st: &mut Structure,
) -> io::Result<Option<Layout>> {
    let Some((candidates, ci)) = find_eocd(at, st)? else {
        return Ok(None);
    };
    let eocd = &candidates[ci];
    check_eocd_neighbours(st, &candidates, ci, at.size);
    let layout = Layout {
        file_size: at.size,
        eocd_offset: eocd.off,
        comment_len: u64::from(eocd.comment_len),
        zip64_eocd_offset: None,
        cd_offset: u64::from(eocd.cd_offset),
        cd_size: u64::from(eocd.cd_size),
        declared_entries: u64::from(eocd.entries),
    };
    let has_locator =
        eocd.off >= Z64_LOCATOR_LEN && at.u32_at(eocd.off - Z64_LOCATOR_LEN)? == SIG_Z64_LOCATOR;
    if !has_locator {
        if saturated(eocd) {
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
    read_zip64(at, st, eocd, layout)
}

/// A classic field at its maximum: the value is in the ZIP64 end record.
fn saturated(eocd: &Eocd) -> bool {
    u64::from(eocd.entries) == U16_MAX
        || u64::from(eocd.entries_disk) == U16_MAX
        || u64::from(eocd.cd_size) == U32_MAX
        || u64::from(eocd.cd_offset) == U32_MAX
}

/// Every EOCD signature in the tail, and the one used: the last that ends exactly at the end of
/// the file, else the last one. `None` (with a finding) when there is none.
fn find_eocd<R: Read + Seek>(
    at: &mut At<R>,
    st: &mut Structure,
) -> io::Result<Option<(Vec<Eocd>, usize)>> {
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
    Ok(Some((candidates, ci)))
}

/// What lies around the chosen EOCD: trailing bytes, a comment that runs past the end, other
/// EOCD records (in the comment or plausible ones before it), and multi-disk fields.
fn check_eocd_neighbours(st: &mut Structure, candidates: &[Eocd], ci: usize, size: u64) {
    let ends = |e: &Eocd| e.off + EOCD_LEN + u64::from(e.comment_len);
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
}

/// The ZIP64 locator just before the EOCD and the end record it points to, resolved against
/// the classic fields into `layout`. `None` (with a finding) when the record is not there.
fn read_zip64<R: Read + Seek>(
    at: &mut At<R>,
    st: &mut Structure,
    eocd: &Eocd,
    mut layout: Layout,
) -> io::Result<Option<Layout>> {
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
    if !saturated(eocd) {
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
