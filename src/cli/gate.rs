//! `vaultgate gate`: the audit gate pipeline.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{Ctx, Format, GateFormat};
use crate::clock;
use crate::exit::ExitStatus;
use crate::gate::{self, GateOptions, ReportDir};
use crate::hash::Sha256Digest;
use crate::paths::SafeRelPath;
use crate::sarif;

/// The `after_help` of `vaultgate gate`.
pub const GATE_HELP: &str = "\
Steps (each recorded as pass|fail|skipped|error; a step runs only if all before it passed):
  audit     bundle sha256 (and --expect-sha256), structure and names
  extract   entry by entry into a fresh workspace, sizes and CRCs checked, no links
  manifest  manifest.txt present (and --expect-manifest), every file matches, none missing or unlisted
  require   every --require path present
  check-NN  each --run in the workspace: cleared env, stdin /dev/null, timeout kills the group

Examples:
  vaultgate gate dist/bundle.zip --expect-sha256 \"$BUNDLE_SHA256\" --run 'sh checks.sh'
  vaultgate gate fixtures/gate/demo.zip --run 'sh checks.sh' --require checks.sh --report out/gate
  vaultgate gate bundle.zip --expect-manifest \"$MANIFEST_SHA256\" --timeout 30s --json

Exit codes:
  0  pass: every step passed
  1  a step failed (findings in the report; later steps skipped)
  2  could not run: usage, I/O or internal error (the report is still written when possible)";

/// Arguments of `gate`.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// The bundle to gate (a ZIP file)
    bundle: PathBuf,

    /// A check to run in the extracted bundle with `sh -c` (repeatable, run in order)
    ///
    /// The environment is cleared: only `PATH` (the gate's), `LANG=C.UTF-8`, and `HOME` and
    /// `TMPDIR` inside the workspace. stdin is /dev/null; stdout and stderr are saved verbatim
    /// to `checks/NN.stdout` and `checks/NN.stderr` in the report. A non-zero exit or a
    /// timeout fails the gate and skips the remaining checks.
    #[arg(long = "run", value_name = "CMD")]
    run: Vec<String>,

    /// A relative path that must exist in the bundle (repeatable)
    ///
    /// `/`-separated, no `..`, `.` or empty components, not absolute.
    #[arg(long = "require", value_name = "PATH", value_parser = parse_rel)]
    require: Vec<SafeRelPath>,

    /// Where to write `report.json`, `report.md` and `checks/`
    ///
    /// Must not exist or be empty (see --force). The report is staged beside it and renamed
    /// into place when complete.
    #[arg(long = "report", value_name = "DIR", default_value = gate::DEFAULT_REPORT_DIR)]
    report: PathBuf,

    /// Replace a non-empty report directory (only once the new report is complete)
    #[arg(long)]
    force: bool,

    /// Time limit for each check, e.g. `30s`, `5m`, `1h`
    ///
    /// On expiry the check's whole process group is killed with SIGKILL and the gate fails.
    #[arg(long, value_name = "DUR", default_value = "10m", value_parser = parse_timeout)]
    timeout: Duration,

    /// The SHA-256 the bundle file must have (64 hex digits, `sha256:` prefix allowed)
    #[arg(long, value_name = "HEX")]
    expect_sha256: Option<Sha256Digest>,

    /// The SHA-256 the bundle's `manifest.txt` must have (as printed by `zip pack`)
    ///
    /// A manifest written by whoever made the bundle proves nothing unless its digest is
    /// pinned from outside; without either pin the report carries a warning.
    #[arg(long, value_name = "HEX")]
    expect_manifest: Option<Sha256Digest>,

    /// Keep the workspace after the gate and print its path
    #[arg(long)]
    keep_workspace: bool,

    /// Output format: text, json (as --json), sarif (SARIF 2.1.0) or junit (JUnit XML)
    ///
    /// See docs/ci.md. The exit code is the gate's whatever the format; the report folder is
    /// written as always.
    #[arg(long, value_enum, default_value_t = GateFormat::Text, value_name = "FORMAT")]
    format: GateFormat,
}

fn parse_rel(s: &str) -> Result<SafeRelPath, String> {
    SafeRelPath::parse(s).map_err(|e| e.to_string())
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = clock::parse_duration(s)?;
    if d.is_zero() {
        return Err("a zero timeout would kill every check".to_owned());
    }
    Ok(d)
}

/// Run the gate.
pub fn dispatch(a: GateArgs, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    let started_at = clock::format_rfc3339(ctx.clock.now())?;
    // Refused before anything runs, so a refused report directory is left exactly as it was.
    let report_dir = ReportDir::prepare(&a.report, a.force)?;
    let opts = GateOptions {
        bundle: a.bundle,
        run: a.run,
        require: a.require,
        report_dir: a.report,
        timeout: a.timeout,
        expect_sha256: a.expect_sha256,
        expect_manifest: a.expect_manifest,
        keep_workspace: a.keep_workspace,
        started_at,
    };
    let report = gate::run(&opts, report_dir);
    let format = match a.format {
        GateFormat::Junit => {
            let status = crate::output::Render::status(&report);
            return ctx.product_for(&crate::junit::gate(&report)?, status, "junit");
        }
        GateFormat::Text => Format::Text,
        GateFormat::Json => Format::Json,
        GateFormat::Sarif => Format::Sarif,
    };
    ctx.emit_as(format, &report, || {
        let mut codes = sarif::codes::<gate::GateCode>();
        codes.extend(sarif::codes::<crate::bundle::ZipCode>());
        codes.extend(sarif::codes::<crate::bundle::extract::ExtractCode>());
        codes.extend(sarif::codes::<crate::manifest::Code>());
        let file = sarif::Artifact::File(report.bundle.clone());
        sarif::Run::new("gate", codes, report.findings(), file)
    })
}
