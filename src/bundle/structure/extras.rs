//! Extra fields: splitting an extra-field area into fields whose lengths must add up, and the
//! layout checks of the fields this reader interprets (ZIP64, Unix, timestamps, Unicode path,
//! encryption).

use super::le16;

/// One parsed extra field.
pub(super) struct Extra<'a> {
    pub(super) id: u16,
    pub(super) data: &'a [u8],
}

/// Split an extra-field area; `Err` says why the lengths do not add up.
pub(super) fn split_extras(mut area: &[u8]) -> Result<Vec<Extra<'_>>, String> {
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
pub(super) fn check_known_extra(e: &Extra<'_>, local: bool) -> Result<(), String> {
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
