//! The stable finding codes of `vaultgate zip audit`.
//!
//! Every code is kebab-case, starts with `zip-`, and is documented in `docs/zip.md`. The full list
//! is pinned by a test ([`ZipCode::all`]) so that a rename is a visible, reviewed change.

use crate::report::FindingCode;

macro_rules! zip_codes {
    ($( $(#[$doc:meta])* $variant:ident => $code:literal, )*) => {
        /// A finding code of the zip family.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ZipCode {
            $( $(#[$doc])* $variant, )*
        }

        impl FindingCode for ZipCode {
            fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $code, )*
                }
            }

            fn all() -> &'static [Self] {
                &[ $( Self::$variant, )* ]
            }
        }
    };
}

zip_codes! {
    // ---- structure: the archive could not be read as a ZIP at all
    /// Not a ZIP, truncated, or a central directory that cannot be walked.
    Malformed => "zip-malformed",
    /// An extra field whose lengths do not add up, or a known extra field with a bad layout.
    BadExtraField => "zip-bad-extra-field",
    /// A local file header that is missing, out of bounds or has the wrong signature.
    BadLocalHeader => "zip-bad-local-header",
    /// Entry data that runs past the start of the central directory or the end of the file.
    DataOutOfBounds => "zip-data-out-of-bounds",
    // ---- differentials: two readers could see two different archives
    /// Local header disagrees with its central-directory record.
    LocalHeaderMismatch => "zip-local-header-mismatch",
    /// Data descriptor missing or disagreeing with the central-directory record.
    DataDescriptorMismatch => "zip-data-descriptor-mismatch",
    /// A 0x7075 Unicode-path extra field naming the entry differently from its header name.
    UnicodePathMismatch => "zip-unicode-path-mismatch",
    /// A local file header that no central-directory record points to.
    HiddenLocalHeader => "zip-hidden-local-header",
    /// Two entries whose bytes overlap or share data.
    OverlappingEntries => "zip-overlapping-entries",
    /// Unexplained bytes between entries or before the central directory.
    Gap => "zip-gap",
    /// Bytes before the first entry (a self-extractor stub or a shifted archive).
    PrependedBytes => "zip-prepended-bytes",
    /// Bytes after the end-of-central-directory record and its comment.
    TrailingBytes => "zip-trailing-bytes",
    /// More than one plausible end-of-central-directory record.
    MultipleEocd => "zip-multiple-eocd",
    /// An end-of-central-directory signature inside the archive comment.
    EocdInComment => "zip-eocd-in-comment",
    /// ZIP64 records that are missing, misplaced or disagree with the classic ones.
    Zip64Mismatch => "zip-zip64-mismatch",
    /// ZIP64 end records where no classic field needs them.
    Zip64Unneeded => "zip-zip64-unneeded",
    /// Central-directory offset or size that disagrees with where the records really are.
    CentralDirectoryMismatch => "zip-central-directory-mismatch",
    /// Entry counts that disagree with each other or with the central directory.
    EntryCountMismatch => "zip-entry-count-mismatch",
    /// A multi-disk (split or spanned) archive.
    MultiDisk => "zip-multi-disk",
    /// The `zip` crate (second opinion) refuses an archive this reader accepted.
    SecondOpinion => "zip-second-opinion",
    // ---- names
    /// An empty name.
    NameEmpty => "zip-name-empty",
    /// A name starting with `/` (absolute or UNC).
    NameAbsolute => "zip-name-absolute",
    /// A name starting with a drive letter (`C:`).
    NameDrive => "zip-name-drive",
    /// A name containing `\`.
    NameBackslash => "zip-name-backslash",
    /// A `..` component.
    PathTraversal => "zip-path-traversal",
    /// A `.` or empty component (`a/./b`, `a//b`).
    NameDotComponent => "zip-name-dot-component",
    /// NUL, C0/C1 control characters or newlines.
    NameControlChar => "zip-name-control-char",
    /// Bytes that are not valid UTF-8, or a non-ASCII name that cannot be decoded the same way by every reader.
    NameEncoding => "zip-name-encoding",
    /// A Windows reserved device name (`CON`, `aux.txt`, `COM1`, …).
    NameWindowsReserved => "zip-name-windows-reserved",
    /// A component ending in a dot or a space.
    NameTrailingDotSpace => "zip-name-trailing-dot-space",
    /// A `:` in a name (NTFS alternate data stream, drive-relative path).
    NameColon => "zip-name-colon",
    /// A name longer than `--max-name-len` bytes or a component longer than 255 bytes.
    NameTooLong => "zip-name-too-long",
    /// A non-ASCII UTF-8 name without the UTF-8 flag (bit 11) and without an agreeing 0x7075
    /// extra field: Go and the `zip` crate read it as UTF-8, Python as CP437.
    NameEncodingAmbiguous => "zip-name-encoding-ambiguous",
    /// Bidi controls, zero-width or other invisible characters that make a name display as
    /// something else.
    NameInvisible => "zip-name-invisible",
    // ---- collisions
    /// Two entries with byte-identical names.
    DuplicateName => "zip-duplicate-name",
    /// Two names equal after normalisation (`lib//./x` and `lib/x`, `a/b` and `a/b/`).
    DuplicateNormalized => "zip-duplicate-normalized",
    /// Two names equal after Unicode NFC normalisation.
    UnicodeCollision => "zip-unicode-collision",
    /// Two names equal ignoring case (collide on case-insensitive file systems).
    CaseCollision => "zip-case-collision",
    /// A regular file that is also a parent directory of another entry.
    FileIsParent => "zip-file-is-parent",
    // ---- types
    /// A symbolic link (`S_IFLNK` in the external attributes).
    Symlink => "zip-symlink",
    /// A hard link (PKWARE Unix 0x000d extra field with link data).
    HardLink => "zip-hard-link",
    /// A FIFO, socket, character or block device.
    SpecialFile => "zip-special-file",
    /// Unix mode says directory but the name has no `/`, or the other way round.
    TypeMismatch => "zip-type-mismatch",
    /// A directory entry that carries data.
    DirWithData => "zip-dir-with-data",
    /// Setuid, setgid or world-writable permission bits in the external attributes.
    ModeUnsafe => "zip-mode-unsafe",
    // ---- nested archives
    /// A member that is itself an archive (by its magic bytes), refused with `--nested refuse`.
    NestedArchive => "zip-nested-archive",
    /// Archives nested deeper than `--max-depth`.
    NestedTooDeep => "zip-nested-too-deep",
    // ---- content
    /// Encrypted entry (traditional, strong or AES), or an encrypted central directory.
    Encrypted => "zip-encrypted",
    /// A compression method other than stored (0) or deflate (8).
    UnsupportedMethod => "zip-unsupported-method",
    /// General-purpose flag bits this reader does not understand (patched data, reserved bits).
    UnknownFlags => "zip-unknown-flags",
    /// A stored entry whose compressed and uncompressed sizes differ.
    StoredSizeMismatch => "zip-stored-size-mismatch",
    /// Declared compression ratio over `--max-ratio`.
    RatioExceeded => "zip-ratio-exceeded",
    /// Total uncompressed size over `--max-size`.
    TotalSizeExceeded => "zip-total-size-exceeded",
    /// More entries than `--max-entries`.
    TooManyEntries => "zip-too-many-entries",
    /// Build byproducts (`__pycache__/`, `.git/`, `.DS_Store`, …) in the bundle.
    Byproduct => "zip-byproduct",
    // ---- --deep: the data itself
    /// Actual decompressed size differs from the declared one.
    DataSizeMismatch => "zip-data-size-mismatch",
    /// Actual CRC-32 differs from the declared one.
    DataCrcMismatch => "zip-data-crc-mismatch",
    /// Corrupt deflate stream, or compressed bytes left over after its end.
    DataCorrupt => "zip-data-corrupt",
    /// Actual decompressed bytes over the size limit.
    DataOverLimit => "zip-data-over-limit",
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rename of a finding code is a visible change: this list is the contract.
    #[test]
    fn finding_codes_are_pinned() {
        let codes: Vec<&str> = ZipCode::all().iter().map(|c| c.as_str()).collect();
        assert_eq!(
            codes,
            [
                "zip-malformed",
                "zip-bad-extra-field",
                "zip-bad-local-header",
                "zip-data-out-of-bounds",
                "zip-local-header-mismatch",
                "zip-data-descriptor-mismatch",
                "zip-unicode-path-mismatch",
                "zip-hidden-local-header",
                "zip-overlapping-entries",
                "zip-gap",
                "zip-prepended-bytes",
                "zip-trailing-bytes",
                "zip-multiple-eocd",
                "zip-eocd-in-comment",
                "zip-zip64-mismatch",
                "zip-zip64-unneeded",
                "zip-central-directory-mismatch",
                "zip-entry-count-mismatch",
                "zip-multi-disk",
                "zip-second-opinion",
                "zip-name-empty",
                "zip-name-absolute",
                "zip-name-drive",
                "zip-name-backslash",
                "zip-path-traversal",
                "zip-name-dot-component",
                "zip-name-control-char",
                "zip-name-encoding",
                "zip-name-windows-reserved",
                "zip-name-trailing-dot-space",
                "zip-name-colon",
                "zip-name-too-long",
                "zip-name-encoding-ambiguous",
                "zip-name-invisible",
                "zip-duplicate-name",
                "zip-duplicate-normalized",
                "zip-unicode-collision",
                "zip-case-collision",
                "zip-file-is-parent",
                "zip-symlink",
                "zip-hard-link",
                "zip-special-file",
                "zip-type-mismatch",
                "zip-dir-with-data",
                "zip-mode-unsafe",
                "zip-nested-archive",
                "zip-nested-too-deep",
                "zip-encrypted",
                "zip-unsupported-method",
                "zip-unknown-flags",
                "zip-stored-size-mismatch",
                "zip-ratio-exceeded",
                "zip-total-size-exceeded",
                "zip-too-many-entries",
                "zip-byproduct",
                "zip-data-size-mismatch",
                "zip-data-crc-mismatch",
                "zip-data-corrupt",
                "zip-data-over-limit",
            ]
        );
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), codes.len(), "codes must be unique");
        assert!(codes.iter().all(|c| {
            c.starts_with("zip-")
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '-' || ch.is_ascii_digit())
        }));
    }
}
