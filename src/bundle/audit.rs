//! `vaultgate zip audit`: run the structure reader, then every rule, and collect all findings.
//!
//! Contract: [`audit_file`] returns `Err` only when the audit could not run (the file cannot be
//! opened or read); anything wrong with the archive, including "this is not a ZIP", is a
//! finding. The verdict is `Pass` only with zero error findings. Nothing is decompressed unless
//! `deep` is set, and then only as a stream into `io::sink()`, bounded by the limits.

use std::collections::HashMap;
use std::io::{self, Read, Seek};
use std::path::Path;

use super::codes::ZipCode;
use super::error::{BundleError, StreamError};
use super::names;
use super::stream::{Prober, copy_data};
use super::structure::{Entry, Layout, read_structure};
use crate::fsutil::{self, IoContext};
use crate::report::{Finding, escape_bytes_for_display};

/// Limits and switches of an audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// Most entries an archive may declare (default 100,000).
    pub max_entries: u64,
    /// Most total uncompressed bytes, declared and (with `deep`) actual (default 4 GiB).
    pub max_total_size: u64,
    /// Highest declared uncompressed/compressed ratio of one entry (default 1,000).
    pub max_ratio: u64,
    /// Longest entry name in bytes (default 1,024).
    pub max_name_len: usize,
    /// Do not report build byproducts (`__pycache__/`, `.git/`, …).
    pub allow_byproducts: bool,
    /// Also decompress every entry as a stream and check actual sizes and CRCs.
    pub deep: bool,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_total_size: 4 << 30,
            max_ratio: 1_000,
            max_name_len: 1_024,
            allow_byproducts: false,
            deep: false,
        }
    }
}

/// The result of one audit.
#[derive(Debug, Clone)]
pub struct AuditReport {
    /// The archive, as given, for display.
    pub archive: String,
    /// Every finding, archive-level first then in the order found.
    pub findings: Vec<Finding>,
    /// For each finding (same index), the entry it is about, if any.
    pub finding_entries: Vec<Option<usize>>,
    /// Entries in central-directory order.
    pub entries: Vec<Entry>,
    /// Where the records are (absent when no end record was found).
    pub layout: Option<Layout>,
    /// The options the audit ran with.
    pub options: AuditOptions,
}

impl AuditReport {
    /// The findings with the entry each is about.
    pub fn located(&self) -> impl Iterator<Item = (Option<usize>, &Finding)> {
        self.finding_entries
            .iter()
            .copied()
            .zip(self.findings.iter())
    }

    /// `true` when no finding is an error.
    pub fn passed(&self) -> bool {
        crate::report::all_clear(&self.findings)
    }

    fn push(&mut self, code: ZipCode, entry: Option<usize>, message: String) {
        let subject = match entry.and_then(|i| self.entries.get(i)) {
            Some(e) => escape_bytes_for_display(&e.raw_name),
            None => "archive".to_owned(),
        };
        self.findings.push(Finding::error(code, subject, message));
        self.finding_entries.push(entry);
    }
}

/// Audit the archive at `path`.
pub fn audit_file(path: &Path, opts: &AuditOptions) -> Result<AuditReport, BundleError> {
    let mut file = fsutil::open(path)?;
    let meta = file.metadata().ctx("inspect", path)?;
    if !meta.is_file() {
        return Err(
            fsutil::FsError::new("audit", path, io::Error::other("not a regular file")).into(),
        );
    }
    audit_reader(&mut file, meta.len(), opts, &path.display().to_string()).map_err(
        |(what, source)| BundleError::Read {
            path: path.to_path_buf(),
            what,
            source,
        },
    )
}

/// Audit an archive held in memory (the fuzz target's entry point). Never fails: an I/O error
/// on a slice is impossible, and would be reported as a `zip-malformed` finding.
pub fn audit_bytes(data: &[u8], opts: &AuditOptions) -> AuditReport {
    match audit_reader(
        &mut io::Cursor::new(data),
        data.len() as u64,
        opts,
        "<memory>",
    ) {
        Ok(r) => r,
        Err((what, e)) => {
            let mut r = empty_report("<memory>", opts);
            r.push(
                ZipCode::Malformed,
                None,
                format!("reading {what} failed: {e}"),
            );
            r
        }
    }
}

fn empty_report(archive: &str, opts: &AuditOptions) -> AuditReport {
    AuditReport {
        archive: archive.to_owned(),
        findings: Vec::new(),
        finding_entries: Vec::new(),
        entries: Vec::new(),
        layout: None,
        options: opts.clone(),
    }
}

