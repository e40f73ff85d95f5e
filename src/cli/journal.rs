//! `vaultgate journal …`: argv → typed calls into [`crate::journal`] → a report for the printer.
//!
//! A journal that does not verify (torn tail, tampering, a taken step id) is a verdict: exit 1
//! with a finding. A missing file, bad arguments or I/O errors mean the command could not run:
//! exit 2.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value};

use super::Ctx;
use crate::canon;
use crate::clock;
use crate::exit::{EXIT_CODES_HELP, ExitStatus};
use crate::fsutil;
use crate::hash::Sha256Digest;
use crate::journal::{self, Checkpoint, JournalVerifyOptions, Lines, NewStep};
use crate::output::Render;

fn help(examples: &str) -> String {
    format!("Examples:\n{examples}\n\n{EXIT_CODES_HELP}")
}

/// Append to and verify hash-chained step journals.
#[derive(Debug, Subcommand)]
pub enum JournalCmd {
    /// Append one step record (creates the journal if absent)
    ///
    /// Holds an exclusive lock from reading the head to the fsync of the new line. Refuses to
    /// extend a journal that does not verify (torn tail, tampering) or to reuse a step id.
    /// Prints the step and the new `entry_hash` (the record with `--json`).
    #[command(after_help = help(
        "  vaultgate journal append build.jsonl --name compile --status ok\n  \
         vaultgate journal append build.jsonl --name test --status failed \\\n      \
         --inputs '{\"suite\":\"unit\"}' --outputs @result.json --completed-at now"
    ))]
    Append(AppendArgs),

    /// Verify every record, the hash chain and optional pins
    ///
    /// Runs under a shared lock. Reports a torn tail (a crash mid-append) apart from a
    /// tampered record, naming the first failure with its line and byte offset.
    #[command(after_help = help(
        "  vaultgate journal verify build.jsonl\n  \
         vaultgate journal verify build.jsonl --expect-head \"$PINNED_HEAD\" --expect-count 42\n  \
         vaultgate journal verify build.jsonl --checkpoint 10:<entry_hash of record 10>"
    ))]
    Verify(VerifyArgs),

    /// Print the record count and head hash of a journal that verifies (the value to pin)
    #[command(after_help = help(
        "  vaultgate journal head build.jsonl\n  \
         vaultgate --json journal head build.jsonl | jq -r .head\n  \
         vaultgate journal head written-by-python.jsonl --lines any"
    ))]
    Head {
        /// The journal file
        file: PathBuf,
        #[command(flatten)]
        lines: LinesArg,
    },

    /// Print the records of a journal that verifies
    #[command(after_help = help(
        "  vaultgate journal show build.jsonl\n  \
         vaultgate --json journal show build.jsonl --step-id 5b0c…"
    ))]
    Show {
        /// The journal file
        file: PathBuf,
        /// Show only the record with this step id (exit 1 when there is none)
        #[arg(long, value_name = "ID")]
        step_id: Option<String>,
    },

    /// Drop a torn tail after a crash, keeping a full backup
    ///
    /// Copies the journal to `FILE.bak-YYYYMMDDTHHMMSSZ` first, then truncates the torn last
    /// line away. Never removes a tampered record: then it refuses and changes nothing.
    #[command(after_help = help(
        "  vaultgate journal verify build.jsonl        # reports journal-torn-tail\n  \
         vaultgate journal repair build.jsonl --truncate-torn-tail"
    ))]
    Repair {
        /// The journal file
        file: PathBuf,
        /// Truncate the torn last line (required: repair never guesses)
        #[arg(long, required = true)]
        truncate_torn_tail: bool,
    },
}

/// `journal append`.
#[derive(Debug, Args)]
pub struct AppendArgs {
    /// The journal file (created with this first record if absent)
    file: PathBuf,
    /// What the step is, e.g. `compile`
    #[arg(long, value_name = "N")]
    name: String,
    /// How it went, e.g. `ok`, `failed`, `running`
    #[arg(long, value_name = "S")]
    status: String,
    /// A unique id for the step (default: a fresh UUID v4)
    #[arg(long, value_name = "ID")]
    step_id: Option<String>,
    /// The step's inputs: a JSON object, or `@FILE` to read one
    ///
    /// Duplicate keys, NaN/Infinity and lone surrogates are refused.
    #[arg(long, value_name = "JSON|@FILE")]
    inputs: Option<String>,
    /// The step's outputs: a JSON object, or `@FILE` to read one
    #[arg(long, value_name = "JSON|@FILE")]
    outputs: Option<String>,
    /// Start time, RFC 3339 UTC (`2026-01-02T03:04:05Z`) or `now` (default: now)
    #[arg(long, value_name = "T")]
    started_at: Option<String>,
    /// Completion time, RFC 3339 UTC or `now` (default: unset, written as `null`)
    #[arg(long, value_name = "T")]
    completed_at: Option<String>,
    #[command(flatten)]
    lines: LinesArg,
}

