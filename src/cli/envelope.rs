//! `vaultgate envelope …`: argv → typed requests for [`crate::envelope`], reports → printer.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::Ctx;
use crate::envelope::{
    self, CheckRequest, EnvelopeError, Op, Root, Usd, ValidEnvelope, default_baseline_path,
};
use crate::exit::{EXIT_CODES_HELP, ExitStatus};
use crate::report::escape_for_display;

/// Envelope commands.
#[derive(Debug, Subcommand)]
pub enum EnvelopeCmd {
    /// Decide whether one operation is allowed by an envelope policy
    ///
    /// Allowed only when the op is in `allow_ops`; every path lies inside `--root` (as written
    /// and after resolving symlinks), matches an `allow_paths` glob and is covered by no
    /// `deny_paths` glob (deny wins; deny matching ignores case and Unicode normal form); no
    /// mutating op touches a protected path, the envelope or its baseline; and the spent
    /// budget plus `--cost` stays within `max_budget_usd`. Every reason for a denial is listed.
    /// See docs/envelope.md.
    #[command(after_help = check_help())]
    Check(CheckArgs),
    /// Record or verify the fingerprints of the protected files
    #[command(subcommand)]
    Protect(ProtectCmd),
}

/// `envelope protect` commands.
#[derive(Debug, Subcommand)]
pub enum ProtectCmd {
    /// Record the SHA-256 of every protected file in a baseline
    ///
    /// The set is the envelope file itself plus every file or symlink under `--root` covered by
    /// a `protected_paths` glob. The baseline is written atomically.
    #[command(after_help = snapshot_help())]
    Snapshot(ProtectArgs),
    /// Report each protected file that changed, vanished or appeared since the baseline
    #[command(after_help = verify_help())]
    Verify(ProtectArgs),
}

/// Arguments of `envelope check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The envelope policy file (JSON)
    #[arg(long, value_name = "FILE")]
    envelope: PathBuf,

    /// The operation to judge
    #[arg(long, value_enum, value_name = "OP")]
    op: Op,

    /// A path the operation touches (repeat for each; at least one)
    ///
    /// Relative paths are relative to `--root`; absolute paths are taken as they are. For
    /// `rename`, give both the source and the destination.
    #[arg(long = "path", value_name = "P", required = true)]
    paths: Vec<String>,

    /// What the operation will cost, in USD, as an exact decimal (at most 9 places)
    #[arg(long, value_name = "USD", allow_hyphen_values = true)]
    cost: Option<String>,

    /// The journal whose records' `outputs.cost_usd` sum to the budget already spent
    ///
    /// The journal must exist and verify completely (hash chain, no torn tail); without it the
    /// spent budget is zero. It is protected from mutating ops like the envelope itself.
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,

    /// Append the decision to `--journal` as an `envelope-check` step
    ///
    /// Status `allowed` or `violation`; inputs `op`, `paths`, `cost_usd`; outputs `decision`,
    /// `findings` and, only when allowed, `cost_usd` (a denied op spent nothing).
    #[arg(long, requires = "journal")]
    record: bool,

    /// The folder every path must stay inside
    #[arg(long, value_name = "DIR", default_value = ".")]
    root: PathBuf,

    #[command(flatten)]
    format: super::FormatArg,
}

/// Arguments of `envelope protect snapshot|verify`.
#[derive(Debug, Args)]
pub struct ProtectArgs {
    /// The envelope policy file (JSON); always part of the protected set
    #[arg(long, value_name = "FILE")]
    envelope: PathBuf,

    /// The folder walked for files matching `protected_paths`
    #[arg(long, value_name = "DIR", default_value = ".")]
    root: PathBuf,

    /// The baseline file [default: `<envelope>.baseline.json`]
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
}

