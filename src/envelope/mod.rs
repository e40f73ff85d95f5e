//! Envelopes: decide whether one operation is allowed by a policy, and guard the files that
//! hold that policy against self-modification.
//!
//! Contract:
//! - An envelope file is parsed strictly ([`policy`]): unknown fields, unknown ops, malformed
//!   or never-matching globs and a missing, ill-typed or negative budget are errors, never
//!   defaults. What survives is a [`ValidEnvelope`].
//! - [`decide`] chooses where the spent budget comes from (none, the journal, or the journal
//!   under its lock with the decision recorded) and calls [`check`].
//! - [`check`] judges a [`CheckRequest`] (op, paths, cost) against a [`ValidEnvelope`] and the
//!   budget already spent, and returns a [`CheckReport`] listing *every* reason for denial as
//!   a [`Finding`](crate::report::Finding) with a stable [`EnvelopeCode`]. The verdict is
//!   decided once, from the findings: allow only when there are none.
//! - Paths are judged in two forms, lexical and physical (symlinks of existing parts
//!   resolved), and both must pass ([`resolve`]). Deny and protected globs also match
//!   case-insensitively after NFC normalisation; allow globs match only exactly.
//! - [`protect`] snapshots the SHA-256 of every protected file into a baseline (written
//!   atomically) and verifies it later.
//! - Money is exact ([`Usd`]): fixed-point, nine decimal places, no floats anywhere.
//! - The core never prints and never reads argv; any doubt is an [`EnvelopeError`].

mod budget;
mod check;
mod codes;
mod error;
mod globs;
mod judge;
mod locate;
pub mod policy;
pub mod protect;
pub mod resolve;
mod usd;

pub use budget::{COST_KEY, journal_amount, spent_from_outputs, spent_in_journal};
pub use check::{CheckReport, CheckRequest, PathVerdict, check, check_and_record, decide};
pub use codes::EnvelopeCode;
pub use error::EnvelopeError;
pub use policy::{Op, Refusal, ValidEnvelope};
pub use protect::{
    Baseline, ProtectVerifyReport, SnapshotReport, default_baseline_path, snapshot, verify,
};
pub use resolve::Root;
pub use usd::Usd;

/// The `schema` of every envelope report.
pub const SCHEMA: &str = "vaultgate/envelope/v1";
