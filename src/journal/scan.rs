//! One streaming pass over a journal's bytes: every line checked, the chain followed, step
//! ids collected, the torn tail told apart from tampering.
//!
//! A torn tail is the last line when it has no final newline, is a NUL run, or does not parse
//! as strict JSON: what a crash in the middle of an append leaves. Anything wrong with an
//! earlier line, or with a last line that parses, is tampering and is reported under its own
//! code. Issues are collected in line order, so the first one is the first failure.

// A line's defect is a `Finding` (184 bytes) in `Err`: the rare path, built once per
// defective line, so boxing it would only cost an allocation where it does not matter.
#![allow(clippy::result_large_err)]

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::ops::Range;

use super::blocks::{Blocks, lines, map_lines};
use super::codes::JournalCode;
use super::fast;
use super::record::{Lines, Record, check_line_with, is_hash_bytes};
use super::step_ids::{StepIds, StepKeys};
use crate::report::{Finding, FindingCode as _, Location, Severity, escape_bytes_for_display};

/// At most this many findings are kept (all are counted).
pub const MAX_FINDINGS: usize = 1000;

/// The torn tail, if any: what `repair --truncate-torn-tail` would drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torn {
    /// Its line number.
    pub line: usize,
    /// Where it starts (the length the file is truncated to).
    pub offset: u64,
    /// How many bytes it has.
    pub len: u64,
    /// The first bytes, escaped for display.
    pub preview: String,
}

/// What one pass found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Every valid record, in order (only when asked to keep them).
    pub records: Vec<Record>,
    /// Complete lines (newline-terminated, not the torn tail).
    pub count: usize,
    /// `entry_hash` of the last complete line, when it is a valid record.
    pub head: Option<String>,
    /// The first [`MAX_FINDINGS`] findings, in line order; each points at its line
    /// (`location.line`, `location.byte_offset`).
    pub findings: Vec<Finding>,
    /// How many findings there were in all.
    pub finding_total: usize,
    /// How many of them are errors (warnings never fail a journal).
    pub error_total: usize,
    /// The torn tail.
    pub torn: Option<Torn>,
    /// Step id → the line (and its byte offset) that first used it.
    pub step_ids: StepIds,
    /// `entry_hash` (as written) of the lines asked for.
    pub pinned: BTreeMap<usize, Option<String>>,
    /// Bytes read.
    pub len: u64,
    /// How the journal is named in findings' subjects (`FILE:LINE`).
    pub name: String,
}

impl Scan {
    /// Record an error finding about `line` (kept if under the cap).
    pub fn push(&mut self, code: JournalCode, line: usize, offset: u64, message: String) {
        self.push_finding(Finding::error(code, String::new(), message), line, offset);
    }

    /// Record `finding` (subject and location are set here) about `line`.
    pub fn push_finding(&mut self, mut finding: Finding, line: usize, offset: u64) {
        self.finding_total += 1;
        if finding.severity == Severity::Error {
            self.error_total += 1;
        }
        if self.findings.len() < MAX_FINDINGS {
            finding.subject = format!("{}:{line}", self.name);
            finding.location = Some(Location {
                line: Some(line as u64),
                byte_offset: Some(offset),
                ..Location::default()
            });
            self.findings.push(finding);
        }
    }

    /// The first error finding: the first failure.
    pub fn first_error(&self) -> Option<&Finding> {
        self.findings.iter().find(|f| f.severity == Severity::Error)
    }
}

/// The line a finding of a scan points at, and its byte offset.
pub fn line_of(f: &Finding) -> (usize, u64) {
    let loc = f.location.as_ref();
    let line = loc
        .and_then(|l| l.line)
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(0);
    (line, loc.and_then(|l| l.byte_offset).unwrap_or(0))
}

/// How much of each line a scan checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Every line completely: canonical form, hash, chain, step ids.
    Full,
    /// The last line completely; earlier lines only for their framing, `entry_hash` and
    /// `step_id` (what an append needs: the head it chains to and the ids it must not reuse).
    Head,
}

/// What a scan checks and keeps.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions<'a> {
    /// How much of each line.
    pub depth: Depth,
    /// Keep every valid record (`Scan::records`).
    pub keep_records: bool,
    /// Line numbers whose `entry_hash` should be recorded (`Scan::pinned`).
    pub pin: &'a [usize],
    /// Which spellings of a record are accepted.
    pub lines: Lines,
    /// How the journal is named in findings (escaped for display).
    pub name: &'a str,
}

