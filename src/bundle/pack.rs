//! `zip pack`: clean, byte-reproducible bundles.
//!
//! Contract: the same tree gives the same bytes, whatever the files' mtimes, permissions,
//! owners or creation order. To get there every input that is not content is fixed:
//! - entries are the regular files of the tree, sorted by path bytes, plus a regenerated
//!   `manifest.txt` (covering every packed file except itself; a `manifest.txt` already in the
//!   tree is replaced);
//! - no directory entries: parents are implied by the file paths, so empty directories are
//!   left out (and reported as left out);
//! - every timestamp is `SOURCE_DATE_EPOCH` (validated: decimal seconds, 1980-01-01 to
//!   2107-12-31, rounded down to an even second by the DOS format) or 1980-01-01T00:00:00Z;
//! - modes are `0644`, or `0755` when any execute bit is set on the source, host system Unix;
//! - every entry is Deflate-compressed at level 6, no extra fields, no comments;
//! - the default byproducts (`.git/ target/ __pycache__/ .pytest_cache/ node_modules/ *.pyc
//!   .DS_Store __MACOSX/ ._*`) are left out and reported; symlinks, FIFOs, sockets, devices, non-UTF-8 names
//!   and names with a control character or `\` are refused, each one named.
//!
//! The bundle is written to a temporary file beside the output, fsynced, audited (deep) with
//! [`crate::bundle::audit_file`], and only then renamed into place: a failed pack leaves the
//! output exactly as it was.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipWriter};

use crate::exit::ExitStatus;
use crate::fsutil::{self, FsError, IoContext};
use crate::hash::{self, Sha256Digest, sha256_bytes};
use crate::manifest::{self, ManifestEntry};
use crate::output::{Render, Style, json_object};
use crate::paths::SafeRelPath;
use crate::report::{escape_for_display, indented_list as list};
use crate::walk::{self, ProblemKind, WalkOptions};

/// 1980-01-01T00:00:00Z, the earliest instant a ZIP timestamp can hold.
pub const ZIP_EPOCH: u64 = 315_532_800;
/// 2107-12-31T23:59:59Z, the latest instant a ZIP timestamp can hold.
pub const ZIP_MAX: u64 = 4_354_819_199;
/// Deflate level used for every entry (fixed so the bytes never depend on a default).
const DEFLATE_LEVEL: i64 = 6;

/// Why `zip pack` could not produce a bundle (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// `SOURCE_DATE_EPOCH` is not usable.
    #[error(
        "invalid SOURCE_DATE_EPOCH `{value}`: {reason}\nhelp: set it to whole seconds since 1970 between {ZIP_EPOCH} (1980-01-01) and {ZIP_MAX} (2107-12-31), or unset it for 1980-01-01"
    )]
    BadEpoch {
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The tree is not a directory.
    #[error("`{}` is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// Entries that cannot be packed.
    #[error("refusing to pack `{}`: {} entr{} cannot be packed:{}\nhelp: remove or replace each entry named above", root.display(), items.len(), if items.len() == 1 { "y" } else { "ies" }, list(items))]
    Refused {
        /// The tree.
        root: PathBuf,
        /// `path: reason`, one per refused entry.
        items: Vec<String>,
    },
    /// Nothing to pack.
    #[error("no files to pack under `{}` (after the default excludes)", .0.display())]
    Empty(PathBuf),
    /// A file changed between hashing and packing.
    #[error(
        "`{path}` changed while it was being packed\nhelp: stop whatever writes into the tree and pack again"
    )]
    Changed {
        /// The file.
        path: String,
    },
    /// The zip writer refused something.
    #[error("cannot write ZIP entry `{entry}` to `{}`: {source}", bundle.display())]
    Zip {
        /// The bundle being written.
        bundle: PathBuf,
        /// The entry.
        entry: String,
        /// The writer's error.
        #[source]
        source: zip::result::ZipError,
    },
    /// The freshly written bundle failed its own audit.
    #[error("refusing to leave `{}`: the packed bundle fails its own audit:{}\nhelp: this is a bug in vaultgate unless the tree exceeds the audit limits", bundle.display(), list(findings))]
    SelfAudit {
        /// The output that was not written.
        bundle: PathBuf,
        /// The audit's error findings.
        findings: Vec<String>,
    },
    /// The audit could not run on the freshly written bundle.
    #[error("cannot audit the packed bundle: {0}")]
    Audit(String),
    /// An I/O error on a named file.
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// What to pack and where.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// The tree.
    pub root: PathBuf,
    /// The bundle to write (replaced atomically).
    pub output: PathBuf,
    /// Seconds since the Unix epoch for every entry's timestamp (validated with
    /// [`parse_source_date_epoch`]); `None` means 1980-01-01T00:00:00Z.
    pub epoch: Option<u64>,
}

