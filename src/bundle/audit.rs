//! `vaultgate zip audit`: run the structure reader, then every rule, and collect all findings.
//!
//! Contract: [`audit_file`] returns `Err` only when the audit could not run (the file cannot be
//! opened or read); anything wrong with the archive, including "this is not a ZIP", is a
//! finding. The verdict is `Pass` only with zero error findings. Nothing is decompressed unless
//! `deep` is set, and then only as a stream into `io::sink()`, bounded by the limits.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::io::{self, Read, Seek};
use std::path::Path;

use super::codes::ZipCode;
use super::error::{BundleError, StreamError};
use super::names;
use super::stream::{Copier, Prober};
use super::structure::{Entry, Layout, Structure, read_structure};
use crate::fsutil::{self, IoContext};
use crate::report::{Finding, FindingCode as _, Location};

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
    /// Report setuid, setgid and world-writable modes as warnings instead of errors.
    pub allow_unsafe_modes: bool,
    /// Decompress every entry as a stream and check actual sizes and CRCs (the default; `false`
    /// is `--structure-only`, which reads headers only and says the data was not checked).
    pub deep: bool,
    /// What to do with members that are archives themselves (found by magic bytes while the
    /// data is checked, so only with `deep`).
    pub nested: Nested,
    /// Deepest nesting level audited (`bundle!a.zip` is level 1); an archive below it is a
    /// `zip-nested-too-deep` finding (default 3).
    pub max_depth: u32,
}

/// What an audit does with a member whose data starts with a ZIP signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nested {
    /// Audit it with every rule, recursively, within `max_depth` and the shared size budget.
    Audit,
    /// Refuse it (`zip-nested-archive`).
    Refuse,
    /// Treat it as data.
    Ignore,
}

impl Nested {
    /// The spelling used in `--nested` and the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audit => "audit",
            Self::Refuse => "refuse",
            Self::Ignore => "ignore",
        }
    }
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_total_size: 4 << 30,
            max_ratio: 1_000,
            max_name_len: 1_024,
            allow_byproducts: false,
            allow_unsafe_modes: false,
            deep: true,
            nested: Nested::Audit,
            max_depth: 3,
        }
    }
}

/// The result of one audit.
#[derive(Debug, Clone)]
pub struct AuditReport {
    /// The archive, as given, for display.
    pub archive: String,
    /// Every finding, archive-level first then in the order found. A finding about an entry
    /// has its `location.entry_index` (for a nested archive's finding: the outer member's).
    pub findings: Vec<Finding>,
    /// Entries in central-directory order.
    pub entries: Vec<Entry>,
    /// Where the records are (absent when no end record was found).
    pub layout: Option<Layout>,
    /// The options the audit ran with.
    pub options: AuditOptions,
    /// Bytes actually decompressed, nested archives included (0 without `deep`).
    pub expanded: u64,
}

impl AuditReport {
    /// The findings with the entry each is about.
    pub fn located(&self) -> impl Iterator<Item = (Option<usize>, &Finding)> {
        self.findings.iter().map(|f| (entry_of(f), f))
    }

    /// `true` when no finding is an error.
    pub fn passed(&self) -> bool {
        crate::report::all_clear(&self.findings)
    }

    fn push(&mut self, code: ZipCode, entry: Option<usize>, message: String) {
        let f = Finding::error(code, self.subject(entry), message);
        self.findings.push(f.at(entry_location(entry)));
    }

    fn push_warning(&mut self, code: ZipCode, entry: Option<usize>, message: String) {
        let f = Finding::warning(code, self.subject(entry), message);
        self.findings.push(f.at(entry_location(entry)));
    }

    fn subject(&self, entry: Option<usize>) -> String {
        match entry.and_then(|i| Some((i, self.entries.get(i)?))) {
            Some((i, e)) => super::names::entry_subject(i, &e.raw_name),
            None => "archive".to_owned(),
        }
    }
}

/// The entry a finding is about, if any.
fn entry_of(f: &Finding) -> Option<usize> {
    f.location
        .as_ref()
        .and_then(|l| l.entry_index)
        .and_then(|i| usize::try_from(i).ok())
}

