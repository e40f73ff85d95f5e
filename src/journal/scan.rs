//! One streaming pass over a journal's bytes: every line checked, the chain followed, step
//! ids collected, the torn tail told apart from tampering.
//!
//! A torn tail is the last line when it has no final newline, is a NUL run, or does not parse
//! as strict JSON: what a crash in the middle of an append leaves. Anything wrong with an
//! earlier line, or with a last line that parses, is tampering and is reported under its own
//! code. Issues are collected in line order, so the first one is the first failure.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead};

use super::codes::JournalCode;
use super::record::{LineIssue, Record, check_line, is_hash};
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
    pub step_ids: HashMap<String, (usize, u64)>,
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

struct State {
    scan: Scan,
    keep_records: bool,
    prev: Prev,
}

/// What the next record's `prev_hash` must be.
enum Prev {
    /// Line 1: `null`.
    Start,
    /// The previous line was not a valid record (already reported): not checkable.
    Unknown,
    /// The previous record's `entry_hash`.
    Hash(String),
}

/// Scan a journal. `pin` lists line numbers whose `entry_hash` should be recorded.
pub fn scan(
    reader: &mut dyn BufRead,
    depth: Depth,
    keep_records: bool,
    pin: &[usize],
) -> io::Result<Scan> {
    let mut st = State {
        scan: Scan::default(),
        keep_records,
        prev: Prev::Start,
    };
    for &n in pin {
        st.scan.pinned.insert(n, None);
    }
    let mut offset = 0u64;
    let mut line_no = 0usize;
    if depth == Depth::Full {
        full_batches(reader, &mut st, &mut offset, &mut line_no)?;
    } else {
        let mut cur: Vec<u8> = Vec::with_capacity(1024);
        let mut next: Vec<u8> = Vec::with_capacity(1024);
        let mut have_cur = false;
        loop {
            next.clear();
            if reader.read_until(b'\n', &mut next)? == 0 {
                break;
            }
            if have_cur {
                st.light(&cur, line_no, offset);
                offset += cur.len() as u64;
            }
            std::mem::swap(&mut cur, &mut next);
            have_cur = true;
            line_no += 1;
        }
        if have_cur {
            let result = cur.strip_suffix(b"\n").map(check_line);
            st.line(&cur, line_no, offset, true, result);
            offset += cur.len() as u64;
        }
    }
    st.scan.len = offset;
    Ok(st.scan)
}

impl State {
    fn note_step_id(&mut self, id: &str, line: usize, offset: u64) {
        if let Some(&(first, _)) = self.scan.step_ids.get(id) {
            self.scan.push(
                JournalCode::DuplicateStepId,
                line,
                offset,
                format!(
                    "step id `{}` is already used on line {first}",
                    id.escape_debug()
                ),
            );
        } else {
            self.scan.step_ids.insert(id.to_owned(), (line, offset));
        }
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
            self.scan.head = None;
            return;
        };
        self.note_step_id(&step_id, line, offset);
        self.scan.head = Some(entry_hash.clone());
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

    /// Apply one line's [`check_line`] result (`None` when the line has no newline) in order:
    /// torn-tail classification, chain, step ids.
    fn line(
        &mut self,
        raw: &[u8],
        line: usize,
        offset: u64,
        is_last: bool,
        result: Option<Result<Record, LineIssue>>,
    ) {
        let is_nul_run = |c: &[u8]| !c.is_empty() && c.iter().all(|&b| b == 0);
        let (Some(content), Some(result)) = (raw.strip_suffix(b"\n"), result) else {
            // Only the last line can lack its newline.
            let why = if is_nul_run(raw) {
                format!("the journal ends in a run of {} NUL bytes", raw.len())
            } else {
                format!("the last line has no final newline ({} bytes)", raw.len())
            };
            self.torn(raw, line, offset, &why);
            return;
        };
        self.scan.count += 1;
        let rec = match result {
            Ok(rec) => rec,
            Err(e) if is_last && e.code == JournalCode::LineInvalid => {
                self.scan.count -= 1;
                let why = if is_nul_run(content) {
                    format!("the last line is a run of {} NUL bytes", content.len())
                } else {
                    format!("the last line does not parse: {}", e.message)
                };
                self.torn(raw, line, offset, &why);
                return;
            }
            Err(e) => {
                self.scan.push(e.code, line, offset, e.message);
                self.prev = Prev::Unknown;
                self.scan.head = None;
                if let Some(slot) = self.scan.pinned.get_mut(&line) {
                    *slot = None;
                }
                return;
            }
        };
        match (&self.prev, &rec.prev_hash) {
            (Prev::Start, Some(p)) => self.scan.push(
                JournalCode::ChainBroken,
                line,
                offset,
                format!("the first record must have `prev_hash` null, found `{p}`"),
            ),
            (Prev::Hash(want), got) if got.as_deref() != Some(want.as_str()) => {
                let got = got.as_deref().unwrap_or("null");
                let message = format!(
                    "`prev_hash` is `{got}` but line {} has `entry_hash` `{want}`",
                    line - 1
                );
                self.scan
                    .push(JournalCode::ChainBroken, line, offset, message);
            }
            (Prev::Start | Prev::Unknown | Prev::Hash(_), _) => {}
        }
        if let Some(&(first, _)) = self.scan.step_ids.get(&rec.step_id) {
            self.scan.push(
                JournalCode::DuplicateStepId,
                line,
                offset,
                format!(
                    "step id `{}` is already used on line {first}",
                    rec.step_id.escape_debug()
                ),
            );
        } else {
            self.scan
                .step_ids
                .insert(rec.step_id.clone(), (line, offset));
        }
        if let Some(slot) = self.scan.pinned.get_mut(&line) {
            *slot = Some(rec.entry_hash.clone());
        }
        self.scan.head = Some(rec.entry_hash.clone());
        self.prev = Prev::Hash(rec.entry_hash.clone());
        if self.keep_records {
            self.scan.records.push(rec);
        }
    }
}

