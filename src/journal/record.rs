//! One step record: its nine keys, their types, its canonical line and its hash.
//!
//! Invariants: a [`Record`] produced by [`check_line`] is exactly what its line says, the line
//! is the canonical form of the record, and `entry_hash` is the lowercase hex SHA-256 of the
//! canonical bytes of the record without `entry_hash`.

// A line's defect is a `Finding` (184 bytes) in `Err`: the rare path, built once per
// defective line, so boxing it would only cost an allocation where it does not matter.
#![allow(clippy::result_large_err)]

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::codes::JournalCode;
use crate::canon;
use crate::report::Finding;

/// The nine keys of a record, in canonical (sorted) order.
pub const KEYS: [&str; 9] = [
    "completed_at",
    "entry_hash",
    "inputs",
    "name",
    "outputs",
    "prev_hash",
    "started_at",
    "status",
    "step_id",
];

/// One verified step record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Unique within the journal.
    pub step_id: String,
    /// What the step is (non-empty).
    pub name: String,
    /// How it went (non-empty, free text such as `ok`, `failed`, `running`).
    pub status: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// RFC 3339 UTC, or `None` (`null` on disk).
    pub completed_at: Option<String>,
    /// Free-form JSON object.
    pub inputs: Map<String, Value>,
    /// Free-form JSON object.
    pub outputs: Map<String, Value>,
    /// The previous record's `entry_hash`; `None` for the first record.
    pub prev_hash: Option<String>,
    /// Lowercase hex SHA-256 of the canonical record without `entry_hash`.
    pub entry_hash: String,
}

/// A step to append. `None` fields get defaults: a fresh UUID v4 `step_id`, the clock's now
/// for `started_at`, `null` for `completed_at`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewStep {
    /// Non-empty.
    pub name: String,
    /// Non-empty.
    pub status: String,
    /// Unique within the journal; default a fresh UUID v4.
    pub step_id: Option<String>,
    /// Free-form JSON object.
    pub inputs: Map<String, Value>,
    /// Free-form JSON object.
    pub outputs: Map<String, Value>,
    /// RFC 3339 UTC; default now.
    pub started_at: Option<String>,
    /// RFC 3339 UTC; default `null`.
    pub completed_at: Option<String>,
}

/// Which spellings of a record a reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lines {
    /// Only the canonical bytes (what vaultgate and `json.dumps(sort_keys=True,
    /// separators=(",", ":"))` write).
    #[default]
    Canonical,
    /// Any strict JSON spelling whose parsed record hashes correctly (duplicate keys, NaN and
    /// lone surrogates are still refused); a non-canonical line is a warning.
    Any,
}

/// Why one line is not a valid record: a finding without subject or location (the scan,
/// which knows the file and the line, sets them).
fn issue<T>(code: JournalCode, message: impl Into<String>) -> Result<T, Finding> {
    Err(Finding::error(code, String::new(), message))
}

impl Record {
    /// The record as a JSON object with all nine keys.
    pub fn to_map(&self) -> Map<String, Value> {
        let mut m = self.body_map();
        m.insert("entry_hash".into(), Value::String(self.entry_hash.clone()));
        m
    }

    /// The record without `entry_hash` (the hash pre-image).
    fn body_map(&self) -> Map<String, Value> {
        let opt = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
        let mut m = Map::new();
        m.insert("completed_at".into(), opt(&self.completed_at));
        m.insert("inputs".into(), Value::Object(self.inputs.clone()));
        m.insert("name".into(), Value::String(self.name.clone()));
        m.insert("outputs".into(), Value::Object(self.outputs.clone()));
        m.insert("prev_hash".into(), opt(&self.prev_hash));
        m.insert("started_at".into(), Value::String(self.started_at.clone()));
        m.insert("status".into(), Value::String(self.status.clone()));
        m.insert("step_id".into(), Value::String(self.step_id.clone()));
        m
    }

    /// The hash this record's content should carry.
    pub fn compute_hash(&self) -> Result<String, canon::CanonError> {
        let mut buf = Vec::with_capacity(256);
        canon::write_object(&self.body_map(), &mut buf)?;
        Ok(hex::encode(Sha256::digest(&buf)))
    }