/// Validate a `SOURCE_DATE_EPOCH` value: ASCII decimal digits only, within the ZIP range.
pub fn parse_source_date_epoch(value: &str) -> Result<u64, PackError> {
    let bad = |reason| PackError::BadEpoch {
        value: escape_for_display(value),
        reason,
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a decimal number of seconds"));
    }
    let secs: u64 = value.parse().map_err(|_| bad("out of range"))?;
    if secs < ZIP_EPOCH {
        return Err(bad("before 1980-01-01, which a ZIP timestamp cannot hold"));
    }
    if secs > ZIP_MAX {
        return Err(bad("after 2107-12-31, which a ZIP timestamp cannot hold"));
    }
    Ok(secs)
}

/// The DOS date-time for `secs` (UTC), which must be in `ZIP_EPOCH..=ZIP_MAX`.
fn dos_time(secs: u64) -> Option<DateTime> {
    let days = i64::try_from(secs / 86_400).ok()?;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    DateTime::from_date_and_time(
        u16::try_from(year).ok()?,
        u8::try_from(month).ok()?,
        u8::try_from(day).ok()?,
        u8::try_from(rem / 3600).ok()?,
        u8::try_from(rem % 3600 / 60).ok()?,
        u8::try_from(rem % 60).ok()?,
    )
    .ok()
}

/// A file that goes into the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedEntry {
    /// Path inside the bundle.
    pub path: String,
    /// Uncompressed size.
    pub size: u64,
    /// Unix mode written (`0o644` or `0o755`).
    pub mode: u32,
}

/// A path of the tree that was deliberately not packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// Relative path (directories end in `/`), escaped for display.
    pub path: String,
    /// Why.
    pub reason: &'static str,
}

/// What `zip pack` wrote.
#[derive(Debug, Clone)]
pub struct PackReport {
    /// The tree.
    pub root: PathBuf,
    /// The bundle written.
    pub output: PathBuf,
    /// Every entry, in bundle order.
    pub entries: Vec<PackedEntry>,
    /// Paths left out, sorted.
    pub left_out: Vec<LeftOut>,
    /// SHA-256 of the bundle file.
    pub bundle_sha256: Sha256Digest,
    /// SHA-256 of the `manifest.txt` inside it (the value `gate --expect-manifest` pins).
    pub manifest_sha256: Sha256Digest,
    /// The timestamp written on every entry (seconds since 1970).
    pub epoch: u64,
}

struct Source {
    rel: String,
    abs: PathBuf,
    executable: bool,
    digest: Sha256Digest,
    len: u64,
}

struct Scan {
    files: Vec<(String, PathBuf, bool)>,
    left_out: Vec<LeftOut>,
    refused: Vec<String>,
}

/// The path of `output` relative to `root`, when it lies inside it.
fn output_inside(root: &Path, output: &Path) -> Option<String> {
    let parent = fsutil::parent_dir(output).canonicalize().ok()?;
    let name = output.file_name()?.to_str()?;
    let dir = parent.strip_prefix(root).ok()?;
    let mut parts: Vec<&str> = dir
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect::<Option<_>>()?;
    parts.push(name);
    Some(parts.join("/"))
}

