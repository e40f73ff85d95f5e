//! One streaming pass over a journal's bytes: every line checked, the chain followed, step
//! ids collected, the torn tail told apart from tampering.
//!
//! A torn tail is the last line when it has no final newline, is a NUL run, or does not parse
//! as strict JSON: what a crash in the middle of an append leaves. Anything wrong with an
//! earlier line, or with a last line that parses, is tampering and is reported under its own
//! code. Issues are collected in line order, so the first one is the first failure.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{self, Read};
use std::ops::Range;

use super::codes::JournalCode;
use super::fast;
use super::record::{LineIssue, Record, check_line, is_hash_bytes};
use crate::report::escape_bytes_for_display;

/// At most this many issues are kept (all are counted).
pub const MAX_ISSUES: usize = 1000;

/// One thing wrong with one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The finding code.
    pub code: JournalCode,
    /// 1-based line number (0 for whole-journal checks such as `--expect-count`).
    pub line: usize,
    /// Byte offset of the start of the line.
    pub offset: u64,
    /// Lowercase, user values in backticks.
    pub message: String,
}

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

/// The step ids seen so far, each with the line (and its byte offset) that first used it.
///
/// Keyed by a 128-bit digest of the id's text (two SipHash-1-3 runs with independent random
/// keys, fresh per process) instead of the owned `String`: a million ids cost a 32-byte
/// table entry each and no allocation. Why this stays fail-closed: equal ids always have equal
/// digests, so no duplicate is ever missed; two *different* ids share a digest with
/// probability about n²/2¹²⁹ (10⁻²⁶ for a million ids), and the keys are secret and random, so
/// they cannot be chosen to collide — and a collision would only report a duplicate that is
/// not one (a refusal), never accept anything.
#[derive(Debug, Default)]
pub struct StepIds {
    keys: StepKeys,
    first: HashMap<u128, (usize, u64), DigestBuild>,
}

impl StepIds {
    /// The line and byte offset of the record that uses `id`, if any.
    pub fn get(&self, id: &str) -> Option<(usize, u64)> {
        self.first.get(&self.keys.key(id.as_bytes())).copied()
    }

    /// Remember `key` for `line`, or return the line that already has it.
    fn first_or_insert(&mut self, key: u128, line: usize, offset: u64) -> Option<usize> {
        match self.first.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => Some(e.get().0),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((line, offset));
                None
            }
        }
    }
}

/// The two secret keys of the step-id digest (cloned into the checking threads).
#[derive(Debug, Clone, Default)]
struct StepKeys(RandomState, RandomState);

impl StepKeys {
    /// The digest of a step id's text (its UTF-8 bytes, escapes resolved).
    fn key(&self, id: &[u8]) -> u128 {
        (u128::from(self.0.hash_one(id)) << 64) | u128::from(self.1.hash_one(id))
    }
}

/// The table's own hasher: the key already is a keyed random digest, so its low 64 bits are
/// a good hash (no second SipHash run per lookup).
#[derive(Debug, Clone, Copy, Default)]
struct DigestBuild;

#[derive(Debug, Default)]
struct DigestHasher(u64);

impl BuildHasher for DigestBuild {
    type Hasher = DigestHasher;
    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `u128` keys reach this table (see `write_u128`); a generic fold for completeness.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        let b = v.to_le_bytes();
        let mut low = [0u8; 8];
        low.copy_from_slice(&b[..8]);
        self.0 = u64::from_le_bytes(low);
    }
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
    /// The first [`MAX_ISSUES`] issues, in line order.
    pub issues: Vec<Issue>,
    /// How many issues there were in all.
    pub issue_total: usize,
    /// The torn tail.
    pub torn: Option<Torn>,
    /// Step id → the line (and its byte offset) that first used it.
    pub step_ids: StepIds,
    /// `entry_hash` (as written) of the lines asked for.
    pub pinned: BTreeMap<usize, Option<String>>,
    /// Bytes read.
    pub len: u64,
}

