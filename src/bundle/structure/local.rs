//! Local headers: each entry's local header is compared with its central record (name, flags,
//! method, CRC-32, sizes, the Unicode path field), its data bounds are checked, and its data
//! descriptor, when flag bit 3 says there is one, must agree with the central record.

use std::io::{self, Read, Seek};

use super::extras::{check_known_extra, split_extras};
use super::{
    At, Entry, LOCAL_LEN, SIG_DESCRIPTOR, SIG_LOCAL, Structure, U32_MAX, le16, le32, le64,
};
use crate::bundle::codes::ZipCode;

/// Compare every local header with its central record and find each entry's data.
pub(super) fn check_local_headers<R: Read + Seek>(
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

/// The fixed part of a local header, as written.
struct Local {
    flags: u16,
    method: u16,
    crc: u32,
    csize: u64,
    usize_: u64,
    /// Set by a ZIP64 extra field in the local header.
    zip64: bool,
    /// Where the entry's data starts.
    data_offset: u64,
    /// The name bytes, then the extra area.
    var: Vec<u8>,
    /// Length of the name in `var`.
    name_len: usize,
}

/// One entry's local header, in file order: where it is, what it says against the central
/// record, where its data ends, and its data descriptor. Only when all of that holds is the
/// entry marked `local_ok` (its data may be streamed).
pub(super) fn check_local_header<R: Read + Seek>(
    at: &mut At<R>,
    st: &mut Structure,
    e: &mut Entry,
    cd_start: u64,
) -> io::Result<()> {
    let i = Some(e.index);
    let Some(mut local) = read_local(at, st, e, cd_start)? else {
        return Ok(());
    };
    let var = std::mem::take(&mut local.var);
    let data_offset = local.data_offset;
    let (name, extra) = var.split_at(local.name_len);
    compare_local(st, e, &local, Some(name));
    local_extras(st, i, extra, name, &mut local);
    compare_local(st, e, &local, None);
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
    let end = if e.flags & 0x0008 == 0 {
        data_end
    } else {
        check_descriptor(at, st, e, data_end, cd_start, local.zip64)?
    };
    e.data_offset = data_offset;
    e.local_ok = true;
    st.extents_push(e.index, e.local_header_offset, end);
    Ok(())
}

/// Read the local header of `e` with its name and extra area, or `None` (with a finding) when
/// it is not where it should be.
fn read_local<R: Read + Seek>(
    at: &mut At<R>,
    st: &mut Structure,
    e: &Entry,
    cd_start: u64,
) -> io::Result<Option<Local>> {
    let i = Some(e.index);
    let lho = e.local_header_offset;
    if lho.checked_add(LOCAL_LEN).is_none_or(|end| end > cd_start) {
        st.issue(
            ZipCode::BadLocalHeader,
            i,
            format!("local header offset {lho} lies outside the entry area (central directory starts at {cd_start})"),
        );
        return Ok(None);
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
        return Ok(None);
    }
    let mut local = Local {
        flags: le16(&h, 6),
        method: le16(&h, 8),
        crc: le32(&h, 14),
        csize: u64::from(le32(&h, 18)),
        usize_: u64::from(le32(&h, 22)),
        zip64: false,
        data_offset: 0,
        var: Vec::new(),
        name_len: 0,
    };
    let (nlen, elen) = (u64::from(le16(&h, 26)), u64::from(le16(&h, 28)));
    let data_offset = lho + LOCAL_LEN + nlen + elen;
    if data_offset > cd_start {
        st.issue(
            ZipCode::BadLocalHeader,
            i,
            format!("local header at offset {lho} runs into the central directory"),
        );
        return Ok(None);
    }
    let var = at.vec_at(lho + LOCAL_LEN, usize::try_from(nlen + elen).unwrap_or(0))?;
    local.data_offset = data_offset;
    local.var = var;
    local.name_len = usize::try_from(nlen).unwrap_or(0);
    Ok(Some(local))
}

/// The local header against the central record: with `name`, the name, flags and method;
/// without, the CRC-32 and the sizes (once a local ZIP64 field has given the real ones).
fn compare_local(st: &mut Structure, e: &Entry, local: &Local, name: Option<&[u8]>) {
    let i = Some(e.index);
    let mismatch = |st: &mut Structure, what: &str, local: String, central: String| {
        st.issue(
            ZipCode::LocalHeaderMismatch,
            i,
            format!(
                "local header says {what} `{local}` but the central directory says `{central}`"
            ),
        );
    };
    let Some(name) = name else {
        compare_local_sizes(st, e, local, mismatch);
        return;
    };
    if name.len() != e.name_len || !name.starts_with(&e.raw_name) {
        mismatch(
            st,
            "name",
            crate::report::escape_bytes_for_display(name),
            crate::bundle::names::display(&e.raw_name),
        );
    }
    if local.flags != e.flags {
        mismatch(
            st,
            "flags",
            format!("0x{:04x}", local.flags),
            format!("0x{:04x}", e.flags),
        );
    }
    if local.method != e.method {
        mismatch(st, "method", local.method.to_string(), e.method.to_string());
    }
}

/// The CRC-32 and sizes of the local header against the central record.
fn compare_local_sizes(
    st: &mut Structure,
    e: &Entry,
    local: &Local,
    mismatch: impl Fn(&mut Structure, &str, String, String),
) {
    let descriptor = e.flags & 0x0008 != 0;
    // With a data descriptor the local fields may be zero; when they are set they must agree.
    let check_field = |st: &mut Structure, what: &str, local: u64, central: u64| {
        if local != central && !(descriptor && local == 0) {
            mismatch(st, what, local.to_string(), central.to_string());
        }
    };
    if local.crc != e.crc32 && !(descriptor && local.crc == 0) {
        mismatch(
            st,
            "crc-32",
            format!("{:08x}", local.crc),
            format!("{:08x}", e.crc32),
        );
    }
    check_field(st, "compressed size", local.csize, e.compressed_size);
    check_field(st, "uncompressed size", local.usize_, e.uncompressed_size);
}

/// The local extra fields: well-formed, a ZIP64 field giving the real sizes, a Unicode path
/// field agreeing with the local name.
fn local_extras(
    st: &mut Structure,
    i: Option<usize>,
    extra: &[u8],
    name: &[u8],
    local: &mut Local,
) {
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
                        local.zip64 = true;
                        if local.usize_ == U32_MAX || local.csize == U32_MAX {
                            if x.data.len() >= 16 {
                                local.usize_ = le64(x.data, 0);
                                local.csize = le64(x.data, 8);
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
                            crate::bundle::names::display(&x.data[5..])
                        ),
                    ),
                    _ => {}
                }
            }
        }
    }
}

/// The data descriptor after the data (flag bit 3) must agree with the central record; returns
/// where the entry ends (after the descriptor when one matched).
fn check_descriptor<R: Read + Seek>(
    at: &mut At<R>,
    st: &mut Structure,
    e: &Entry,
    data_end: u64,
    cd_start: u64,
    local_zip64: bool,
) -> io::Result<u64> {
    let i = Some(e.index);
    let mut end = data_end;
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
            format!(
                "flag bit 3 is set but there is no complete data descriptor at offset {data_end}"
            ),
        ),
        Some(candidates) => {
            let found = candidates.iter().find(|d| {
                d.crc == e.crc32 && d.csize == e.compressed_size && d.usize_ == e.uncompressed_size
            });
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
    Ok(end)
}

pub(super) struct Descriptor {
    pub(super) crc: u32,
    pub(super) csize: u64,
    pub(super) usize_: u64,
    pub(super) len: u64,
}

/// Read the data descriptor at `off`, with and without its optional signature.
pub(super) fn read_descriptor<R: Read + Seek>(
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
