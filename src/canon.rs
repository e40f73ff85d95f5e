//! Canonical JSON bytes, identical to Python's
//! `json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)` encoded UTF-8.
//!
//! Contract:
//! - [`parse`] reads strict JSON (RFC 8259) into a [`serde_json::Value`] and refuses what Python
//!   would read differently or what has no canonical form: duplicate object keys (Python and
//!   serde_json silently keep the last), lone surrogates in `\uXXXX` escapes, numbers that
//!   overflow to infinity (`1e999`), invalid UTF-8, and nesting deeper than [`MAX_DEPTH`].
//!   Numbers keep their source text (`arbitrary_precision`).
//! - [`to_bytes`] writes the canonical form: keys sorted by code point, no whitespace, every
//!   non-ASCII or control character escaped as lowercase `\uXXXX` (surrogate pairs above
//!   U+FFFF), `\b \f \n \r \t \" \\` short escapes. A number without `.`/`e`/`E` is an integer
//!   and is written exactly (any size; `-0` becomes `0`); any other number is parsed as an IEEE
//!   double (correctly rounded, as Python's `float()`) and written as Python's `repr`: shortest
//!   round-trip digits (from `ryu`, never `format!`, whose tie rounding differs), exponent form
//!   when the decimal exponent is below -4 or at least 16 (`1e+16`, `1.5e-05`), else fixed
//!   with at least one fractional digit (`100.0`).
//!
//! Invariant: for every `v` that [`parse`] accepts, `parse(to_bytes(v)) == v` up to number
//! spelling, and `to_bytes(parse(to_bytes(v))) == to_bytes(v)`.
//!
//! Why a hand-written parser: serde_json's `Value` keeps the last of duplicate keys and, with
//! `arbitrary_precision`, reads an object whose only key is `$serde_json::private::Number` as
//! a number. Python reads both differently, so canonical bytes would silently diverge.

use std::str::FromStr as _;

use serde_json::{Map, Number, Value};

/// The deepest nesting of arrays and objects accepted (serde_json's own default limit).
pub const MAX_DEPTH: usize = 128;

/// Why bytes could not be parsed or a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at byte {offset}")]
pub struct CanonError {
    /// Byte offset into the input (0 when serializing).
    pub offset: usize,
    /// Lowercase description, user values in backticks.
    pub reason: String,
}

impl CanonError {
    fn at(offset: usize, reason: impl Into<String>) -> Self {
        Self {
            offset,
            reason: reason.into(),
        }
    }
}

/// Parse strict JSON, refusing duplicate keys, lone surrogates, non-finite numbers, invalid
/// UTF-8 and nesting deeper than [`MAX_DEPTH`]. Leading and trailing JSON whitespace is allowed.
pub fn parse(bytes: &[u8]) -> Result<Value, CanonError> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(CanonError::at(e.valid_up_to(), "invalid UTF-8"));
    }
    let mut p = Parser { b: bytes, i: 0 };
    p.skip_ws();
    let v = p.value(0)?;
    p.skip_ws();
    if p.i != bytes.len() {
        return Err(CanonError::at(
            p.i,
            "trailing characters after the JSON value",
        ));
    }
    Ok(v)
}

/// Parse strict JSON that must be an object (see [`parse`]).
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, CanonError> {
    match parse(bytes)? {
        Value::Object(m) => Ok(m),
        other => Err(CanonError::at(
            0,
            format!("expected a JSON object, found {}", type_name(&other)),
        )),
    }
}