    /// The canonical line, with its trailing newline.
    pub fn to_line(&self) -> Result<Vec<u8>, canon::CanonError> {
        let mut buf = Vec::with_capacity(256);
        canon::write_object(&self.to_map(), &mut buf)?;
        buf.push(b'\n');
        Ok(buf)
    }
}

/// `true` for 64 lowercase hex digits.
pub fn is_hash(s: &str) -> bool {
    is_hash_bytes(s.as_bytes())
}

/// [`is_hash`] on bytes. Branch-free over all 64 bytes (no early exit), which the compiler
/// vectorizes: verify and append run it on every line.
pub fn is_hash_bytes(h: &[u8]) -> bool {
    h.len() == 64
        && h.iter().fold(true, |ok, &b| {
            ok & ((b.wrapping_sub(b'0') < 10) | (b.wrapping_sub(b'a') < 6))
        })
}

/// Check an RFC 3339 UTC timestamp of the exact shape `YYYY-MM-DDTHH:MM:SS[.F{1,9}]Z`,
/// year 1970–9999, a real calendar date, hour ≤ 23, minute and second ≤ 59.
pub fn check_timestamp(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let shape_ok = b.len() >= 20
        && b.last() == Some(&b'Z')
        && [4, 7].iter().all(|&i| b[i] == b'-')
        && b[10] == b'T'
        && [13, 16].iter().all(|&i| b[i] == b':')
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
        && match &b[19..b.len() - 1] {
            [] => true,
            [b'.', frac @ ..] => {
                (1..=9).contains(&frac.len()) && frac.iter().all(u8::is_ascii_digit)
            }
            _ => false,
        };
    if !shape_ok {
        return Err("expected `YYYY-MM-DDTHH:MM:SS[.fraction]Z`".into());
    }
    let num =
        |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let (hour, minute, second) = (num(11..13), num(14..16), num(17..19));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(format!("month `{month:02}` does not exist")),
    };
    if year < 1970 {
        return Err("years before 1970 are not accepted".into());
    }
    if day == 0 || day > days {
        return Err(format!(
            "day `{day:02}` does not exist in {year:04}-{month:02}"
        ));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("time of day out of range".into());
    }
    Ok(())
}

fn take_string(m: &mut Map<String, Value>, key: &str) -> Result<String, Finding> {
    match m.remove(key) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => issue(
            JournalCode::WrongType,
            format!(
                "`{key}` must be a string, found {}",
                canon::type_name(&other)
            ),
        ),
        None => issue(JournalCode::MissingKey, format!("missing key `{key}`")),
    }
}

fn take_opt_string(m: &mut Map<String, Value>, key: &str) -> Result<Option<String>, Finding> {
    match m.remove(key) {
        Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => issue(
            JournalCode::WrongType,
            format!(
                "`{key}` must be a string or null, found {}",
                canon::type_name(&other)
            ),
        ),
        None => issue(JournalCode::MissingKey, format!("missing key `{key}`")),
    }
}

fn take_object(m: &mut Map<String, Value>, key: &str) -> Result<Map<String, Value>, Finding> {
    match m.remove(key) {
        Some(Value::Object(o)) => Ok(o),
        Some(other) => issue(
            JournalCode::WrongType,
            format!(
                "`{key}` must be an object, found {}",
                canon::type_name(&other)
            ),
        ),
        None => issue(JournalCode::MissingKey, format!("missing key `{key}`")),
    }
}

