//! The hash-chained, append-only step journal (format: `docs/journal.md`).
//!
//! A journal is JSON Lines: each line is the canonical form ([`crate::canon`]) of one step
//! record plus `\n`; `entry_hash` is the SHA-256 of the record without `entry_hash`, and
//! `prev_hash` links each record to the one before. An empty file is a valid empty journal.
//!
//! Contract:
//! - Readers ([`read_verified`], [`verify`]) hold a shared lock and check everything: every
//!   line, the chain, step id uniqueness. Any defect is a refusal naming the line and byte
//!   offset; a torn tail (a crash mid-append) is told apart from tampering.
//! - [`append`] holds an exclusive lock from reading the head to the fsync of the new line,
//!   refuses to extend a journal after a torn or invalid tail (the head record is checked
//!   completely, earlier lines for framing and step ids), writes the line with one write, and on
//!   any error truncates back to the length it found. A new journal appears atomically with
//!   its first record (temp file + hard link), so no reader ever sees a half-created file.
//! - [`Lines::Any`] (`--lines any` on verify, head and append) loosens only the spelling: a
//!   strictly parsed record whose canonical bytes hash to its `entry_hash` is accepted, with a
//!   `journal-not-canonical` *warning*; what is written is always canonical.
//! - A refusal is a report, not an error: [`append_report`] and [`show_report`] return
//!   [`Outcome::Refused`] for a journal that does not verify; an error means "could not run".
//! - [`repair_torn_tail`] is the only operation that removes bytes: only a torn tail, only
//!   after a full backup, never a tampered record.

mod append;
mod blocks;
mod codes;
mod fast;
mod record;
mod refusal;
mod repair;
mod report;
mod scan;
mod step_ids;

use std::fs::File;
use std::path::{Path, PathBuf};

pub use append::{append, append_decided, append_with};
pub use codes::JournalCode;
pub use record::{Lines, NewStep, Record, check_timestamp, is_hash};
pub use refusal::{Outcome, RefusalReport};
pub use repair::repair_torn_tail;
pub use report::{
    AppendReport, HeadReport, JournalVerifyReport, RepairOutcome, RepairReport, ShowReport,
};
pub use scan::{Torn, line_of};

use crate::clock::{Clock, ClockError};
use crate::fsutil::{FsError, IoContext};
use crate::hash::Sha256Digest;
use crate::report::{Finding, escape_bytes_for_display};

/// Why a journal operation could not complete.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file operation failed (names the file). Not a `#[source]`: [`FsError`] already
    /// prints its cause, and a chain would print it twice.
    #[error("{0}")]
    Io(FsError),
    /// The journal ends in a torn tail.
    #[error(
        "torn tail in `{}` at line {line} (byte {offset}): {message}\nhelp: inspect it, then `vaultgate journal repair {} --truncate-torn-tail` drops it and keeps a backup",
        path.display(),
        path.display()
    )]
    TornTail {
        /// The journal.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Byte offset of the line.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// A record is tampered or malformed.
    #[error("invalid journal `{}` at line {line} (byte {offset}): {code}: {message}", path.display())]
    Invalid {
        /// The journal.
        path: PathBuf,
        /// The finding code, e.g. `journal-hash-mismatch`.
        code: &'static str,
        /// 1-based line.
        line: usize,
        /// Byte offset of the line.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// The step to append is not valid.
    #[error("refusing to append to `{}`: {reason}", path.display())]
    BadStep {
        /// The journal.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The step id is already in the journal.
    #[error(
        "refusing to append to `{}`: step id `{step_id}` is already used on line {line} (byte {offset})\nhelp: pick another `--step-id` or omit it for a fresh UUID",
        path.display()
    )]
    DuplicateStepId {
        /// The journal.
        path: PathBuf,
        /// The id.
        step_id: String,
        /// The line that has it.
        line: usize,
        /// Byte offset of that line.
        offset: u64,
    },
    /// The clock could not be read.
    #[error("cannot timestamp a step for `{}`: {source}", path.display())]
    Clock {
        /// The journal.
        path: PathBuf,
        /// Why.
        #[source]
        source: ClockError,
    },
    /// The repair backup file already exists.
    #[error(
        "refusing to repair `{}`: backup `{}` already exists\nhelp: move the old backup away and run the repair again",
        path.display(),
        backup.display()
    )]
    BackupExists {
        /// The journal.
        path: PathBuf,
        /// The backup that is in the way.
        backup: PathBuf,
    },
}