impl<'a> ScanOptions<'a> {
    /// A full, canonical check of the journal called `name`, keeping nothing.
    pub fn full(name: &'a str) -> Self {
        Self {
            depth: Depth::Full,
            keep_records: false,
            pin: &[],
            lines: Lines::Canonical,
            name,
        }
    }
}

/// A hash as its 64 lowercase hex digits.
type Hex = [u8; 64];

fn hex_of(h: &[u8]) -> Option<Hex> {
    h.try_into().ok()
}

fn hex_str(h: &Hex) -> &str {
    // Only ever filled from `is_hash`-checked text.
    std::str::from_utf8(h).unwrap_or("<not a hash>")
}

struct State {
    scan: Scan,
    keep_records: bool,
    lines: Lines,
    prev: Prev,
    /// `entry_hash` of the last complete line when it is a valid record (`Scan::head`, kept as
    /// bytes until the end so a line costs no allocation).
    head: Option<Hex>,
}

/// What the next record's `prev_hash` must be.
enum Prev {
    /// Line 1: `null`.
    Start,
    /// The previous line was not a valid record (already reported): not checkable.
    Unknown,
    /// The previous record's `entry_hash`.
    Hash(Hex),
}

/// Bytes per read. Blocks always end at a line boundary; a longer line grows the buffer.
const BLOCK: usize = 4 << 20;

/// Scan a journal.
pub fn scan(reader: &mut dyn Read, opts: &ScanOptions<'_>) -> io::Result<Scan> {
    scan_blocks(reader, opts, BLOCK)
}

