//! Locked append: read the head, hash, write one line, fsync — all under one exclusive lock.
//!
//! Invariants: the step is validated completely before any file is touched; the journal is
//! never extended after a torn or invalid tail: the last record (the one the new record chains
//! to) is checked completely, and every earlier line for its framing, `entry_hash` and
//! `step_id` (a full check of every hash would make each append cost a full `verify`; that is
//! `journal verify`'s job); a failed write is rolled back by
//! truncating to the length found under the lock; a new journal is created atomically with its
//! first record (temp file in the same directory, fsync, hard link, fsync of the directory),
//! so a crash leaves no file or a valid one-record journal.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use super::record::{Lines, NewStep, Record, check_timestamp};
use super::{JournalError, report, scan};
use crate::canon;
use crate::clock::{self, Clock};
use crate::fsutil::{self, FsError, IoContext};

/// A validated step, waiting for its `prev_hash`.
struct Prepared {
    step_id: String,
    name: String,
    status: String,
    started_at: String,
    completed_at: Option<String>,
    inputs: serde_json::Map<String, serde_json::Value>,
    outputs: serde_json::Map<String, serde_json::Value>,
}

impl Prepared {
    fn finish(&self, prev_hash: Option<String>) -> Result<(Record, Vec<u8>), canon::CanonError> {
        let mut rec = Record {
            step_id: self.step_id.clone(),
            name: self.name.clone(),
            status: self.status.clone(),
            started_at: self.started_at.clone(),
            completed_at: self.completed_at.clone(),
            inputs: self.inputs.clone(),
            outputs: self.outputs.clone(),
            prev_hash,
            entry_hash: String::new(),
        };
        rec.entry_hash = rec.compute_hash()?;
        let line = rec.to_line()?;
        Ok((rec, line))
    }
}

fn prepare(path: &Path, step: NewStep, clock: &dyn Clock) -> Result<Prepared, JournalError> {
    let bad = |reason: String| JournalError::BadStep {
        path: path.to_owned(),
        reason,
    };
    for (what, v) in [("name", &step.name), ("status", &step.status)] {
        if v.is_empty() {
            return Err(bad(format!("the step {what} is empty")));
        }
    }
    let step_id = match step.step_id {
        Some(id) if id.is_empty() => return Err(bad("the step id is empty".into())),
        Some(id) => id,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let started_at = match step.started_at {
        Some(t) => t,
        None => clock::format_rfc3339(clock.now()).map_err(|source| JournalError::Clock {
            path: path.to_owned(),
            source,
        })?,
    };
    for (what, t) in [
        ("started_at", Some(&started_at)),
        ("completed_at", step.completed_at.as_ref()),
    ] {
        if let Some(t) = t {
            check_timestamp(t).map_err(|why| bad(format!("`{what}` is `{t}`: {why}")))?;
        }
    }
    for (what, m) in [("inputs", &step.inputs), ("outputs", &step.outputs)] {
        let mut sink = Vec::new();
        canon::write_object(m, &mut sink).map_err(|e| bad(format!("`{what}`: {}", e.reason)))?;
    }
    Ok(Prepared {
        step_id,
        name: step.name,
        status: step.status,
        started_at,
        completed_at: step.completed_at,
        inputs: step.inputs,
        outputs: step.outputs,
    })
}

/// Append a step to the journal at `path`, creating the journal if absent. Returns the record
/// as written. Refuses (and changes nothing) when the journal does not verify, the step id is
/// taken, or the step is invalid.
pub fn append(path: &Path, step: NewStep, clock: &dyn Clock) -> Result<Record, JournalError> {
    append_with(path, step, Lines::Canonical, clock).map(|(rec, _)| rec)
}

/// [`append`], accepting earlier lines in the spellings `lines` allows. Returns the record as
/// written (always canonical) and the warnings about lines accepted by [`Lines::Any`].
pub fn append_with(
    path: &Path,
    step: NewStep,
    lines: Lines,
    clock: &dyn Clock,
) -> Result<(Record, Vec<crate::report::Finding>), JournalError> {
    let prepared = prepare(path, step, clock)?;
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(rec) = create_with_first(path, &prepared)? {
                return Ok((rec, Vec::new()));
            }
            // Another process created it first: append behind its record.
        }
        Err(e) => return Err(FsError::new("inspect", path, e).into()),
        Ok(_) => {}
    }
    append_locked(path, &prepared, lines)
}

fn bad_step(path: &Path, e: &canon::CanonError) -> JournalError {
    JournalError::BadStep {
        path: path.to_owned(),
        reason: e.reason.clone(),
    }
}