/// Audit any seekable reader of `size` bytes. `Err` carries what was being read.
pub fn audit_reader<R: Read + Seek>(
    reader: &mut R,
    size: u64,
    opts: &AuditOptions,
    archive: &str,
) -> Result<AuditReport, (String, io::Error)> {
    let reader = &mut super::seekbuf::SeekBuf::new(reader, size);
    let st = read_structure(&mut *reader, size, opts.max_entries, opts.max_name_len)
        .map_err(|e| ("the zip structure".to_owned(), e))?;
    let mut report = empty_report(archive, opts);
    report.entries = st.entries;
    report.layout = st.layout;
    for issue in st.issues {
        if issue.warning {
            report
                .findings
                .push(Finding::warning(issue.code, "archive", issue.message));
            report.finding_entries.push(None);
        } else {
            report.push(issue.code, issue.entry, issue.message);
        }
    }
    entry_rules(&mut report);
    collisions(&mut report);
    totals(&mut report);
    if opts.deep {
        deep(&mut report, reader)?;
    } else {
        probe(&mut report, reader)?;
    }
    if report.findings.is_empty() {
        second_opinion(&mut report, reader);
    }
    Ok(report)
}

/// Rules about one entry at a time: name, type, content, byproducts.
fn entry_rules(report: &mut AuditReport) {
    let opts = report.options.clone();
    for i in 0..report.entries.len() {
        let e = &report.entries[i];
        let mut found: Vec<(ZipCode, String)> = Vec::new();
        if e.name_len > e.raw_name.len() {
            // Only a prefix was kept (memory bound); the other name rules need the whole name.
            found.push((
                ZipCode::NameTooLong,
                format!(
                    "name is {} bytes, over the limit of {}",
                    e.name_len, opts.max_name_len
                ),
            ));
        } else {
            found.extend(names::check_name(
                &e.raw_name,
                e.flags & 0x0800 != 0,
                opts.max_name_len,
            ));
        }
        type_rules(e, &mut found);
        content_rules(e, &opts, &mut found);
        if let Some(what) = byproduct(&e.name, e.is_dir).filter(|_| !opts.allow_byproducts) {
            found.push((
                ZipCode::Byproduct,
                format!("`{what}` is a build byproduct and does not belong in a bundle"),
            ));
        }
        for (code, message) in found {
            report.push(code, Some(i), message);
        }
    }
}

fn type_rules(e: &Entry, found: &mut Vec<(ZipCode, String)>) {
    if let Some(mode) = e.unix_mode {
        let kind = mode & 0o170_000;
        match kind {
            0 | 0o040_000 | 0o100_000 if (kind == 0o040_000) == e.is_dir || kind == 0 => {}
            0o120_000 => found.push((
                ZipCode::Symlink,
                format!("entry is a symbolic link (mode `{mode:o}`)"),
            )),
            0o040_000 if !e.is_dir => found.push((
                ZipCode::TypeMismatch,
                format!("mode `{mode:o}` says directory but the name does not end with `/`"),
            )),
            0o100_000 if e.is_dir => found.push((
                ZipCode::TypeMismatch,
                format!("mode `{mode:o}` says regular file but the name ends with `/`"),
            )),
            _ => found.push((
                ZipCode::SpecialFile,
                format!("entry is not a regular file or directory (mode `{mode:o}`): only files and directories are allowed"),
            )),
        }
    }
    if e.has_link_extra {
        found.push((
            ZipCode::HardLink,
            "entry carries link data in a pkware unix extra field 0x000d (a hard or symbolic link)"
                .into(),
        ));
    }
    if e.is_dir && (e.uncompressed_size > 0 || (e.method == 0 && e.compressed_size > 0)) {
        found.push((
            ZipCode::DirWithData,
            format!(
                "directory entry carries {} bytes of data",
                e.uncompressed_size.max(e.compressed_size)
            ),
        ));
    }
}

/// Bits 0 (encrypted), 6 (strong encryption), 13 (masked central directory).
const ENCRYPTION_FLAGS: u16 = 0x0001 | 0x0040 | 0x2000;
/// Bits 1–2 (deflate options), 3 (data descriptor), 11 (UTF-8) are understood.
const KNOWN_FLAGS: u16 = ENCRYPTION_FLAGS | 0x0002 | 0x0004 | 0x0008 | 0x0800;

