//! The envelope family's stable finding codes (documented in `docs/envelope.md`; the full list
//! is pinned by a test so a rename is a visible change).

use crate::report::FindingCode;

/// Every reason an envelope check or a baseline verification can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EnvelopeCode {
    /// The op is not listed in `allow_ops`.
    OpNotAllowed,
    /// A path (as written, or after resolving symlinks) lies outside `--root`.
    PathOutsideRoot,
    /// A path matches no `allow_paths` glob.
    PathNotAllowed,
    /// A path, one of its parent folders, or (for `delete`/`rename`) something inside it
    /// matches a `deny_paths` glob.
    PathDenied,
    /// A mutating op would touch a protected path: a `protected_paths` match, the envelope
    /// itself, its baseline, or the budget journal.
    PathProtected,
    /// Spent plus this cost exceeds `max_budget_usd`.
    BudgetExceeded,
    /// A protected file's content or kind differs from the baseline.
    ProtectedChanged,
    /// A file in the baseline is gone.
    ProtectedMissing,
    /// A protected file exists that the baseline does not list.
    ProtectedAdded,
}

impl FindingCode for EnvelopeCode {
    fn as_str(self) -> &'static str {
        match self {
            Self::OpNotAllowed => "envelope-op-not-allowed",
            Self::PathOutsideRoot => "envelope-path-outside-root",
            Self::PathNotAllowed => "envelope-path-not-allowed",
            Self::PathDenied => "envelope-path-denied",
            Self::PathProtected => "envelope-path-protected",
            Self::BudgetExceeded => "envelope-budget-exceeded",
            Self::ProtectedChanged => "envelope-protected-changed",
            Self::ProtectedMissing => "envelope-protected-missing",
            Self::ProtectedAdded => "envelope-protected-added",
        }
    }

    fn all() -> &'static [Self] {
        &[
            Self::OpNotAllowed,
            Self::PathOutsideRoot,
            Self::PathNotAllowed,
            Self::PathDenied,
            Self::PathProtected,
            Self::BudgetExceeded,
            Self::ProtectedChanged,
            Self::ProtectedMissing,
            Self::ProtectedAdded,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pinned list: renaming, adding or removing a code must change this test (and
    /// `docs/envelope.md`) on purpose.
    #[test]
    fn finding_codes_are_pinned() {
        let codes: Vec<&str> = EnvelopeCode::all().iter().map(|c| c.as_str()).collect();
        assert_eq!(
            codes,
            [
                "envelope-op-not-allowed",
                "envelope-path-outside-root",
                "envelope-path-not-allowed",
                "envelope-path-denied",
                "envelope-path-protected",
                "envelope-budget-exceeded",
                "envelope-protected-changed",
                "envelope-protected-missing",
                "envelope-protected-added",
            ]
        );
    }
}
