//! The journal's stable finding codes (documented in `docs/journal.md`; pinned by a test).

use crate::report::FindingCode;

/// Every way a journal can fail verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JournalCode {
    /// The last line is incomplete: no final newline, a NUL run, or unparseable. A crash
    /// mid-append looks like this; `journal repair --truncate-torn-tail` may drop it.
    TornTail,
    /// A line before the last is not a strict JSON object (bad JSON, NUL bytes, invalid UTF-8,
    /// duplicate key, lone surrogate, non-finite number).
    LineInvalid,
    /// The line parses but is not byte-for-byte the canonical form of the record.
    NotCanonical,
    /// A record lacks one of the nine keys.
    MissingKey,
    /// A record has a key outside the nine.
    UnknownKey,
    /// A key holds a value of the wrong JSON type.
    WrongType,
    /// `step_id`, `name` or `status` is an empty string.
    EmptyValue,
    /// `started_at` or `completed_at` is not an RFC 3339 UTC timestamp.
    BadTimestamp,
    /// `entry_hash` or `prev_hash` is not 64 lowercase hex digits.
    BadHashFormat,
    /// `entry_hash` is not the SHA-256 of the record's canonical bytes.
    HashMismatch,
    /// `prev_hash` is not the previous record's `entry_hash` (or not `null` on line 1).
    ChainBroken,
    /// A `step_id` already used by an earlier record.
    DuplicateStepId,
    /// The record pinned by `--checkpoint N:HASH` has another hash.
    CheckpointMismatch,
    /// The journal has fewer records than a `--checkpoint` pins (it was truncated).
    CheckpointMissing,
    /// The last record's hash differs from `--expect-head`.
    HeadMismatch,
    /// The record count differs from `--expect-count`.
    CountMismatch,
    /// `journal show --step-id` named a step the journal does not have.
    StepNotFound,
}

impl FindingCode for JournalCode {
    fn as_str(self) -> &'static str {
        match self {
            Self::TornTail => "journal-torn-tail",
            Self::LineInvalid => "journal-line-invalid",
            Self::NotCanonical => "journal-not-canonical",
            Self::MissingKey => "journal-missing-key",
            Self::UnknownKey => "journal-unknown-key",
            Self::WrongType => "journal-wrong-type",
            Self::EmptyValue => "journal-empty-value",
            Self::BadTimestamp => "journal-bad-timestamp",
            Self::BadHashFormat => "journal-bad-hash-format",
            Self::HashMismatch => "journal-hash-mismatch",
            Self::ChainBroken => "journal-chain-broken",
            Self::DuplicateStepId => "journal-duplicate-step-id",
            Self::CheckpointMismatch => "journal-checkpoint-mismatch",
            Self::CheckpointMissing => "journal-checkpoint-missing",
            Self::HeadMismatch => "journal-head-mismatch",
            Self::CountMismatch => "journal-count-mismatch",
            Self::StepNotFound => "journal-step-not-found",
        }
    }

    fn all() -> &'static [Self] {
        &[
            Self::TornTail,
            Self::LineInvalid,
            Self::NotCanonical,
            Self::MissingKey,
            Self::UnknownKey,
            Self::WrongType,
            Self::EmptyValue,
            Self::BadTimestamp,
            Self::BadHashFormat,
            Self::HashMismatch,
            Self::ChainBroken,
            Self::DuplicateStepId,
            Self::CheckpointMismatch,
            Self::CheckpointMissing,
            Self::HeadMismatch,
            Self::CountMismatch,
            Self::StepNotFound,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_list_is_pinned() {
        // A rename or removal is an interface change: update docs/journal.md with it.
        let all: Vec<&str> = JournalCode::all().iter().map(|c| c.as_str()).collect();
        assert_eq!(
            all,
            [
                "journal-torn-tail",
                "journal-line-invalid",
                "journal-not-canonical",
                "journal-missing-key",
                "journal-unknown-key",
                "journal-wrong-type",
                "journal-empty-value",
                "journal-bad-timestamp",
                "journal-bad-hash-format",
                "journal-hash-mismatch",
                "journal-chain-broken",
                "journal-duplicate-step-id",
                "journal-checkpoint-mismatch",
                "journal-checkpoint-missing",
                "journal-head-mismatch",
                "journal-count-mismatch",
                "journal-step-not-found",
            ]
        );
    }
}