fn content_rules(e: &Entry, opts: &AuditOptions, found: &mut Vec<(ZipCode, String)>) {
    let encrypted = e.flags & ENCRYPTION_FLAGS != 0
        || e.method == 99
        || e.extra_ids.iter().any(|id| matches!(id, 0x0017 | 0x9901));
    if encrypted {
        found.push((
            ZipCode::Encrypted,
            "entry is encrypted; its content cannot be verified".into(),
        ));
    }
    if e.flags & !KNOWN_FLAGS != 0 {
        found.push((
            ZipCode::UnknownFlags,
            format!(
                "general-purpose flags `0x{:04x}` include bits this reader does not understand",
                e.flags
            ),
        ));
    }
    if !matches!(e.method, 0 | 8) {
        found.push((
            ZipCode::UnsupportedMethod,
            format!(
                "compression method `{}` ({}) is not stored (0) or deflate (8)",
                e.method,
                method_name(e.method)
            ),
        ));
    }
    if e.method == 0 && !encrypted && e.compressed_size != e.uncompressed_size {
        found.push((
            ZipCode::StoredSizeMismatch,
            format!(
                "stored entry declares compressed size `{}` but uncompressed size `{}`",
                e.compressed_size, e.uncompressed_size
            ),
        ));
    }
    let limit = u128::from(opts.max_ratio) * u128::from(e.compressed_size.max(1));
    if u128::from(e.uncompressed_size) > limit {
        found.push((
            ZipCode::RatioExceeded,
            format!(
                "declares {} bytes from {} compressed bytes, a ratio over the limit of {}",
                e.uncompressed_size, e.compressed_size, opts.max_ratio
            ),
        ));
    }
}

fn method_name(m: u16) -> &'static str {
    match m {
        1 => "shrink",
        2..=5 => "reduce",
        6 => "implode",
        9 => "deflate64",
        12 => "bzip2",
        14 => "lzma",
        93 => "zstandard",
        95 => "xz",
        98 => "ppmd",
        99 => "winzip aes",
        _ => "unknown",
    }
}

/// A byproduct component or file name in `name`, if any.
fn byproduct(name: &str, is_dir: bool) -> Option<String> {
    let comps: Vec<&str> = name.split('/').filter(|c| !c.is_empty()).collect();
    for (k, comp) in comps.iter().enumerate() {
        // A component is a directory when it is not the last one, or the entry is a directory.
        let dir = k + 1 < comps.len() || is_dir;
        let hit = matches!(*comp, "__pycache__" | ".pytest_cache" | ".git")
            || (dir && matches!(*comp, "target" | "node_modules"))
            || *comp == ".DS_Store"
            || (!dir
                && Path::new(comp)
                    .extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("pyc")));
        if hit {
            return Some(crate::report::escape_for_display(comp));
        }
    }
    None
}

/// Duplicates, normalisation, Unicode and case collisions, and files that are also parents.
fn collisions(report: &mut AuditReport) {
    let mut exact: HashMap<&[u8], usize> = HashMap::new();
    let mut norm: HashMap<String, usize> = HashMap::new();
    let mut nfc: HashMap<String, usize> = HashMap::new();
    let mut fold: HashMap<String, usize> = HashMap::new();
    let mut files: HashMap<String, usize> = HashMap::new();
    let mut folded: Vec<Option<String>> = Vec::with_capacity(report.entries.len());
    let mut found: Vec<(ZipCode, usize, String)> = Vec::new();
    for e in &report.entries {
        let Ok(name) = std::str::from_utf8(&e.raw_name) else {
            folded.push(None);
            continue;
        };
        if e.name_len > e.raw_name.len() {
            // Only a prefix was kept: comparing it would invent collisions.
            folded.push(None);
            continue;
        }
        let n = names::normalized(name);
        if n.is_empty() {
            folded.push(None);
            continue;
        }
        let (c, f) = if n.is_ascii() {
            let lower = n.to_ascii_lowercase();
            (n.clone(), lower)
        } else {
            let c = names::nfc_key(&n);
            let f = names::fold_key(&c);
            (c, f)
        };
        let other = |j: usize, what: &str| {
            (
                e.index,
                format!(
                    "{what} entry {j} `{}`",
                    escape_bytes_for_display(&report.entries[j].raw_name)
                ),
            )
        };
        let hit = if let Some(&j) = exact.get(e.raw_name.as_slice()) {
            Some((ZipCode::DuplicateName, other(j, "duplicates")))
        } else if let Some(&j) = norm.get(&n) {
            Some((
                ZipCode::DuplicateNormalized,
                other(j, "after normalisation is the same path as"),
            ))
        } else if let Some(&j) = nfc.get(&c) {
            Some((
                ZipCode::UnicodeCollision,
                other(j, "after unicode nfc normalisation is the same path as"),
            ))
        } else if let Some(&j) = fold.get(&f) {
            Some((
                ZipCode::CaseCollision,
                other(j, "ignoring case is the same path as"),
            ))
        } else {
            None
        };
        if let Some((code, (i, msg))) = hit {
            found.push((code, i, msg));
        }
        exact.entry(&e.raw_name).or_insert(e.index);
        norm.entry(n).or_insert(e.index);
        nfc.entry(c).or_insert(e.index);
        if !e.is_dir {
            files.entry(f.clone()).or_insert(e.index);
        }
        fold.entry(f.clone()).or_insert(e.index);
        folded.push(Some(f));
    }
    let mut parents_reported = std::collections::HashSet::new();
    for (i, key) in folded.iter().enumerate() {
        let Some(key) = key else { continue };
        for (pos, _) in key.match_indices('/') {
            if let Some(&file) = files.get(&key[..pos])
                && parents_reported.insert(file)
            {
                found.push((
                    ZipCode::FileIsParent,
                    file,
                    format!(
                        "is a regular file but entry {i} `{}` needs it to be a directory",
                        escape_bytes_for_display(&report.entries[i].raw_name)
                    ),
                ));
            }
        }
    }
    for (code, i, msg) in found {
        report.push(code, Some(i), msg);
    }
}

