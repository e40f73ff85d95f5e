//! The central directory: where it really starts (the declared offset may be shifted by
//! prepended bytes) and every record in it, each becoming an [`Entry`] with its ZIP64 values
//! resolved and its extra fields checked.

use std::io::{self, Read, Seek};

use super::extras::{check_known_extra, split_extras};
use super::{At, CENTRAL_LEN, Entry, Layout, SIG_CENTRAL, Structure, U32_MAX, le16, le32, le64};
use crate::bundle::codes::ZipCode;

/// Decide where the central directory really starts; `None` when it cannot be found.
pub(super) fn locate_central_directory<R: Read + Seek>(
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
pub(super) fn read_central_directory<R: Read + Seek>(
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
pub(super) fn central_entry(
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
                            crate::bundle::names::display(&e.data[5..])
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
