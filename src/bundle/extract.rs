//! Safe extraction of an audited bundle into a fresh, empty directory, entry by entry.
//!
//! Never the `zip` crate's `extract()`: every entry goes through [`crate::bundle::copy_entry_data`]
//! (hard cap, actual size and CRC-32 checked against the central directory). Invariants:
//! - names must be UTF-8 [`SafeRelPath`]s without control characters; anything else is refused;
//! - files are created with `create_new` and `O_NOFOLLOW`: an existing path (a duplicate name,
//!   a file where a directory was declared) is a collision, never overwritten;
//! - no link is ever created or followed: entries whose mode says symlink or another special
//!   type are refused; only directories we create ourselves exist under the destination;
//! - modes are ours: `0755` directories, `0644` files, `0755` when the entry has an execute bit;
//!   never setuid, setgid, sticky or world-writable;
//! - total bytes written never exceed `max_total`.
//!
//! Problems with the archive are findings (the caller fails); an error means the extraction
//! could not run (the destination or the bundle could not be read or written).

use std::collections::HashSet;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::bundle::stream::Copier;
use crate::bundle::{Entry, StreamError};
use crate::fsutil::{FsError, IoContext};
use crate::paths::SafeRelPath;
use crate::report::{Finding, FindingCode};

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

/// Stable finding codes of extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractCode {
    /// The name is not a safe relative UTF-8 path.
    UnsafeName,
    /// The entry is a symbolic link.
    Link,
    /// The entry is a FIFO, device, socket or unknown type.
    SpecialFile,
    /// The path already exists (duplicate, or a file where a directory is needed).
    Collision,
    /// The data does not decompress to the declared size and CRC-32.
    DataInvalid,
    /// Extracting the entry would exceed the total size limit.
    OverLimit,
}

impl FindingCode for ExtractCode {
    fn as_str(self) -> &'static str {
        match self {
            Self::UnsafeName => "zip-extract-unsafe-name",
            Self::Link => "zip-extract-link",
            Self::SpecialFile => "zip-extract-special-file",
            Self::Collision => "zip-extract-collision",
            Self::DataInvalid => "zip-extract-data-invalid",
            Self::OverLimit => "zip-extract-over-limit",
        }
    }
    fn all() -> &'static [Self] {
        &[
            Self::UnsafeName,
            Self::Link,
            Self::SpecialFile,
            Self::Collision,
            Self::DataInvalid,
            Self::OverLimit,
        ]
    }
}

/// Extraction could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The destination is not a fresh empty directory.
    #[error("extraction target `{}` is not an empty directory", .0.display())]
    NotEmpty(PathBuf),
    /// Reading the bundle failed.
    #[error(transparent)]
    Read(StreamError),
    /// Writing the destination failed.
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// What was extracted.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    /// Files written.
    pub files: u64,
    /// Directories created.
    pub dirs: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Every problem found.
    pub findings: Vec<Finding>,
}