/// `null`, `a boolean`, `a number`, `a string`, `an array` or `an object`.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn err<T>(&self, reason: impl Into<String>) -> Result<T, CanonError> {
        Err(CanonError::at(self.i, reason))
    }

    fn unexpected<T>(&self, expected: &str) -> Result<T, CanonError> {
        match self.b.get(self.i) {
            None => self.err(format!("unexpected end of input, expected {expected}")),
            Some(&c) => self.err(format!(
                "unexpected `{}`, expected {expected}",
                char::from(c).escape_default()
            )),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, CanonError> {
        match self.b.get(self.i) {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            _ => self.unexpected("a JSON value"),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, CanonError> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            self.unexpected("a JSON value")
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, CanonError> {
        if depth > MAX_DEPTH {
            return self.err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        self.i += 1; // `{`
        let mut map = Map::new();
        self.skip_ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_ws();
            if self.b.get(self.i) != Some(&b'"') {
                return self.unexpected("a string key");
            }
            let key_at = self.i;
            let key = self.string()?;
            self.skip_ws();
            if self.b.get(self.i) != Some(&b':') {
                return self.unexpected("`:`");
            }
            self.i += 1;
            self.skip_ws();
            let v = self.value(depth)?;
            if map.contains_key(&key) {
                return Err(CanonError::at(
                    key_at,
                    format!("duplicate object key `{}`", key.escape_debug()),
                ));
            }
            map.insert(key, v);
            self.skip_ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(map));
                }
                _ => return self.unexpected("`,` or `}`"),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, CanonError> {
        if depth > MAX_DEPTH {
            return self.err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        self.i += 1; // `[`
        let mut items = Vec::new();
        self.skip_ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                _ => return self.unexpected("`,` or `]`"),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, CanonError> {
        let Some(h) = self.b.get(self.i..self.i + 4) else {
            return self.err("truncated `\\u` escape");
        };
        let mut n = 0u32;
        for &c in h {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return self.err("invalid hex digit in `\\u` escape"),
            };
            n = n * 16 + u32::from(d);
        }
        self.i += 4;
        Ok(n)
    }

    fn string(&mut self) -> Result<String, CanonError> {
        self.i += 1; // opening quote
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&c) = self.b.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // The input was checked to be UTF-8 and the run stops only at ASCII bytes, so it
            // is a whole number of characters.
            match std::str::from_utf8(&self.b[start..self.i]) {
                Ok(s) => out.push_str(s),
                Err(_) => return self.err("invalid UTF-8 (a bug in vaultgate's parser)"),
            }
            match self.b.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => return self.err("unescaped control character in a string"),
                None => return self.err("unterminated string"),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), CanonError> {
        let Some(&c) = self.b.get(self.i) else {
            return self.err("unterminated string");
        };
        self.i += 1;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let at = self.i - 2;
                let hi = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                        return Err(CanonError::at(at, "lone surrogate in `\\u` escape"));
                    }
                    self.i += 2;
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(CanonError::at(at, "lone surrogate in `\\u` escape"));
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00..0xE000).contains(&hi) {
                    return Err(CanonError::at(at, "lone surrogate in `\\u` escape"));
                } else {
                    hi
                };
                match char::from_u32(code) {
                    Some(ch) => ch,
                    None => return Err(CanonError::at(at, "invalid `\\u` escape")),
                }
            }
            _ => {
                self.i -= 1;
                return self.err("invalid escape in a string");
            }
        };
        out.push(ch);
        Ok(())
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.b.get(self.i) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Value, CanonError> {
        let start = self.i;
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b'0') => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.b.get(self.i) {
                    return self.err("leading zero in a number");
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.unexpected("a digit"),
        }
        let mut float = false;
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            float = true;
            if self.digits() == 0 {
                return self.unexpected("a digit after `.`");
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            float = true;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return self.unexpected("a digit in the exponent");
            }
        }
        // The grammar above admits only ASCII.
        let text = String::from_utf8_lossy(&self.b[start..self.i]);
        if float && !text.parse::<f64>().is_ok_and(f64::is_finite) {
            return Err(CanonError::at(
                start,
                format!("number `{text}` is out of the range of a double"),
            ));
        }
        Number::from_str(&text)
            .map(Value::Number)
            .map_err(|e| CanonError::at(start, format!("invalid number `{text}`: {e}")))
    }
}

/// The canonical bytes of `v` (no trailing newline).
pub fn to_bytes(v: &Value) -> Result<Vec<u8>, CanonError> {
    let mut out = Vec::with_capacity(256);
    write(v, &mut out)?;
    Ok(out)
}

/// Append the canonical bytes of `v` to `out`.
pub fn write(v: &Value, out: &mut Vec<u8>) -> Result<(), CanonError> {
    write_value(v, out, 0)
}

/// Append the canonical bytes of an object given as a map.
pub fn write_object(m: &Map<String, Value>, out: &mut Vec<u8>) -> Result<(), CanonError> {
    write_map(m, out, 1)
}

fn write_value(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), CanonError> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n.as_str(), out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            if depth >= MAX_DEPTH {
                return Err(CanonError::at(
                    0,
                    format!("nesting deeper than {MAX_DEPTH} levels"),
                ));
            }
            out.push(b'[');
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                write_value(item, out, depth + 1)?;
            }
            out.push(b']');
        }
        Value::Object(m) => write_map(m, out, depth + 1)?,
    }
    Ok(())
}

fn write_map(m: &Map<String, Value>, out: &mut Vec<u8>, depth: usize) -> Result<(), CanonError> {
    if depth > MAX_DEPTH {
        return Err(CanonError::at(
            0,
            format!("nesting deeper than {MAX_DEPTH} levels"),
        ));
    }
    // Sort explicitly: the map's own order depends on serde_json's `preserve_order` feature,
    // which any crate in the build can switch on. UTF-8 byte order is code point order.
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push(b'{');
    for (k, (key, val)) in entries.into_iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        write_value(val, out, depth)?;
    }
    out.push(b'}');
    Ok(())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_u16_escape(unit: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((unit >> shift) & 0xF) as usize]);
    }
}

