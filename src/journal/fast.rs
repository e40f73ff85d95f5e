//! The fast path of `journal verify`: prove in one pass over a line's bytes that it is a valid
//! record in canonical form, without building a value tree or re-serializing it.
//!
//! Contract: [`check`] returns `Some` only for a line that [`super::record::check_line`]
//! accepts with the same `entry_hash`, `prev_hash` and `step_id`. It may return `None` for any
//! line, valid or not; the caller then runs `check_line`, which names the defect. So this
//! module decides nothing on its own about an invalid line: every finding code, message and
//! position still comes from the one strict parser, and the fast path only ever accepts.
//!
//! Why accepting here is sound (each point is what `check_line` checks, in one pass):
//! - *Strict JSON and canonical form.* The line is read against the grammar of canonical text
//!   only: no whitespace; strings of printable ASCII with exactly the escapes Python's
//!   `ensure_ascii` encoder writes (`\"` `\\` `\b` `\f` `\n` `\r` `\t`, lowercase `\u00XX` for
//!   the other control characters and U+007F, lowercase `\uXXXX` for the rest of the BMP,
//!   surrogate *pairs* above it; a lone surrogate or any other escape is not accepted);
//!   integers `0` or `-?[1-9][0-9]*` (`-0` is written `0`); every other number must be
//!   byte-for-byte the Python `repr` of the double it reads as ([`canon::write_python_float_repr`],
//!   the serializer's own function); object keys strictly increasing by code point, which also
//!   rules out duplicates; nesting at most [`canon::MAX_DEPTH`]. Canonical text is pure ASCII,
//!   so it is valid UTF-8. A text that matches this grammar parses, and re-serializing what it
//!   parses to gives the same bytes, token by token.
//! - *Record shape.* The nine keys are matched literally in their sorted order (`completed_at`,
//!   `entry_hash`, `inputs`, `name`, `outputs`, `prev_hash`, `started_at`, `status`,
//!   `step_id`), so no key is missing, none is extra, and each value's type is fixed by its
//!   position. Timestamps go through [`check_timestamp`] and hashes through [`is_hash`];
//!   `step_id`, `name` and `status` must be non-empty.
//! - *Hash.* `entry_hash` must equal SHA-256 of the line with its `,"entry_hash":"…"` member
//!   cut out: that is the canonical form of the record without `entry_hash`, because keys are
//!   sorted and `entry_hash` is a middle member (see `record::preimage_hash`).

use sha2::{Digest, Sha256};

use super::record::{check_timestamp, is_hash_bytes};
use crate::canon;

/// The fields the chain and the step-id check need from a line that is a valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastRecord<'a> {
    /// `entry_hash`: 64 lowercase hex digits (checked against the record).
    pub entry_hash: &'a [u8],
    /// `prev_hash`: `None` for `null`, else 64 lowercase hex digits.
    pub prev_hash: Option<&'a [u8]>,
    /// `step_id` exactly as written between its quotes (canonical escapes, non-empty).
    pub step_id: &'a [u8],
}