fn scan_blocks(reader: &mut dyn Read, opts: &ScanOptions<'_>, block: usize) -> io::Result<Scan> {
    let mut st = State {
        scan: Scan {
            name: opts.name.to_owned(),
            ..Scan::default()
        },
        keep_records: opts.keep_records,
        lines: opts.lines,
        prev: Prev::Start,
        head: None,
    };
    for &n in opts.pin {
        st.scan.pinned.insert(n, None);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let mut blocks = Blocks::new(block);
    let mut offset = 0u64;
    let mut line_no = 0usize;
    while let Some((len, last_block)) = blocks.next(reader)? {
        let data = &blocks.buf[..len];
        match opts.depth {
            Depth::Full => st.full_block(data, last_block, threads, &mut line_no, offset),
            Depth::Head => st.head_block(data, last_block, &mut line_no, offset),
        }
        offset += len as u64;
        blocks.consume(len);
    }
    st.scan.len = offset;
    st.scan.head = st.head.as_ref().map(|h| hex_str(h).to_owned());
    Ok(st.scan)
}

/// The full check's verdict on one line: the record (with a warning when `--lines any`
/// accepted a non-canonical spelling), or the defect.
type FullVerdict = Result<(Record, Option<Finding>), Finding>;

/// One line's verdict, computed independently of every other line (so in parallel), applied
/// in order by [`State::apply`]. Kept small (positions into the line, the rare full verdict
/// boxed): a million of them are moved between threads per verify.
enum Checked {
    /// The fast path proved the line a valid canonical record with a matching hash.
    Valid {
        /// Where `entry_hash`'s 64 hex digits start in the line.
        entry_hash: usize,
        /// Where `prev_hash`'s 64 hex digits start; `None` for `null`.
        prev_hash: Option<usize>,
        /// Digest of the step id's text.
        key: u128,
        /// Where the step id is written in the line (for a duplicate's message).
        step_id: Range<usize>,
    },
    /// The full check's verdict; `None` when the line has no newline.
    Full(Box<Option<FullVerdict>>),
}

struct Line {
    len: usize,
    checked: Checked,
}

fn check_one(raw: &[u8], keys: &StepKeys, keep_records: bool, spelling: Lines) -> Checked {
    let Some(content) = raw.strip_suffix(b"\n") else {
        return Checked::Full(Box::new(None));
    };
    if !keep_records && let Some(v) = fast::check(content).and_then(|f| valid(content, &f, keys)) {
        return v;
    }
    Checked::Full(Box::new(Some(check_line_with(content, spelling))))
}

fn valid(content: &[u8], f: &fast::FastRecord<'_>, keys: &StepKeys) -> Option<Checked> {
    // Without a backslash the canonical text of an id is its printable-ASCII self.
    let key = if f.step_id.contains(&b'\\') {
        keys.key(fast::unescape(f.step_id)?.as_bytes())
    } else {
        keys.key(f.step_id)
    };
    let at = |part: &[u8]| part.as_ptr() as usize - content.as_ptr() as usize;
    let start = at(f.step_id);
    Some(Checked::Valid {
        entry_hash: at(f.entry_hash),
        prev_hash: f.prev_hash.map(at),
        key,
        step_id: start..start + f.step_id.len(),
    })
}

impl State {
    /// [`Depth::Full`] for one block: lines are checked on all cores (each check is
    /// independent of the others), then the chain, step ids and torn-tail rule are applied
    /// in line order on this thread.
    fn full_block(
        &mut self,
        data: &[u8],
        last_block: bool,
        threads: usize,
        line_no: &mut usize,
        offset: u64,
    ) {
        let keys = &self.scan.step_ids.keys;
        let (keep, spelling) = (self.keep_records, self.lines);
        let results = map_lines(data, threads, |raw| Line {
            len: raw.len(),
            checked: check_one(raw, keys, keep, spelling),
        });
        let total = results.len();
        let mut at = 0usize;
        for (k, line) in results.into_iter().enumerate() {
            *line_no += 1;
            let raw = &data[at..at + line.len];
            let is_last = last_block && k + 1 == total;
            self.apply(raw, *line_no, offset + at as u64, is_last, line.checked);
            at += line.len;
        }
    }

    /// [`Depth::Head`] for one block.
    fn head_block(&mut self, data: &[u8], last_block: bool, line_no: &mut usize, offset: u64) {
        let mut at = 0usize;
        for raw in lines(data) {
            *line_no += 1;
            let line_offset = offset + at as u64;
            at += raw.len();
            if last_block && at == data.len() {
                let spelling = self.lines;
                let checked = Checked::Full(Box::new(
                    raw.strip_suffix(b"\n")
                        .map(|c| check_line_with(c, spelling)),
                ));
                self.apply(raw, *line_no, line_offset, true, checked);
            } else {
                self.light(raw, *line_no, line_offset);
            }
        }
    }

    fn duplicate(&mut self, id: &str, first: usize, line: usize, offset: u64) {
        self.scan.push(
            JournalCode::DuplicateStepId,
            line,
            offset,
            format!(
                "step id `{}` is already used on line {first}",
                id.escape_debug()
            ),
        );
    }

    /// [`Depth::Head`] for a line before the last (always newline-terminated).
    fn light(&mut self, raw: &[u8], line: usize, offset: u64) {
        self.scan.count += 1;
        let content = raw.strip_suffix(b"\n").unwrap_or(raw);
        if let Some((entry_hash, step_id)) = light_fields(content) {
            self.light_record(entry_hash, &step_id, line, offset);
            return;
        }
        if self.lines == Lines::Any {
            // Any spelling: only the full check can read the record (and name its defect).
            match check_line_with(content, Lines::Any) {
                Ok((rec, warning)) => {
                    if let Some(w) = warning {
                        self.scan.push_finding(w, line, offset);
                    }
                    if let Some(h) = hex_of(rec.entry_hash.as_bytes()) {
                        self.light_record(h, &rec.step_id, line, offset);
                        return;
                    }
                    self.not_a_hash(line, offset);
                }
                Err(e) => {
                    self.scan.push_finding(e, line, offset);
                    self.prev = Prev::Unknown;
                    self.head = None;
                }
            }
            return;
        }
        self.scan.push(
            JournalCode::LineInvalid,
            line,
            offset,
            "the line is not a well-formed canonical record\nhelp: `vaultgate journal verify` names the defect".into(),
        );
        self.prev = Prev::Unknown;
        self.head = None;
    }

    /// An earlier line's hash and step id, for [`Depth::Head`].
    fn light_record(&mut self, entry_hash: Hex, step_id: &str, line: usize, offset: u64) {
        let key = self.scan.step_ids.keys.key(step_id.as_bytes());
        if let Some(first) = self.scan.step_ids.first_or_insert(key, line, offset) {
            self.duplicate(step_id, first, line, offset);
        }
        self.head = Some(entry_hash);
        self.prev = Prev::Hash(entry_hash);
    }

    fn torn(&mut self, raw: &[u8], line: usize, offset: u64, why: &str) {
        let preview_len = raw.len().min(80);
        let mut preview = escape_bytes_for_display(&raw[..preview_len]);
        if raw.len() > preview_len {
            preview.push('…');
        }
        self.scan.torn = Some(Torn {
            line,
            offset,
            len: raw.len() as u64,
            preview,
        });
        self.scan.push(
            JournalCode::TornTail,
            line,
            offset,
            format!("{why}; a crash during an append leaves this"),
        );
    }

    /// Apply one line's verdict in order: torn-tail classification, chain, step ids.
    fn apply(&mut self, raw: &[u8], line: usize, offset: u64, is_last: bool, checked: Checked) {
        let hex_at = |at: usize| raw.get(at..at + 64).and_then(hex_of);
        let (entry_hash, prev_hash, key, step_id) = match checked {
            Checked::Valid {
                entry_hash,
                prev_hash,
                key,
                step_id,
            } => {
                self.scan.count += 1;
                let prev = match prev_hash {
                    None => Some(None),
                    Some(at) => hex_at(at).map(Some),
                };
                let (Some(entry_hash), Some(prev_hash)) = (hex_at(entry_hash), prev) else {
                    // fast::check found 64 hex digits at both places; fail closed regardless.
                    self.not_a_hash(line, offset);
                    return;
                };
                (entry_hash, prev_hash, key, StepId::In(step_id))
            }
            Checked::Full(result) => {
                let Some(rec) = self.full_result(raw, line, offset, is_last, *result) else {
                    return;
                };
                let prev = match rec.prev_hash.as_deref() {
                    None => Some(None),
                    Some(p) => hex_of(p.as_bytes()).map(Some),
                };
                let (Some(entry_hash), Some(prev_hash)) = (hex_of(rec.entry_hash.as_bytes()), prev)
                else {
                    // check_line accepted both as 64 hex digits; fail closed regardless.
                    self.not_a_hash(line, offset);
                    return;
                };
                let key = self.scan.step_ids.keys.key(rec.step_id.as_bytes());
                (entry_hash, prev_hash, key, StepId::Record(rec))
            }
        };
        match (&self.prev, &prev_hash) {
            (Prev::Start, Some(p)) => self.scan.push(
                JournalCode::ChainBroken,
                line,
                offset,
                format!(
                    "the first record must have `prev_hash` null, found `{}`",
                    hex_str(p)
                ),
            ),
            (Prev::Hash(want), got) if got.as_ref() != Some(want) => {
                let got = got.as_ref().map_or("null", hex_str);
                let message = format!(
                    "`prev_hash` is `{got}` but line {} has `entry_hash` `{}`",
                    line - 1,
                    hex_str(want)
                );
                self.scan
                    .push(JournalCode::ChainBroken, line, offset, message);
            }
            (Prev::Start | Prev::Unknown | Prev::Hash(_), _) => {}
        }
        if let Some(first) = self.scan.step_ids.first_or_insert(key, line, offset) {
            // A duplicate (rare): only now is the id's text needed, for the message.
            let id = match &step_id {
                StepId::Record(rec) => rec.step_id.clone(),
                StepId::In(r) => fast::unescape(&raw[r.clone()])
                    .unwrap_or_else(|| String::from_utf8_lossy(&raw[r.clone()]).into_owned()),
            };
            self.duplicate(&id, first, line, offset);
        }
        if !self.scan.pinned.is_empty()
            && let Some(slot) = self.scan.pinned.get_mut(&line)
        {
            *slot = Some(hex_str(&entry_hash).to_owned());
        }
        self.head = Some(entry_hash);
        self.prev = Prev::Hash(entry_hash);
        if let StepId::Record(rec) = step_id
            && self.keep_records
        {
            self.scan.records.push(rec);
        }
    }

    /// A line whose hashes were checked but cannot be read back (unreachable; fail closed).
    fn not_a_hash(&mut self, line: usize, offset: u64) {
        self.scan.push(
            JournalCode::BadHashFormat,
            line,
            offset,
            "a hash is not 64 hex digits".into(),
        );
        self.prev = Prev::Unknown;
        self.head = None;
    }

    /// The torn-tail rule and the findings of a line the full check refused; `Some` with the
    /// record when it is valid.
    fn full_result(
        &mut self,
        raw: &[u8],
        line: usize,
        offset: u64,
        is_last: bool,
        result: Option<FullVerdict>,
    ) -> Option<Record> {
        let is_nul_run = |c: &[u8]| !c.is_empty() && c.iter().all(|&b| b == 0);
        let (Some(content), Some(result)) = (raw.strip_suffix(b"\n"), result) else {
            // Only the last line can lack its newline.
            let why = if is_nul_run(raw) {
                format!("the journal ends in a run of {} NUL bytes", raw.len())
            } else {
                format!("the last line has no final newline ({} bytes)", raw.len())
            };
            self.torn(raw, line, offset, &why);
            return None;
        };
        self.scan.count += 1;
        match result {
            Ok((rec, warning)) => {
                if let Some(w) = warning {
                    self.scan.push_finding(w, line, offset);
                }
                Some(rec)
            }
            Err(e) if is_last && e.code == JournalCode::LineInvalid.as_str() => {
                self.scan.count -= 1;
                let why = if is_nul_run(content) {
                    format!("the last line is a run of {} NUL bytes", content.len())
                } else {
                    format!("the last line does not parse: {}", e.message)
                };
                self.torn(raw, line, offset, &why);
                None
            }
            Err(e) => {
                self.scan.push_finding(e, line, offset);
                self.prev = Prev::Unknown;
                self.head = None;
                if let Some(slot) = self.scan.pinned.get_mut(&line) {
                    *slot = None;
                }
                None
            }
        }
    }
}

/// Where a valid line's step id comes from.
enum StepId {
    /// Its canonical text at this range of the line.
    In(Range<usize>),
    /// The record the full check built.
    Record(Record),
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// `entry_hash` and `step_id` of a canonical line without checking the rest. In canonical
/// form `entry_hash` is the second key and `step_id` the last, and a `"` inside any string is
/// escaped, so neither marker can occur inside a value. A line that is not shaped like that
/// gives `None`.
fn light_fields(line: &[u8]) -> Option<(Hex, Cow<'_, str>)> {
    const EH: &[u8] = b",\"entry_hash\":\"";
    const SID: &[u8] = b",\"step_id\":";
    // The first occurrence of the marker: in a canonical line it starts at the first comma
    // (`completed_at` is `null` or a timestamp). When it is there, no earlier occurrence can
    // exist (every occurrence starts with a comma); otherwise search the whole line as before.
    let first_comma = memchr::memchr(b',', line)?;
    let at = if line[first_comma..].starts_with(EH) {
        first_comma
    } else {
        find(line, EH)?
    } + EH.len();
    let hash = line.get(at..at + 64)?;
    if line.get(at + 64) != Some(&b'"') || !is_hash_bytes(hash) {
        return None;
    }
    if !line.starts_with(b"{") || !line.ends_with(b"\"}") {
        return None;
    }
    let value = line.get(rfind(line, SID)? + SID.len()..line.len() - 1)?;
    // A quoted run of printable ASCII without `"` or `\` is its own text: skip the parser
    // (and its allocation) for the common case. Anything else is parsed as before.
    if let [b'"', inner @ .., b'"'] = value
        && inner
            .iter()
            .all(|&b| (0x20..=0x7E).contains(&b) && b != b'"' && b != b'\\')
    {
        let id = std::str::from_utf8(inner).ok()?;
        return Some((hex_of(hash)?, Cow::Borrowed(id)));
    }
    match crate::canon::parse(value) {
        Ok(serde_json::Value::String(id)) => Some((hex_of(hash)?, Cow::Owned(id))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::FindingCode;

    fn chain(n: usize) -> Vec<u8> {
        let ids: Vec<String> = (0..n).map(|k| format!("s{k}")).collect();
        chain_of(&ids)
    }

    fn chain_of(ids: &[String]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut prev = None;
        for id in ids {
            let mut r = Record {
                step_id: id.clone(),
                name: "n".into(),
                status: "ok".into(),
                started_at: "2026-01-02T03:04:05Z".into(),
                completed_at: None,
                inputs: serde_json::Map::new(),
                outputs: serde_json::Map::new(),
                prev_hash: prev.take(),
                entry_hash: String::new(),
            };
            r.entry_hash = r.compute_hash().unwrap();
            out.extend(r.to_line().unwrap());
            prev = Some(r.entry_hash);
        }
        out
    }

    fn full(bytes: &[u8]) -> Scan {
        scan(&mut &bytes[..], &ScanOptions::full("j")).unwrap()
    }

    fn full_in_blocks(bytes: &[u8], block: usize) -> Scan {
        scan_blocks(&mut &bytes[..], &ScanOptions::full("j"), block).unwrap()
    }

    #[test]
    fn block_boundaries_keep_order_and_the_last_line() {
        // Regression guard for the block reader and the parallel split: the last line is
        // classified as last wherever the block boundaries fall, lines longer than a block
        // grow it, and the chain is followed across blocks and across the threads' parts.
        let n = 2000;
        let bytes = chain(n);
        let last = bytes[..bytes.len() - 1]
            .iter()
            .rposition(|&b| b == b'\n')
            .unwrap()
            + 1;
        for block in [7, 100, 1000, 4096, 300 * 1024, 1 << 20] {
            let s = full_in_blocks(&bytes, block);
            assert_eq!((s.count, s.finding_total), (n, 0), "block = {block}");
            // Garbage last line with its newline: torn, only when it is the last line.
            let mut torn = bytes[..last].to_vec();
            torn.extend_from_slice(b"{\"x\n");
            let s = full_in_blocks(&torn, block);
            assert_eq!(s.findings.len(), 1, "block = {block}");
            assert_eq!(
                (s.findings[0].code, line_of(&s.findings[0])),
                (JournalCode::TornTail.as_str(), (n, last as u64))
            );
            assert_eq!(s.count, n - 1);
            // The same garbage one line earlier is tampering.
            let mut tampered = torn.clone();
            tampered.extend_from_slice(&bytes[last..]);
            let s = full_in_blocks(&tampered, block);
            assert_eq!(
                s.findings[0].code,
                JournalCode::LineInvalid.as_str(),
                "block = {block}"
            );
            assert_eq!(line_of(&s.findings[0]).0, n);
        }
        // Swapping two records in the middle breaks the chain there, in every layout.
        let mut lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
        lines.swap(n / 2 - 1, n / 2);
        let swapped = lines.concat();
        for block in [100, 4096, 300 * 1024] {
            let s = full_in_blocks(&swapped, block);
            assert_eq!(s.findings[0].code, JournalCode::ChainBroken.as_str());
            assert_eq!(line_of(&s.findings[0]).0, n / 2);
        }
    }

    #[test]
    fn duplicate_step_ids_are_found_by_text_not_spelling() {
        let bytes = chain(3);
        let s = full(&bytes);
        assert_eq!(s.step_ids.get("s1").map(|(l, _)| l), Some(2));
        assert_eq!(s.step_ids.get("s9"), None);
        // Line 3 reusing line 1's id: reported on line 3, naming line 1, and found by the
        // text of the id, however it is escaped (`\u00e9` and a raw `é` are the same id).
        let s = full(&chain_of(&["s\u{e9}".into(), "x".into(), "s\u{e9}".into()]));
        let dup = s
            .findings
            .iter()
            .find(|i| i.code == JournalCode::DuplicateStepId.as_str())
            .unwrap();
        assert_eq!((line_of(dup).0, s.finding_total), (3, 1));
        assert_eq!(dup.subject, "j:3");
        assert!(
            dup.message.contains("`s\u{e9}` is already used on line 1"),
            "{}",
            dup.message
        );
        assert_eq!(s.step_ids.get("s\u{e9}").map(|(l, _)| l), Some(1));
    }

    #[test]
    fn light_fields_reads_canonical_lines_only() {
        let h = "ab".repeat(32);
        let line =
            format!(r#"{{"completed_at":null,"entry_hash":"{h}","inputs":{{}},"step_id":"a\"b"}}"#);
        let (hash, id) = light_fields(line.as_bytes()).unwrap();
        assert_eq!((&hash[..], &*id), (h.as_bytes(), "a\"b"));
        let plain = line.replace(r#"a\"b"#, "ab");
        assert_eq!(light_fields(plain.as_bytes()).unwrap().1, "ab");
        assert_eq!(light_fields(b"\0\0\0"), None);
        assert_eq!(light_fields(line.replace("\"}", "}").as_bytes()), None);
        assert_eq!(light_fields(line.replace(&h, "xy").as_bytes()), None);
    }
}
