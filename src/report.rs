//! Findings and reports.
//!
//! A finding is data, an error means the check could not run (STYLE.md rule 7). Every family
//! collects all its findings into a report and decides the verdict once. A family's finding
//! codes are a kebab-case enum implementing [`FindingCode`]; the full list is pinned by a test
//! so that a rename is a visible change.

use std::fmt::Write as _;

use serde::Serialize;

/// How bad a finding is. Every `Error` finding fails the check; `Warning` never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational: reported, never fails the check.
    Warning,
    /// Fails the check.
    Error,
}

/// A family's stable, documented finding codes.
pub trait FindingCode: Copy + 'static {
    /// The kebab-case code, e.g. `manifest-hash-mismatch`.
    fn as_str(self) -> &'static str;
    /// Every code of the family, in documentation order.
    fn all() -> &'static [Self];
}

/// One thing a check found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable kebab-case code.
    pub code: &'static str,
    /// Whether this finding fails the check.
    pub severity: Severity,
    /// What it is about: a path, an entry, a line (already escaped for display).
    pub subject: String,
    /// Lowercase sentence, user values in backticks, no trailing period.
    pub message: String,
    /// Where exactly, when the family knows: file, line and column, byte offset, archive entry,
    /// field. Absent from the JSON when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// Where a finding points. Every part is optional; a family fills what it knows, so one type
/// serves a manifest line, a ZIP entry, a journal record, an envelope's JSON field and an audit row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The file the finding is in (escaped for display), when it is not the report's subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// 1-based column (in characters) within the line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// Byte offset from the start of the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byte_offset: Option<u64>,
    /// 0-based index of an archive entry (central-directory order) or a record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_index: Option<u64>,
    /// A field name or JSON pointer inside the record or document (`/allow_paths/2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Location {
    /// `true` when no part is known.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Finding {
    /// A finding that fails the check.
    pub fn error(
        code: impl FindingCode,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code: code.as_str(),
            severity: Severity::Error,
            subject: subject.into(),
            message: message.into(),
            location: None,
        }
    }

    /// The same finding, pointing at `location` (an empty location is dropped).
    #[must_use]
    pub fn at(mut self, location: Location) -> Self {
        self.location = (!location.is_empty()).then_some(location);
        self
    }

    /// A finding that is reported but does not fail the check.
    pub fn warning(
        code: impl FindingCode,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code: code.as_str(),
            severity: Severity::Warning,
            subject: subject.into(),
            message: message.into(),
            location: None,
        }
    }
}

/// `true` when none of the findings is an error.
pub fn all_clear(findings: &[Finding]) -> bool {
    findings.iter().all(|f| f.severity != Severity::Error)
}

/// Items as an indented list, one per line (for errors that name every offending thing).
pub fn indented_list(items: &[String]) -> String {
    let mut s = String::new();
    for i in items {
        s.push_str("\n  ");
        s.push_str(i);
    }
    s
}

/// Escape a name for display: printable ASCII and non-control Unicode stay, everything else
/// (control characters, backslash, quotes) becomes an escape, so a hostile name can never
/// move the cursor, forge a line or hide itself in a terminal or a log.
pub fn escape_for_display(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_invisible_format(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Bytes that may not be UTF-8, escaped for display (invalid bytes become `\xNN`).
pub fn escape_bytes_for_display(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(&escape_for_display(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Bidi overrides and zero-width characters: legal Unicode that can disguise a name on screen.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_invalid_bytes() {
        assert_eq!(escape_for_display("a\nb\x1b[2J"), "a\\nb\\u{1b}[2J");
        assert_eq!(escape_for_display("ok/é.txt"), "ok/é.txt");
        assert_eq!(
            escape_for_display("evil\u{202e}txt.exe"),
            "evil\\u{202e}txt.exe"
        );
        assert_eq!(escape_bytes_for_display(b"a\xffb"), "a\\xffb");
    }
}