impl From<FsError> for JournalError {
    fn from(e: FsError) -> Self {
        Self::Io(e)
    }
}

impl JournalError {
    /// The error for the first failure of a scan.
    fn from_finding(path: &Path, f: &Finding) -> Self {
        let (line, offset) = scan::line_of(f);
        if f.code == crate::report::FindingCode::as_str(JournalCode::TornTail) {
            Self::TornTail {
                path: path.to_owned(),
                line,
                offset,
                message: f.message.clone(),
            }
        } else {
            Self::Invalid {
                path: path.to_owned(),
                code: f.code,
                line,
                offset,
                message: f.message.clone(),
            }
        }
    }
}

/// One `--checkpoint N:HASH` pin: record N (1-based) must have this `entry_hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The 1-based record number.
    pub record: usize,
    /// Its `entry_hash`.
    pub entry_hash: Sha256Digest,
}

impl std::str::FromStr for Checkpoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (n, h) = s
            .split_once(':')
            .ok_or_else(|| format!("checkpoint `{}` is not `N:HASH`", display(s)))?;
        let record: usize = n.parse().ok().filter(|&n| n >= 1).ok_or_else(|| {
            format!(
                "checkpoint record number `{}` is not a positive integer",
                display(n)
            )
        })?;
        if !is_hash(h) {
            return Err(format!(
                "checkpoint hash `{}` is not 64 lowercase hex digits",
                display(h)
            ));
        }
        let entry_hash = h
            .parse()
            .map_err(|e: crate::hash::BadDigest| e.to_string())?;
        Ok(Self { record, entry_hash })
    }
}

fn display(s: &str) -> String {
    escape_bytes_for_display(s.as_bytes())
}

/// What `journal verify` checks besides the journal itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalVerifyOptions {
    /// Record pins.
    pub checkpoints: Vec<Checkpoint>,
    /// The last record's `entry_hash`.
    pub expect_head: Option<Sha256Digest>,
    /// The number of records.
    pub expect_count: Option<usize>,
    /// Which spellings of a record are accepted.
    pub lines: Lines,
}

fn open_shared(path: &Path) -> Result<File, JournalError> {
    let file = File::open(path).ctx("open", path)?;
    file.lock_shared().ctx("lock (shared)", path)?;
    Ok(file)
}

fn scan_file(
    file: &File,
    path: &Path,
    keep: bool,
    pin: &[usize],
    lines: Lines,
) -> Result<scan::Scan, JournalError> {
    let name = report::show_path(path);
    let opts = scan::ScanOptions {
        keep_records: keep,
        pin,
        lines,
        ..scan::ScanOptions::full(&name)
    };
    Ok(scan::scan(&mut &*file, &opts).ctx("read", path)?)
}

/// Every record of a journal that verifies completely, under a shared lock. Any torn tail or
/// tampering is an error naming the line and byte offset; a missing file is an error; an
/// empty file is `Ok(vec![])`.
pub fn read_verified(path: &Path) -> Result<Vec<Record>, JournalError> {
    let file = open_shared(path)?;
    let scan = scan_file(&file, path, true, &[], Lines::Canonical)?;
    match scan.first_error() {
        Some(f) => Err(JournalError::from_finding(path, f)),
        None => Ok(scan.records),
    }
}

/// Verify journal bytes held in memory with every check [`verify`] makes on a file (no pins):
/// the number of complete lines, the head, and the findings (empty when valid). The entry
/// point of the `journal_parse` fuzz target.
pub fn verify_bytes(bytes: &[u8]) -> (usize, Option<String>, Vec<Finding>) {
    let mut reader: &[u8] = bytes;
    match scan::scan(&mut reader, &scan::ScanOptions::full("<bytes>")) {
        Ok(s) => (s.count, s.head, s.findings),
        // Reading from a slice cannot fail; should it ever, report it rather than pass.
        Err(e) => (
            0,
            None,
            vec![Finding::error(
                JournalCode::LineInvalid,
                "<bytes>",
                format!("cannot read the bytes: {e} (a bug in vaultgate)"),
            )],
        ),
    }
}

