//! Where a value sits in the envelope file, so an error can point at it (line and column), as
//! cargo-deny's diagnostics point into their config.
//!
//! Contract: [`value_at`] is called only on bytes serde_json already parsed as an object, and
//! reads just enough of the text to find the value of a top-level field, or the `index`-th
//! element of that field's array. It never decides anything: `None` (a shape it did not
//! expect) only means the error carries no position.

/// The 1-based line and column (in characters) of byte offset `at` in `text`.
pub fn line_column(text: &[u8], at: usize) -> (u64, u64) {
    let before = &text[..at.min(text.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line as u64, column as u64)
}

/// The line and column of top-level `field`'s value, or of element `index` of its array.
pub fn value_at(text: &[u8], field: &str, index: Option<usize>) -> Option<(u64, u64)> {
    let mut c = Cursor { b: text, i: 0 };
    c.ws();
    c.eat(b'{')?;
    loop {
        c.ws();
        let key = c.string()?;
        c.ws();
        c.eat(b':')?;
        c.ws();
        if key == field {
            if let Some(index) = index {
                c.eat(b'[')?;
                for _ in 0..index {
                    c.ws();
                    c.skip_value(0)?;
                    c.ws();
                    c.eat(b',')?;
                }
                c.ws();
            }
            return Some(line_column(text, c.i));
        }
        c.skip_value(0)?;
        c.ws();
        c.eat(b',')?;
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.b.get(self.i) == Some(&want)).then(|| self.i += 1)
    }

    /// A string token, decoded (escapes resolved).
    fn string(&mut self) -> Option<String> {
        let start = self.i;
        self.eat(b'"')?;
        loop {
            match *self.b.get(self.i)? {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return serde_json::from_slice(&self.b[start..self.i]).ok();
                }
                _ => self.i += 1,
            }
        }
    }

    /// Step over one value (the text is valid JSON: only the structure matters here).
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        if depth > 128 {
            return None;
        }
        match *self.b.get(self.i)? {
            b'"' => self.string().map(|_| ()),
            open @ (b'[' | b'{') => {
                let close = if open == b'[' { b']' } else { b'}' };
                self.i += 1;
                self.ws();
                if self.eat(close).is_some() {
                    return Some(());
                }
                loop {
                    self.ws();
                    if open == b'{' {
                        self.string()?;
                        self.ws();
                        self.eat(b':')?;
                        self.ws();
                    }
                    self.skip_value(depth + 1)?;
                    self.ws();
                    if self.eat(close).is_some() {
                        return Some(());
                    }
                    self.eat(b',')?;
                }
            }
            _ => {
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| !matches!(c, b',' | b']' | b'}') && !c.is_ascii_whitespace())
                {
                    self.i += 1;
                }
                Some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
  "allow_ops": ["read", "wr\"ite"],
  "nested": {"a": [1, {"b": "}"}], "c": null},
  "deny_paths": [ "x",
     "café/[oops" ],
  "max_budget_usd": -1
}"#;

    #[test]
    fn finds_fields_and_array_elements() {
        let b = DOC.as_bytes();
        assert_eq!(value_at(b, "allow_ops", None), Some((2, 16)));
        assert_eq!(value_at(b, "allow_ops", Some(1)), Some((2, 25)));
        assert_eq!(value_at(b, "deny_paths", Some(1)), Some((5, 6)));
        assert_eq!(value_at(b, "max_budget_usd", None), Some((6, 21)));
        assert_eq!(value_at(b, "missing", None), None);
        assert_eq!(value_at(b, "deny_paths", Some(5)), None);
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(line_column("é\"x".as_bytes(), 3), (1, 3));
        assert_eq!(line_column(b"a\nbc", 3), (2, 2));
    }
}