/// `--lines`: which spellings of the earlier records are accepted.
#[derive(Debug, Args)]
pub struct LinesArg {
    /// Which spellings of a record are accepted
    ///
    /// `canonical` (default): only the canonical bytes vaultgate writes. `any`: any strict
    /// JSON spelling whose parsed record hashes correctly (a journal written with Python's
    /// default `json.dumps(record)`, or with `ensure_ascii=False`); duplicate keys are still
    /// refused, and each non-canonical line is reported as a `journal-not-canonical` warning.
    /// `append` always writes a canonical line.
    #[arg(long, value_enum, value_name = "SPELLING", default_value_t = LinesWhen::Canonical)]
    lines: LinesWhen,
}

/// The command line's names for [`Lines`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LinesWhen {
    /// Canonical bytes only.
    Canonical,
    /// Any JSON spelling that hashes correctly.
    Any,
}

impl LinesArg {
    fn lines(&self) -> Lines {
        match self.lines {
            LinesWhen::Canonical => Lines::Canonical,
            LinesWhen::Any => Lines::Any,
        }
    }
}

/// `journal verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The journal file
    file: PathBuf,
    /// Pin record N (1-based) to an entry hash; catches truncation and rewrites of the prefix
    ///
    /// Repeatable. Take the pair from `journal head` at the time you pin it.
    #[arg(long, value_name = "N:HASH", value_parser = clap::value_parser!(Checkpoint))]
    checkpoint: Vec<Checkpoint>,
    /// The entry hash the last record must have
    #[arg(long, value_name = "HASH", value_parser = parse_hash)]
    expect_head: Option<Sha256Digest>,
    /// The number of records the journal must have
    #[arg(long, value_name = "N")]
    expect_count: Option<usize>,
    #[command(flatten)]
    lines: LinesArg,

    #[command(flatten)]
    format: super::FormatArg,
}

/// An `entry_hash` as the journal writes it: 64 lowercase hex digits.
fn parse_hash(s: &str) -> Result<Sha256Digest, String> {
    if journal::is_hash(s) {
        s.parse().map_err(|e: crate::hash::BadDigest| e.to_string())
    } else {
        Err(format!(
            "`{}` is not 64 lowercase hex digits",
            crate::report::escape_for_display(s)
        ))
    }
}

fn json_object(flag: &str, value: Option<&str>) -> anyhow::Result<Map<String, Value>> {
    let Some(value) = value else {
        return Ok(Map::new());
    };
    let (bytes, source) = match value.strip_prefix('@') {
        Some(file) => (fsutil::read(Path::new(file))?, format!("`{file}`")),
        None => (value.as_bytes().to_vec(), "the argument".to_owned()),
    };
    canon::parse_object(&bytes)
        .with_context(|| format!("invalid `--{flag}` ({source}): expected one JSON object"))
}

fn timestamp(value: Option<String>, ctx: &Ctx) -> anyhow::Result<Option<String>> {
    match value.as_deref() {
        Some("now") => Ok(Some(clock::format_rfc3339(ctx.clock.now())?)),
        _ => Ok(value),
    }
}

fn emit(ctx: &Ctx, report: &dyn Render) -> ExitStatus {
    ctx.printer.emit(report)
}

/// Run one `journal` subcommand.
pub fn run(cmd: JournalCmd, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    match cmd {
        JournalCmd::Append(a) => {
            let lines = a.lines.lines();
            let step = NewStep {
                inputs: json_object("inputs", a.inputs.as_deref())?,
                outputs: json_object("outputs", a.outputs.as_deref())?,
                started_at: timestamp(a.started_at, ctx)?,
                completed_at: timestamp(a.completed_at, ctx)?,
                name: a.name,
                status: a.status,
                step_id: a.step_id,
            };
            let report = journal::append_report(&a.file, step, lines, ctx.clock.as_ref())?;
            Ok(emit(ctx, &report))
        }
        JournalCmd::Verify(v) => {
            let opts = JournalVerifyOptions {
                checkpoints: v.checkpoint,
                expect_head: v.expect_head,
                expect_count: v.expect_count,
                lines: v.lines.lines(),
            };
            let report = journal::verify(&v.file, &opts)?;
            ctx.emit_as(v.format.format, &report, || {
                let codes = crate::sarif::codes::<journal::JournalCode>();
                let file = crate::sarif::Artifact::File(v.file.clone());
                crate::sarif::Run::new("journal verify", codes, &report.findings, file)
            })
        }
        JournalCmd::Head { file, lines } => Ok(emit(ctx, &journal::head(&file, lines.lines())?)),
        JournalCmd::Show { file, step_id } => {
            Ok(emit(ctx, &journal::show_report(&file, step_id.as_deref())?))
        }
        JournalCmd::Repair {
            file,
            truncate_torn_tail,
        } => {
            if !truncate_torn_tail {
                bail!("nothing to do\nhelp: pass `--truncate-torn-tail`");
            }
            Ok(emit(
                ctx,
                &journal::repair_torn_tail(&file, ctx.clock.as_ref())?,
            ))
        }
    }
}
