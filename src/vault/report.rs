//! The vault's reports (schemas `vaultgate/vault/v1` and `vaultgate/audit/v1`), as text and JSON.
//!
//! One report type serves every vault command: a body (JSON object), text lines, a verdict and
//! a summary line. A refusal's report carries one finding with the reason code and the
//! sequence number of the `security.denied` / `VIOLATION` row that recorded it.

use serde_json::{Map, Value, json};

use super::act::Refusal;
use super::boot::BootReport;
use super::verify::VerifyOutcome;
use crate::exit::ExitStatus;
use crate::output::{Render, Style};
use crate::report::{Finding, FindingCode};

/// Schema of vault reports.
pub const SCHEMA: &str = "vaultgate/vault/v1";
/// Schema of audit reports.
pub const AUDIT_SCHEMA: &str = "vaultgate/audit/v1";

/// A vault command's report.
#[derive(Debug, Clone)]
pub struct VaultReport {
    /// `vaultgate/vault/v1` or `vaultgate/audit/v1` (or a family's own).
    pub schema: &'static str,
    /// The verdict.
    pub status: ExitStatus,
    /// The JSON body (the printer adds `schema` and `summary.verdict/exit_code`).
    pub body: Map<String, Value>,
    /// Text lines (without the summary).
    pub lines: Vec<String>,
    /// The summary line.
    pub summary: String,
}

#[derive(Clone, Copy)]
struct AnyCode(&'static str);
impl FindingCode for AnyCode {
    fn as_str(self) -> &'static str {
        self.0
    }
    fn all() -> &'static [Self] {
        &[]
    }
}

/// A finding for a refusal (any family's reason code).
pub fn refusal_finding(r: &Refusal, subject: &str) -> Finding {
    Finding::error(AnyCode(r.code), subject, r.message.clone())
}

impl VaultReport {
    /// A passing report.
    pub fn pass(
        schema: &'static str,
        body: Value,
        lines: Vec<String>,
        summary: impl Into<String>,
    ) -> Self {
        Self {
            schema,
            status: ExitStatus::Pass,
            body: crate::output::json_object(body),
            lines,
            summary: summary.into(),
        }
    }

    /// A refusal (exit 1), naming the reason code and the audit row that recorded it.
    pub fn refused(schema: &'static str, action: &str, refusal: &Refusal, audit_seq: u64) -> Self {
        let f = refusal_finding(refusal, action);
        let kind = refusal.kind.event_type();
        Self {
            schema,
            status: ExitStatus::Fail,
            body: crate::output::json_object(json!({
                "action": action,
                "refused": true,
                "reason": refusal.code,
                "audit_event": kind,
                "audit_seq": audit_seq,
                "findings": [f],
            })),
            lines: vec![format!("{}  {}: {}", refusal.code, action, refusal.message)],
            summary: format!(
                "DENIED {action}: {} (recorded as {kind} at audit row {audit_seq})",
                refusal.code
            ),
        }
    }

    /// `status`: every boot step and its result.
    pub fn status(
        home: &std::path::Path,
        boot: &BootReport,
        extra: Vec<(String, Option<&'static str>, String)>,
    ) -> Self {
        let mut steps = Vec::new();
        let mut lines = vec![format!(
            "home: {}",
            crate::report::escape_bytes_for_display(home.as_os_str().as_encoded_bytes())
        )];
        for s in &boot.steps {
            steps.push(json!({
                "step": s.step.as_str(),
                "ok": s.code.is_none(),
                "code": s.code.map(FindingCode::as_str),
                "detail": s.detail,
            }));
            lines.push(format!(
                "{:<9} {}  {}",
                s.step.as_str(),
                s.code
                    .map_or("ok".to_owned(), |c| format!("FAIL {}", c.as_str())),
                s.detail
            ));
        }
        let not_run: Vec<&str> = super::boot::BootStep::ALL
            .iter()
            .filter(|st| !boot.steps.iter().any(|s| s.step == **st))
            .map(|s| s.as_str())
            .collect();
        for n in &not_run {
            lines.push(format!("{n:<9} not run"));
        }
        let mut extra_json = Vec::new();
        let mut failed_extra = false;
        for (name, code, detail) in extra {
            failed_extra |= code.is_some();
            lines.push(format!(
                "{name:<9} {}  {detail}",
                code.map_or("ok".to_owned(), |c| format!("FAIL {c}"))
            ));
            extra_json
                .push(json!({"check": name, "ok": code.is_none(), "code": code, "detail": detail}));
        }
        let failure = boot.failure();
        let status = if failure.is_some() {
            ExitStatus::Error
        } else if failed_extra {
            ExitStatus::Fail
        } else {
            ExitStatus::Pass
        };
        let summary = match failure {
            Some(f) => format!(
                "boot refused at step `{}` ({})",
                f.step.as_str(),
                f.code.map_or("", FindingCode::as_str)
            ),
            None if failed_extra => "boot passed; a deep check failed".into(),
            None => "every boot step passed".into(),
        };
        Self {
            schema: SCHEMA,
            status,
            body: crate::output::json_object(json!({
                "home": home.display().to_string(),
                "steps": steps,
                "not_run": not_run,
                "checks": extra_json,
            })),
            lines,
            summary,
        }
    }

    /// `audit verify` (live or offline).
    pub fn verify(o: &VerifyOutcome, what: &str) -> Self {
        let findings: Vec<Finding> = o.issues.clone();
        let ok = o.issue_total == 0;
        let rate = if o.seconds > 0.0 {
            #[allow(clippy::cast_precision_loss)]
            let r = o.rows as f64 / o.seconds;
            r
        } else {
            0.0
        };
        let mut lines: Vec<String> = o
            .issues
            .iter()
            .map(|i| {
                format!(
                    "{}  {}: {}",
                    i.code,
                    i.location
                        .as_ref()
                        .and_then(|l| l.entry_index)
                        .map_or_else(|| "audit.head".into(), |s| format!("row {s}")),
                    i.message
                )
            })
            .collect();
        if o.issue_total > o.issues.len() as u64 {
            lines.push(format!(
                "… and {} more",
                o.issue_total - o.issues.len() as u64
            ));
        }
        Self {
            schema: AUDIT_SCHEMA,
            status: ExitStatus::pass_if(ok),
            body: crate::output::json_object(json!({
                "verified": what,
                "rows": o.rows,
                "head": {"seq": o.head_seq, "mac": o.head_mac},
                "anchor_seq": o.anchor_seq,
                "findings": findings,
                "finding_total": o.issue_total,
                "seconds": o.seconds,
                "rows_per_second": rate.round(),
            })),
            lines,
            summary: if ok {
                format!("{what}: {} rows verify, head row {}", o.rows, o.head_seq)
            } else {
                format!("{what}: {} problem(s) in {} rows", o.issue_total, o.rows)
            },
        }
    }
}

impl Render for VaultReport {
    fn schema(&self) -> &'static str {
        self.schema
    }
    fn status(&self) -> ExitStatus {
        self.status
    }
    fn to_json(&self) -> Map<String, Value> {
        let mut m = self.body.clone();
        let mut summary = match m.remove("summary") {
            Some(Value::Object(s)) => s,
            _ => Map::new(),
        };
        summary.insert("message".into(), Value::from(self.summary.clone()));
        m.insert("summary".into(), Value::Object(summary));
        m
    }
    fn render_text(&self, style: &Style) -> String {
        let mut out = String::new();
        for l in &self.lines {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str(&format!(
            "{} {}\n",
            style.verdict(self.status),
            self.summary
        ));
        out
    }
    fn summary_line(&self) -> String {
        self.summary.clone()
    }
}