/// Where a finding about `entry` (or the archive) points.
fn entry_location(entry: Option<usize>) -> Location {
    Location {
        entry_index: entry.map(|i| i as u64),
        ..Location::default()
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
    // The zip crate's second opinion needs only the bytes, so it reads them on the other core
    // while this reader audits, through its own descriptor of the same open file (not the path,
    // which could be swapped in between). Its verdict counts exactly as before: only when this
    // reader found nothing.
    let second = SecondOpinion::Parallel(reopen(&file, path)?);
    // `--deep` decodes on both cores, the second half through its own descriptor.
    let deep_helper = if opts.deep {
        Some(reopen(&file, path)?)
    } else {
        None
    };
    audit_reader_with(
        &mut file,
        meta.len(),
        opts,
        &path.display().to_string(),
        second,
        deep_helper,
        0,
    )
    .map_err(|(what, source)| BundleError::Read {
        path: path.to_path_buf(),
        what,
        source,
    })
}

/// Where the `zip` crate's second opinion runs.
enum SecondOpinion {
    /// After this reader, on the same reader.
    Here,
    /// On the other core, from this descriptor, once the structure read found the archive
    /// structurally sound (so hostile structures never reach the crate, as before).
    Parallel(std::fs::File),
}

/// A second, independent descriptor (own file offset) of the file `file` has open.
fn reopen(file: &std::fs::File, path: &Path) -> Result<std::fs::File, BundleError> {
    use std::os::fd::AsRawFd;
    let fd = format!("/proc/self/fd/{}", file.as_raw_fd());
    match std::fs::File::open(&fd) {
        Ok(f) => Ok(f),
        // Without /proc, the path: the second opinion can only add findings, never remove one.
        Err(_) => Ok(fsutil::open(path)?),
    }
}

/// Audit an archive held in memory (the fuzz target's entry point). Never fails: an I/O error
/// on a slice is impossible, and would be reported as a `zip-malformed` finding.
pub fn audit_bytes(data: &[u8], opts: &AuditOptions) -> AuditReport {
    let mut cursor = io::Cursor::new(data);
    match audit_reader_with(
        &mut cursor,
        data.len() as u64,
        opts,
        "<memory>",
        SecondOpinion::Here,
        None,
        0,
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
        entries: Vec::new(),
        layout: None,
        options: opts.clone(),
        expanded: 0,
    }
}

/// Audit any seekable reader of `size` bytes; `archive` names it in the report and in errors.
pub fn audit_reader<R: Read + Seek>(
    reader: &mut R,
    size: u64,
    opts: &AuditOptions,
    archive: &str,
) -> Result<AuditReport, BundleError> {
    audit_reader_with(reader, size, opts, archive, SecondOpinion::Here, None, 0).map_err(
        |(what, source)| BundleError::Read {
            path: archive.into(),
            what,
            source,
        },
    )
}

/// [`audit_reader`], with the zip crate's second opinion run here or left to the caller.
fn audit_reader_with<R: Read + Seek>(
    reader: &mut R,
    size: u64,
    opts: &AuditOptions,
    archive: &str,
    second: SecondOpinion,
    deep_helper: Option<std::fs::File>,
    depth: u32,
) -> Result<AuditReport, (String, io::Error)> {
    let reader = &mut super::seekbuf::SeekBuf::new(reader, size);
    let st = read_structure(&mut *reader, size, opts.max_entries, opts.max_name_len)
        .map_err(|e| ("the zip structure".to_owned(), e))?;
    let sound = crate::report::all_clear(&st.findings);
    std::thread::scope(|s| {
        let pending = match second {
            SecondOpinion::Parallel(file) if sound => Some(s.spawn(move || {
                let mut file = file;
                zip_crate_verdict(super::seekbuf::SeekBuf::new(&mut file, size))
            })),
            _ => None,
        };
        let mut report = audit_structure(st, reader, size, opts, archive, deep_helper, depth)?;
        let verdict = pending.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err("the zip crate panicked on this archive".to_owned()))
        });
        if report.findings.is_empty() {
            let verdict = verdict.unwrap_or_else(|| zip_crate_verdict(&mut *reader));
            apply_second_opinion(&mut report, verdict);
        }
        Ok(report)
    })
}

