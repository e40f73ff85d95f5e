//! The layout: every byte between the first local header and the central directory must belong
//! to exactly one entry; anything else is a gap, an overlap or a hidden local header.

use std::io::{self, Read, Seek};

use super::{At, SIG_LOCAL, Structure};
use crate::bundle::codes::ZipCode;

/// Every byte between the first local header and the central directory must belong to exactly
/// one entry; anything else is a gap, an overlap or a hidden local header.
pub(super) fn check_layout<R: Read + Seek>(
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

pub(super) fn gap<R: Read + Seek>(
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
pub(super) fn find_signature<R: Read + Seek>(
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