impl Scan {
    /// Record an issue (kept if under the cap).
    pub fn push(&mut self, code: JournalCode, line: usize, offset: u64, message: String) {
        self.issue_total += 1;
        if self.issues.len() < MAX_ISSUES {
            self.issues.push(Issue {
                code,
                line,
                offset,
                message,
            });
        }
    }
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

/// Scan a journal. `pin` lists line numbers whose `entry_hash` should be recorded.
pub fn scan(
    reader: &mut dyn Read,
    depth: Depth,
    keep_records: bool,
    pin: &[usize],
) -> io::Result<Scan> {
    scan_blocks(reader, depth, keep_records, pin, BLOCK)
}

fn scan_blocks(
    reader: &mut dyn Read,
    depth: Depth,
    keep_records: bool,
    pin: &[usize],
    block: usize,
) -> io::Result<Scan> {
    let mut st = State {
        scan: Scan::default(),
        keep_records,
        prev: Prev::Start,
        head: None,
    };
    for &n in pin {
        st.scan.pinned.insert(n, None);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let mut blocks = Blocks::new(block);
    let mut offset = 0u64;
    let mut line_no = 0usize;
    while let Some((len, last_block)) = blocks.next(reader)? {
        let data = &blocks.buf[..len];
        match depth {
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

/// A journal read in large blocks that end at a line boundary. A block that is not the last
/// has at least one byte after it, so its last line is never the journal's last line (which
/// decides torn tail against tampering); the last block holds everything left, including a
/// final line without its newline.
struct Blocks {
    buf: Vec<u8>,
    filled: usize,
    eof: bool,
}

impl Blocks {
    fn new(size: usize) -> Self {
        Self {
            buf: vec![0; size.max(2)],
            filled: 0,
            eof: false,
        }
    }

    /// The next block, as `(length, is_last)`; `buf[..length]` holds it.
    fn next(&mut self, reader: &mut dyn Read) -> io::Result<Option<(usize, bool)>> {
        loop {
            while !self.eof && self.filled < self.buf.len() {
                match reader.read(&mut self.buf[self.filled..]) {
                    Ok(0) => self.eof = true,
                    Ok(n) => self.filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if self.eof {
                return Ok((self.filled > 0).then_some((self.filled, true)));
            }
            // The buffer is full: end the block after the last newline that has bytes after it.
            if let Some(p) = memchr::memrchr(b'\n', &self.buf[..self.filled - 1]) {
                return Ok(Some((p + 1, false)));
            }
            // A single line longer than the buffer.
            let grown = self.buf.len() * 2;
            self.buf.resize(grown, 0);
        }
    }

    fn consume(&mut self, len: usize) {
        self.buf.copy_within(len..self.filled, 0);
        self.filled -= len;
    }
}

/// The lines of `data`, each with its `\n` (the last one perhaps without).
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |p| p + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        Some(line)
    })
}

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
    Full(Box<Option<Result<Record, LineIssue>>>),
}

struct Line {
    len: usize,
    checked: Checked,
}

fn check_one(raw: &[u8], keys: &StepKeys, keep_records: bool) -> Checked {
    let Some(content) = raw.strip_suffix(b"\n") else {
        return Checked::Full(Box::new(None));
    };
    if !keep_records && let Some(v) = fast::check(content).and_then(|f| valid(content, &f, keys)) {
        return v;
    }
    Checked::Full(Box::new(Some(check_line(content))))
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

fn check_part(part: &[u8], keys: &StepKeys, keep_records: bool) -> Vec<Line> {
    lines(part)
        .map(|raw| Line {
            len: raw.len(),
            checked: check_one(raw, keys, keep_records),
        })
        .collect()
}

/// Split `data` into up to `n` runs of whole lines of about equal size.
fn split_lines(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut rest = data;
    for k in (1..=n).rev() {
        if k == 1 || rest.is_empty() {
            parts.push(rest);
            break;
        }
        let target = rest.len() / k;
        let Some(p) = memchr::memchr(b'\n', &rest[target..]) else {
            parts.push(rest);
            break;
        };
        let (part, tail) = rest.split_at(target + p + 1);
        parts.push(part);
        rest = tail;
    }
    parts
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
        let keep = self.keep_records;
        let parts = if threads > 1 && data.len() >= 256 * 1024 {
            split_lines(data, threads)
        } else {
            vec![data]
        };
        let results: Vec<Vec<Line>> = if parts.len() == 1 {
            vec![check_part(data, keys, keep)]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = parts[1..]
                    .iter()
                    .map(|&part| s.spawn(move || check_part(part, keys, keep)))
                    .collect();
                let mut out = vec![check_part(parts[0], keys, keep)];
                for h in handles {
                    match h.join() {
                        Ok(r) => out.push(r),
                        // A panic in a checker is a bug; re-raise it rather than give a verdict.
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
                out
            })
        };
        let total: usize = results.iter().map(Vec::len).sum();
        let mut at = 0usize;
        for (k, line) in results.into_iter().flatten().enumerate() {
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
                let checked = Checked::Full(Box::new(raw.strip_suffix(b"\n").map(check_line)));
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
        let Some((entry_hash, step_id)) = light_fields(content) else {
            self.scan.push(
                JournalCode::LineInvalid,
                line,
                offset,
                "the line is not a well-formed canonical record\nhelp: `vaultgate journal verify` names the defect".into(),
            );
            self.prev = Prev::Unknown;
            self.head = None;
            return;
        };
        let key = self.scan.step_ids.keys.key(step_id.as_bytes());
        if let Some(first) = self.scan.step_ids.first_or_insert(key, line, offset) {
            self.duplicate(&step_id, first, line, offset);
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
        result: Option<Result<Record, LineIssue>>,
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
            Ok(rec) => Some(rec),
            Err(e) if is_last && e.code == JournalCode::LineInvalid => {
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
                self.scan.push(e.code, line, offset, e.message);
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
        scan(&mut &bytes[..], Depth::Full, false, &[]).unwrap()
    }

    fn full_in_blocks(bytes: &[u8], block: usize) -> Scan {
        scan_blocks(&mut &bytes[..], Depth::Full, false, &[], block).unwrap()
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
            assert_eq!((s.count, s.issue_total), (n, 0), "block = {block}");
            // Garbage last line with its newline: torn, only when it is the last line.
            let mut torn = bytes[..last].to_vec();
            torn.extend_from_slice(b"{\"x\n");
            let s = full_in_blocks(&torn, block);
            assert_eq!(s.issues.len(), 1, "block = {block}");
            assert_eq!(
                (s.issues[0].code, s.issues[0].line, s.issues[0].offset),
                (JournalCode::TornTail, n, last as u64)
            );
            assert_eq!(s.count, n - 1);
            // The same garbage one line earlier is tampering.
            let mut tampered = torn.clone();
            tampered.extend_from_slice(&bytes[last..]);
            let s = full_in_blocks(&tampered, block);
            assert_eq!(
                s.issues[0].code,
                JournalCode::LineInvalid,
                "block = {block}"
            );
            assert_eq!(s.issues[0].line, n);
        }
        // Swapping two records in the middle breaks the chain there, in every layout.
        let mut lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
        lines.swap(n / 2 - 1, n / 2);
        let swapped = lines.concat();
        for block in [100, 4096, 300 * 1024] {
            let s = full_in_blocks(&swapped, block);
            assert_eq!(s.issues[0].code, JournalCode::ChainBroken);
            assert_eq!(s.issues[0].line, n / 2);
        }
    }

    #[test]
    fn split_lines_cuts_after_newlines_only() {
        let data = b"aa\nbbbb\nc\nddddddd\ne";
        for n in 1..6 {
            let parts = split_lines(data, n);
            assert_eq!(parts.concat(), data);
            assert!(parts.len() <= n);
            for p in &parts[..parts.len() - 1] {
                assert!(p.ends_with(b"\n"), "{n}: {parts:?}");
            }
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
            .issues
            .iter()
            .find(|i| i.code == JournalCode::DuplicateStepId)
            .unwrap();
        assert_eq!((dup.line, s.issue_total), (3, 1));
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