/// Extract `entries` of the open `bundle` into the empty directory `dest`.
pub fn extract_entries(
    bundle: &mut File,
    entries: &[Entry],
    dest: &Path,
    max_total: u64,
) -> Result<Extracted, ExtractError> {
    if fs::read_dir(dest).ctx("read", dest)?.next().is_some() {
        return Err(ExtractError::NotEmpty(dest.to_path_buf()));
    }
    let mut out = Extracted::default();
    let mut dirs = DirCache {
        builder: DirBuilder::new(),
        made: HashSet::new(),
    };
    dirs.builder.mode(0o755);
    let mut reader = SeqReader::new(bundle);
    let mut copier = Copier::new();
    for entry in entries {
        let shown = super::names::display(&entry.raw_name);
        let Some(path) = checked_path(entry, &shown, &mut out.findings) else {
            continue;
        };
        match entry.unix_mode.map(|m| m & S_IFMT) {
            None | Some(0 | S_IFREG | S_IFDIR) => {}
            Some(S_IFLNK) => {
                out.findings.push(Finding::error(
                    ExtractCode::Link,
                    &shown,
                    "entry is a symbolic link; links are never created",
                ));
                continue;
            }
            Some(t) => {
                out.findings.push(Finding::error(
                    ExtractCode::SpecialFile,
                    &shown,
                    format!(
                        "entry has file type `{t:o}`, which is not a regular file or directory"
                    ),
                ));
                continue;
            }
        }
        if entry.is_dir {
            if entry.uncompressed_size != 0 {
                out.findings.push(Finding::error(
                    ExtractCode::DataInvalid,
                    &shown,
                    format!(
                        "directory entry declares {} bytes of data",
                        entry.uncompressed_size
                    ),
                ));
                continue;
            }
            out.dirs += dirs.make(dest, path.as_str(), &shown, &mut out.findings)?;
            continue;
        }
        if let Some((parent, _)) = path.as_str().rsplit_once('/') {
            let before = out.findings.len();
            out.dirs += dirs.make(dest, parent, &shown, &mut out.findings)?;
            if out.findings.len() != before {
                continue;
            }
        }
        let remaining = max_total.saturating_sub(out.bytes);
        if entry.uncompressed_size > remaining {
            out.findings.push(Finding::error(
                ExtractCode::OverLimit,
                &shown,
                format!(
                    "entry declares {} bytes; only {remaining} of the {max_total}-byte limit remain",
                    entry.uncompressed_size
                ),
            ));
            continue;
        }
        if write_file(
            &mut reader,
            &mut copier,
            entry,
            &path.under(dest),
            &shown,
            &mut out,
        )? {
            out.files += 1;
        }
    }
    Ok(out)
}

/// Create one file with `create_new`, stream its data in, set its mode. `Ok(false)` when a
/// finding was recorded instead.
fn write_file(
    bundle: &mut SeqReader<'_>,
    copier: &mut Copier,
    entry: &Entry,
    target: &Path,
    shown: &str,
    out: &mut Extracted,
) -> Result<bool, ExtractError> {
    let mode = if entry.unix_mode.is_some_and(|m| m & 0o111 != 0) {
        0o755
    } else {
        0o644
    };
    let file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        // The final mode at creation (filtered by the umask, which can only tighten it):
        // one syscall less per entry than a chmod afterwards.
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(target)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            out.findings.push(Finding::error(
                ExtractCode::Collision,
                shown,
                "path already exists in the bundle (duplicate or file/directory clash)",
            ));
            return Ok(false);
        }
        Err(e) => return Err(FsError::new("create", target, e).into()),
    };
    // Written straight to the file: the copier hands over chunks of up to 64 KiB, and a
    // 256 KiB buffer per file cost an mmap/munmap pair per entry.
    let mut sink: &File = &file;
    match copier.copy(bundle, entry, &mut sink, entry.uncompressed_size) {
        Ok(n) => out.bytes += n,
        Err(e @ StreamError::Io { .. }) => return Err(ExtractError::Read(e)),
        Err(e) => {
            out.findings.push(Finding::error(
                ExtractCode::DataInvalid,
                shown,
                e.to_string(),
            ));
            return Ok(false);
        }
    }
    Ok(true)
}

/// The entry's name as a safe relative path (without a directory's trailing `/`).
fn checked_path(entry: &Entry, shown: &str, findings: &mut Vec<Finding>) -> Option<SafeRelPath> {
    let refuse = |findings: &mut Vec<Finding>, why: String| {
        findings.push(Finding::error(ExtractCode::UnsafeName, shown, why));
        None
    };
    let Ok(name) = std::str::from_utf8(&entry.raw_name) else {
        return refuse(findings, "name is not valid UTF-8".to_owned());
    };
    if name.chars().any(char::is_control) {
        return refuse(findings, "name contains a control character".to_owned());
    }
    let name = if entry.is_dir {
        name.strip_suffix('/').unwrap_or(name)
    } else {
        name
    };
    match SafeRelPath::parse(name) {
        Ok(p) => Some(p),
        Err(e) => refuse(findings, format!("unsafe name: {e}")),
    }
}

