//! Refusals: a journal command that the journal itself refuses (torn tail, tampering, a
//! taken step id) ends in a report with exit 1, never an error. [`Outcome::decide`] is the one
//! place an error is sorted into "a verdict on the journal" or "could not run".

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::report::{SCHEMA, show_path};
use super::{JournalCode, JournalError};
use crate::exit::ExitStatus;
use crate::output::{Render, Style};

/// A command refused because the journal does not verify or the step id is taken (exit 1).
#[derive(Debug, Clone)]
pub struct RefusalReport {
    /// `append`, `show`, …
    pub command: &'static str,
    /// The journal.
    pub path: PathBuf,
    /// The finding code.
    pub code: &'static str,
    /// 1-based line.
    pub line: usize,
    /// Byte offset of the line.
    pub offset: u64,
    /// The full message, with its `help:` line when there is one.
    pub message: String,
}

impl RefusalReport {
    /// The report for an error that is a verdict on the journal (torn tail, tampering, a
    /// taken step id), or `None` for an error that means the command could not run.
    pub fn from_error(command: &'static str, err: &JournalError) -> Option<Self> {
        use crate::report::FindingCode as _;
        use JournalError as E;
        let (path, code, line, offset) = match err {
            E::TornTail {
                path, line, offset, ..
            } => (path, JournalCode::TornTail.as_str(), *line, *offset),
            E::Invalid {
                path,
                code,
                line,
                offset,
                ..
            } => (path, *code, *line, *offset),
            E::DuplicateStepId {
                path, line, offset, ..
            } => (path, JournalCode::DuplicateStepId.as_str(), *line, *offset),
            _ => return None,
        };
        Some(Self {
            command,
            path: path.clone(),
            code,
            line,
            offset,
            message: err.to_string(),
        })
    }
}

impl Render for RefusalReport {
    crate::render_head!(SCHEMA, |_: &Self| ExitStatus::Fail);
    fn to_json(&self) -> Map<String, Value> {
        let finding = json!({
            "code": self.code,
            "severity": "error",
            "subject": format!("{}:{}", show_path(&self.path), self.line),
            "message": self.message,
            "line": self.line,
            "offset": self.offset,
        });
        let mut m = Map::new();
        m.insert("command".into(), Value::from(self.command));
        m.insert("file".into(), Value::from(show_path(&self.path)));
        m.insert("findings".into(), Value::Array(vec![finding.clone()]));
        m.insert("summary".into(), json!({"first_failure": finding}));
        m
    }
    fn render_text(&self, style: &Style) -> String {
        format!("{} {}  {}", style.bad("FAIL"), self.code, self.message)
    }
    fn summary_line(&self) -> String {
        format!("{}: {}", self.code, self.message)
    }
}

/// A journal command's verdict: its report, or a refusal because the journal does not verify
/// (torn tail, tampering, a taken step id). Decided in the core: only "could not run" is an
/// error.
#[derive(Debug, Clone)]
pub enum Outcome<T> {
    /// The command ran to its end.
    Done(T),
    /// The journal refused it (exit 1).
    Refused(RefusalReport),
}

impl<T> Outcome<T> {
    /// `Done` for `Ok`, `Refused` for an error that is a verdict on the journal, and the error
    /// itself for one that means the command could not run.
    pub fn decide(
        command: &'static str,
        result: Result<T, JournalError>,
    ) -> Result<Self, JournalError> {
        match result {
            Ok(v) => Ok(Self::Done(v)),
            Err(e) => match RefusalReport::from_error(command, &e) {
                Some(r) => Ok(Self::Refused(r)),
                None => Err(e),
            },
        }
    }

    fn as_render(&self) -> &dyn Render
    where
        T: Render,
    {
        match self {
            Self::Done(r) => r,
            Self::Refused(r) => r,
        }
    }
}

impl<T: Render> Render for Outcome<T> {
    fn schema(&self) -> &'static str {
        self.as_render().schema()
    }
    fn status(&self) -> ExitStatus {
        self.as_render().status()
    }
    fn to_json(&self) -> Map<String, Value> {
        self.as_render().to_json()
    }
    fn render_text(&self, style: &Style) -> String {
        self.as_render().render_text(style)
    }
    fn summary_line(&self) -> String {
        self.as_render().summary_line()
    }
}
