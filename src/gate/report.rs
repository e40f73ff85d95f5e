//! The gate's report: the execution context, every step with its status and duration, every
//! finding, and each check's verbatim logs (by file name; the bytes are never summarised).
//!
//! One document, two renderings: `report.json` is exactly what `--json` prints (schema
//! `vaultgate/gate/v1`), `report.md` is the same content for a human reviewer. The verdict is
//! decided once, from the steps: any step in `error` → exit 2, else any `fail` → exit 1.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::GateCode;
use crate::exit::ExitStatus;
use crate::hash::Sha256Digest;
use crate::output::{Render, Style, json_object};
use crate::report::{Finding, FindingCode, Severity};

/// The status of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    /// The step ran and found nothing wrong.
    Pass,
    /// The step ran and found something wrong.
    Fail,
    /// The step did not run because an earlier step did not pass.
    Skipped,
    /// The step could not run (I/O or internal error).
    Error,
}

impl StepStatus {
    /// `pass`, `fail`, `skipped` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Skipped => "skipped",
            Self::Error => "error",
        }
    }
}

/// One `--run` check's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRecord {
    /// The command, verbatim.
    pub command: String,
    /// `checks/NN.stdout`, relative to the report directory.
    pub stdout: String,
    /// `checks/NN.stderr`, relative to the report directory.
    pub stderr: String,
    /// The exit code, when the shell exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it.
    pub signal: Option<i32>,
    /// The timeout expired.
    pub timed_out: bool,
    /// Bytes the check wrote to stdout.
    pub stdout_bytes: u64,
    /// Bytes the check wrote to stderr.
    pub stderr_bytes: u64,
    /// Bytes of stdout left out of its log (past `--max-log`).
    pub stdout_dropped: u64,
    /// Bytes of stderr left out of its log.
    pub stderr_dropped: u64,
    /// The last lines of stderr, escaped for display (shown on screen when the check fails).
    pub stderr_tail: Vec<String>,
}

/// One step of the pipeline.
#[derive(Debug, Clone)]
pub struct Step {
    /// `audit`, `extract`, `manifest`, `require`, `check-01`, …
    pub id: String,
    /// Outcome.
    pub status: StepStatus,
    /// Wall time.
    pub duration: Duration,
    /// One line saying what the step did or why it did not.
    pub detail: String,
    /// Findings of this step.
    pub findings: Vec<Finding>,
    /// For a check step: the command and its logs.
    pub check: Option<CheckRecord>,
}

impl Step {
    /// A step that did not run.
    pub fn skipped(id: impl Into<String>, why: &str) -> Self {
        Self {
            id: id.into(),
            status: StepStatus::Skipped,
            duration: Duration::ZERO,
            detail: why.to_owned(),
            findings: Vec::new(),
            check: None,
        }
    }
}

/// The gate's configuration, as recorded (and hashed into `run_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateConfig {
    /// `--expect-sha256`.
    pub expect_sha256: Option<Sha256Digest>,
    /// `--expect-manifest`.
    pub expect_manifest: Option<Sha256Digest>,
    /// `--require`, in the order given.
    pub require: Vec<String>,
    /// `--run`, in the order given.
    pub run: Vec<String>,
    /// `--timeout` per check, in milliseconds.
    pub timeout_ms: u64,
    /// `--allow-unpinned`.
    pub allow_unpinned: bool,
    /// `--max-log`, bytes per stream.
    pub max_log: u64,
    /// `--fail-on-truncated-log`.
    pub fail_on_truncated_log: bool,
}

