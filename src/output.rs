//! The one place that writes to stdout and stderr.
//!
//! Every command hands a [`Render`] report to the [`Printer`], which knows `--json`, `--quiet`
//! and colour. Text goes to stdout; `--json` gives one JSON document on stdout with the family's
//! `schema` and a final `summary` carrying the verdict and the exit code. `--quiet` prints
//! nothing on success and one summary line on stderr otherwise. A write failure (a closed pipe)
//! never turns a failure into a pass: it is reported as exit 2 unless the verdict was already
//! a failure.

use std::io::{self, IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value};

use crate::exit::ExitStatus;
use crate::report::{Finding, all_clear};

/// A report any command can print as text or JSON.
///
/// Every impl states its schema and its verdict rule in one line with [`render_head!`]
/// (`crate::render_head!(SCHEMA, rule)`), where `rule` is [`passes`] for a report that exists
/// only on success (anything else was an error, exit 2), or a function of the report, usually
/// through [`verdict`]: `|r: &Self| verdict(&r.findings(), r.could_not_run())`. There is no
/// default rule on purpose: a report type that forgot one must not pass by default.
pub trait Render {
    /// `vaultgate/<family>/v1`.
    fn schema(&self) -> &'static str;
    /// The verdict, decided once by the family.
    fn status(&self) -> ExitStatus;
    /// The report body as a JSON object (the printer adds `schema` and `summary.verdict` /
    /// `summary.exit_code`).
    fn to_json(&self) -> Map<String, Value>;
    /// Human text, one line per item, ending with a summary line.
    fn render_text(&self, style: &Style) -> String;
    /// One line summarising the outcome (used by `--quiet` on failure).
    fn summary_line(&self) -> String;
}

/// `schema` and `status` of a [`Render`] impl in one line: the family's `vaultgate/<family>/v1`
/// and the rule that decides the verdict (a function or closure taking `&Self`; see
/// [`passes`] and [`verdict`]).
///
/// ```text
/// impl Render for DigestReport {
///     crate::render_head!(super::SCHEMA, output::passes);
///     fn to_json(&self) -> Map<String, Value> { .. }
///     ..
/// }
/// ```
#[macro_export]
macro_rules! render_head {
    ($schema:expr, $rule:expr) => {
        fn schema(&self) -> &'static str {
            $schema
        }
        fn status(&self) -> $crate::exit::ExitStatus {
            ($rule)(self)
        }
    };
}

/// The verdict rule of a report that exists only when the command succeeded (a write, a
/// digest): it passes; every failure of such a command is an error (exit 2) instead.
pub fn passes<T: ?Sized>(_report: &T) -> ExitStatus {
    ExitStatus::Pass
}

/// The one verdict rule for findings: `Error` when the check could not run in full (a partial
/// evaluation never passes), else `Fail` when any finding is an error, else `Pass` (warnings
/// alone pass).
pub fn verdict(findings: &[Finding], could_not_run: bool) -> ExitStatus {
    if could_not_run {
        ExitStatus::Error
    } else {
        ExitStatus::pass_if(all_clear(findings))
    }
}

/// A `json!({...})` object literal as a map (any other value is wrapped under `value`).
pub fn json_object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("value".into(), other);
            m
        }
    }
}

/// When to colour. (The CLI maps its own `--color` enum onto this one; the core knows no clap.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorWhen {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty.
    Auto,
    /// Always colour (overrides `NO_COLOR`).
    Always,
    /// Never colour.
    Never,
}

/// ANSI styling, or none.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    color: bool,
}

/// Styled text. It derefs to the painted string (escapes included) as `String` did, and its
/// `Display` honours a width by padding the *visible* text and then painting, so
/// `format!("{:<10}", style.bad("MISMATCH"))` lines up the same with and without colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Painted {
    painted: String,
    visible_chars: usize,
}

impl std::ops::Deref for Painted {
    type Target = str;
    fn deref(&self) -> &str {
        &self.painted
    }
}

impl From<Painted> for String {
    fn from(p: Painted) -> Self {
        p.painted
    }
}

impl std::fmt::Display for Painted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pad = f.width().unwrap_or(0).saturating_sub(self.visible_chars);
        let (before, after) = match f.align() {
            Some(std::fmt::Alignment::Right) => (pad, 0),
            Some(std::fmt::Alignment::Center) => (pad / 2, pad - pad / 2),
            Some(std::fmt::Alignment::Left) | None => (0, pad),
        };
        let fill = f.fill();
        for _ in 0..before {
            write!(f, "{fill}")?;
        }
        f.write_str(&self.painted)?;
        for _ in 0..after {
            write!(f, "{fill}")?;
        }
        Ok(())
    }
}

impl Style {
    /// Plain text, no escapes.
    pub fn plain() -> Self {
        Self { color: false }
    }
    /// Colours on (what `--color always` gives).
    pub fn colored() -> Self {
        Self { color: true }
    }
    fn paint(self, code: &str, s: &str) -> Painted {
        let painted = if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        };
        Painted {
            painted,
            visible_chars: s.chars().count(),
        }
    }
    /// Green.
    pub fn good(self, s: &str) -> Painted {
        self.paint("32", s)
    }
    /// Red, bold.
    pub fn bad(self, s: &str) -> Painted {
        self.paint("1;31", s)
    }
    /// Yellow.
    pub fn warn(self, s: &str) -> Painted {
        self.paint("33", s)
    }
    /// Bold.
    pub fn bold(self, s: &str) -> Painted {
        self.paint("1", s)
    }
    /// The verdict word, coloured.
    pub fn verdict(self, status: ExitStatus) -> Painted {
        match status {
            ExitStatus::Pass => self.good("PASS"),
            ExitStatus::Fail => self.bad("FAIL"),
            ExitStatus::Error => self.bad("ERROR"),
        }
    }
}

