//! The journal's reports (schema `vaultgate/journal/v1`), as text and JSON.
//!
//! Every report names the journal; findings carry their line and byte offset (JSON: `line`,
//! `offset`; text: `FILE:LINE (byte OFFSET)`), and the first failure is repeated in the
//! summary so a reader never has to search for it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::record::{Lines, Record};
use super::scan::{Scan, Torn, line_of};
use crate::exit::ExitStatus;
use crate::output::{Render, Style};
use crate::report::{Finding, Severity, escape_bytes_for_display};

/// The schema every journal report carries.
pub const SCHEMA: &str = "vaultgate/journal/v1";

pub(super) fn show_path(path: &Path) -> String {
    escape_bytes_for_display(path.as_os_str().as_encoded_bytes())
}

/// A finding as `vaultgate/journal/v1` writes it: `code`, `severity`, `subject`, `message`,
/// and the line and byte offset as top-level `line` and `offset` (the schema predates
/// `location`; keeping it so is what `v1` promises).
fn finding_json(f: &Finding) -> Value {
    let (line, offset) = line_of(f);
    json!({
        "code": f.code,
        "severity": f.severity,
        "subject": f.subject,
        "message": f.message,
        "line": line,
        "offset": offset,
    })
}

fn finding_text(f: &Finding, style: Style) -> String {
    let (_, offset) = line_of(f);
    let label = match f.severity {
        Severity::Error => style.bad("FAIL"),
        Severity::Warning => style.warn("WARN"),
    };
    format!(
        "{label} {}  {} (byte {offset}): {}",
        f.code, f.subject, f.message
    )
}

fn record_json(line: usize, rec: &Record) -> Value {
    let mut m = rec.to_map();
    m.insert("line".into(), Value::from(line));
    Value::Object(m)
}

/// The result of `journal verify`.
#[derive(Debug, Clone)]
pub struct JournalVerifyReport {
    /// The journal.
    pub path: PathBuf,
    /// Complete records.
    pub records: usize,
    /// The last record's `entry_hash`.
    pub head: Option<String>,
    /// Bytes read.
    pub bytes: u64,
    /// Findings kept (the first ones, in line order; warnings among them).
    pub findings: Vec<Finding>,
    /// Findings in all.
    pub finding_total: usize,
    /// Error findings in all (the verdict).
    pub error_total: usize,
    /// Which spellings were accepted.
    pub lines: Lines,
}

impl JournalVerifyReport {
    pub(super) fn new(path: &Path, scan: Scan, lines: Lines) -> Self {
        Self {
            path: path.to_owned(),
            records: scan.count,
            head: scan.head,
            bytes: scan.len,
            findings: scan.findings,
            finding_total: scan.finding_total,
            error_total: scan.error_total,
            lines,
        }
    }

    /// Warnings in all (non-canonical lines accepted by `--lines any`).
    pub fn warning_total(&self) -> usize {
        self.finding_total - self.error_total
    }

    /// The first error: the first failure.
    pub fn first_failure(&self) -> Option<&Finding> {
        self.findings.iter().find(|f| f.severity == Severity::Error)
    }

    fn findings_text(&self, style: Style, out: &mut String) {
        for f in &self.findings {
            out.push_str(&finding_text(f, style));
            out.push('\n');
        }
        if self.finding_total > self.findings.len() {
            let _ = writeln!(
                out,
                "… and {} more findings",
                self.finding_total - self.findings.len()
            );
        }
    }
}