/// Every rule on a structure read from `reader`.
fn audit_structure<R: Read + Seek>(
    st: Structure,
    reader: &mut R,
    size: u64,
    opts: &AuditOptions,
    archive: &str,
    deep_helper: Option<std::fs::File>,
    depth: u32,
) -> Result<AuditReport, (String, io::Error)> {
    let mut report = empty_report(archive, opts);
    report.entries = st.entries;
    report.layout = st.layout;
    report.findings = st.findings;
    entry_rules(&mut report);
    collisions(&mut report);
    totals(&mut report);
    if opts.deep {
        deep(&mut report, reader, deep_helper, size, depth)?;
    } else {
        probe(&mut report, reader)?;
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
                e.extra_ids.contains(&0x7075),
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
            if code == ZipCode::ModeUnsafe && opts.allow_unsafe_modes {
                report.push_warning(code, Some(i), message);
            } else {
                report.push(code, Some(i), message);
            }
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
    mode_rules(e, found);
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

/// Setuid, setgid and world-writable bits on a file or directory: extracted with permissions
/// kept (`unzip -X`, `bsdtar -p`, Python's `shutil.unpack_archive` on some versions), they
/// give a bundle the power to run as its owner's group or to be rewritten by any local user.
fn mode_rules(e: &Entry, found: &mut Vec<(ZipCode, String)>) {
    let Some(mode) = e.unix_mode else { return };
    if mode & 0o170_000 == 0o120_000 {
        // A link's permission bits mean nothing (always 0777); the link is refused anyway.
        return;
    }
    let mut what = Vec::new();
    if mode & 0o4000 != 0 {
        what.push("setuid");
    }
    if mode & 0o2000 != 0 {
        what.push("setgid");
    }
    if mode & 0o002 != 0 {
        what.push("world-writable");
    }
    if !what.is_empty() {
        found.push((
            ZipCode::ModeUnsafe,
            format!("mode `{mode:o}` is {}", what.join(" and ")),
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
    let mut comps = name.split('/').filter(|c| !c.is_empty()).peekable();
    while let Some(comp) = comps.next() {
        // A component is a directory when it is not the last one, or the entry is a directory.
        let dir = comps.peek().is_some() || is_dir;
        // `__MACOSX/` and `._name` are the AppleDouble resource forks macOS Finder adds to
        // every archive it makes.
        let hit = matches!(comp, "__pycache__" | ".pytest_cache" | ".git" | "__MACOSX")
            || (comp.starts_with("._") && comp.len() > 2)
            || (dir && matches!(comp, "target" | "node_modules"))
            || comp == ".DS_Store"
            || (!dir && extension(comp).is_some_and(|x| x.eq_ignore_ascii_case("pyc")));
        if hit {
            return Some(crate::report::escape_for_display(comp));
        }
    }
    None
}

/// `Path::extension` of a single component, without building a `Path`: the part after the
/// last dot, unless the dot starts the name (`.pyc` has none) or the name is `..`.
fn extension(comp: &str) -> Option<&str> {
    if comp == ".." {
        return None;
    }
    match comp.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => Some(ext),
        _ => None,
    }
}

/// Which key: the levels of collision, finest first. Each key is a function of the one before,
/// so entries with equal keys at one level have equal keys at every later level.
const RAW: usize = 0;
const NORM: usize = 1;
const NFC: usize = 2;
const FOLD: usize = 3;

/// The collision keys of one entry. A key equal to the previous one is not stored again: for an
/// ASCII name without `.` or empty components, already in lower case (most names), all keys
/// borrow the name and nothing is allocated.
struct Keys<'a> {
    raw: &'a [u8],
    /// [`names::normalized`].
    norm: Cow<'a, str>,
    /// NFC of `norm`, when it differs (never for ASCII).
    nfc: Option<String>,
    /// Lower-cased `nfc`, when it differs.
    fold: Option<String>,
    /// SipHash of the `FOLD` key (the others are hashed only when needed).
    fold_hash: u64,
}

impl<'a> Keys<'a> {
    fn new(raw: &'a [u8], name: &'a str, sip: &RandomState) -> Option<Self> {
        let norm = names::normalized_cow(name);
        if norm.is_empty() {
            return None;
        }
        // Only non-ASCII names need Unicode work; ASCII NFC is the identity and ASCII folding
        // is `to_ascii_lowercase`.
        let (nfc, fold) = if norm.is_ascii() {
            let fold = norm
                .bytes()
                .any(|b| b.is_ascii_uppercase())
                .then(|| norm.to_ascii_lowercase());
            (None, fold)
        } else {
            let c = names::nfc_key(&norm);
            let f = names::fold_key(&c);
            ((c != *norm).then_some(c.clone()), (f != c).then_some(f))
        };
        let mut k = Self {
            raw,
            norm,
            nfc,
            fold,
            fold_hash: 0,
        };
        k.fold_hash = sip.hash_one(Bytes(k.bytes(FOLD)));
        Some(k)
    }

    fn nfc(&self) -> &str {
        self.nfc.as_deref().unwrap_or(&self.norm)
    }

    fn fold(&self) -> &str {
        self.fold.as_deref().unwrap_or_else(|| self.nfc())
    }

    fn bytes(&self, which: usize) -> &[u8] {
        match which {
            RAW => self.raw,
            NORM => self.norm.as_bytes(),
            NFC => self.nfc().as_bytes(),
            _ => self.fold().as_bytes(),
        }
    }

    fn key(&self, which: usize, sip: &RandomState) -> Key<'_> {
        Key::new(self.bytes(which), sip)
    }
}

/// Bytes hashed as bytes, so a key and its prefixes hash the same way whichever type they came
/// from.
struct Bytes<'a>(&'a [u8]);

impl Hash for Bytes<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0);
    }
}