/// Lines per batch of the parallel full scan.
const BATCH: usize = 8192;

/// [`Depth::Full`]: lines are checked in parallel batches (each line's check is independent),
/// then applied in order. One line is held back from each batch so the last line of the file
/// is always known to be last when it is applied.
fn full_batches(
    reader: &mut dyn BufRead,
    st: &mut State,
    offset: &mut u64,
    line_no: &mut usize,
) -> io::Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(BATCH + 1);
    let mut spare: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut eof = false;
        while batch.len() < BATCH + 1 {
            let mut buf = spare.pop().unwrap_or_default();
            buf.clear();
            if reader.read_until(b'\n', &mut buf)? == 0 {
                eof = true;
                break;
            }
            batch.push(buf);
        }
        let take = if eof { batch.len() } else { BATCH };
        let results = check_parallel(&batch[..take], threads);
        for (k, (raw, result)) in batch.iter().zip(results).enumerate() {
            *line_no += 1;
            st.line(raw, *line_no, *offset, eof && k + 1 == take, result);
            *offset += raw.len() as u64;
        }
        spare.extend(batch.drain(..take));
        if eof {
            return Ok(());
        }
    }
}

fn check_parallel(lines: &[Vec<u8>], threads: usize) -> Vec<Option<Result<Record, LineIssue>>> {
    let check = |raw: &Vec<u8>| raw.strip_suffix(b"\n").map(check_line);
    if threads <= 1 || lines.len() < 64 {
        return lines.iter().map(check).collect();
    }
    let chunk = lines.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(check).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(lines.len());
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                // A panic in a checker is a bug; re-raise it rather than report a verdict.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
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
fn light_fields(line: &[u8]) -> Option<(String, String)> {
    const EH: &[u8] = b",\"entry_hash\":\"";
    const SID: &[u8] = b",\"step_id\":";
    let at = find(line, EH)? + EH.len();
    let hash = line.get(at..at + 64)?;
    if line.get(at + 64) != Some(&b'"') {
        return None;
    }
    let hash = std::str::from_utf8(hash).ok().filter(|h| is_hash(h))?;
    if !line.starts_with(b"{") || !line.ends_with(b"\"}") {
        return None;
    }
    let value = line.get(rfind(line, SID)? + SID.len()..line.len() - 1)?;
    match crate::canon::parse(value) {
        Ok(serde_json::Value::String(id)) => Some((hash.to_owned(), id)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut prev = None;
        for k in 0..n {
            let mut r = Record {
                step_id: format!("s{k}"),
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

    #[test]
    fn batch_boundaries_keep_order_and_the_last_line() {
        // Regression guard for the parallel scan: the last line is classified as last even
        // when it is the first of a batch, and the chain is followed across batches.
        for n in [BATCH, BATCH + 1, BATCH + 2] {
            let bytes = chain(n);
            let s = full(&bytes);
            assert_eq!((s.count, s.issue_total), (n, 0), "n = {n}");
            let last = bytes[..bytes.len() - 1]
                .iter()
                .rposition(|&b| b == b'\n')
                .unwrap()
                + 1;
            // Garbage last line with its newline: torn, only when it is the last line.
            let mut torn = bytes[..last].to_vec();
            torn.extend_from_slice(b"{\"x\n");
            let s = full(&torn);
            assert_eq!(s.issues.len(), 1, "n = {n}");
            assert_eq!(
                (s.issues[0].code, s.issues[0].line),
                (JournalCode::TornTail, n)
            );
            assert_eq!(s.count, n - 1);
        }
        // Swapping two records across the first batch boundary breaks the chain there.
        let bytes = chain(BATCH + 1);
        let mut lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
        lines.swap(BATCH - 1, BATCH);
        let s = full(&lines.concat());
        assert_eq!(s.issues[0].code, JournalCode::ChainBroken);
        assert_eq!(s.issues[0].line, BATCH);
    }

    #[test]
    fn light_fields_reads_canonical_lines_only() {
        let h = "ab".repeat(32);
        let line =
            format!(r#"{{"completed_at":null,"entry_hash":"{h}","inputs":{{}},"step_id":"a\"b"}}"#);
        assert_eq!(
            light_fields(line.as_bytes()),
            Some((h.clone(), "a\"b".to_owned()))
        );
        assert_eq!(light_fields(b"\0\0\0"), None);
        assert_eq!(light_fields(line.replace("\"}", "}").as_bytes()), None);
        assert_eq!(light_fields(line.replace(&h, "xy").as_bytes()), None);
    }
}