/// `Some` when `line` (without its newline) is a valid, canonical record whose `entry_hash`
/// matches. `None` means "not proven here": the caller must run the full check.
pub fn check(line: &[u8]) -> Option<FastRecord<'_>> {
    let mut c = Cursor { b: line, i: 0 };
    c.expect(b"{\"completed_at\":")?;
    if !c.eat(b"null") {
        let ts = c.string()?;
        timestamp(ts)?;
    }
    let cut_start = c.i;
    c.expect(b",\"entry_hash\":\"")?;
    let entry_hash = c.take(64)?;
    c.expect(b"\"")?;
    let cut_end = c.i;
    if !is_hash_bytes(entry_hash) {
        return None;
    }
    c.expect(b",\"inputs\":")?;
    c.object(2)?;
    c.expect(b",\"name\":")?;
    non_empty(c.string()?)?;
    c.expect(b",\"outputs\":")?;
    c.object(2)?;
    c.expect(b",\"prev_hash\":")?;
    let prev_hash = if c.eat(b"null") {
        None
    } else {
        c.expect(b"\"")?;
        let h = c.take(64)?;
        c.expect(b"\"")?;
        if !is_hash_bytes(h) {
            return None;
        }
        Some(h)
    };
    c.expect(b",\"started_at\":")?;
    timestamp(c.string()?)?;
    c.expect(b",\"status\":")?;
    non_empty(c.string()?)?;
    c.expect(b",\"step_id\":")?;
    let step_id = non_empty(c.string()?)?;
    c.expect(b"}")?;
    if c.i != line.len() {
        return None;
    }
    let mut h = Sha256::new();
    h.update(&line[..cut_start]);
    h.update(&line[cut_end..]);
    if !digest_matches_hex(&h.finalize(), entry_hash) {
        return None;
    }
    Some(FastRecord {
        entry_hash,
        prev_hash,
        step_id,
    })
}

fn non_empty(s: &[u8]) -> Option<&[u8]> {
    (!s.is_empty()).then_some(s)
}

/// A timestamp is plain ASCII (digits, `-`, `T`, `:`, `.`, `Z`), so its canonical string
/// content is the timestamp itself; anything with an escape fails [`check_timestamp`] here
/// and is left to the full check.
fn timestamp(raw: &[u8]) -> Option<()> {
    let s = std::str::from_utf8(raw).ok()?;
    check_timestamp(s).ok()
}