/// Verify a journal under a shared lock, with optional pins. Findings are data: the report's
/// status is the verdict. Errors mean the check could not run (missing file, I/O).
pub fn verify(
    path: &Path,
    opts: &JournalVerifyOptions,
) -> Result<JournalVerifyReport, JournalError> {
    let file = open_shared(path)?;
    let pin: Vec<usize> = opts.checkpoints.iter().map(|c| c.record).collect();
    let mut scan = scan_file(&file, path, false, &pin, opts.lines)?;
    drop(file);
    apply_expectations(&mut scan, opts);
    Ok(JournalVerifyReport::new(path, scan, opts.lines))
}

fn apply_expectations(scan: &mut scan::Scan, opts: &JournalVerifyOptions) {
    let count = scan.count;
    let offset = scan.len;
    for c in &opts.checkpoints {
        let (n, want) = (c.record, c.entry_hash.to_hex());
        match scan.pinned.get(&n).cloned().flatten() {
            _ if n > count => scan.push(
                JournalCode::CheckpointMissing,
                n,
                offset,
                format!("the checkpoint pins record {n} but the journal has {count} complete records; it was truncated"),
            ),
            Some(got) if got == want => {}
            Some(got) => scan.push(
                JournalCode::CheckpointMismatch,
                n,
                offset,
                format!("record {n} has `entry_hash` `{got}`, the checkpoint pins `{want}`; the prefix was rewritten"),
            ),
            None => scan.push(
                JournalCode::CheckpointMismatch,
                n,
                offset,
                format!("record {n} is not a valid record, the checkpoint pins `{want}`"),
            ),
        }
    }
    if let Some(want) = opts
        .expect_head
        .map(|w| w.to_hex())
        .filter(|w| scan.head.as_deref() != Some(w.as_str()))
    {
        let got = scan.head.as_deref().unwrap_or("none");
        let message = format!("the head is `{got}`, expected `{want}`");
        scan.push(JournalCode::HeadMismatch, count, offset, message);
    }
    if let Some(want) = opts.expect_count.filter(|&w| w != count) {
        let message = format!("the journal has {count} records, expected {want}");
        scan.push(JournalCode::CountMismatch, count, offset, message);
    }
}

/// The record count and head hash of a journal that verifies (the value to pin in CI).
pub fn head(path: &Path, lines: Lines) -> Result<HeadReport, JournalError> {
    let opts = JournalVerifyOptions {
        lines,
        ..JournalVerifyOptions::default()
    };
    let report = verify(path, &opts)?;
    Ok(HeadReport { verify: report })
}

/// The records of a journal that verifies, or the one with `step_id`.
pub fn show(path: &Path, step_id: Option<&str>) -> Result<ShowReport, JournalError> {
    let records = read_verified(path)?;
    let total = records.len();
    let selected: Vec<(usize, Record)> = records
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i + 1, r))
        .filter(|(_, r)| step_id.is_none_or(|id| r.step_id == id))
        .collect();
    Ok(ShowReport {
        path: path.to_owned(),
        total,
        step_id: step_id.map(str::to_owned),
        records: selected,
    })
}

/// `journal show` as a verdict: a journal that does not verify is a refusal report (exit 1),
/// not an error.
pub fn show_report(
    path: &Path,
    step_id: Option<&str>,
) -> Result<Outcome<ShowReport>, JournalError> {
    Outcome::decide("show", show(path, step_id))
}

