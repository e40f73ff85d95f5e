//! The agent family's report (`vaultgate/agent/v1`): one shape for every subcommand.
//!
//! JSON: `{schema, command, …body fields, findings[], summary{verdict, exit_code, message}}`.
//! Text: the body's lines, one per item, then each finding, then the summary line.

use serde_json::{Map, Value};

use crate::exit::ExitStatus;
use crate::output::{Render, Style};
use crate::report::{Finding, Severity, all_clear};

/// What an agent subcommand reports.
#[derive(Debug, Clone)]
pub struct AgentReport {
    /// `discover`, `install`, …
    pub command: &'static str,
    /// Fields of the JSON body.
    pub body: Map<String, Value>,
    /// Human lines.
    pub lines: Vec<String>,
    /// Refusals and warnings.
    pub findings: Vec<Finding>,
    /// One-line summary.
    pub summary: String,
    /// `Some` to force a status (an error); otherwise decided by the findings.
    pub forced: Option<ExitStatus>,
}

impl AgentReport {
    /// An empty report of `command`.
    pub fn new(command: &'static str) -> Self {
        Self {
            command,
            body: Map::new(),
            lines: Vec::new(),
            findings: Vec::new(),
            summary: String::new(),
            forced: None,
        }
    }

    /// A report of one refusal.
    pub fn refused(command: &'static str, finding: Finding) -> Self {
        let mut r = Self::new(command);
        r.summary = format!(
            "{command} refused: {}",
            finding.message.lines().next().unwrap_or_default()
        );
        r.findings.push(finding);
        r
    }

    /// Set a body field.
    #[must_use]
    pub fn with(mut self, key: &str, v: Value) -> Self {
        self.body.insert(key.to_owned(), v);
        self
    }
}

impl Render for AgentReport {
    crate::render_head!("vaultgate/agent/v1", |r: &Self| r
        .forced
        .unwrap_or_else(|| ExitStatus::pass_if(all_clear(&r.findings))));

    fn to_json(&self) -> Map<String, Value> {
        let mut m = self.body.clone();
        m.insert("command".into(), Value::from(self.command));
        m.insert(
            "findings".into(),
            serde_json::to_value(&self.findings).unwrap_or(Value::Array(Vec::new())),
        );
        let mut summary = Map::new();
        summary.insert("message".into(), Value::from(self.summary.clone()));
        m.insert("summary".into(), Value::Object(summary));
        m
    }

    fn render_text(&self, style: &Style) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        for f in &self.findings {
            let sev = match f.severity {
                Severity::Error => style.bad("error"),
                Severity::Warning => style.warn("warning"),
            };
            s.push_str(&format!("{sev}[{}] {}: {}\n", f.code, f.subject, f.message));
        }
        s.push_str(&format!(
            "{} {}\n",
            style.verdict(self.status()),
            self.summary
        ));
        s
    }

    fn summary_line(&self) -> String {
        format!("{}: {}", self.status().verdict(), self.summary)
    }
}
