//! The manifest family's stable finding codes (documented in `docs/manifest.md`; the full list
//! is pinned by the test below, so a rename is a visible change).

use crate::report::FindingCode;

/// Stable finding codes of the manifest family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestCode {
    /// A listed file's content differs from its digest.
    HashMismatch,
    /// A listed file does not exist.
    MissingFile,
    /// A listed file could not be read.
    UnreadableFile,
    /// A listed path is a directory or another non-file.
    NotAFile,
    /// A symlink where the policy refuses them.
    Symlink,
    /// A FIFO, socket or device in the tree.
    SpecialFile,
    /// A name in the tree that is not valid UTF-8.
    NonUtf8Name,
    /// A file present in the tree but not listed.
    UnlistedFile,
}

impl FindingCode for ManifestCode {
    fn as_str(self) -> &'static str {
        match self {
            Self::HashMismatch => "manifest-hash-mismatch",
            Self::MissingFile => "manifest-missing-file",
            Self::UnreadableFile => "manifest-unreadable-file",
            Self::NotAFile => "manifest-not-a-file",
            Self::Symlink => "manifest-symlink",
            Self::SpecialFile => "manifest-special-file",
            Self::NonUtf8Name => "manifest-non-utf8-name",
            Self::UnlistedFile => "manifest-unlisted-file",
        }
    }
    fn all() -> &'static [Self] {
        &[
            Self::HashMismatch,
            Self::MissingFile,
            Self::UnreadableFile,
            Self::NotAFile,
            Self::Symlink,
            Self::SpecialFile,
            Self::NonUtf8Name,
            Self::UnlistedFile,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_codes_are_pinned() {
        let all: Vec<&str> = ManifestCode::all().iter().map(|c| c.as_str()).collect();
        assert_eq!(
            all,
            [
                "manifest-hash-mismatch",
                "manifest-missing-file",
                "manifest-unreadable-file",
                "manifest-not-a-file",
                "manifest-symlink",
                "manifest-special-file",
                "manifest-non-utf8-name",
                "manifest-unlisted-file",
            ]
        );
    }
}