fn digest_matches_hex(digest: &[u8], hex: &[u8]) -> bool {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    digest.len() * 2 == hex.len()
        && digest.iter().zip(hex.chunks_exact(2)).all(|(&d, pair)| {
            pair[0] == HEX[usize::from(d >> 4)] && pair[1] == HEX[usize::from(d & 0xF)]
        })
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Length-generic so that every literal compare is inlined (a libc `memcmp` call per
    /// literal was 13% of a verify).
    #[inline]
    fn eat<const N: usize>(&mut self, lit: &[u8; N]) -> bool {
        match self.b.get(self.i..self.i + N) {
            Some(s) if s == lit => {
                self.i += N;
                true
            }
            _ => false,
        }
    }

    #[inline]
    fn expect<const N: usize>(&mut self, lit: &[u8; N]) -> Option<()> {
        self.eat(lit).then_some(())
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.i..self.i + n)?;
        self.i += n;
        Some(s)
    }

    /// Any canonical value inside a container at nesting level `level`.
    fn value(&mut self, level: usize) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(level + 1),
            b'[' => self.array(level + 1),
            b'"' => self.string().map(|_| ()),
            b'-' | b'0'..=b'9' => self.number(),
            _ => (self.eat(b"null") || self.eat(b"true") || self.eat(b"false")).then_some(()),
        }
    }

    /// A canonical object at nesting level `level` (the record itself is level 1).
    fn object(&mut self, level: usize) -> Option<()> {
        if level > canon::MAX_DEPTH {
            return None;
        }
        self.expect(b"{")?;
        if self.eat(b"}") {
            return Some(());
        }
        let mut prev: Option<&'a [u8]> = None;
        loop {
            let key = self.string()?;
            if let Some(prev) = prev
                && !key_after(prev, key)?
            {
                return None;
            }
            prev = Some(key);
            self.expect(b":")?;
            self.value(level)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, level: usize) -> Option<()> {
        if level > canon::MAX_DEPTH {
            return None;
        }
        self.expect(b"[")?;
        if self.eat(b"]") {
            return Some(());
        }
        loop {
            self.value(level)?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A canonical string; returns its content between the quotes, as written.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.expect(b"\"")?;
        let start = self.i;
        loop {
            match self.peek()? {
                b'"' => {
                    let content = &self.b[start..self.i];
                    self.i += 1;
                    return Some(content);
                }
                b'\\' => self.escape()?,
                // Printable ASCII is written as itself (`"` and `\` are handled above).
                0x20..=0x7E => self.i += 1,
                // Control characters, U+007F and every non-ASCII byte are escaped in
                // canonical text.
                _ => return None,
            }
        }
    }

    fn escape(&mut self) -> Option<()> {
        self.i += 1; // `\`
        match self.peek()? {
            b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => {
                self.i += 1;
                Some(())
            }
            b'u' => {
                self.i += 1;
                let unit = self.hex4()?;
                match unit {
                    // Written as themselves or with a short escape, never as `\u`; and a low
                    // surrogate without a high one before it is a lone surrogate.
                    0x08 | 0x09 | 0x0A | 0x0C | 0x0D | 0x20..=0x7E | 0xDC00..=0xDFFF => None,
                    0xD800..=0xDBFF => {
                        self.expect(b"\\u")?;
                        let low = self.hex4()?;
                        (0xDC00..=0xDFFF).contains(&low).then_some(())
                    }
                    _ => Some(()),
                }
            }
            // Includes `\/`: Python does not escape `/`.
            _ => None,
        }
    }

    /// Four lowercase hex digits (Python writes lowercase).
    fn hex4(&mut self) -> Option<u32> {
        let digits = self.take(4)?;
        digits.iter().try_fold(0u32, |n, &c| {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                _ => return None,
            };
            Some(n * 16 + u32::from(d))
        })
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Option<()> {
        let start = self.i;
        self.eat(b"-");
        match self.peek()? {
            b'0' => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return None;
                }
            }
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        let mut float = false;
        if self.eat(b".") {
            float = true;
            if self.digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            float = true;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        let text = &self.b[start..self.i];
        if !float {
            // An integer is written back as is, except `-0`, which Python reads as int 0.
            return (text != b"-0").then_some(());
        }
        let f: f64 = std::str::from_utf8(text).ok()?.parse().ok()?;
        if !f.is_finite() {
            return None;
        }
        // Python's repr of a double is at most 24 bytes; the buffer never reallocates after
        // its first use on this thread.
        REPR.with_borrow_mut(|buf| {
            buf.clear();
            canon::write_python_float_repr(f, buf);
            (buf.as_slice() == text).then_some(())
        })
    }
}

thread_local! {
    static REPR: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `Some(true)` when the key written as `b` sorts strictly after the key written as `a`, by
/// code point of the *unescaped* text. Keys without escapes are printable ASCII, where byte
/// order is code point order; otherwise both are unescaped first (UTF-8 byte order is code
/// point order). `None` if a key does not unescape (never for a canonical string).
fn key_after(a: &[u8], b: &[u8]) -> Option<bool> {
    if !a.contains(&b'\\') && !b.contains(&b'\\') {
        return Some(b > a);
    }
    let (a, b) = (unescape(a)?, unescape(b)?);
    Some(b.as_bytes() > a.as_bytes())
}

/// The text of a canonical string's content (rare path: only for keys with escapes and
/// duplicate step ids).
pub fn unescape(content: &[u8]) -> Option<String> {
    let mut quoted = Vec::with_capacity(content.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(content);
    quoted.push(b'"');
    match canon::parse(&quoted) {
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::{Record, check_line};
    use super::*;

    fn record(inputs: &str) -> Record {
        let mut r = Record {
            step_id: "s\u{e9}1".into(),
            name: "build".into(),
            status: "ok".into(),
            started_at: "2026-01-02T03:04:05Z".into(),
            completed_at: Some("2026-01-02T03:04:06.25Z".into()),
            inputs: canon::parse_object(inputs.as_bytes()).unwrap(),
            outputs: serde_json::Map::new(),
            prev_hash: Some("ab".repeat(32)),
            entry_hash: String::new(),
        };
        r.entry_hash = r.compute_hash().unwrap();
        r
    }

    fn line(r: &Record) -> Vec<u8> {
        let mut l = r.to_line().unwrap();
        l.pop();
        l
    }

    /// The contract: whenever the fast path accepts, the full check accepts with the same
    /// fields.
    fn agrees(l: &[u8]) -> bool {
        let fast = check(l);
        if let Some(f) = fast {
            let rec = check_line(l).expect("fast path accepted a line the full check refuses");
            assert_eq!(f.entry_hash, rec.entry_hash.as_bytes());
            assert_eq!(f.prev_hash, rec.prev_hash.as_deref().map(str::as_bytes));
            assert_eq!(unescape(f.step_id).as_deref(), Some(rec.step_id.as_str()));
        }
        fast.is_some()
    }

    #[test]
    fn canonical_records_take_the_fast_path() {
        for inputs in [
            r"{}",
            r#"{"x":1e16,"\u00e9":"\ud83d\ude00","a":[1,-2,0.5,-0.0,1e-05,null,true,false,{}]}"#,
            r#"{"\n":1,"A":2,"z":{"y":[[]]},"\u007f":"\u0000\b\f\n\r\t\"\\/"}"#,
            r#"{"big":123456789012345678901234567890,"f":1.7976931348623157e308}"#,
        ] {
            let r = record(inputs);
            let l = line(&r);
            assert!(agrees(&l), "{}", String::from_utf8_lossy(&l));
        }
    }

    #[test]
    fn anything_off_is_left_to_the_full_check() {
        let r = record(r#"{"a":1.5,"b":"x"}"#);
        let good = String::from_utf8(line(&r)).unwrap();
        let variants = [
            good.replace("1.5", "1.50"),
            good.replace("1.5", "15e-1"),
            good.replace("1.5", "-0"),
            good.replace("\"x\"", "\"\\u0078\""),
            good.replace("\"x\"", "\"\\/\""),
            good.replace("\"x\"", "\"\\ud800\""),
            good.replace("\"x\"", "\"\\u00E9\""),
            good.replace("\"x\"", "\"\u{e9}\""),
            good.replace("{\"a\"", "{\"c\":0,\"a\""),
            good.replace("{\"a\"", "{\"b\":0,\"a\""),
            good.replace(":1.5", ": 1.5"),
            good.replace("\"build\"", "\"BUILD\""),
            good.replace("\"build\"", "\"\""),
            good.replace("\"ok\"", "7"),
            good.replace("03:04:05Z", "03:04:65Z"),
            good.replace(&"ab".repeat(32), &"AB".repeat(32)),
            format!("{good} "),
            good[..good.len() - 1].to_owned(),
        ];
        for v in &variants {
            assert!(!agrees(v.as_bytes()), "{v}");
            assert!(check_line(v.as_bytes()).is_err(), "{v}");
        }
    }

    fn object_at(text: &str, level: usize) -> bool {
        let mut c = Cursor {
            b: text.as_bytes(),
            i: 0,
        };
        c.object(level).is_some() && c.i == text.len()
    }

    #[test]
    fn unescaped_key_order_decides_not_the_escaped_bytes() {
        // "\n" (U+000A) sorts before "A" although its escape `\n` (0x5C) sorts after.
        let r = record(r#"{"A":1,"\n":2}"#);
        let l = String::from_utf8(line(&r)).unwrap();
        assert!(l.contains(r#"{"\n":2,"A":1}"#), "{l}");
        assert!(agrees(l.as_bytes()));
        assert!(object_at(r#"{"\n":2,"A":1}"#, 2));
        assert!(!object_at(r#"{"A":1,"\n":2}"#, 2));
        // Above U+FFFF: code point order, not UTF-16 order.
        assert!(object_at(r#"{"\uff61":2,"\ud83d\ude00":1}"#, 2));
        assert!(!object_at(r#"{"\ud83d\ude00":1,"\uff61":2}"#, 2));
        // Equal keys, spelled the same: a duplicate.
        assert!(!object_at(r#"{"a":1,"a":2}"#, 2));
    }

    #[test]
    fn nesting_limit_matches_the_parser() {
        let deep = |n: usize| format!(r#"{{"d":{}1{}}}"#, "[".repeat(n), "]".repeat(n));
        // The record is level 1 and `inputs` level 2: 126 arrays inside reach level 128.
        assert!(agrees(&line(&record(&deep(126)))));
        assert!(object_at(&deep(126), 2));
        assert!(!object_at(&deep(127), 2));
        assert!(canon::parse(format!("{{\"i\":{}}}", deep(127)).as_bytes()).is_err());
    }

    /// Every Python-generated vector, as a value inside `inputs`: the canonical spelling is
    /// proven on the fast path, any other spelling is left to the full check, and the two
    /// always agree.
    #[test]
    fn python_vectors_agree_with_the_full_check() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/journal/canonical_vectors.json"
        );
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let base = record("{}");
        let base_line = String::from_utf8(line(&base)).unwrap();
        let mut fast_count = 0;
        let mut spliced_fast = 0;
        for v in doc["vectors"].as_array().unwrap() {
            let input = v["input"].as_str().unwrap();
            if let Some(want) = v["canonical"].as_str() {
                let r = record(&format!(r#"{{"v":{want}}}"#));
                assert!(agrees(&line(&r)), "canonical {want:?} not proven");
                fast_count += 1;
            }
            // The raw input spliced in and the hash re-sealed: proven exactly when the input
            // already is Python's canonical spelling (and the full check agrees, always).
            let spliced =
                base_line.replace(r#""inputs":{}"#, &format!(r#""inputs":{{"v":{input}}}"#));
            let mut spliced = spliced.into_bytes();
            reseal(&mut spliced);
            let canonical = v["canonical"].as_str() == Some(input);
            assert_eq!(agrees(&spliced), canonical, "input {input:?}");
            spliced_fast += usize::from(canonical);
        }
        assert!(spliced_fast > 5, "{spliced_fast}");
        assert!(fast_count > 40);
    }

    /// Put the hash of the line's own pre-image into its `entry_hash`, so that only the
    /// canonical-form and shape checks decide.
    fn reseal(l: &mut [u8]) {
        const MARK: &[u8] = b",\"entry_hash\":\"";
        let Some(at) = l.windows(MARK.len()).position(|w| w == MARK) else {
            return;
        };
        let hex_at = at + MARK.len();
        if l.len() < hex_at + 65 {
            return;
        }
        let mut h = Sha256::new();
        h.update(&l[..at]);
        h.update(&l[hex_at + 65..]);
        l[hex_at..hex_at + 64].copy_from_slice(hex::encode(h.finalize()).as_bytes());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// Any byte changed anywhere, the hash re-sealed: the fast path never accepts what the
        /// full check refuses, and agrees with it on the fields when both accept.
        #[test]
        fn a_changed_byte_never_splits_the_two_checks(
            pos in proptest::prelude::any::<proptest::sample::Index>(),
            to in proptest::prop_oneof![
                proptest::prelude::any::<u8>(),
                proptest::sample::select(b"\\\"u0123456789abcdefABCDEF.eE+-,:{}[] tnrf/".to_vec()),
            ],
        ) {
            let r = record(r#"{"a":[1,2.5,"\u00e9\ud83d\ude00",1e-05],"b":{"c":null,"cd":true},"d":-7,"e":"\n\\"}"#);
            let mut l = line(&r);
            let i = pos.index(l.len());
            l[i] = to;
            reseal(&mut l);
            agrees(&l);
        }
    }

    #[test]
    fn resealed_lines_do_reach_the_fast_path() {
        // Guard for the property above: a harmless change (a digit) re-sealed is accepted.
        let r = record(r#"{"d":-7}"#);
        let mut l = String::from_utf8(line(&r))
            .unwrap()
            .replace("-7", "-8")
            .into_bytes();
        reseal(&mut l);
        assert!(agrees(&l));
    }
}