/// Walk `root` with the shared walk (the default excludes, symlinks refused), then
/// apply what only a bundle needs: names safe to extract anywhere, and the regenerated manifest
/// and the output bundle itself left out.
#[allow(clippy::unnecessary_wraps)] // the walk no longer fails to start; callers kept as they were
fn scan(root: &Path, output_rel: Option<&str>) -> Result<Scan, PackError> {
    let tree = walk::walk(root, &WalkOptions::default());
    let mut out = Scan {
        files: Vec::new(),
        left_out: Vec::new(),
        refused: Vec::new(),
    };
    for p in tree.problems {
        out.refused.push(match p.kind {
            ProblemKind::Symlink => format!("`{}`: symbolic link", p.rel),
            ProblemKind::Special => {
                format!("`{}`: special file (FIFO, socket or device)", p.rel)
            }
            ProblemKind::NonUtf8 => format!("`{}`: name is not valid UTF-8", p.rel),
            ProblemKind::Unreadable(e) => format!("`{}`: cannot be read ({e})", p.rel),
        });
    }
    for (shown, is_dir) in tree.excluded {
        let path = if is_dir { format!("{shown}/") } else { shown };
        out.left_out.push(LeftOut {
            path,
            reason: "default exclude (byproduct)",
        });
    }
    for f in tree.files {
        let shown = escape_for_display(&f.rel);
        let left_out = |reason| LeftOut {
            path: shown.clone(),
            reason,
        };
        if f.rel.chars().any(char::is_control) || SafeRelPath::parse(&f.rel).is_err() {
            out.refused.push(format!(
                "`{shown}`: name contains a control character or `\\`"
            ));
        } else if f.rel == manifest::MANIFEST_NAME {
            out.left_out.push(left_out(
                "this copy is not packed: the bundle gets a new manifest.txt listing exactly the packed files",
            ));
        } else if is_apple_double(&f.rel) {
            out.left_out.push(left_out(
                "macOS Finder metadata (`__MACOSX/`, `._*` AppleDouble file), a byproduct",
            ));
        } else if output_rel == Some(f.rel.as_str()) {
            out.left_out.push(left_out("the output bundle itself"));
        } else {
            out.files.push((f.rel, f.abs, f.mode & 0o111 != 0));
        }
    }
    finish_scan(&mut out, tree.dirs);
    Ok(out)
}

/// `__MACOSX/…` or a `._name` AppleDouble file anywhere: what macOS Finder leaves beside every
/// file it copies or archives (the audit refuses them as `zip-byproduct`).
fn is_apple_double(rel: &str) -> bool {
    rel.split('/')
        .any(|c| c == "__MACOSX" || (c.starts_with("._") && c.len() > 2))
}

/// Report directories with nothing packed below them (there are no directory entries), and
/// sort everything.
fn finish_scan(out: &mut Scan, dirs: Vec<String>) {
    for d in dirs {
        let prefix = format!("{d}/");
        if !out.files.iter().any(|(r, _, _)| r.starts_with(&prefix)) {
            out.left_out.push(LeftOut {
                path: format!("{}/", escape_for_display(&d)),
                reason: "directory with nothing packed in it (no directory entries)",
            });
        }
    }
    out.files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.left_out
        .sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    out.refused.sort();
}

