//! Stable finding codes of the gate family (documented in `docs/gate.md`; the full list is
//! pinned by a test, so a rename is a visible change).

use crate::report::FindingCode;

/// Stable finding codes of the gate family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateCode {
    /// Neither the bundle nor the manifest digest was pinned: an error unless
    /// `--allow-unpinned`, then a warning.
    Unpinned,
    /// The bundle's SHA-256 differs from `--expect-sha256`.
    BundleDigestMismatch,
    /// The bundle file changed (length or modification time) while the gate read it.
    BundleChanged,
    /// The bundle has no `manifest.txt`.
    ManifestMissing,
    /// The manifest's SHA-256 differs from `--expect-manifest`.
    ManifestDigestMismatch,
    /// The manifest is malformed or empty.
    ManifestInvalid,
    /// A `--require` path is absent.
    RequiredMissing,
    /// A check exited non-zero or was killed by a signal.
    CheckFailed,
    /// A check ran past `--timeout`; its process group was killed.
    CheckTimeout,
    /// A check wrote more than `--max-log` to a stream; the log keeps its head and tail.
    CheckLogTruncated,
}

impl FindingCode for GateCode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Unpinned => "gate-unpinned",
            Self::BundleDigestMismatch => "gate-bundle-digest-mismatch",
            Self::BundleChanged => "gate-bundle-changed",
            Self::ManifestMissing => "gate-manifest-missing",
            Self::ManifestDigestMismatch => "gate-manifest-digest-mismatch",
            Self::ManifestInvalid => "gate-manifest-invalid",
            Self::RequiredMissing => "gate-required-missing",
            Self::CheckFailed => "gate-check-failed",
            Self::CheckTimeout => "gate-check-timeout",
            Self::CheckLogTruncated => "gate-check-log-truncated",
        }
    }
    fn all() -> &'static [Self] {
        &[
            Self::Unpinned,
            Self::BundleDigestMismatch,
            Self::BundleChanged,
            Self::ManifestMissing,
            Self::ManifestDigestMismatch,
            Self::ManifestInvalid,
            Self::RequiredMissing,
            Self::CheckFailed,
            Self::CheckTimeout,
            Self::CheckLogTruncated,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_codes_are_pinned() {
        let all: Vec<&str> = GateCode::all().iter().map(|c| c.as_str()).collect();
        assert_eq!(
            all,
            [
                "gate-unpinned",
                "gate-bundle-digest-mismatch",
                "gate-bundle-changed",
                "gate-manifest-missing",
                "gate-manifest-digest-mismatch",
                "gate-manifest-invalid",
                "gate-required-missing",
                "gate-check-failed",
                "gate-check-timeout",
                "gate-check-log-truncated",
            ]
        );
    }
}