/// Directories created so far, so each is made once: a bundle of 50,000 files in 1,000
/// folders would otherwise cost two failing `mkdir`s and a `stat` per entry.
struct DirCache {
    builder: DirBuilder,
    made: HashSet<String>,
}

impl DirCache {
    /// Create `rel` and its parents under `dest` (each `0755`); a directory we created before is
    /// fine, anything else already there is a collision. Returns how many were created.
    fn make(
        &mut self,
        dest: &Path,
        rel: &str,
        shown: &str,
        findings: &mut Vec<Finding>,
    ) -> Result<u64, FsError> {
        if self.made.contains(rel) {
            return Ok(0);
        }
        let mut p = dest.to_path_buf();
        let mut made = 0;
        let mut prefix_end = 0;
        for part in rel.split('/') {
            p.push(part);
            prefix_end += part.len();
            let prefix = &rel[..prefix_end];
            prefix_end += 1;
            if self.made.contains(prefix) {
                continue;
            }
            match self.builder.create(&p) {
                Ok(()) => made += 1,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let meta = fs::symlink_metadata(&p).ctx("inspect", &p)?;
                    if !meta.is_dir() {
                        findings.push(Finding::error(
                            ExtractCode::Collision,
                            shown,
                            "a parent directory of this entry is a file in the bundle",
                        ));
                        return Ok(made);
                    }
                }
                Err(e) => return Err(FsError::new("create directory", &p, e)),
            }
            self.made.insert(prefix.to_owned());
        }
        Ok(made)
    }
}

/// A read buffer over the bundle that serves a seek inside the buffered window without a
/// syscall. Entries are read in archive order, so nearly every seek (past a local header to the
/// next entry's data) lands in the window: one large `read` serves many small entries.
struct SeqReader<'a> {
    file: &'a mut File,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    base: u64,
    /// Next byte to serve, and end of valid data, in `buf`.
    pos: usize,
    end: usize,
}

impl<'a> SeqReader<'a> {
    const CAPACITY: usize = 1024 * 1024;

    fn new(file: &'a mut File) -> Self {
        Self {
            file,
            buf: vec![0; Self::CAPACITY],
            base: 0,
            pos: 0,
            end: 0,
        }
    }
}

impl Read for SeqReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.end {
            // Large reads bypass the buffer.
            if out.len() >= self.buf.len() {
                let n = self.file.read(out)?;
                self.base += (self.end + n) as u64;
                self.pos = 0;
                self.end = 0;
                return Ok(n);
            }
            self.base += self.end as u64;
            self.pos = 0;
            self.end = self.file.read(&mut self.buf)?;
        }
        let n = out.len().min(self.end - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Seek for SeqReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let SeekFrom::Start(target) = to else {
            return Err(io::Error::other(
                "SeqReader only seeks from the start (a bug in vaultgate)",
            ));
        };
        if target >= self.base && target <= self.base + self.end as u64 {
            // In the window: `target - base <= end`, which is a usize.
            self.pos = usize::try_from(target - self.base).map_err(io::Error::other)?;
        } else {
            self.file.seek(SeekFrom::Start(target))?;
            self.base = target;
            self.pos = 0;
            self.end = 0;
        }
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_codes_are_pinned() {
        let all: Vec<&str> = ExtractCode::all().iter().map(|c| c.as_str()).collect();
        assert_eq!(
            all,
            [
                "zip-extract-unsafe-name",
                "zip-extract-link",
                "zip-extract-special-file",
                "zip-extract-collision",
                "zip-extract-data-invalid",
                "zip-extract-over-limit",
            ]
        );
    }
}