/// The whole gate report.
#[derive(Debug, Clone)]
pub struct GateReport {
    /// The bundle, as given.
    pub bundle: PathBuf,
    /// Its SHA-256, when it could be read.
    pub bundle_sha256: Option<Sha256Digest>,
    /// SHA-256 of the `manifest.txt` inside it, when extracted.
    pub manifest_sha256: Option<Sha256Digest>,
    /// `sha256:<hex>` over the canonical configuration (see [`super::run_id`]).
    pub run_id: Option<String>,
    /// A random UUID v4 identifying this execution.
    pub run_id_audit: String,
    /// RFC 3339 UTC, from the injectable clock.
    pub started_at: String,
    /// `git rev-parse HEAD` of the current directory, if it is a repository.
    pub git_commit: Option<String>,
    /// The configuration.
    pub config: GateConfig,
    /// Every step, in pipeline order.
    pub steps: Vec<Step>,
    /// The report directory.
    pub report_dir: PathBuf,
    /// The kept workspace, with `--keep-workspace`.
    pub workspace: Option<PathBuf>,
    /// Why the report could not be written, if it could not (forces exit 2).
    pub report_error: Option<String>,
}

impl GateReport {
    /// Every finding of every step, in order.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.steps.iter().flat_map(|s| s.findings.iter())
    }

    fn unpinned(&self) -> bool {
        self.config.expect_sha256.is_none() && self.config.expect_manifest.is_none()
    }

    fn context_table(&self, s: &mut String) {
        let opt = |d: Option<&str>| d.map_or_else(|| "none".to_owned(), |v| format!("`{v}`"));
        let _ = writeln!(s, "| | |\n|---|---|");
        let _ = writeln!(
            s,
            "| bundle | `{}` |",
            md_cell(&self.bundle.display().to_string())
        );
        let _ = writeln!(
            s,
            "| bundle sha256 | {} |",
            opt(self.bundle_sha256.map(|d| d.to_hex()).as_deref())
        );
        let _ = writeln!(
            s,
            "| manifest sha256 | {} |",
            opt(self.manifest_sha256.map(|d| d.to_hex()).as_deref())
        );
        let _ = writeln!(
            s,
            "| expect sha256 | {} |",
            opt(self.config.expect_sha256.map(|d| d.to_hex()).as_deref())
        );
        let _ = writeln!(
            s,
            "| expect manifest | {} |",
            opt(self.config.expect_manifest.map(|d| d.to_hex()).as_deref())
        );
        let _ = writeln!(s, "| run_id | {} |", opt(self.run_id.as_deref()));
        let _ = writeln!(s, "| run_id_audit | `{}` |", self.run_id_audit);
        let _ = writeln!(s, "| started_at | `{}` |", self.started_at);
        let _ = writeln!(s, "| git commit | {} |", opt(self.git_commit.as_deref()));
        let _ = writeln!(s, "| timeout per check | {} ms |", self.config.timeout_ms);
    }

    /// The Markdown rendering written to `report.md`.
    pub fn render_markdown(&self) -> String {
        let mut s = String::new();
        let status = self.status();
        let _ = writeln!(
            s,
            "# vaultgate gate report: {}\n",
            status.verdict().to_uppercase()
        );
        if self.unpinned() {
            let how = if self.config.allow_unpinned {
                "gated unpinned on purpose (`--allow-unpinned`)"
            } else {
                "refused"
            };
            let _ = writeln!(
                s,
                "> **WARNING: nothing was pinned ({how}).** Neither `--expect-sha256` nor `--expect-manifest` was given: the manifest came from the bundle itself, so this run proves only that the bundle is self-consistent, not that it is the bundle you meant to release.\n"
            );
        }
        self.context_table(&mut s);
        let _ = writeln!(
            s,
            "\n## Steps\n\n| step | status | duration | detail |\n|---|---|---|---|"
        );
        for st in &self.steps {
            let _ = writeln!(
                s,
                "| {} | **{}** | {} ms | {} |",
                st.id,
                st.status.as_str(),
                st.duration.as_millis(),
                md_cell(&st.detail)
            );
        }
        let findings: Vec<&Finding> = self.findings().collect();
        let _ = writeln!(s, "\n## Findings ({})\n", findings.len());
        if findings.is_empty() {
            let _ = writeln!(s, "none");
        }
        for f in findings {
            let sev = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let _ = writeln!(
                s,
                "- {sev} `{}` `{}`: {}",
                f.code,
                md_cell(&f.subject),
                md_cell(&f.message)
            );
        }
        let checks: Vec<&Step> = self.steps.iter().filter(|s| s.check.is_some()).collect();
        if !checks.is_empty() {
            let _ = writeln!(
                s,
                "\n## Checks\n\nThe output of each check is kept verbatim in its own files; it is never summarised here.\n"
            );
            for st in checks {
                if let Some(c) = &st.check {
                    let _ = writeln!(
                        s,
                        "- {} ({}): `{}` → exit {}, stdout [`{}`]({}), stderr [`{}`]({})",
                        st.id,
                        st.status.as_str(),
                        md_cell(&c.command),
                        describe_exit(c),
                        c.stdout,
                        c.stdout,
                        c.stderr,
                        c.stderr
                    );
                }
            }
        }
        if let Some(ws) = &self.workspace {
            let _ = writeln!(s, "\nWorkspace kept at `{}`.", ws.display());
        }
        s
    }
}