/// A map key with its SipHash computed once (with the per-process random `RandomState` keys, so
/// names chosen to collide cannot make the maps quadratic). Equality compares the bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key<'a> {
    hash: u64,
    bytes: &'a [u8],
}

impl<'a> Key<'a> {
    fn new(bytes: &'a [u8], sip: &RandomState) -> Self {
        Self {
            hash: sip.hash_one(Bytes(bytes)),
            bytes,
        }
    }
}

impl Hash for Key<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Passes a [`Key`]'s precomputed hash through to the map.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `Key`; mix anything else in rather than drop it.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type KeyMap<'a, V> = HashMap<Key<'a>, V, BuildHasherDefault<PassThrough>>;

/// Entries that share a case-folded key.
struct Class {
    /// The first entry with this key.
    first: usize,
    /// The first regular file with this key (a directory needed by a longer name).
    file: Option<usize>,
    /// A second entry arrived, so the first one was added to the finer maps.
    shared: bool,
}

/// Duplicates, normalisation, Unicode and case collisions, and files that are also parents.
///
/// Each finding names the first earlier entry that has the same key at the finest level where
/// one does (exact, normalised, NFC, case-folded). Equal finer keys imply equal folded keys, so
/// only entries whose folded key is already taken can collide at all: those classes are rare,
/// and only their members go into the finer maps (the first member when a second one arrives).
/// A unique name costs one hash and one map insert.
fn collisions(report: &mut AuditReport) {
    let sip = RandomState::new();
    // Keys for every entry first (borrowing the names), then the maps borrow the keys.
    let keys: Vec<Option<Keys<'_>>> = report
        .entries
        .iter()
        .map(|e| {
            let name = std::str::from_utf8(&e.raw_name).ok()?;
            if e.name_len > e.raw_name.len() {
                // Only a prefix was kept: comparing it would invent collisions.
                return None;
            }
            Keys::new(&e.raw_name, name, &sip)
        })
        .collect();
    let mut classes: KeyMap<'_, Class> =
        KeyMap::with_capacity_and_hasher(report.entries.len(), BuildHasherDefault::default());
    // Exact, normalised, NFC: key -> first entry, for members of shared classes only.
    let mut finer: [KeyMap<'_, usize>; 3] = Default::default();
    let mut found: Vec<(ZipCode, usize, String)> = Vec::new();
    for (e, k) in report.entries.iter().zip(&keys) {
        let Some(k) = k else { continue };
        let fold = Key {
            hash: k.fold_hash,
            bytes: k.bytes(FOLD),
        };
        let class = classes.entry(fold).or_insert(Class {
            first: e.index,
            file: None,
            shared: false,
        });
        if !e.is_dir && class.file.is_none() {
            class.file = Some(e.index);
        }
        let first = class.first;
        if first == e.index {
            continue;
        }
        if !class.shared {
            class.shared = true;
            if let Some(Some(k0)) = keys.get(first) {
                for (which, map) in finer.iter_mut().enumerate() {
                    map.entry(k0.key(which, &sip)).or_insert(first);
                }
            }
        }
        // Insert into every finer map (first entry wins) and report the finest one that already
        // had the key; failing all, the class's first entry.
        let mut hit = None;
        for (which, map) in finer.iter_mut().enumerate() {
            let j = *map.entry(k.key(which, &sip)).or_insert(e.index);
            if j != e.index && hit.is_none() {
                hit = Some((which, j));
            }
        }
        let (which, j) = hit.unwrap_or((FOLD, first));
        let (code, what) = match which {
            RAW => (ZipCode::DuplicateName, "duplicates"),
            NORM => (
                ZipCode::DuplicateNormalized,
                "after normalisation is the same path as",
            ),
            NFC => (
                ZipCode::UnicodeCollision,
                "after unicode nfc normalisation is the same path as",
            ),
            _ => (ZipCode::CaseCollision, "ignoring case is the same path as"),
        };
        found.push((
            code,
            e.index,
            format!(
                "{what} entry {j} `{}`",
                super::names::display(&report.entries[j].raw_name)
            ),
        ));
    }
    let mut parents_reported = std::collections::HashSet::new();
    for (i, k) in keys.iter().enumerate() {
        let Some(k) = k else { continue };
        let key = k.fold();
        for (pos, _) in key.match_indices('/') {
            let parent = Key::new(&key.as_bytes()[..pos], &sip);
            if let Some(file) = classes.get(&parent).and_then(|c| c.file)
                && parents_reported.insert(file)
            {
                found.push((
                    ZipCode::FileIsParent,
                    file,
                    format!(
                        "is a regular file but entry {i} `{}` needs it to be a directory",
                        super::names::display(&report.entries[i].raw_name)
                    ),
                ));
            }
        }
    }
    drop(classes);
    drop(finer);
    drop(keys);
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
/// What decoding one entry gave.
enum Decoded {
    /// The data checked out: this many bytes, and whether they start with a ZIP signature.
    Bytes(u64, bool),
    /// A data finding (size, CRC, corrupt stream, or one entry alone over the limit).
    Finding(ZipCode, String),
}

/// `--deep`: decode every entry as a stream, checking actual sizes and CRCs, and the actual
/// total against `max_total_size`. With `helper` (a second descriptor of the same file) the
/// entries are split in two halves of equal compressed size, decoded on both cores.
///
/// Both paths settle the same way, so the report never depends on which one ran: each entry
/// is decoded with the whole limit as its cap; then, in entry order, the first entry whose
/// running total crosses the limit gets `zip-data-over-limit` and nothing after it is
/// reported, as a single sequential pass would. A half stops once its own total passes the
/// limit (the crossing is then behind it), so the work stays bounded by the limit.
fn deep<R: Read + Seek>(
    report: &mut AuditReport,
    reader: &mut R,
    helper: Option<std::fs::File>,
    size: u64,
    depth: u32,
) -> Result<(), (String, io::Error)> {
    let max = report.options.max_total_size;
    let todo: Vec<&Entry> = report
        .entries
        .iter()
        .filter(|e| e.local_ok && e.flags & ENCRYPTION_FLAGS == 0 && matches!(e.method, 0 | 8))
        .collect();
    let decoded = match helper {
        Some(mut file) if todo.len() > 1 => {
            let half = todo.iter().map(|e| e.compressed_size).sum::<u64>() / 2;
            let mut acc = 0u64;
            let split = todo
                .iter()
                .position(|e| {
                    acc += e.compressed_size;
                    acc > half
                })
                .map_or(todo.len() / 2, |i| i.max(1));
            let (first, second) = todo.split_at(split);
            std::thread::scope(|s| {
                let other = s.spawn(move || {
                    decode_all(
                        second,
                        &mut super::seekbuf::SeekBuf::new(&mut file, size),
                        max,
                    )
                });
                let mut mine = decode_all(first, reader, max)?;
                let theirs = other.join().map_err(|_| {
                    (
                        "the archive's data".to_owned(),
                        io::Error::other("a decoding thread panicked (a bug in vaultgate)"),
                    )
                })??;
                mine.extend(theirs);
                Ok(mine)
            })?
        }
        _ => decode_all(&todo, reader, max)?,
    };
    let mut total = 0u64;
    let mut archives = Vec::new();
    for (index, outcome) in decoded {
        match outcome {
            Decoded::Bytes(n, archive) => {
                total = total.saturating_add(n);
                if total > max {
                    report.push(
                        ZipCode::DataOverLimit,
                        Some(index),
                        format!("the entries decompress to more than the {max}-byte limit (crossed at this entry)"),
                    );
                    break;
                }
                if archive {
                    archives.push(index);
                }
            }
            Decoded::Finding(code, msg) => {
                report.push(code, Some(index), msg);
                if code == ZipCode::DataOverLimit {
                    break;
                }
            }
        }
    }
    report.expanded = total;
    nested(report, reader, &archives, depth)
}

/// The first bytes of an entry's data, kept while the rest goes to nothing.
#[derive(Default)]
struct Head {
    bytes: [u8; 4],
    len: usize,
}

impl io::Write for Head {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = (self.bytes.len() - self.len).min(buf.len());
        self.bytes[self.len..self.len + n].copy_from_slice(&buf[..n]);
        self.len += n;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Head {
    /// A local header, an empty archive's end record, or the spanning marker that may precede
    /// the first local header: what every reader takes for a ZIP, whatever the member's name.
    fn is_zip(&self) -> bool {
        self.len == 4 && matches!(&self.bytes, b"PK\x03\x04" | b"PK\x05\x06" | b"PK\x07\x08")
    }
}

/// Members held in memory up to this size while they are audited; larger ones are spooled to
/// an unlinked temporary file.
const NESTED_IN_MEMORY: usize = 64 << 20;

/// Members that are archives themselves (`archives`, entry indexes, data already verified):
/// refused, ignored, or audited with every rule at `depth + 1`, each within what is left of the
/// one size budget (`max_total_size`) shared by every level. Their findings are added with the
/// nesting path in the subject (`outer.zip!inner.zip!x`) and the outer member's entry index.
fn nested<R: Read + Seek>(
    report: &mut AuditReport,
    reader: &mut R,
    archives: &[usize],
    depth: u32,
) -> Result<(), (String, io::Error)> {
    let opts = report.options.clone();
    for &index in archives {
        let shown = super::names::display(&report.entries[index].raw_name);
        match opts.nested {
            Nested::Ignore => continue,
            Nested::Refuse => {
                report.push(
                    ZipCode::NestedArchive,
                    Some(index),
                    "entry is itself a zip archive (by its signature), refused by `--nested refuse`"
                        .into(),
                );
                continue;
            }
            Nested::Audit if depth >= opts.max_depth => {
                report.push(
                    ZipCode::NestedTooDeep,
                    Some(index),
                    format!(
                        "entry is a zip archive nested {} levels deep, over the limit of {}",
                        depth + 1,
                        opts.max_depth
                    ),
                );
                continue;
            }
            Nested::Audit => {}
        }
        let remaining = opts.max_total_size.saturating_sub(report.expanded);
        let e = report.entries[index].clone();
        let mut spool = tempfile::SpooledTempFile::new(NESTED_IN_MEMORY);
        let n = Copier::new()
            .copy(reader, &e, &mut spool, opts.max_total_size)
            .map_err(|err| (format!("`{shown}`"), io::Error::other(err.to_string())))?;
        spool
            .seek(io::SeekFrom::Start(0))
            .map_err(|err| (format!("`{shown}` (spooled)"), err))?;
        let inner_opts = AuditOptions {
            max_total_size: remaining,
            ..opts.clone()
        };
        let inner = audit_reader_with(
            &mut spool,
            n,
            &inner_opts,
            &shown,
            SecondOpinion::Here,
            None,
            depth + 1,
        )?;
        report.expanded = report.expanded.saturating_add(inner.expanded);
        for (entry, f) in inner.located() {
            let subject = match entry {
                Some(_) => format!("{shown}!{}", f.subject),
                None => shown.clone(),
            };
            let budget = [ZipCode::TotalSizeExceeded, ZipCode::DataOverLimit];
            let message = if budget.iter().any(|c| c.as_str() == f.code) {
                format!("{} (the budget left for nested archives)", f.message)
            } else {
                f.message.clone()
            };
            report.findings.push(Finding {
                subject,
                message,
                location: Some(entry_location(Some(index))),
                ..f.clone()
            });
        }
    }
    Ok(())
}

/// Decode `entries` in order, each capped at `max`, until they are done or their own total
/// passes `max`. Returns (entry index, outcome) in entry order.
fn decode_all<R: Read + Seek>(
    entries: &[&Entry],
    reader: &mut R,
    max: u64,
) -> Result<Vec<(usize, Decoded)>, (String, io::Error)> {
    let mut copier = Copier::new();
    let mut out = Vec::with_capacity(entries.len());
    let mut total = 0u64;
    for e in entries {
        let mut head = Head::default();
        match copier.copy(reader, e, &mut head, max) {
            Ok(n) => {
                out.push((e.index, Decoded::Bytes(n, head.is_zip())));
                total = total.saturating_add(n);
                if total > max {
                    break;
                }
            }
            Err(StreamError::Io { entry, source }) => return Err((format!("`{entry}`"), source)),
            Err(err) => {
                let code = match &err {
                    StreamError::SizeMismatch { .. } => ZipCode::DataSizeMismatch,
                    StreamError::CrcMismatch { .. } => ZipCode::DataCrcMismatch,
                    StreamError::OverCap { .. } => ZipCode::DataOverLimit,
                    _ => ZipCode::DataCorrupt,
                };
                out.push((e.index, Decoded::Finding(code, err.to_string())));
                if code == ZipCode::DataOverLimit {
                    break;
                }
            }
        }
    }
    Ok(out)
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

/// The `zip` crate's own reading of the archive: its entry count, or why it refuses it.
fn zip_crate_verdict<R: Read + Seek>(reader: R) -> Result<usize, String> {
    zip::ZipArchive::new(reader)
        .and_then(|mut a| a.validate_header_consistency().map(|()| a.len()))
        .map_err(|e| format!("the zip crate refuses this archive: {e}"))
}

/// The `zip` crate re-reads an archive this reader found clean; if it disagrees (refuses it, or
/// counts other entries), fail closed.
fn apply_second_opinion(report: &mut AuditReport, verdict: Result<usize, String>) {
    let message = match verdict {
        Ok(n) if n == report.entries.len() => return,
        Ok(n) => format!(
            "the zip crate refuses this archive: it counts {n} entries, this reader {}",
            report.entries.len()
        ),
        Err(message) => message,
    };
    report.push(ZipCode::SecondOpinion, None, message);
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
        AuditOptions::default()
    }

    fn structure_only() -> AuditOptions {
        AuditOptions {
            deep: false,
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
        assert_eq!(
            r.located().map(|(e, _)| e).collect::<Vec<_>>(),
            vec![Some(0)]
        );
        assert_eq!(r.findings[0].subject, "a\\u{1b}[2Jb");
        let r = audit_bytes(
            &build(&[E::stored("a\x1bb", b"")]),
            &AuditOptions::default(),
        );
        assert_eq!(r.findings[0].code, "zip-name-control-char");
        assert_eq!(r.findings[0].subject, "a\\u{1b}b");
        // Non-ASCII UTF-8 needs the 0x800 flag or an agreeing 0x7075 field; invalid bytes fail.
        has(&[E::stored("世界", b"")], "zip-name-encoding-ambiguous");
        let mut e = E::stored("世界", b"");
        e.flags = 0x0800;
        assert!(codes(&[e]).is_empty());
        let mut e = E::stored("世界", b"");
        let mut up = vec![1];
        up.extend_from_slice(&crc32fast::hash("世界".as_bytes()).to_le_bytes());
        up.extend_from_slice("世界".as_bytes());
        e.cextra = extra(0x7075, &up);
        e.lextra = e.cextra.clone();
        assert_eq!(codes(&[e]), Vec::<&str>::new());
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
            ..structure_only()
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
        // With --structure-only the CRC is not computed.
        assert!(codes_with(&[e], &structure_only()).is_empty());
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
        // A corrupt block header is found even with --structure-only.
        let mut e = E::deflated("a", b"x");
        e.data = vec![0xff; 32];
        assert_eq!(codes_with(&[e], &structure_only()), ["zip-data-corrupt"]);
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

    /// The obvious collision check (one map per level, every entry in every map, first entry
    /// wins): `(code, entry, earlier entry)` for each colliding entry.
    fn reference_collisions(names: &[String]) -> Vec<(&'static str, usize, usize)> {
        let mut maps: [HashMap<String, usize>; 4] = Default::default();
        let mut out = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let n = names::normalized(name);
            if n.is_empty() {
                continue;
            }
            let c = names::nfc_key(&n);
            let f = names::fold_key(&c);
            let mut hit = None;
            for (level, key) in [name.clone(), n, c, f].into_iter().enumerate() {
                let j = *maps[level].entry(key).or_insert(i);
                if j != i && hit.is_none() {
                    hit = Some((level, j));
                }
            }
            if let Some((level, j)) = hit {
                let code = [
                    "zip-duplicate-name",
                    "zip-duplicate-normalized",
                    "zip-unicode-collision",
                    "zip-case-collision",
                ][level];
                out.push((code, i, j));
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        /// Collision findings equal the obvious implementation's, on names drawn from pieces
        /// that collide at every level (case, NFC, Kelvin sign, `.`/empty components).
        #[test]
        fn collisions_match_the_obvious_implementation(
            picks in proptest::collection::vec(proptest::collection::vec(0usize..12, 1..4), 1..24)
        ) {
            const PIECES: [&str; 12] = [
                "a", "A", "/", "./", "//", "caf\u{e9}", "cafe\u{301}", "CAF\u{c9}", "\u{212a}", "k", "K", "b/",
            ];
            let names: Vec<String> = picks.iter().map(|p| p.iter().map(|&i| PIECES[i]).collect()).collect();
            let entries: Vec<E> = names.iter().map(|n| E::stored(n, b"")).collect();
            let r = audit_bytes(&build(&entries), &AuditOptions::default());
            let got: Vec<(&'static str, usize, usize)> = r
                .located()
                .filter(|(_, f)| matches!(f.code, "zip-duplicate-name" | "zip-duplicate-normalized" | "zip-unicode-collision" | "zip-case-collision"))
                .map(|(i, f)| {
                    let j = f.message.split("entry ").nth(1).and_then(|s| s.split(' ').next()).and_then(|s| s.parse().ok()).unwrap_or(usize::MAX);
                    (f.code, i.unwrap_or(usize::MAX), j)
                })
                .collect();
            proptest::prop_assert_eq!(got, reference_collisions(&names), "{:?}", names);
        }
    }

    #[test]
    fn extension_matches_path_extension() {
        for comp in [
            "a.pyc", ".pyc", "a.b.PYC", "x", "x.", ".", "..", "..pyc", "a..pyc", ".a.pyc",
        ] {
            assert_eq!(
                extension(comp),
                Path::new(comp).extension().and_then(|x| x.to_str()),
                "{comp}"
            );
        }
    }

    #[test]
    fn defaults_are_sane() {
        let d = AuditOptions::default();
        assert_eq!(
            (d.max_entries, d.max_total_size, d.max_ratio, d.max_name_len),
            (100_000, 4 << 30, 1_000, 1_024)
        );
        assert!(d.deep && !d.allow_byproducts && !d.allow_unsafe_modes);
        assert_eq!((d.nested, d.max_depth), (Nested::Audit, 3));
    }

    /// The two-core `--deep` (a file, with a helper descriptor) and the single-pass one (bytes
    /// in memory) must report exactly the same findings: same codes, entries and messages,
    /// including which entry crosses the total-size limit and that nothing after it counts.
    #[test]
    fn deep_on_two_cores_reports_exactly_what_one_pass_does() {
        let entry = |i: usize, bad_crc: bool| {
            let mut e = if i.is_multiple_of(2) {
                E::stored(
                    format!("f{i:03}.txt"),
                    vec![b'a' + u8::try_from(i % 26).unwrap(); 100 + i],
                )
            } else {
                E::deflated(format!("f{i:03}.txt"), vec![b'z'; 300 + i])
            };
            if bad_crc {
                e.crc ^= 1;
            }
            e
        };
        let dir = tempfile::tempdir().unwrap();
        // Bad CRCs in both halves; limits that are crossed in the first half, in the second
        // half, and not at all.
        let entries: Vec<E> = (0..40).map(|i| entry(i, i == 7 || i == 31)).collect();
        let bytes = build(&entries);
        let path = dir.path().join("a.zip");
        std::fs::write(&path, &bytes).unwrap();
        for max_total_size in [2_000, 6_000, u64::MAX] {
            let opts = AuditOptions {
                max_total_size,
                ..deep()
            };
            let seen = |r: &AuditReport| -> Vec<(&'static str, Option<usize>, String)> {
                r.located()
                    .map(|(e, f)| (f.code, e, f.message.clone()))
                    .collect()
            };
            let two = audit_file(&path, &opts).unwrap();
            let one = audit_bytes(&bytes, &opts);
            assert_eq!(seen(&two), seen(&one), "limit {max_total_size}");
            let codes: Vec<&str> = two.findings.iter().map(|f| f.code).collect();
            assert!(
                codes.contains(&"zip-data-crc-mismatch"),
                "limit {max_total_size}: {codes:?}"
            );
            assert_eq!(
                codes.contains(&"zip-data-over-limit"),
                max_total_size != u64::MAX,
                "limit {max_total_size}: {codes:?}"
            );
        }
    }
}