/// Archive-wide limits on declared sizes.
fn totals(report: &mut AuditReport) {
    let total: u128 = report
        .entries
        .iter()
        .map(|e| u128::from(e.uncompressed_size))
        .sum();
    let max = report.options.max_total_size;
    if total > u128::from(max) {
        report.push(
            ZipCode::TotalSizeExceeded,
            None,
            format!("entries declare {total} uncompressed bytes in total, over the limit of {max}"),
        );
    }
}

/// `--deep`: stream every entry whose bounds were verified into a sink.
fn deep<R: Read + Seek>(
    report: &mut AuditReport,
    reader: &mut R,
) -> Result<(), (String, io::Error)> {
    let mut remaining = report.options.max_total_size;
    let mut found = Vec::new();
    for e in &report.entries {
        let encrypted = e.flags & ENCRYPTION_FLAGS != 0;
        if !e.local_ok || encrypted || !matches!(e.method, 0 | 8) {
            continue;
        }
        match copy_data(reader, e, &mut io::sink(), remaining) {
            Ok(n) => remaining -= n,
            Err(StreamError::Io { entry, source }) => return Err((format!("`{entry}`"), source)),
            Err(err) => {
                let code = match &err {
                    StreamError::SizeMismatch { .. } => ZipCode::DataSizeMismatch,
                    StreamError::CrcMismatch { .. } => ZipCode::DataCrcMismatch,
                    StreamError::OverCap { .. } => ZipCode::DataOverLimit,
                    _ => ZipCode::DataCorrupt,
                };
                found.push((code, e.index, err.to_string()));
                if code == ZipCode::DataOverLimit {
                    break;
                }
            }
        }
    }
    for (code, i, msg) in found {
        report.push(code, Some(i), msg);
    }
    Ok(())
}

/// Without `--deep`: decode the start of every deflate stream (its first block header, where
/// a corrupt code-lengths table shows), reading at most a few KiB per entry.
fn probe<R: Read + Seek>(
    report: &mut AuditReport,
    reader: &mut R,
) -> Result<(), (String, io::Error)> {
    let mut found = Vec::new();
    let mut prober = Prober::new();
    for e in &report.entries {
        if !e.local_ok || e.method != 8 || e.flags & ENCRYPTION_FLAGS != 0 {
            continue;
        }
        match prober.probe(reader, e) {
            Ok(()) => {}
            Err(StreamError::Io { entry, source }) => return Err((format!("`{entry}`"), source)),
            Err(err) => found.push((ZipCode::DataCorrupt, e.index, err.to_string())),
        }
    }
    for (code, i, msg) in found {
        report.push(code, Some(i), msg);
    }
    Ok(())
}