/// A failing check's last stderr lines, so the reason is on screen and not only in the report.
fn stderr_tail(s: &mut String, c: &CheckRecord) {
    if c.stderr_tail.is_empty() {
        let _ = writeln!(s, "    stderr ({}): empty", c.stderr);
        return;
    }
    let n = c.stderr_tail.len();
    let _ = writeln!(
        s,
        "    stderr ({}, last {n} {}):",
        c.stderr,
        if n == 1 { "line" } else { "lines" }
    );
    for line in &c.stderr_tail {
        let _ = writeln!(s, "    | {line}");
    }
}

/// Escape what would break a Markdown table cell or inline code.
fn md_cell(s: &str) -> String {
    crate::report::escape_for_display(s)
        .replace('|', "\\|")
        .replace('`', "'")
}

fn describe_exit(c: &CheckRecord) -> String {
    if c.timed_out {
        "timed out (process group killed)".to_owned()
    } else if let Some(code) = c.exit_code {
        code.to_string()
    } else if let Some(sig) = c.signal {
        format!("killed by signal {sig}")
    } else {
        "unknown".to_owned()
    }
}

/// The gate's `--json` schema.
pub const SCHEMA: &str = "vaultgate/gate/v1";

impl GateReport {
    /// The verdict, from the steps: any `error` (or no step at all, or a report that could not
    /// be written) → `Error`, else any `fail` → `Fail`, else `Pass`.
    pub fn verdict(&self) -> ExitStatus {
        let mut status = ExitStatus::Pass;
        for s in &self.steps {
            status = status.worst(match s.status {
                StepStatus::Pass | StepStatus::Skipped => ExitStatus::Pass,
                StepStatus::Fail => ExitStatus::Fail,
                StepStatus::Error => ExitStatus::Error,
            });
        }
        if self.report_error.is_some() || self.steps.is_empty() {
            status = ExitStatus::Error;
        }
        status
    }
}

impl Render for GateReport {
    crate::render_head!(SCHEMA, Self::verdict);

