//! `vaultgate envelope …`: argv → typed requests for [`crate::envelope`], reports → printer.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};

use super::Ctx;
use crate::envelope::{self, CheckRequest, Op, Root, Usd, ValidEnvelope, default_baseline_path};
use crate::exit::{EXIT_CODES_HELP, ExitStatus};

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
    op: OpArg,

    /// A path the operation touches (repeat for each; at least one)
    ///
    /// Relative paths are relative to `--root`; absolute paths are taken as they are. For
    /// `rename`, give both the source and the destination.
    #[arg(long = "path", value_name = "P", required = true)]
    paths: Vec<String>,

    /// What the operation will cost, in USD, as an exact decimal (at most 9 places)
    #[arg(long, value_name = "USD", allow_hyphen_values = true, value_parser = parse_cost)]
    cost: Option<Usd>,

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

/// The command line's names for the op vocabulary ([`Op`]; the core does not know clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OpArg {
    /// Read a file's content
    Read,
    /// List a folder or read metadata
    List,
    /// Run a program
    Exec,
    /// Change an existing file's content
    Write,
    /// Create a file or folder
    Create,
    /// Remove a file or folder (recursively: everything inside is judged too)
    Delete,
    /// Move a file or folder (every given path — source and destination — is judged, and
    /// everything inside a moved folder)
    Rename,
    /// Change permission bits or ownership
    Chmod,
}

impl From<OpArg> for Op {
    fn from(op: OpArg) -> Self {
        match op {
            OpArg::Read => Self::Read,
            OpArg::List => Self::List,
            OpArg::Exec => Self::Exec,
            OpArg::Write => Self::Write,
            OpArg::Create => Self::Create,
            OpArg::Delete => Self::Delete,
            OpArg::Rename => Self::Rename,
            OpArg::Chmod => Self::Chmod,
        }
    }
}

/// `--cost`: an exact, non-negative decimal amount, validated when the arguments are parsed.
fn parse_cost(text: &str) -> std::result::Result<Usd, String> {
    let cost: Usd = text.parse()?;
    if cost.is_negative() {
        return Err("a cost cannot be negative".to_owned());
    }
    Ok(cost)
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
            let report = envelope::snapshot(&env, &root, &baseline)?;
            Ok(ctx.printer.emit(&report))
        }
        EnvelopeCmd::Protect(ProtectCmd::Verify(args)) => {
            let (env, root, baseline) = protect_inputs(&args)?;
            let report = envelope::verify(&env, &root, &baseline)?;
            Ok(ctx.printer.emit(&report))
        }
    }
}

fn check(args: CheckArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let env = ValidEnvelope::load(&args.envelope)?;
    let request = CheckRequest {
        op: args.op.into(),
        paths: args.paths.into_iter().map(PathBuf::from).collect(),
        cost: args.cost.unwrap_or(Usd::ZERO),
        root: Root::open(&args.root)?,
        journal: args.journal,
        record: args.record,
    };
    let report = envelope::decide(&env, &request, ctx.clock.as_ref())?;
    ctx.emit_as(args.format.format, &report, || {
        let codes = crate::sarif::codes::<envelope::EnvelopeCode>();
        let file = crate::sarif::Artifact::File(args.envelope.clone());
        crate::sarif::Run::new("envelope check", codes, &report.findings, file)
    })
}

fn protect_inputs(args: &ProtectArgs) -> Result<(ValidEnvelope, Root, PathBuf)> {
    let env = ValidEnvelope::load(&args.envelope)?;
    let root = Root::open(&args.root)?;
    let baseline = args
        .baseline
        .clone()
        .unwrap_or_else(|| default_baseline_path(&args.envelope));
    Ok((env, root, baseline))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_op_names_are_the_core_vocabulary() {
        let names: Vec<Op> = OpArg::value_variants().iter().map(|&o| o.into()).collect();
        assert_eq!(names, Op::ALL);
        for &o in OpArg::value_variants() {
            assert_eq!(
                o.to_possible_value().unwrap().get_name(),
                Op::from(o).as_str()
            );
        }
    }

    #[test]
    fn cost_is_validated_at_the_boundary() {
        assert_eq!(parse_cost("0.25").unwrap().to_string(), "0.25");
        assert!(parse_cost("-1").unwrap_err().contains("cannot be negative"));
        assert!(parse_cost("1e-10").is_err());
    }
}