impl Render for JournalVerifyReport {
    crate::render_head!(SCHEMA, |r: &Self| ExitStatus::pass_if(r.error_total == 0));
    fn to_json(&self) -> Map<String, Value> {
        let findings: Vec<Value> = self.findings.iter().map(finding_json).collect();
        let first = self.first_failure().map_or(Value::Null, finding_json);
        let mut summary = json!({
            "records": self.records,
            "head": self.head,
            "findings": self.finding_total,
            "first_failure": first,
        });
        let mut body = json!({
            "command": "verify",
            "file": show_path(&self.path),
            "records": self.records,
            "head": self.head,
            "bytes": self.bytes,
            "findings": findings,
        });
        // Only with `--lines any`, so a canonical run's document is unchanged.
        if self.lines == Lines::Any {
            summary["warnings"] = Value::from(self.warning_total());
            body["lines"] = Value::from("any");
        }
        body["summary"] = summary;
        match body {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }
    fn render_text(&self, style: &Style) -> String {
        let mut out = String::new();
        self.findings_text(*style, &mut out);
        out.push_str(&self.summary_line_styled(*style));
        out
    }
    fn summary_line(&self) -> String {
        self.summary_line_styled(Style::plain())
    }
}

impl JournalVerifyReport {
    fn summary_line_styled(&self, style: Style) -> String {
        let path = show_path(&self.path);
        match self.first_failure() {
            None => {
                let mut s = format!(
                    "{} {path}: {} records, head {}",
                    style.verdict(self.status()),
                    self.records,
                    self.head.as_deref().unwrap_or("none (empty journal)")
                );
                if self.warning_total() > 0 {
                    let _ = write!(
                        s,
                        " ({} non-canonical line(s) accepted by `--lines any`)",
                        self.warning_total()
                    );
                }
                s
            }
            Some(first) => {
                let (line, offset) = line_of(first);
                format!(
                    "{} {path}: {} finding(s); first failure: {} at line {line} (byte {offset})",
                    style.verdict(self.status()),
                    self.finding_total,
                    first.code,
                )
            }
        }
    }
}

/// The result of `journal head`: the verified count and head.
#[derive(Debug, Clone)]
pub struct HeadReport {
    /// The full verification behind it.
    pub verify: JournalVerifyReport,
}

impl Render for HeadReport {
    crate::render_head!(SCHEMA, |r: &Self| r.verify.status());
    fn to_json(&self) -> Map<String, Value> {
        let mut m = self.verify.to_json();
        m.insert("command".into(), Value::from("head"));
        m
    }
    fn render_text(&self, style: &Style) -> String {
        if self.verify.error_total > 0 {
            return self.verify.render_text(style);
        }
        let mut out = format!(
            "count {}\nhead {}",
            self.verify.records,
            self.verify.head.as_deref().unwrap_or("none")
        );
        // Warnings after the two values, so `count`/`head` stay on lines 1 and 2.
        if !self.verify.findings.is_empty() {
            out.push('\n');
            self.verify.findings_text(*style, &mut out);
            out.pop();
        }
        out
    }
    fn summary_line(&self) -> String {
        self.verify.summary_line()
    }
}

/// The result of `journal append`.
#[derive(Debug, Clone)]
pub struct AppendReport {
    /// The journal.
    pub path: PathBuf,
    /// The record as written.
    pub record: Record,
    /// Non-canonical earlier lines accepted by `--lines any`.
    pub warnings: Vec<Finding>,
}

impl Render for AppendReport {
    crate::render_head!(SCHEMA, crate::output::passes);
    fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("command".into(), Value::from("append"));
        m.insert("file".into(), Value::from(show_path(&self.path)));
        m.insert("record".into(), Value::Object(self.record.to_map()));
        if !self.warnings.is_empty() {
            let warnings = self.warnings.iter().map(finding_json).collect();
            m.insert("findings".into(), Value::Array(warnings));
        }
        m.insert(
            "summary".into(),
            json!({"entry_hash": self.record.entry_hash, "step_id": self.record.step_id}),
        );
        m
    }
    fn render_text(&self, style: &Style) -> String {
        let mut out = String::new();
        for w in &self.warnings {
            out.push_str(&finding_text(w, *style));
            out.push('\n');
        }
        let _ = write!(
            out,
            "appended step `{}` to {}\nentry_hash {}",
            escape_bytes_for_display(self.record.step_id.as_bytes()),
            show_path(&self.path),
            self.record.entry_hash
        );
        out
    }
    fn summary_line(&self) -> String {
        format!(
            "appended step `{}` to {}: {}",
            self.record.step_id,
            show_path(&self.path),
            self.record.entry_hash
        )
    }
}

/// The result of `journal show`.
#[derive(Debug, Clone)]
pub struct ShowReport {
    /// The journal.
    pub path: PathBuf,
    /// Records in the journal.
    pub total: usize,
    /// The `--step-id` asked for.
    pub step_id: Option<String>,
    /// `(line, record)` selected.
    pub records: Vec<(usize, Record)>,
}

impl ShowReport {
    fn not_found(&self) -> bool {
        self.step_id.is_some() && self.records.is_empty()
    }
    fn not_found_finding(&self) -> Option<Finding> {
        let id = self.step_id.as_deref()?;
        self.not_found().then(|| {
            Finding::error(
                super::JournalCode::StepNotFound,
                show_path(&self.path),
                format!(
                    "no record has step id `{}` ({} records checked)",
                    id.escape_debug(),
                    self.total
                ),
            )
        })
    }
}