/// Turn a parsed object into a record, checking keys, types and value shapes (not the hash).
pub fn record_from_map(mut m: Map<String, Value>) -> Result<Record, Finding> {
    let missing: Vec<&str> = KEYS
        .iter()
        .copied()
        .filter(|k| !m.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return issue(
            JournalCode::MissingKey,
            format!("missing key(s) `{}`", missing.join("`, `")),
        );
    }
    let mut unknown: Vec<&String> = m.keys().filter(|k| !KEYS.contains(&k.as_str())).collect();
    if !unknown.is_empty() {
        unknown.sort();
        let names: Vec<String> = unknown
            .iter()
            .map(|k| k.escape_debug().to_string())
            .collect();
        return issue(
            JournalCode::UnknownKey,
            format!("unknown key(s) `{}`", names.join("`, `")),
        );
    }
    let rec = Record {
        step_id: take_string(&mut m, "step_id")?,
        name: take_string(&mut m, "name")?,
        status: take_string(&mut m, "status")?,
        started_at: take_string(&mut m, "started_at")?,
        completed_at: take_opt_string(&mut m, "completed_at")?,
        inputs: take_object(&mut m, "inputs")?,
        outputs: take_object(&mut m, "outputs")?,
        prev_hash: take_opt_string(&mut m, "prev_hash")?,
        entry_hash: take_string(&mut m, "entry_hash")?,
    };
    for (key, v) in [
        ("step_id", &rec.step_id),
        ("name", &rec.name),
        ("status", &rec.status),
    ] {
        if v.is_empty() {
            return issue(JournalCode::EmptyValue, format!("`{key}` is empty"));
        }
    }
    for (key, v) in [
        ("started_at", Some(&rec.started_at)),
        ("completed_at", rec.completed_at.as_ref()),
    ] {
        if let Some(Err(why)) = v.map(|t| check_timestamp(t).map_err(|why| (t, why))) {
            let (t, why) = why;
            return issue(
                JournalCode::BadTimestamp,
                format!("`{key}` is `{}`: {why}", t.escape_debug()),
            );
        }
    }
    for (key, v) in [
        ("entry_hash", Some(&rec.entry_hash)),
        ("prev_hash", rec.prev_hash.as_ref()),
    ] {
        if let Some(h) = v.filter(|h| !is_hash(h)) {
            return issue(
                JournalCode::BadHashFormat,
                format!(
                    "`{key}` is `{}`, expected 64 lowercase hex digits",
                    h.escape_debug()
                ),
            );
        }
    }
    Ok(rec)
}

/// Check one line (without its newline): strict JSON object, nine keys with the right types,
/// canonical bytes, and an `entry_hash` that matches. The chain and `step_id` uniqueness are
/// the caller's: they need the neighbours.
#[cfg(test)]
pub fn check_line(line: &[u8]) -> Result<Record, Finding> {
    check_line_with(line, Lines::Canonical).map(|(rec, _)| rec)
}

/// [`check_line`] accepting the spellings `lines` allows. With [`Lines::Any`] a line that is
/// not canonical is judged by its parsed record, hashed from its canonical bytes, and comes
/// back with a `journal-not-canonical` *warning*.
pub fn check_line_with(line: &[u8], lines: Lines) -> Result<(Record, Option<Finding>), Finding> {
    let map = match canon::parse_object(line) {
        Ok(m) => m,
        Err(e) => return issue(JournalCode::LineInvalid, e.to_string()),
    };
    let mut canonical = Vec::with_capacity(line.len());
    let canon_result = canon::write_object(&map, &mut canonical);
    let rec = record_from_map(map)?;
    if let Err(e) = canon_result {
        return issue(JournalCode::NotCanonical, e.to_string());
    }
    if canonical == line {
        let actual = preimage_hash(line, &rec.entry_hash);
        return hash_matches(rec, &actual).map(|rec| (rec, None));
    }
    let at = canonical
        .iter()
        .zip(line)
        .position(|(a, b)| a != b)
        .unwrap_or(canonical.len().min(line.len()));
    let what = format!("the line is not in canonical form (first difference at column {at})");
    if lines == Lines::Canonical {
        return issue(
            JournalCode::NotCanonical,
            format!(
                "{what}\nhelp: `--lines any` accepts any JSON spelling whose parsed record hashes correctly"
            ),
        );
    }
    let actual = rec
        .compute_hash()
        .map_err(|e| Finding::error(JournalCode::NotCanonical, String::new(), e.to_string()))?;
    let rec = hash_matches(rec, &actual)?;
    let warning = Finding::warning(
        JournalCode::NotCanonical,
        String::new(),
        format!("{what}; accepted by `--lines any`: its parsed record hashes correctly"),
    );
    Ok((rec, Some(warning)))
}

fn hash_matches(rec: Record, actual: &str) -> Result<Record, Finding> {
    if actual == rec.entry_hash {
        return Ok(rec);
    }
    issue(
        JournalCode::HashMismatch,
        format!(
            "`entry_hash` is `{}` but the record hashes to `{actual}`",
            rec.entry_hash
        ),
    )
}