/// Append one string in canonical form (quoted, `ensure_ascii` escapes), for writers that build
/// canonical bytes field by field without a [`Value`] (the vault's audit rows).
pub fn write_str(s: &str, out: &mut Vec<u8>) {
    write_string(s, out);
}

/// Python's `ensure_ascii` string encoder.
fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, ch) in s.char_indices() {
        let plain = matches!(ch, ' '..='~') && ch != '"' && ch != '\\';
        if plain {
            continue;
        }
        out.extend_from_slice(&bytes[run..i]);
        run = i + ch.len_utf8();
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            _ => {
                let c = u32::from(ch);
                if c >= 0x10000 {
                    let v = c - 0x10000;
                    push_u16_escape(0xD800 + (v >> 10), out);
                    push_u16_escape(0xDC00 + (v & 0x3FF), out);
                } else {
                    push_u16_escape(c, out);
                }
            }
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

fn write_number(text: &str, out: &mut Vec<u8>) -> Result<(), CanonError> {
    let is_float = text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'));
    if !is_float {
        // Python reads a JSON integer as an exact int and writes it back unchanged, except
        // `-0`, which is int 0.
        let digits = text.strip_prefix('-').unwrap_or(text);
        let well_formed = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !well_formed {
            return Err(CanonError::at(0, format!("invalid integer `{text}`")));
        }
        if digits == "0" {
            out.push(b'0');
        } else {
            out.extend_from_slice(text.as_bytes());
        }
        return Ok(());
    }
    let f: f64 = text
        .parse()
        .map_err(|_| CanonError::at(0, format!("invalid number `{text}`")))?;
    if !f.is_finite() {
        return Err(CanonError::at(
            0,
            format!("number `{text}` is out of the range of a double"),
        ));
    }
    write_python_float_repr(f, out);
    Ok(())
}

/// The fuzz oracle, shared by the `journal_parse` target and the regression replay: whatever
/// [`parse`] accepts has canonical bytes that parse and re-serialize to exactly the same bytes.
/// Panics when that fails.
#[allow(clippy::expect_used)] // a fuzz oracle: panicking is how it reports a broken invariant
pub fn fuzz_check(data: &[u8]) {
    let Ok(value) = parse(data) else { return };
    let Ok(bytes) = to_bytes(&value) else { return };
    let back = parse(&bytes).expect("canonical bytes must parse");
    let again = to_bytes(&back).expect("a parsed value must serialize");
    assert_eq!(again, bytes, "canonical form is not a fixed point");
}

/// Python's `float.__repr__` for a finite double.
pub fn python_float_repr(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let mut out = Vec::new();
    write_python_float_repr(f, &mut out);
    String::from_utf8(out).ok()
}

/// Append Python's `float.__repr__` of a finite double to `out`. Allocation-free: the journal
/// verifier calls it once per float in every record.
pub fn write_python_float_repr(f: f64, out: &mut Vec<u8>) {
    let mut buf = ryu::Buffer::new();
    // ryu gives the shortest round-trip digits; only its layout differs from Python's, so
    // take the digits and the decimal point position from it and lay them out again.
    let s = buf.format_finite(f);
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (mantissa, exp) = match s.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // At most 17 significant digits plus ryu's padding zeros fit in its own 24-byte buffer.
    let mut all = [0u8; 32];
    let mut len = 0;
    for d in int_part.bytes().chain(frac_part.bytes()) {
        if len < all.len() {
            all[len] = d;
            len += 1;
        }
    }
    // Value = 0.DIGITS × 10^decpt.
    let int_len = i32::try_from(int_part.len()).unwrap_or(i32::MAX);
    let mut decpt = int_len + exp;
    let lead = all[..len].iter().take_while(|&&d| d == b'0').count();
    decpt -= i32::try_from(lead).unwrap_or(0);
    let mut digits = &all[lead..len];
    while let Some((&b'0', rest)) = digits.split_last() {
        digits = rest;
    }
    if neg {
        out.push(b'-');
    }
    if digits.is_empty() {
        out.extend_from_slice(b"0.0");
        return;
    }
    let n = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if decpt <= -4 || decpt > 16 {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let e = decpt - 1;
        out.push(b'e');
        out.push(if e < 0 { b'-' } else { b'+' });
        let mag = e.unsigned_abs();
        if mag < 10 {
            out.push(b'0');
        }
        // |e| <= 324: at most three digits.
        if mag >= 100 {
            out.push(b'0' + u8::try_from(mag / 100).unwrap_or(0));
        }
        if mag >= 10 {
            out.push(b'0' + u8::try_from(mag / 10 % 10).unwrap_or(0));
        }
        out.push(b'0' + u8::try_from(mag % 10).unwrap_or(0));
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', decpt.unsigned_abs() as usize));
        out.extend_from_slice(digits);
    } else if decpt < n {
        let split = decpt.unsigned_abs() as usize;
        out.extend_from_slice(&digits[..split]);
        out.push(b'.');
        out.extend_from_slice(&digits[split..]);
    } else {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(
            b'0',
            (decpt - n).unsigned_abs() as usize,
        ));
        out.extend_from_slice(b".0");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        String::from_utf8(to_bytes(&parse(s.as_bytes()).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn floats_follow_python_repr() {
        for (input, want) in [
            ("1e16", "1e+16"),
            ("1E16", "1e+16"),
            ("1e15", "1000000000000000.0"),
            ("9999999999999998.0", "9999999999999998.0"),
            ("1e-5", "1e-05"),
            ("1.5e-5", "1.5e-05"),
            ("0.0001", "0.0001"),
            ("100.0", "100.0"),
            ("1.0E2", "100.0"),
            ("0.30000000000000004", "0.30000000000000004"),
            ("5e-324", "5e-324"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("-0.0", "-0.0"),
            ("0.0", "0.0"),
            ("-1e-400", "-0.0"),
            ("123456789012345678.0", "1.2345678901234568e+17"),
            ("0.1", "0.1"),
            ("-2.5", "-2.5"),
        ] {
            assert_eq!(canon(input), want, "input {input}");
        }
    }

    #[test]
    fn integers_are_exact_at_any_size() {
        assert_eq!(canon("-0"), "0");
        assert_eq!(canon("100"), "100");
        let big = format!("-{}", "9".repeat(400));
        assert_eq!(canon(&big), big);
    }

    #[test]
    fn strings_are_ascii_escaped_like_python() {
        assert_eq!(
            canon(r#""a\"b\\c\n\r\t\b\f\u0001\u001f\u007f é😀 /""#),
            r#""a\"b\\c\n\r\t\b\f\u0001\u001f\u007f \u00e9\ud83d\ude00 /""#
        );
        assert_eq!(canon(r#""\/""#), r#""/""#);
    }

    #[test]
    fn keys_sort_by_code_point_not_utf16() {
        // U+FF61 sorts before U+1F600 by code point but after it in UTF-16 (RFC 8785) order.
        assert_eq!(
            canon(r#"{"😀":1,"｡":2,"b":3,"a":{"z":1,"y":2}}"#),
            r#"{"a":{"y":2,"z":1},"b":3,"\uff61":2,"\ud83d\ude00":1}"#
        );
    }

    #[test]
    fn refuses_what_python_would_read_differently() {
        for bad in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":{"b":1,"b":1}}"#,
            r#"{"a":1,"\u0061":2}"#,
            r#""\ud800""#,
            r#""\udc00x""#,
            r#""\ud800\u0041""#,
            "1e999",
            "-1e400",
            "NaN",
            "Infinity",
            "[1,]",
            "01",
            "1.",
            "{\"a\":1} x",
            "\"\u{1}\"",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "accepted {bad:?}");
        }
        assert!(parse(b"\"\xff\"").is_err());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(parse(deep.as_bytes()).is_err());
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn serde_json_refuses_lone_surrogates_too() {
        // The brief's claim, confirmed: serde_json would not smuggle one in either.
        assert!(serde_json::from_str::<Value>(r#""\ud800""#).is_err());
    }

    #[test]
    fn the_serde_json_number_token_is_an_ordinary_key() {
        // serde_json's own `Value` reads this object as the number 12; Python as an object.
        assert_eq!(
            canon(r#"{"$serde_json::private::Number":"12"}"#),
            r#"{"$serde_json::private::Number":"12"}"#
        );
    }

    #[test]
    fn canonical_form_is_a_fixed_point() {
        let s = r#"{ "b" : [1, 2.50, -0, 1e16, "x"], "a": null, "c": {"é": true} }"#;
        let once = canon(s);
        assert_eq!(canon(&once), once);
        assert_eq!(
            once,
            r#"{"a":null,"b":[1,2.5,0,1e+16,"x"],"c":{"\u00e9":true}}"#
        );
    }

    #[test]
    fn constructed_values_without_source_text_canonicalize() {
        let v = serde_json::json!({"f": 1e16, "g": 0.5, "i": 7});
        assert_eq!(to_bytes(&v).unwrap(), br#"{"f":1e+16,"g":0.5,"i":7}"#);
        assert_eq!(python_float_repr(1e-7).as_deref(), Some("1e-07"));
        assert_eq!(python_float_repr(f64::NAN), None);
    }
}