fn check_help() -> String {
    format!(
        "Examples:
  vaultgate envelope check --envelope envelope.json --op write --path src/main.rs
  vaultgate envelope check --envelope envelope.json --op rename --path a.txt --path b.txt
  vaultgate envelope check --envelope envelope.json --op exec --path bin/tool --cost 0.002 --json
  vaultgate envelope check --envelope envelope.json --op write --path out.txt --cost 0.01 \\
      --journal build.jsonl --record

{EXIT_CODES_HELP}"
    )
}

fn snapshot_help() -> String {
    format!(
        "Examples:
  vaultgate envelope protect snapshot --envelope envelope.json
  vaultgate envelope protect snapshot --envelope envelope.json --root repo --baseline ci/baseline.json

{EXIT_CODES_HELP}"
    )
}

fn verify_help() -> String {
    format!(
        "Examples:
  vaultgate envelope protect verify --envelope envelope.json
  vaultgate envelope protect verify --envelope envelope.json --json

Exit 1 when any protected file changed, vanished or appeared.
{EXIT_CODES_HELP}"
    )
}

/// Run one envelope command.
pub fn dispatch(cmd: EnvelopeCmd, ctx: &Ctx) -> Result<ExitStatus> {
    match cmd {
        EnvelopeCmd::Check(args) => check(args, ctx),
        EnvelopeCmd::Protect(ProtectCmd::Snapshot(args)) => {
            let (env, root, baseline) = protect_inputs(&args)?;
            let report = core(envelope::snapshot(&env, &root, &baseline))?;
            Ok(ctx.printer.emit(&report))
        }
        EnvelopeCmd::Protect(ProtectCmd::Verify(args)) => {
            let (env, root, baseline) = protect_inputs(&args)?;
            let report = core(envelope::verify(&env, &root, &baseline))?;
            Ok(ctx.printer.emit(&report))
        }
    }
}

fn check(args: CheckArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let env = core(ValidEnvelope::load(&args.envelope))?;
    let cost = match &args.cost {
        None => Usd::ZERO,
        Some(text) => core(Usd::parse(text).map_err(|reason| EnvelopeError::Amount {
            what: "--cost",
            value: escape_for_display(text),
            reason,
        }))?,
    };
    let request = CheckRequest {
        op: args.op,
        paths: args.paths.into_iter().map(PathBuf::from).collect(),
        cost,
        root: core(Root::open(&args.root))?,
        journal: args.journal.clone(),
    };
    let report = match &args.journal {
        Some(j) if args.record => {
            core(envelope::check_and_record(
                &env,
                &request,
                j,
                ctx.clock.as_ref(),
            ))?
            .0
        }
        Some(j) => core(envelope::check(
            &env,
            &request,
            core(envelope::spent_in_journal(j))?,
        ))?,
        None => core(envelope::check(&env, &request, Usd::ZERO))?,
    };
    ctx.emit_as(args.format.format, &report, || {
        let codes = crate::sarif::codes::<envelope::EnvelopeCode>();
        let file = crate::sarif::Artifact::File(args.envelope.clone());
        crate::sarif::Run::new("envelope check", codes, &report.findings, file)
    })
}

fn protect_inputs(args: &ProtectArgs) -> Result<(ValidEnvelope, Root, PathBuf)> {
    let env = core(ValidEnvelope::load(&args.envelope))?;
    let root = core(Root::open(&args.root))?;
    let baseline = args
        .baseline
        .clone()
        .unwrap_or_else(|| default_baseline_path(&args.envelope));
    Ok((env, root, baseline))
}

/// The core's messages already name every cause; flatten so `{:#}` does not repeat them.
fn core<T>(result: std::result::Result<T, EnvelopeError>) -> Result<T> {
    result.map_err(|e| anyhow::Error::msg(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn cli_op_names_are_the_core_vocabulary() {
        assert_eq!(Op::value_variants(), Op::ALL);
        for &o in Op::value_variants() {
            assert_eq!(o.to_possible_value().unwrap().get_name(), o.as_str());
        }
    }
}