impl Render for ShowReport {
    crate::render_head!(SCHEMA, |r: &Self| ExitStatus::pass_if(!r.not_found()));
    fn to_json(&self) -> Map<String, Value> {
        let records: Vec<Value> = self
            .records
            .iter()
            .map(|(l, r)| record_json(*l, r))
            .collect();
        let findings: Vec<Value> = self
            .not_found_finding()
            .iter()
            .filter_map(|f| serde_json::to_value(f).ok())
            .collect();
        let mut m = Map::new();
        m.insert("command".into(), Value::from("show"));
        m.insert("file".into(), Value::from(show_path(&self.path)));
        m.insert("records".into(), Value::Array(records));
        m.insert("findings".into(), Value::Array(findings));
        m.insert(
            "summary".into(),
            json!({"records": self.total, "shown": self.records.len()}),
        );
        m
    }
    fn render_text(&self, style: &Style) -> String {
        let mut out = String::new();
        for (line, r) in &self.records {
            let _ = writeln!(
                out,
                "{line}  {}  {}  {}  started {}  completed {}",
                escape_bytes_for_display(r.step_id.as_bytes()),
                style.bold(&escape_bytes_for_display(r.name.as_bytes())),
                escape_bytes_for_display(r.status.as_bytes()),
                r.started_at,
                r.completed_at.as_deref().unwrap_or("-"),
            );
            let _ = writeln!(
                out,
                "    inputs {}  outputs {}",
                compact(&r.inputs),
                compact(&r.outputs)
            );
            let _ = writeln!(out, "    entry_hash {}", r.entry_hash);
        }
        if let Some(f) = self.not_found_finding() {
            let _ = writeln!(
                out,
                "{} {}  {}: {}",
                style.bad("FAIL"),
                f.code,
                f.subject,
                f.message
            );
        }
        out.push_str(&self.summary_line());
        out
    }
    fn summary_line(&self) -> String {
        format!(
            "{}: {} of {} records shown",
            show_path(&self.path),
            self.records.len(),
            self.total
        )
    }
}

fn compact(m: &Map<String, Value>) -> String {
    let mut buf = Vec::new();
    match crate::canon::write_object(m, &mut buf) {
        Ok(()) => String::from_utf8_lossy(&buf).into_owned(),
        Err(e) => format!("<{}>", e.reason),
    }
}

/// What `journal repair --truncate-torn-tail` did.
#[derive(Debug, Clone)]
pub enum RepairOutcome {
    /// The journal verifies: nothing was changed.
    Nothing {
        /// Records in the journal.
        records: usize,
    },
    /// The torn tail was dropped after a backup.
    Truncated {
        /// What was dropped.
        torn: Torn,
        /// The full copy taken first.
        backup: PathBuf,
        /// Records kept.
        records: usize,
        /// The head after the repair.
        head: Option<String>,
    },
    /// Something other than a torn tail is wrong: nothing was changed.
    Refused {
        /// The non-tail findings.
        findings: Vec<Finding>,
        /// How many in all.
        finding_total: usize,
    },
}

/// The result of `journal repair`.
#[derive(Debug, Clone)]
pub struct RepairReport {
    /// The journal.
    pub path: PathBuf,
    /// What happened.
    pub outcome: RepairOutcome,
}

impl Render for RepairReport {
    crate::render_head!(SCHEMA, |r: &Self| ExitStatus::pass_if(!matches!(
        r.outcome,
        RepairOutcome::Refused { .. }
    )));
    fn to_json(&self) -> Map<String, Value> {
        let body = match &self.outcome {
            RepairOutcome::Nothing { records } => json!({
                "action": "none",
                "records": records,
                "findings": [],
            }),
            RepairOutcome::Truncated {
                torn,
                backup,
                records,
                head,
            } => json!({
                "action": "truncated",
                "records": records,
                "head": head,
                "dropped": {
                    "line": torn.line,
                    "offset": torn.offset,
                    "bytes": torn.len,
                    "preview": torn.preview,
                },
                "backup": show_path(backup),
                "findings": [],
            }),
            RepairOutcome::Refused {
                findings,
                finding_total,
            } => json!({
                "action": "refused",
                "findings": findings.iter().map(finding_json).collect::<Vec<_>>(),
                "findings_total": finding_total,
            }),
        };
        let mut m = match body {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        m.insert("command".into(), Value::from("repair"));
        m.insert("file".into(), Value::from(show_path(&self.path)));
        m
    }
    fn render_text(&self, style: &Style) -> String {
        let mut out = String::new();
        match &self.outcome {
            RepairOutcome::Truncated { torn, backup, .. } => {
                let _ = writeln!(
                    out,
                    "dropped line {} (byte {}, {} bytes): {}",
                    torn.line, torn.offset, torn.len, torn.preview
                );
                let _ = writeln!(out, "backup of the original: {}", show_path(backup));
            }
            RepairOutcome::Refused { findings, .. } => {
                for f in findings {
                    out.push_str(&finding_text(f, *style));
                    out.push('\n');
                }
            }
            RepairOutcome::Nothing { .. } => {}
        }
        let _ = write!(
            out,
            "{} {}",
            style.verdict(self.status()),
            self.summary_line()
        );
        out
    }
    fn summary_line(&self) -> String {
        let path = show_path(&self.path);
        match &self.outcome {
            RepairOutcome::Nothing { records } => {
                format!("{path}: no torn tail, nothing changed ({records} records)")
            }
            RepairOutcome::Truncated { torn, records, .. } => format!(
                "{path}: truncated to {} bytes, {records} records kept",
                torn.offset
            ),
            RepairOutcome::Refused { finding_total, .. } => format!(
                "{path}: refusing to repair: {finding_total} finding(s) besides a torn tail; a tampered record is never removed"
            ),
        }
    }
}
