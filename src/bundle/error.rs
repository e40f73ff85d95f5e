//! Errors of the bundle family: [`BundleError`] means an audit could not run (exit 2);
//! [`StreamError`] says why one entry's data did not stream cleanly (a finding under `--deep`,
//! a refusal during extraction). Both name the file or the entry they are about.

use std::io;
use std::path::PathBuf;

use crate::fsutil::FsError;

/// The audit could not run at all. Anything wrong *inside* the archive is a finding instead.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The archive could not be opened, inspected or read.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// Reading the archive failed part-way (the file shrank, a disk error).
    #[error("cannot read `{}` while auditing entry {what}: {source}", path.display())]
    Read {
        /// The archive.
        path: PathBuf,
        /// The entry or structure being read.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Why one entry's data did not stream cleanly. Every variant names the entry (escaped for
/// display) so a message can be shown as is.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading the archive failed (not a property of the data).
    #[error("cannot read the data of `{entry}`: {source}")]
    Io {
        /// The entry, escaped for display.
        entry: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The method is not stored (0) or deflate (8).
    #[error(
        "entry `{entry}` uses compression method {method}, which is not stored (0) or deflate (8)"
    )]
    UnsupportedMethod {
        /// The entry, escaped for display.
        entry: String,
        /// The method number.
        method: u16,
    },
    /// The data decompressed to more bytes than the cap allows.
    #[error("entry `{entry}` decompresses to more than the limit of {cap} bytes")]
    OverCap {
        /// The entry, escaped for display.
        entry: String,
        /// The cap in bytes.
        cap: u64,
    },
    /// The data decompressed to more or fewer bytes than declared.
    #[error(
        "entry `{entry}` declares {declared} bytes but its data decompresses to {}{actual} bytes",
        if *at_least { "at least " } else { "" }
    )]
    SizeMismatch {
        /// The entry, escaped for display.
        entry: String,
        /// The declared uncompressed size.
        declared: u64,
        /// The actual size (or the size reached before stopping).
        actual: u64,
        /// `true` when streaming stopped early, so `actual` is a lower bound.
        at_least: bool,
    },
    /// The CRC-32 of the data differs from the declared one.
    #[error("entry `{entry}` declares crc-32 {declared:08x} but its data has {actual:08x}")]
    CrcMismatch {
        /// The entry, escaped for display.
        entry: String,
        /// Declared CRC-32.
        declared: u32,
        /// Actual CRC-32.
        actual: u32,
    },
    /// The deflate stream is corrupt or ends before its final block.
    #[error("entry `{entry}` has a corrupt deflate stream: {detail}")]
    Corrupt {
        /// The entry, escaped for display.
        entry: String,
        /// What the decoder said.
        detail: String,
    },
    /// Compressed bytes are left over after the end of the deflate stream.
    #[error("entry `{entry}` has {extra} compressed bytes after the end of its deflate stream")]
    TrailingData {
        /// The entry, escaped for display.
        entry: String,
        /// How many bytes were left over.
        extra: u64,
    },
}
