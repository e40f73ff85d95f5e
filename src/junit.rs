//! JUnit XML for the gate, which GitLab, Jenkins and most CI systems render as a test report.
//!
//! One `<testsuite name="vaultgate gate">` with one `<testcase>` per step (`audit`, `extract`,
//! `manifest`, `require`) and per check (`check-01`, …), in pipeline order. A failed step carries
//! a `<failure>` listing its findings (`code` `subject`: message), a step that could not run an
//! `<error>`, a skipped one `<skipped/>`. A check's saved stdout and stderr (read back from the
//! report folder, verbatim but for characters XML 1.0 cannot hold) are its `<system-out>` and
//! `<system-err>`. Counts in the suite and the root agree with the cases by construction.

use std::fmt::Write as _;
use std::path::Path;

use crate::fsutil::{self, FsError};
use crate::gate::{GateReport, Step, StepStatus};
use crate::report::Finding;

/// Escape text for an XML 1.0 attribute or element. Characters XML 1.0 cannot carry at all
/// (control characters other than tab, LF and CR; U+FFFE, U+FFFF) become `\u{..}`, so a
/// hostile check output can neither break the document nor hide in it.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn seconds(step: &Step) -> String {
    format!("{:.3}", step.duration.as_secs_f64())
}

fn findings_text(findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        let _ = writeln!(s, "{} `{}`: {}", f.code, f.subject, f.message);
    }
    s
}

/// A check's saved log, or a note when the report (and so the log) could not be written.
fn log(report: &GateReport, rel: &str) -> Result<String, FsError> {
    if report.report_error.is_some() {
        return Ok(format!(
            "(not saved: the report could not be written; {rel})"
        ));
    }
    let bytes = fsutil::read(&report.report_dir.join(Path::new(rel)))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The gate report as a JUnit XML document. Fails only when a check's saved log cannot be read
/// back from the report folder.
pub fn gate(report: &GateReport) -> Result<String, FsError> {
    let count = |s: StepStatus| report.steps.iter().filter(|st| st.status == s).count();
    let (failures, errors, skipped) = (
        count(StepStatus::Fail),
        count(StepStatus::Error),
        count(StepStatus::Skipped),
    );
    let total: f64 = report.steps.iter().map(|s| s.duration.as_secs_f64()).sum();
    let suite = format!(
        "name=\"vaultgate gate\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{total:.3}\"",
        report.steps.len()
    );
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(x, "<testsuites {suite}>");
    let _ = writeln!(
        x,
        "  <testsuite {suite} timestamp=\"{}\">",
        escape(&report.started_at)
    );
    let _ = writeln!(x, "    <properties>");
    let mut props = vec![("bundle", report.bundle.display().to_string())];
    if let Some(d) = &report.bundle_sha256 {
        props.push(("bundle_sha256", d.to_hex()));
    }
    if let Some(d) = &report.manifest_sha256 {
        props.push(("manifest_sha256", d.to_hex()));
    }
    if let Some(id) = &report.run_id {
        props.push(("run_id", id.clone()));
    }
    for (k, v) in props {
        let _ = writeln!(x, "      <property name=\"{k}\" value=\"{}\"/>", escape(&v));
    }
    let _ = writeln!(x, "    </properties>");
    for step in &report.steps {
        let name = match &step.check {
            Some(c) => format!("{}: {}", step.id, c.command),
            None => step.id.clone(),
        };
        let _ = write!(
            x,
            "    <testcase classname=\"vaultgate.gate\" name=\"{}\" time=\"{}\">",
            escape(&name),
            seconds(step)
        );
        let detail = escape(&step.detail);
        let body = escape(&findings_text(&step.findings));
        match step.status {
            StepStatus::Pass => {}
            StepStatus::Fail => {
                let _ = write!(x, "\n      <failure message=\"{detail}\">{body}</failure>");
            }
            StepStatus::Error => {
                let _ = write!(x, "\n      <error message=\"{detail}\">{body}</error>");
            }
            StepStatus::Skipped => {
                let _ = write!(x, "\n      <skipped message=\"{detail}\"/>");
            }
        }
        if let Some(c) = &step.check
            && step.status != StepStatus::Skipped
        {
            let _ = write!(
                x,
                "\n      <system-out>{}</system-out>\n      <system-err>{}</system-err>",
                escape(&log(report, &c.stdout)?),
                escape(&log(report, &c.stderr)?)
            );
        }
        if step.status != StepStatus::Pass || step.check.is_some() {
            x.push_str("\n    ");
        }
        x.push_str("</testcase>\n");
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_characters_xml_cannot_hold() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(
            escape("bell\u{7}\x1b[2J\tok\n"),
            "bell\\u{7}\\u{1b}[2J\tok\n"
        );
        assert_eq!(escape("\u{fffe}"), "\\u{fffe}");
        assert_eq!(escape("é ✓"), "é ✓");
    }
}