/// Create the journal with its first record, atomically. `Ok(None)` when it already exists.
fn create_with_first(path: &Path, prepared: &Prepared) -> Result<Option<Record>, JournalError> {
    let (rec, line) = prepared.finish(None).map_err(|e| bad_step(path, &e))?;
    let dir = fsutil::parent_dir(path);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".vaultgate-journal-");
    #[cfg(unix)]
    {
        // Mode 0666 before the umask, as a plain `open(O_CREAT)` would give (tempfile's
        // default, 0600, would make the journal private by accident).
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let tmp = builder
        .tempfile_in(dir)
        .ctx("create a temporary file in", dir)?;
    tmp.as_file().write_all(&line).ctx("write", tmp.path())?;
    tmp.as_file().sync_all().ctx("fsync", tmp.path())?;
    match fs::hard_link(tmp.path(), path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(FsError::new("create", path, e).into()),
    }
    // Dropping the temp file removes its name; the journal keeps the inode.
    drop(tmp);
    fsutil::fsync_dir(dir)?;
    Ok(Some(rec))
}

fn append_locked(
    path: &Path,
    prepared: &Prepared,
    lines: Lines,
) -> Result<(Record, Vec<crate::report::Finding>), JournalError> {
    let file = open_locked(path)?;
    let name = report::show_path(path);
    let opts = scan::ScanOptions {
        depth: scan::Depth::Head,
        lines,
        ..scan::ScanOptions::full(&name)
    };
    let found = scan::scan(&mut &file, &opts).ctx("read", path)?;
    if let Some(f) = found.first_error() {
        return Err(JournalError::from_finding(path, f));
    }
    let rec = write_locked(&file, path, &found, prepared)?;
    Ok((rec, found.findings))
}

/// Open an existing journal for appending and take its exclusive lock.
fn open_locked(path: &Path) -> Result<File, JournalError> {
    let file: File = OpenOptions::new()
        .read(true)
        .append(true)
        .open(path)
        .ctx("open", path)?;
    file.lock().ctx("lock", path)?;
    Ok(file)
}

/// Verify the whole journal, let `decide` look at its records, and append the step it returns,
/// all under one exclusive lock: nothing can be appended between what `decide` saw and what is
/// written. (`envelope check --record` needs this: it sums the budget spent so far and records
/// its decision; two such checks must not both spend the last dollar.) `decide` also returns a
/// value for the caller; `None` as the step appends nothing. The journal must already exist.
pub fn append_decided<T, E, F>(
    path: &Path,
    clock: &dyn Clock,
    decide: F,
) -> Result<(T, Option<Record>), E>
where
    E: From<JournalError>,
    F: FnOnce(&[Record]) -> Result<(T, Option<NewStep>), E>,
{
    let file = open_locked(path)?;
    let name = report::show_path(path);
    let opts = scan::ScanOptions {
        keep_records: true,
        ..scan::ScanOptions::full(&name)
    };
    let found = scan::scan(&mut &file, &opts)
        .ctx("read", path)
        .map_err(JournalError::from)?;
    if let Some(f) = found.first_error() {
        return Err(JournalError::from_finding(path, f).into());
    }
    let (value, step) = decide(&found.records)?;
    let Some(step) = step else {
        return Ok((value, None));
    };
    let prepared = prepare(path, step, clock)?;
    let record = write_locked(&file, path, &found, &prepared)?;
    Ok((value, Some(record)))
}

/// Append `prepared` behind the head `found` under the lock already held on `file`.
fn write_locked(
    file: &File,
    path: &Path,
    found: &scan::Scan,
    prepared: &Prepared,
) -> Result<Record, JournalError> {
    if let Some((line, offset)) = found.step_ids.get(&prepared.step_id) {
        return Err(JournalError::DuplicateStepId {
            path: path.to_owned(),
            step_id: prepared.step_id.clone(),
            line,
            offset,
        });
    }
    let (rec, line) = prepared
        .finish(found.head.clone())
        .map_err(|e| bad_step(path, &e))?;
    let len = file.metadata().ctx("inspect", path)?.len();
    if len != found.len {
        // Impossible under the exclusive lock unless a writer ignores locks: refuse.
        return Err(FsError::new(
            "append to",
            path,
            io::Error::other(format!(
                "the journal changed while locked ({} bytes read, {len} bytes on disk); another writer ignores the lock",
                found.len
            )),
        )
        .into());
    }
    let mut writer: &File = file;
    let written = writer.write_all(&line).and_then(|()| file.sync_data());
    if let Err(e) = written {
        // Roll back whatever part of the line reached the file.
        let _ = file.set_len(len);
        let _ = file.sync_data();
        return Err(FsError::new("append to", path, e).into());
    }
    Ok(rec)
}