/// SHA-256 of a canonical line with its `,"entry_hash":"…"` member cut out.
///
/// Why this is the record's hash without re-serializing: the line is canonical (checked by
/// the caller), keys are sorted so `entry_hash` directly follows `completed_at`, whose value
/// is `null` or a timestamp, and a canonical string escapes every `"`, so the byte pattern
/// `,"entry_hash":"` cannot occur inside any string value before it. Removing the member
/// gives exactly the canonical bytes of the record without `entry_hash`.
fn preimage_hash(line: &[u8], entry_hash: &str) -> String {
    const MARK: &[u8] = b",\"entry_hash\":\"";
    let member_len = MARK.len() + entry_hash.len() + 1;
    let mut h = Sha256::new();
    match line.windows(MARK.len()).position(|w| w == MARK) {
        Some(at) if at + member_len <= line.len() => {
            h.update(&line[..at]);
            h.update(&line[at + member_len..]);
        }
        // Unreachable for a canonical record with an `entry_hash`; hashing the whole line
        // then yields a mismatch, which fails closed.
        _ => h.update(line),
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::FindingCode as _;

    fn sample() -> Record {
        let mut r = Record {
            step_id: "s1".into(),
            name: "build".into(),
            status: "ok".into(),
            started_at: "2026-01-02T03:04:05Z".into(),
            completed_at: None,
            inputs: canon::parse_object(br#"{"x":1e16,"\u00e9":"\ud83d\ude00"}"#).unwrap(),
            outputs: Map::new(),
            prev_hash: None,
            entry_hash: String::new(),
        };
        r.entry_hash = r.compute_hash().unwrap();
        r
    }

    #[test]
    fn a_written_line_checks_and_round_trips() {
        let r = sample();
        let line = r.to_line().unwrap();
        let back = check_line(&line[..line.len() - 1]).unwrap();
        assert_eq!(back, r);
        // The cut-out pre-image equals the re-serialized one.
        assert_eq!(
            preimage_hash(&line[..line.len() - 1], &r.entry_hash),
            r.entry_hash
        );
    }

    #[test]
    fn each_defect_has_its_code() {
        let r = sample();
        let line = String::from_utf8(r.to_line().unwrap()).unwrap();
        let line = line.trim_end();
        let code = |s: &str| check_line(s.as_bytes()).unwrap_err().code;
        let code = |s: &str| {
            JournalCode::all()
                .iter()
                .copied()
                .find(|c| c.as_str() == code(s))
                .unwrap()
        };
        assert_eq!(
            code(&line.replace("\"build\"", "\"built\"")),
            JournalCode::HashMismatch
        );
        assert_eq!(
            code(&line.replace(",\"name\":\"build\"", "")),
            JournalCode::MissingKey
        );
        assert_eq!(
            code(&line.replacen('{', "{\"extra\":1,", 1)),
            JournalCode::UnknownKey
        );
        assert_eq!(
            code(&line.replace("\"build\"", "7")),
            JournalCode::WrongType
        );
        assert_eq!(
            code(&line.replace("\"build\"", "\"\"")),
            JournalCode::EmptyValue
        );
        assert_eq!(
            code(&line.replace("03:04:05Z", "03:04:05")),
            JournalCode::BadTimestamp
        );
        assert_eq!(
            code(&line.replace(",\"name\"", ", \"name\"")),
            JournalCode::NotCanonical
        );
        assert_eq!(
            code(&line.replacen('{', "{\"name\":\"a\",", 1)),
            JournalCode::LineInvalid
        );
        assert_eq!(code("\0\0\0"), JournalCode::LineInvalid);
        let bad_hash = line.replace(&r.entry_hash, &r.entry_hash.to_uppercase());
        assert_eq!(code(&bad_hash), JournalCode::BadHashFormat);
    }

    #[test]
    fn timestamps_are_strict() {
        for ok in [
            "2026-01-02T03:04:05Z",
            "2024-02-29T23:59:59.123456789Z",
            "1970-01-01T00:00:00Z",
        ] {
            assert_eq!(check_timestamp(ok), Ok(()), "{ok}");
        }
        for bad in [
            "2026-01-02T03:04:05",
            "2026-01-02t03:04:05Z",
            "2026-01-02 03:04:05Z",
            "2026-01-02T03:04:05+00:00",
            "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T23:59:60Z",
            "1969-12-31T23:59:59Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00.1234567891Z",
            "２026-01-01T00:00:00Z",
        ] {
            assert!(check_timestamp(bad).is_err(), "{bad}");
        }
    }
}