/// A reader that hashes what passes through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// Pack `opts.root` into `opts.output`.
pub fn pack(opts: &PackOptions) -> Result<PackReport, PackError> {
    let epoch = opts.epoch.unwrap_or(ZIP_EPOCH);
    let mtime = dos_time(epoch).ok_or_else(|| PackError::BadEpoch {
        value: epoch.to_string(),
        reason: "outside the range a ZIP timestamp can hold",
    })?;
    if !opts.root.is_dir() {
        return Err(PackError::NotADirectory(opts.root.clone()));
    }
    let root = opts.root.canonicalize().ctx("resolve", &opts.root)?;
    let output_rel = output_inside(&root, &opts.output);
    let scanned = scan(&root, output_rel.as_deref())?;
    if !scanned.refused.is_empty() {
        return Err(PackError::Refused {
            root: opts.root.clone(),
            items: scanned.refused,
        });
    }
    if scanned.files.is_empty() {
        return Err(PackError::Empty(opts.root.clone()));
    }
    let mut buf = vec![0u8; hash::CHUNK];
    let mut sources = Vec::with_capacity(scanned.files.len());
    for (rel, abs, executable) in scanned.files {
        let mut f = fsutil::open(&abs)?;
        let (digest, len) = hash::sha256_reader_with(&mut f, &mut buf).ctx("read", &abs)?;
        sources.push(Source {
            rel,
            abs,
            executable,
            digest,
            len,
        });
    }
    let manifest_entries: Vec<ManifestEntry> = sources
        .iter()
        .map(|s| ManifestEntry {
            path: s.rel.clone(),
            digest: s.digest,
        })
        .collect();
    let manifest_bytes = manifest::render(&manifest_entries);
    let manifest_sha256 = sha256_bytes(&manifest_bytes);

    let dir = fsutil::parent_dir(&opts.output);
    let tmp = tempfile::Builder::new()
        .prefix(".vaultgate-pack-")
        .tempfile_in(dir)
        .ctx("create a temporary file in", dir)?;
    let entries = write_zip(
        tmp.as_file(),
        &opts.output,
        &sources,
        &manifest_bytes,
        mtime,
    )?;
    tmp.as_file().sync_all().ctx("fsync", tmp.path())?;

    // Refuse to leave a bundle that fails our own audit: the full deep audit first, then a
    // read-back through the `zip` crate as a second opinion.
    let audit = crate::bundle::audit_file(
        tmp.path(),
        &crate::bundle::AuditOptions {
            deep: true,
            ..crate::bundle::AuditOptions::default()
        },
    )
    .map_err(|e| PackError::Audit(e.to_string()))?;
    if !crate::report::all_clear(&audit.findings) {
        return Err(PackError::SelfAudit {
            bundle: opts.output.clone(),
            findings: audit
                .findings
                .iter()
                .filter(|f| f.severity == crate::report::Severity::Error)
                .map(|f| format!("{} `{}`: {}", f.code, f.subject, f.message))
                .collect(),
        });
    }
    self_audit(tmp.path(), &opts.output, &entries)?;
    let bundle_sha256 = hash::sha256_file(tmp.path())?;
    // Make the file readable like any release artifact (tempfile creates it 0600).
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644))
        .ctx("set permissions on", tmp.path())?;
    tmp.persist(&opts.output)
        .map_err(|e| FsError::new("rename into place", &opts.output, e.error))?;
    fsutil::fsync_dir(dir)?;
    Ok(PackReport {
        root: opts.root.clone(),
        output: opts.output.clone(),
        entries,
        left_out: scanned.left_out,
        bundle_sha256,
        manifest_sha256,
        epoch,
    })
}

/// Read the written bundle back before it is renamed into place: the names, in order, must
/// be exactly what was written and every entry must decompress to its size with a valid CRC.
fn self_audit(tmp: &Path, bundle: &Path, written: &[PackedEntry]) -> Result<(), PackError> {
    let fail = |msg: String| PackError::SelfAudit {
        bundle: bundle.to_path_buf(),
        findings: vec![msg],
    };
    let file = fsutil::open(tmp)?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| fail(format!("unreadable: {e}")))?;
    if archive.len() != written.len() {
        return Err(fail(format!(
            "{} entries read back, {} written",
            archive.len(),
            written.len()
        )));
    }
    for (i, w) in written.iter().enumerate() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| fail(format!("entry {i}: {e}")))?;
        if entry.name_raw() != w.path.as_bytes() || entry.size() != w.size {
            return Err(fail(format!("entry {i} is not `{}` as written", w.path)));
        }
        // Reading to the end makes the reader check the CRC-32.
        let n = io::copy(&mut entry, &mut io::sink())
            .map_err(|e| fail(format!("`{}`: {e}", w.path)))?;
        if n != w.size {
            return Err(fail(format!("`{}` decompresses to {n} bytes", w.path)));
        }
    }
    Ok(())
}