/// Knows the output mode; the only writer of reports.
#[derive(Debug, Clone)]
pub struct Printer {
    json: bool,
    quiet: bool,
    style: Style,
    stderr_tty: bool,
}

impl Printer {
    /// Resolve the output mode from the global flags and the environment.
    pub fn new(json: bool, quiet: bool, color: ColorWhen) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => !no_color && io::stdout().is_terminal(),
        };
        Self {
            json,
            quiet,
            style: Style { color },
            stderr_tty: io::stderr().is_terminal(),
        }
    }

    /// `--json` was given.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// The JSON document for a report: body, `schema`, and `summary.{verdict,exit_code}`.
    pub fn json_document(report: &dyn Render) -> Value {
        let mut body = report.to_json();
        let status = report.status();
        let mut summary = match body.remove("summary") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        summary.insert("verdict".into(), Value::from(status.verdict()));
        summary.insert("exit_code".into(), Value::from(status.code()));
        body.insert("schema".into(), Value::from(report.schema()));
        body.insert("summary".into(), Value::Object(summary));
        Value::Object(body)
    }

    /// Print a report and return the exit status the process should end with.
    pub fn emit(&self, report: &dyn Render) -> ExitStatus {
        let status = report.status();
        let written = if self.json {
            let doc = Self::json_document(report);
            serde_json::to_string_pretty(&doc)
                .map_err(io::Error::other)
                .and_then(|s| write_stdout(&s))
        } else if self.quiet {
            if status == ExitStatus::Pass {
                Ok(())
            } else {
                write_stderr(&report.summary_line())
            }
        } else {
            write_stdout(report.render_text(&self.style).trim_end_matches('\n'))
        };
        // A report that could not be delivered is never a pass; a failure keeps its own code.
        if written.is_err() && status == ExitStatus::Pass {
            ExitStatus::Error
        } else {
            status
        }
    }

    /// Print plain text that is the command's product (completions, a digest) to stdout.
    pub fn product(&self, text: &str) -> ExitStatus {
        match write_stdout(text.trim_end_matches('\n')) {
            Ok(()) => ExitStatus::Pass,
            Err(_) => ExitStatus::Error,
        }
    }

    /// Report an error that stopped the command (exit 2). Text on stderr; with `--json`, also
    /// an error document on stdout so a machine reader never parses an empty stream.
    pub fn error(&self, message: &str) -> ExitStatus {
        let _ = write_stderr(&format!("vaultgate: error: {message}"));
        if self.json {
            let doc = serde_json::json!({
                "schema": "vaultgate/error/v1",
                "error": message,
                "summary": {"verdict": "error", "exit_code": ExitStatus::Error.code()},
            });
            if let Ok(s) = serde_json::to_string_pretty(&doc) {
                let _ = write_stdout(&s);
            }
        }
        ExitStatus::Error
    }

    /// A warning on stderr (suppressed by `--quiet`).
    pub fn warn(&self, message: &str) {
        if !self.quiet {
            let _ = write_stderr(&format!("vaultgate: warning: {message}"));
        }
    }

    /// A progress bar on stderr, only when stderr is a terminal, output is not quiet, and the
    /// work is long enough to deserve one (`len >= threshold`). When the amount of work is not
    /// known yet, pass `len = 0` and call [`Progress::start`] once it is.
    pub fn progress(&self, len: u64, threshold: u64, what: &str) -> Progress {
        if self.quiet || !self.stderr_tty {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        if let Ok(style) =
            ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} [{elapsed}<{eta}]")
        {
            bar.set_style(style);
        }
        bar.set_message(what.to_owned());
        let progress = Progress {
            bar: Some(bar),
            threshold,
        };
        if len > 0 {
            progress.start(len);
        }
        progress
    }
}

/// A progress handle the core may tick; draws nothing unless stderr is a terminal and the work
/// is large.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    bar: Option<ProgressBar>,
    threshold: u64,
}

impl Progress {
    /// A progress handle that shows nothing.
    pub fn hidden() -> Self {
        Self::default()
    }
    /// The amount of work is now known: show the bar if it is at least the threshold.
    pub fn start(&self, len: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(len);
            if len >= self.threshold {
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
        }
    }
    /// Advance by `n`.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }
    /// Remove the bar from the terminal.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn write_stdout(s: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(s.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

fn write_stderr(s: &str) -> io::Result<()> {
    let mut err = io::stderr().lock();
    err.write_all(s.as_bytes())?;
    err.write_all(b"\n")?;
    err.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: colour dropped the column padding (`MISMATCH a.txt` against
    /// `MISMATCH   a.txt`), because the width counted the escape bytes.
    #[test]
    fn padding_counts_visible_characters_only() {
        let plain = format!("{:<10}|", Style::plain().bad("MISMATCH"));
        let colored = format!("{:<10}|", Style::colored().bad("MISMATCH"));
        assert_eq!(plain, "MISMATCH  |");
        assert_eq!(colored, "\x1b[1;31mMISMATCH\x1b[0m  |");
        assert_eq!(
            format!("{:>6}", Style::colored().good("ok")),
            "    \x1b[32mok\x1b[0m"
        );
        assert_eq!(format!("{:^6}", Style::plain().good("ok")), "  ok  ");
        // Wider than the column: nothing is cut.
        assert_eq!(format!("{:<3}", Style::plain().bad("UNLISTED")), "UNLISTED");
    }
}