/// The `zip` crate re-reads an archive this reader found clean; if it disagrees, fail closed.
fn second_opinion<R: Read + Seek>(report: &mut AuditReport, reader: &mut R) {
    let verdict = zip::ZipArchive::new(&mut *reader).and_then(|mut a| {
        if a.len() == report.entries.len() {
            a.validate_header_consistency()
        } else {
            Err(zip::result::ZipError::InvalidArchive(
                format!(
                    "it counts {} entries, this reader {}",
                    a.len(),
                    report.entries.len()
                )
                .into(),
            ))
        }
    });
    if let Err(e) = verdict {
        report.push(
            ZipCode::SecondOpinion,
            None,
            format!("the zip crate refuses this archive: {e}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{E, build, extra};
    use super::*;

    fn codes_with(entries: &[E], opts: &AuditOptions) -> Vec<&'static str> {
        audit_bytes(&build(entries), opts)
            .findings
            .iter()
            .map(|f| f.code)
            .collect()
    }

    fn codes(entries: &[E]) -> Vec<&'static str> {
        codes_with(entries, &AuditOptions::default())
    }

    fn has(entries: &[E], code: &str) {
        let got = codes(entries);
        assert!(got.contains(&code), "expected `{code}`, got {got:?}");
    }

    fn deep() -> AuditOptions {
        AuditOptions {
            deep: true,
            ..AuditOptions::default()
        }
    }

    #[test]
    fn names_are_checked_through_the_audit() {
        has(&[E::stored("../../etc/passwd", b"x")], "zip-path-traversal");
        has(&[E::stored("", b"")], "zip-name-empty");
        let r = audit_bytes(
            &build(&[E::stored("a\x1b[2Jb", b"")]),
            &AuditOptions::default(),
        );
        assert_eq!(r.finding_entries, vec![Some(0)]);
        assert_eq!(r.findings[0].subject, "a\\u{1b}[2Jb");
        let r = audit_bytes(
            &build(&[E::stored("a\x1bb", b"")]),
            &AuditOptions::default(),
        );
        assert_eq!(r.findings[0].code, "zip-name-control-char");
        assert_eq!(r.findings[0].subject, "a\\u{1b}b");
        // Valid UTF-8 without the 0x800 flag is fine; invalid bytes are not.
        assert!(codes(&[E::stored("世界", b"")]).is_empty());
        has(&[E::stored(b"\x93\xfa\x96\x7b", b"")], "zip-name-encoding");
        let long = "a/".repeat(600) + "x";
        has(&[E::stored(long, b"")], "zip-name-too-long");
    }

    #[test]
    fn duplicates_and_collisions_are_found() {
        has(
            &[E::stored("a", b""), E::stored("a", b"")],
            "zip-duplicate-name",
        );
        has(
            &[E::stored("lib/x", b""), E::stored("lib//./x", b"")],
            "zip-duplicate-normalized",
        );
        has(
            &[E::stored("a/b", b""), E::dir("a/b/")],
            "zip-duplicate-normalized",
        );
        has(
            &[E::stored("caf\u{e9}", b""), E::stored("cafe\u{301}", b"")],
            "zip-unicode-collision",
        );
        has(
            &[E::stored("README", b""), E::stored("readme", b"")],
            "zip-case-collision",
        );
        has(
            &[E::stored("a/b", b""), E::stored("a/b/c", b"")],
            "zip-file-is-parent",
        );
        has(
            &[E::stored("A", b""), E::stored("a/c", b"")],
            "zip-file-is-parent",
        );
        assert!(codes(&[E::dir("a/"), E::stored("a/b", b""), E::stored("a/c", b"")]).is_empty());
    }

    #[test]
    fn only_regular_files_and_directories_are_allowed() {
        has(
            &[E::stored("l", b"../target").mode(0o120_777)],
            "zip-symlink",
        );
        // Whatever the "made by" host says.
        let mut e = E::stored("l", b"../target").mode(0o120_777);
        e.made_by = 0x0014;
        has(&[e], "zip-symlink");
        has(&[E::stored("p", b"").mode(0o010_644)], "zip-special-file");
        has(&[E::stored("d", b"").mode(0o060_644)], "zip-special-file");
        let mut e = E::stored("h", b"");
        e.cextra = extra(0x000d, b"012345678901target");
        has(&[e], "zip-hard-link");
        has(&[E::stored("d", b"").mode(0o040_755)], "zip-type-mismatch");
        has(
            &[E::stored("d/", b"data").mode(0o040_755)],
            "zip-dir-with-data",
        );
    }

    #[test]
    fn content_rules() {
        let mut e = E::stored("a", b"x");
        e.flags = 1;
        has(&[e], "zip-encrypted");
        let mut e = E::stored("a", b"x");
        e.method = 12;
        has(&[e], "zip-unsupported-method");
        let mut e = E::stored("a", b"x");
        e.flags = 0x0020;
        has(&[e], "zip-unknown-flags");
        let mut e = E::stored("a", b"xyz");
        e.usize = 2;
        has(&[e], "zip-stored-size-mismatch");
        has(
            &[E::deflated("z", vec![0u8; 1 << 20])],
            "zip-ratio-exceeded",
        );
        let opts = AuditOptions {
            max_ratio: 10_000,
            ..AuditOptions::default()
        };
        assert!(codes_with(&[E::deflated("z", vec![0u8; 1 << 20])], &opts).is_empty());
    }

    #[test]
    fn limits_apply() {
        let three = [
            E::stored("a", b"12345"),
            E::stored("b", b"12345"),
            E::stored("c", b"1"),
        ];
        let opts = AuditOptions {
            max_entries: 2,
            ..AuditOptions::default()
        };
        assert_eq!(codes_with(&three, &opts), ["zip-too-many-entries"]);
        let opts = AuditOptions {
            max_total_size: 10,
            ..AuditOptions::default()
        };
        assert_eq!(codes_with(&three, &opts), ["zip-total-size-exceeded"]);
        let opts = AuditOptions {
            max_name_len: 0,
            ..AuditOptions::default()
        };
        assert!(codes_with(&three, &opts).contains(&"zip-name-too-long"));
    }

    #[test]
    fn byproducts_fail_unless_allowed() {
        let e = [E::dir("__pycache__/"), E::stored("__pycache__/m.pyc", b"")];
        has(&e, "zip-byproduct");
        let opts = AuditOptions {
            allow_byproducts: true,
            ..AuditOptions::default()
        };
        assert!(codes_with(&e, &opts).is_empty());
    }

    #[test]
    fn deep_checks_actual_data() {
        let mut e = E::deflated("a", b"hello hello hello");
        e.crc ^= 1;
        assert_eq!(codes_with(&[e.clone()], &deep()), ["zip-data-crc-mismatch"]);
        // Without --deep the CRC is not computed.
        assert!(codes(&[e]).is_empty());
        let mut e = E::deflated("a", b"hello hello hello");
        e.usize += 1;
        assert_eq!(codes_with(&[e], &deep()), ["zip-data-size-mismatch"]);
        let mut e = E::deflated("a", b"hello hello hello");
        e.data.extend_from_slice(b"junk");
        assert_eq!(codes_with(&[e], &deep()), ["zip-data-corrupt"]);
        let opts = AuditOptions {
            max_total_size: 100,
            deep: true,
            ..AuditOptions::default()
        };
        let mut e = E::deflated("a", vec![7u8; 5000]);
        e.usize = 50;
        let got = codes_with(&[e], &opts);
        assert!(
            got.contains(&"zip-data-over-limit") || got.contains(&"zip-data-size-mismatch"),
            "{got:?}"
        );
        let mut e = E::deflated("a", vec![7u8; 5000]);
        e.usize = 50;
        let opts = AuditOptions {
            max_total_size: 10,
            deep: true,
            max_ratio: 10_000,
            ..AuditOptions::default()
        };
        assert!(codes_with(&[e], &opts).contains(&"zip-data-over-limit"));
        // A corrupt block header is found even without --deep.
        let mut e = E::deflated("a", b"x");
        e.data = vec![0xff; 32];
        assert_eq!(codes(&[e]), ["zip-data-corrupt"]);
    }

    #[test]
    fn byproducts_are_recognised() {
        for (name, dir) in [
            ("__pycache__/", true),
            ("pkg/__pycache__/m.cpython-312.pyc", false),
            ("m.pyc", false),
            (".pytest_cache/v", false),
            ("a/.DS_Store", false),
            (".git/HEAD", false),
            ("target/debug/x", false),
            ("web/node_modules/", true),
        ] {
            assert!(byproduct(name, dir).is_some(), "{name}");
        }
        for (name, dir) in [
            ("src/target.rs", false),
            ("target", false),
            ("pyc/x.txt", false),
            ("a.pyc.txt", false),
        ] {
            assert!(byproduct(name, dir).is_none(), "{name}");
        }
    }

    #[test]
    fn defaults_are_sane() {
        let d = AuditOptions::default();
        assert_eq!(
            (d.max_entries, d.max_total_size, d.max_ratio, d.max_name_len),
            (100_000, 4 << 30, 1_000, 1_024)
        );
        assert!(!d.deep && !d.allow_byproducts);
    }
}
