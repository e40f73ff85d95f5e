//! The gate's errors: "could not run", never "refused" (a refusal is a [`GateReport`] with
//! exit 1).
//!
//! A gate that could not finish still leaves its evidence: every variant after the report
//! directory was prepared carries the report as far as it got (written to the report directory
//! when that was possible), so the CLI can show it and exit 2.

use super::report::GateReport;
use super::workspace::ReportDirError;
use crate::bundle::BundleError;
use crate::bundle::extract::ExtractError;
use crate::fsutil::FsError;
use crate::manifest::ManifestError;

/// Why the gate could not run.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The report directory was refused before anything ran (left exactly as it was).
    #[error(transparent)]
    ReportDir(#[from] ReportDirError),
    /// A step could not run; the report records it as `error` and later steps as skipped.
    #[error("gate step `{step}` could not run: {reason}")]
    Step {
        /// The step's id.
        step: String,
        /// Why, as recorded in the step's detail.
        reason: String,
        /// The report, as far as it got.
        report: Box<GateReport>,
    },
    /// Every step ran, but the report could not be written (or the workspace removed).
    #[error("the gate report could not be written: {reason}")]
    Report {
        /// Why.
        reason: String,
        /// The report that was not written.
        report: Box<GateReport>,
    },
}

impl GateError {
    /// The report as far as it got, when the gate got as far as starting one.
    pub fn report(&self) -> Option<&GateReport> {
        match self {
            Self::ReportDir(_) => None,
            Self::Step { report, .. } | Self::Report { report, .. } => Some(report),
        }
    }
}

/// Why one step could not run (recorded in the step's `detail`).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// A file could not be read or written.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The bundle could not be audited.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The bundle could not be extracted.
    #[error(transparent)]
    Extract(#[from] ExtractError),
    /// The manifest could not be verified.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The extracted tree could not be read completely during verification.
    #[error("the extracted tree could not be read completely: {0}")]
    TreeUnreadable(String),
}