/// `journal append` as a verdict: appending to a journal that does not verify, or reusing a
/// step id, is a refusal report (exit 1); only "could not run" is an error.
pub fn append_report(
    path: &Path,
    step: NewStep,
    lines: Lines,
    clock: &dyn Clock,
) -> Result<Outcome<AppendReport>, JournalError> {
    let appended = append_with(path, step, lines, clock).map(|(record, warnings)| AppendReport {
        path: path.to_owned(),
        record,
        warnings,
    });
    Outcome::decide("append", appended)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use std::time::{Duration, UNIX_EPOCH};

    fn clock() -> FixedClock {
        FixedClock(UNIX_EPOCH + Duration::from_secs(1_767_323_045))
    }

    fn step(name: &str) -> NewStep {
        NewStep {
            name: name.into(),
            status: "ok".into(),
            ..NewStep::default()
        }
    }

    #[test]
    fn append_then_read_verified_round_trips_and_chains() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.jsonl");
        let a = append(&p, step("a"), &clock()).unwrap();
        let b = append(&p, step("b"), &clock()).unwrap();
        assert_eq!(a.prev_hash, None);
        assert_eq!(b.prev_hash.as_deref(), Some(a.entry_hash.as_str()));
        assert_eq!(a.started_at, "2026-01-02T03:04:05Z");
        assert_eq!(read_verified(&p).unwrap(), vec![a, b]);
        // Only the journal is left in the directory: no temp file.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_is_an_error_and_empty_is_an_empty_journal() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.jsonl");
        assert!(matches!(read_verified(&p), Err(JournalError::Io(_))));
        std::fs::write(&p, b"").unwrap();
        assert_eq!(read_verified(&p).unwrap(), vec![]);
    }

    #[test]
    fn torn_and_tampered_are_told_apart_and_block_appends() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.jsonl");
        append(&p, step("a"), &clock()).unwrap();
        append(&p, step("b"), &clock()).unwrap();
        let good = std::fs::read(&p).unwrap();

        std::fs::write(&p, &good[..good.len() - 5]).unwrap();
        let err = read_verified(&p).unwrap_err();
        assert!(
            matches!(err, JournalError::TornTail { line: 2, .. }),
            "{err}"
        );
        let before = std::fs::read(&p).unwrap();
        assert!(append(&p, step("c"), &clock()).is_err());
        assert_eq!(
            std::fs::read(&p).unwrap(),
            before,
            "a refused append changed the file"
        );

        let tampered = String::from_utf8(good.clone())
            .unwrap()
            .replacen("\"a\"", "\"x\"", 1);
        std::fs::write(&p, tampered).unwrap();
        let err = read_verified(&p).unwrap_err();
        assert!(
            matches!(
                err,
                JournalError::Invalid {
                    code: "journal-hash-mismatch",
                    line: 1,
                    offset: 0,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("j.jsonl"), "{err}");
    }

    #[test]
    fn duplicate_step_ids_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.jsonl");
        let mut s = step("a");
        s.step_id = Some("fixed".into());
        append(&p, s.clone(), &clock()).unwrap();
        let err = append(&p, s, &clock()).unwrap_err();
        assert!(
            matches!(err, JournalError::DuplicateStepId { line: 1, .. }),
            "{err}"
        );
        assert_eq!(read_verified(&p).unwrap().len(), 1);
    }

    #[test]
    fn an_invalid_step_touches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.jsonl");
        let mut s = step("a");
        s.completed_at = Some("yesterday".into());
        assert!(matches!(
            append(&p, s, &clock()),
            Err(JournalError::BadStep { .. })
        ));
        assert!(!p.exists());
        assert!(append(&p, step(""), &clock()).is_err());
        assert!(!p.exists());
    }

    #[test]
    fn checkpoints_catch_truncation_and_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.jsonl");
        let a = append(&p, step("a"), &clock()).unwrap();
        let b = append(&p, step("b"), &clock()).unwrap();
        let pin = |n, h: &str| JournalVerifyOptions {
            checkpoints: vec![Checkpoint {
                record: n,
                entry_hash: h.parse().unwrap(),
            }],
            ..JournalVerifyOptions::default()
        };
        assert_eq!(verify(&p, &pin(2, &b.entry_hash)).unwrap().finding_total, 0);
        let r = verify(&p, &pin(3, &b.entry_hash)).unwrap();
        assert_eq!(r.findings[0].code, "journal-checkpoint-missing");
        let r = verify(&p, &pin(1, &b.entry_hash)).unwrap();
        assert_eq!(r.findings[0].code, "journal-checkpoint-mismatch");
        let r = verify(
            &p,
            &JournalVerifyOptions {
                expect_head: Some(a.entry_hash.parse().unwrap()),
                expect_count: Some(1),
                ..JournalVerifyOptions::default()
            },
        )
        .unwrap();
        let codes: Vec<_> = r.findings.iter().map(|i| i.code).collect();
        assert_eq!(codes, ["journal-head-mismatch", "journal-count-mismatch"]);
    }

    #[test]
    fn checkpoint_syntax() {
        let h = "a".repeat(64);
        let c: Checkpoint = format!("3:{h}").parse().unwrap();
        assert_eq!((c.record, c.entry_hash.to_hex()), (3, h.clone()));
        for bad in [
            format!("0:{h}"),
            "3:abc".into(),
            h.clone(),
            format!("3:{}", h.to_uppercase()),
        ] {
            assert!(bad.parse::<Checkpoint>().is_err(), "{bad}");
        }
    }
}
