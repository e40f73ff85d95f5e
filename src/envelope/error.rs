//! The one error type of the envelope family: everything that stops a check from running.
//!
//! A policy *violation* is never an error: it is a finding in a report. An error means the
//! decision could not be made (exit 2), and it names the file, field, glob or value at fault.

use std::path::PathBuf;

use crate::fsutil::FsError;

/// ` at line L, column C`, or nothing when the position is unknown.
fn at_text(at: Option<(u64, u64)>) -> String {
    at.map(|(l, c)| format!(" at line {l}, column {c}"))
        .unwrap_or_default()
}

impl EnvelopeError {
    /// Where in the envelope file the error points, when it is about the file's content.
    pub fn location(&self) -> Option<crate::report::Location> {
        let (Self::Parse { path, at, .. }
        | Self::Field { path, at, .. }
        | Self::Glob { path, at, .. }) = self
        else {
            return None;
        };
        let (line, column) = (*at)?;
        Some(crate::report::Location {
            file: Some(crate::report::escape_bytes_for_display(
                path.as_os_str().as_encoded_bytes(),
            )),
            line: Some(line),
            column: Some(column),
            field: match self {
                Self::Field { field, .. } | Self::Glob { field, .. } => Some(format!("/{field}")),
                _ => None,
            },
            ..crate::report::Location::default()
        })
    }
}

/// Why an envelope command could not run.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// Reading or writing a file failed.
    #[error(transparent)]
    Io(#[from] FsError),

    /// The envelope file is not valid JSON or does not have the envelope's shape (this is
    /// where unknown and missing fields are reported).
    #[error("invalid envelope `{}`{}: {reason}\nhelp: an envelope is `{{\"allow_ops\": [], \"allow_paths\": [], \"deny_paths\": [], \"protected_paths\": [], \"max_budget_usd\": 0}}` (see docs/envelope.md)", path.display(), at_text(*at))]
    Parse {
        /// The envelope file.
        path: PathBuf,
        /// Where serde stopped: 1-based line and column.
        at: Option<(u64, u64)>,
        /// serde's description (without its position), which names the field.
        reason: String,
    },

    /// A field has the right JSON type but a value the envelope refuses.
    #[error("invalid envelope `{}`{}: field `{field}`: {reason}", path.display(), at_text(*at))]
    Field {
        /// The envelope file.
        path: PathBuf,
        /// The field at fault.
        field: &'static str,
        /// Where the offending value is: 1-based line and column.
        at: Option<(u64, u64)>,
        /// Why it was refused (may carry a `help:` line).
        reason: String,
    },

    /// A glob does not compile or can never match a root-relative path.
    #[error("invalid envelope `{}`{}: field `{field}`: bad glob `{glob}`: {reason}", path.display(), at_text(*at))]
    Glob {
        /// The envelope file.
        path: PathBuf,
        /// The field holding the glob.
        field: &'static str,
        /// Where the glob is written: 1-based line and column.
        at: Option<(u64, u64)>,
        /// The glob as written (escaped for display).
        glob: String,
        /// Why it was refused (may carry a `help:` line).
        reason: String,
    },

    /// A money amount given on the command line is not an exact decimal the envelope supports.
    #[error("invalid amount `{value}` for `{what}`: {reason}")]
    Amount {
        /// What the amount was for (`--cost`).
        what: &'static str,
        /// The text given (escaped for display).
        value: String,
        /// Why it was refused.
        reason: String,
    },

    /// A journal record's `outputs.cost_usd` cannot be counted.
    #[error(
        "journal `{}`: step `{step_id}` has an unusable `outputs.cost_usd`: {reason}\nhelp: `cost_usd` must be a non-negative JSON number with at most 9 decimal places, or absent",
        path.display()
    )]
    JournalCost {
        /// The journal file.
        path: PathBuf,
        /// The record's `step_id` (escaped for display).
        step_id: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The journal could not be read, verified or appended to.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),

    /// The budget journal does not exist, so the spent budget is unknown.
    #[error("budget journal `{}` does not exist; the spent budget is unknown\nhelp: start it with `vaultgate journal append {} --name budget-start --status ok`, or omit `--journal`", path.display(), path.display())]
    JournalMissing {
        /// The journal file.
        path: PathBuf,
    },

    /// An amount the journal would not store exactly.
    #[error(
        "cannot record cost `{cost}` exactly: the journal stores fractional numbers as IEEE doubles (about 15 significant digits), which would change it to `{stored}`"
    )]
    Unrecordable {
        /// The exact cost.
        cost: String,
        /// What the journal would keep.
        stored: String,
    },

    /// The sum of the costs does not fit the fixed-point range.
    #[error("budget arithmetic overflowed while adding {what}; refusing to guess")]
    Overflow {
        /// What was being added.
        what: &'static str,
    },

    /// The `--root` folder is unusable.
    #[error("cannot use root `{}`: {reason}", path.display())]
    Root {
        /// The root as given.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// A path cannot be resolved for a reason other than "does not exist yet".
    #[error("cannot resolve path `{given}`: {reason}")]
    Resolve {
        /// The path as given (escaped for display).
        given: String,
        /// Why (permission denied, a symlink loop, a file used as a folder, …).
        reason: String,
    },

    /// The request itself is unusable (no path, an empty path, …).
    #[error("{0}")]
    Request(String),

    /// The baseline file is absent.
    #[error("no baseline at `{}`\nhelp: record one first with `vaultgate envelope protect snapshot --envelope …`", path.display())]
    BaselineMissing {
        /// Where it was looked for.
        path: PathBuf,
    },

    /// The baseline file is not a baseline this version understands.
    #[error("invalid baseline `{}`: {reason}\nhelp: re-record it with `vaultgate envelope protect snapshot` once you trust the current files", path.display())]
    BaselineInvalid {
        /// The baseline file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}