fn write_zip(
    file: &File,
    bundle: &Path,
    sources: &[Source],
    manifest_bytes: &[u8],
    mtime: DateTime,
) -> Result<Vec<PackedEntry>, PackError> {
    let zerr = |entry: &str| {
        let entry = entry.to_owned();
        move |source| PackError::Zip {
            bundle: bundle.to_path_buf(),
            entry,
            source,
        }
    };
    let base = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        .last_modified_time(mtime)
        .system(System::Unix);
    let mut zw = ZipWriter::new(BufWriter::new(file));
    let mut entries = Vec::with_capacity(sources.len() + 1);
    let mut manifest_written = false;
    let write_manifest = |zw: &mut ZipWriter<BufWriter<&File>>| -> Result<PackedEntry, PackError> {
        zw.start_file(manifest::MANIFEST_NAME, base.unix_permissions(0o644))
            .map_err(zerr(manifest::MANIFEST_NAME))?;
        zw.write_all(manifest_bytes).ctx("write", bundle)?;
        Ok(PackedEntry {
            path: manifest::MANIFEST_NAME.to_owned(),
            size: manifest_bytes.len() as u64,
            mode: 0o644,
        })
    };
    for s in sources {
        if !manifest_written && manifest::MANIFEST_NAME.as_bytes() < s.rel.as_bytes() {
            entries.push(write_manifest(&mut zw)?);
            manifest_written = true;
        }
        let mode = if s.executable { 0o755 } else { 0o644 };
        let opts = base
            .unix_permissions(mode)
            .large_file(s.len >= u64::from(u32::MAX));
        zw.start_file(s.rel.as_str(), opts).map_err(zerr(&s.rel))?;
        let mut reader = HashingReader {
            inner: fsutil::open(&s.abs)?,
            hasher: Sha256::new(),
            len: 0,
        };
        io::copy(&mut reader, &mut zw).ctx("pack", &s.abs)?;
        if Sha256Digest(reader.hasher.finalize().into()) != s.digest || reader.len != s.len {
            return Err(PackError::Changed {
                path: escape_for_display(&s.rel),
            });
        }
        entries.push(PackedEntry {
            path: s.rel.clone(),
            size: s.len,
            mode,
        });
    }
    if !manifest_written {
        entries.push(write_manifest(&mut zw)?);
    }
    let mut w = zw.finish().map_err(zerr("(central directory)"))?;
    w.flush().ctx("write", bundle)?;
    Ok(entries)
}

impl Render for PackReport {
    crate::render_head!("vaultgate/zip-pack/v1", crate::output::passes);

    fn to_json(&self) -> Map<String, Value> {
        json_object(json!({
            "root": self.root.display().to_string(),
            "bundle": self.output.display().to_string(),
            "bundle_sha256": self.bundle_sha256.to_hex(),
            "manifest_sha256": self.manifest_sha256.to_hex(),
            "source_date_epoch": self.epoch,
            "entries": self.entries.iter().map(|e| json!({
                "path": e.path, "size": e.size, "mode": format!("{:04o}", e.mode),
            })).collect::<Vec<_>>(),
            "left_out": self.left_out.iter().map(|l| json!({
                "path": l.path, "reason": l.reason,
            })).collect::<Vec<_>>(),
            "summary": {"entries": self.entries.len(), "left_out": self.left_out.len()},
        }))
    }

    fn render_text(&self, style: &Style) -> String {
        let mut s = String::new();
        for l in &self.left_out {
            s.push_str(&format!("left out  {}  ({})\n", l.path, l.reason));
        }
        s.push_str(&format!(
            "packed {} entries from `{}` into `{}`\n",
            self.entries.len(),
            self.root.display(),
            self.output.display()
        ));
        s.push_str(&format!("bundle sha256:   {}\n", self.bundle_sha256));
        s.push_str(&format!("manifest sha256: {}\n", self.manifest_sha256));
        s.push_str(&style.verdict(ExitStatus::Pass));
        s.push('\n');
        s
    }

    fn summary_line(&self) -> String {
        format!(
            "packed {} entries into `{}`",
            self.entries.len(),
            self.output.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_date_epoch_is_validated() {
        assert_eq!(parse_source_date_epoch("315532800").unwrap(), ZIP_EPOCH);
        for bad in [
            "",
            "-1",
            "0",
            "1e9",
            " 315532800",
            "315532799",
            "99999999999999999999",
        ] {
            assert!(parse_source_date_epoch(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_source_date_epoch(&(ZIP_MAX + 1).to_string()).is_err());
        assert!(parse_source_date_epoch(&ZIP_MAX.to_string()).is_ok());
    }

    #[test]
    fn dos_time_converts_utc_civil_dates() {
        let t = dos_time(ZIP_EPOCH).unwrap();
        assert_eq!((t.year(), t.month(), t.day(), t.hour()), (1980, 1, 1, 0));
        // 2024-02-29T12:34:56Z
        let t = dos_time(1_709_210_096).unwrap();
        assert_eq!(
            (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            (2024, 2, 29, 12, 34, 56)
        );
        let t = dos_time(ZIP_MAX).unwrap();
        assert_eq!((t.year(), t.month(), t.day()), (2107, 12, 31));
    }
}