    fn to_json(&self) -> Map<String, Value> {
        let hex = |d: Option<Sha256Digest>| d.map(|d| d.to_hex());
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                let mut v = json!({
                    "id": s.id,
                    "status": s.status.as_str(),
                    "duration_ms": u64::try_from(s.duration.as_millis()).unwrap_or(u64::MAX),
                    "detail": s.detail,
                    "findings": s.findings,
                });
                if let (Some(c), Value::Object(m)) = (&s.check, &mut v) {
                    m.insert(
                        "check".into(),
                        json!({
                            "command": c.command,
                            "exit_code": c.exit_code,
                            "signal": c.signal,
                            "timed_out": c.timed_out,
                            "stdout": c.stdout,
                            "stderr": c.stderr,
                            "stdout_bytes": c.stdout_bytes,
                            "stderr_bytes": c.stderr_bytes,
                            "stdout_dropped": c.stdout_dropped,
                            "stderr_dropped": c.stderr_dropped,
                        }),
                    );
                }
                v
            })
            .collect();
        let findings: Vec<&Finding> = self.findings().collect();
        let errors = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let count = |st: StepStatus| self.steps.iter().filter(|s| s.status == st).count();
        json_object(json!({
            "bundle": self.bundle.display().to_string(),
            "bundle_sha256": hex(self.bundle_sha256),
            "manifest_sha256": hex(self.manifest_sha256),
            "pinned": {
                "bundle_sha256": hex(self.config.expect_sha256),
                "manifest_sha256": hex(self.config.expect_manifest),
            },
            "context": {
                "run_id": self.run_id,
                "run_id_audit": self.run_id_audit,
                "started_at": self.started_at,
                "git_commit": self.git_commit,
            },
            "config": {
                "require": self.config.require,
                "run": self.config.run,
                "timeout_ms": self.config.timeout_ms,
                "allow_unpinned": self.config.allow_unpinned,
                "max_log_bytes": self.config.max_log,
                "fail_on_truncated_log": self.config.fail_on_truncated_log,
            },
            "steps": steps,
            "findings": findings,
            "report_dir": self.report_dir.display().to_string(),
            "workspace": self.workspace.as_ref().map(|w| w.display().to_string()),
            "report_error": self.report_error,
            "summary": {
                "steps": self.steps.len(),
                "passed": count(StepStatus::Pass),
                "failed": count(StepStatus::Fail),
                "skipped": count(StepStatus::Skipped),
                "errored": count(StepStatus::Error),
                "findings": findings.len(),
                "error_findings": errors,
            },
        }))
    }

    fn render_text(&self, style: &Style) -> String {
        let mut s = String::new();
        if self.unpinned() && self.config.allow_unpinned {
            let _ = writeln!(
                s,
                "{}",
                style.warn(&format!(
                    "warning: {}: nothing pinned (--allow-unpinned); the manifest inside the bundle proves only self-consistency\nhelp: pass --expect-sha256 or --expect-manifest with digests published outside the bundle",
                    GateCode::Unpinned.as_str()
                ))
            );
        }
        for st in &self.steps {
            let word = match st.status {
                StepStatus::Pass => style.good("pass"),
                StepStatus::Fail => style.bad("fail"),
                StepStatus::Error => style.bad("error"),
                StepStatus::Skipped => style.warn("skipped"),
            };
            let _ = writeln!(
                s,
                "{:<10} {word:<7} {:>6} ms  {}",
                st.id,
                st.duration.as_millis(),
                crate::report::escape_for_display(&st.detail)
            );
            for f in &st.findings {
                if f.code == GateCode::Unpinned.as_str() && f.severity == Severity::Warning {
                    continue;
                }
                let _ = writeln!(s, "    {} `{}`: {}", f.code, f.subject, f.message);
            }
            if let Some(c) = st.check.as_ref().filter(|_| st.status == StepStatus::Fail) {
                stderr_tail(&mut s, c);
            }
        }
        if let Some(e) = &self.report_error {
            let _ = writeln!(s, "{}", style.bad(&format!("report not written: {e}")));
        } else {
            let _ = writeln!(s, "report: `{}`", self.report_dir.display());
        }
        if let Some(ws) = &self.workspace {
            let _ = writeln!(s, "workspace kept: `{}`", ws.display());
        }
        let _ = writeln!(s, "{}", style.verdict(self.status()));
        s
    }

    fn summary_line(&self) -> String {
        let bad: Vec<&str> = self
            .steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Fail | StepStatus::Error))
            .map(|s| s.id.as_str())
            .collect();
        format!(
            "gate {}: {}",
            self.status().verdict(),
            if bad.is_empty() {
                "every step passed".to_owned()
            } else {
                format!("step {} did not pass", bad.join(", "))
            }
        )
    }
}
