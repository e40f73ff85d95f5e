//! `journal repair --truncate-torn-tail`: drop a torn tail, keep a backup, touch nothing else.
//!
//! Invariants: runs under the exclusive lock; refuses (changes nothing) when any line other
//! than a torn tail is wrong; copies the whole journal to `FILE.bak-YYYYMMDDTHHMMSSZ` (created
//! new, fsynced) before truncating in place; if the truncation fails the backup is removed.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::codes::JournalCode;
use super::report::{self, RepairOutcome, RepairReport};
use super::{JournalError, scan};
use crate::clock::{self, Clock};
use crate::fsutil::{self, FsError, IoContext};
use crate::report::{Finding, FindingCode as _};

/// The backup name for a repair at `now`: `FILE.bak-20260102T030405Z`.
pub fn backup_path(path: &Path, now: &str) -> PathBuf {
    let compact: String = now.chars().filter(|c| *c != '-' && *c != ':').collect();
    let mut name = OsString::from(path.as_os_str());
    name.push(format!(".bak-{compact}"));
    PathBuf::from(name)
}

/// Truncate a torn tail away, after a backup. Refuses when anything else is wrong.
pub fn repair_torn_tail(path: &Path, clock: &dyn Clock) -> Result<RepairReport, JournalError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .ctx("open", path)?;
    file.lock().ctx("lock", path)?;
    let name = report::show_path(path);
    let found = scan::scan(&mut &file, &scan::ScanOptions::full(&name)).ctx("read", path)?;
    let tampered: Vec<Finding> = found
        .findings
        .iter()
        .filter(|f| f.code != JournalCode::TornTail.as_str())
        .cloned()
        .collect();
    if !tampered.is_empty() {
        let torn_count = usize::from(found.torn.is_some());
        return Ok(RepairReport {
            path: path.to_owned(),
            outcome: RepairOutcome::Refused {
                finding_total: found.finding_total - torn_count,
                findings: tampered,
            },
        });
    }
    let Some(torn) = found.torn else {
        return Ok(RepairReport {
            path: path.to_owned(),
            outcome: RepairOutcome::Nothing {
                records: found.count,
            },
        });
    };
    let now = clock::format_rfc3339(clock.now()).map_err(|source| JournalError::Clock {
        path: path.to_owned(),
        source,
    })?;
    let backup = backup_path(path, &now);
    let mut out = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&backup)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(JournalError::BackupExists {
                path: path.to_owned(),
                backup,
            });
        }
        Err(e) => return Err(FsError::new("create", &backup, e).into()),
    };
    let copied = (|| -> Result<(), FsError> {
        (&file).seek(SeekFrom::Start(0)).ctx("read", path)?;
        let n = io::copy(&mut (&file).take(found.len), &mut out).ctx("write", &backup)?;
        if n != found.len {
            return Err(FsError::new(
                "copy",
                path,
                io::Error::other(format!("copied {n} of {} bytes", found.len)),
            ));
        }
        out.sync_all().ctx("fsync", &backup)?;
        fsutil::fsync_dir(fsutil::parent_dir(&backup))?;
        file.set_len(torn.offset).ctx("truncate", path)?;
        file.sync_all().ctx("fsync", path)
    })();
    if let Err(e) = copied {
        // The journal is untouched unless `set_len` succeeded and only the fsync failed; the
        // backup then still holds every byte. Remove the backup only when the journal is intact.
        let intact = fs::metadata(path).is_ok_and(|m| m.len() == found.len);
        if intact {
            let _ = fs::remove_file(&backup);
        }
        return Err(e.into());
    }
    Ok(RepairReport {
        path: path.to_owned(),
        outcome: RepairOutcome::Truncated {
            torn,
            backup,
            records: found.count,
            head: found.head,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_name_is_compact_utc() {
        assert_eq!(
            backup_path(Path::new("dir/j.jsonl"), "2026-01-02T03:04:05Z"),
            PathBuf::from("dir/j.jsonl.bak-20260102T030405Z")
        );
    }
}
