//! `vaultgate gate`: the audit gate pipeline.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{Ctx, Format, GateFormat};
use crate::clock;
use crate::exit::ExitStatus;
use crate::gate::{self, GateOptions, LogLimit, Pins};
use crate::hash::Sha256Digest;
use crate::paths::SafeRelPath;
use crate::sarif;

/// The `after_help` of `vaultgate gate`.
pub const GATE_HELP: &str = "\
Steps (each recorded as pass|fail|skipped|error; a step runs only if all before it passed):
  audit     one read of the bundle into a private snapshot, its sha256 (and the pins; with
            neither --expect-sha256 nor --expect-manifest it fails unless --allow-unpinned),
            structure and names; every later step reads only the snapshot
  extract   entry by entry into a fresh workspace, sizes and CRCs checked, no links
  manifest  manifest.txt present (and --expect-manifest), every file matches, none missing or unlisted
  require   every --require path present
  check-NN  each --run in the workspace: cleared env, stdin /dev/null, timeout kills the group,
            logs capped by --max-log (head and tail kept)

Examples:
  vaultgate gate dist/bundle.zip --expect-sha256 \"$BUNDLE_SHA256\" --run 'sh checks.sh'
  vaultgate gate fixtures/gate/demo.zip --allow-unpinned --run 'sh checks.sh' --require checks.sh
  vaultgate gate bundle.zip --expect-manifest \"$MANIFEST_SHA256\" --timeout 30s --json

Verdict: pass only when every step passed; a failed step is exit 1 (findings in the report,
later steps skipped); a step that could not run is exit 2 (the report is still written when
possible).

Re-running in the same folder replaces a previous gate report in --report (and only that: any
other non-empty directory is refused unless --force).";

/// Arguments of `gate`.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // each is one on/off flag of the command line
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
    /// Must not exist, be empty, or hold a finished vaultgate gate report (which is replaced,
    /// so re-running works); anything else is refused (see --force). The report is staged
    /// beside it and renamed into place when complete.
    #[arg(long = "report", value_name = "DIR", default_value = gate::DEFAULT_REPORT_DIR)]
    report: PathBuf,

    /// Replace a report directory even when it is not a gate report (once the new one is complete)
    #[arg(long)]
    force: bool,

    /// Time limit for each check, with a unit: `30s`, `5m`, `1h`
    ///
    /// On expiry the check's whole process group is killed with SIGKILL and the gate fails.
    /// A bare number is refused (is `5` seconds or minutes?); the error suggests `5s`.
    #[arg(long, value_name = "DUR", default_value = "10m", value_parser = parse_timeout)]
    timeout: Duration,

    /// The SHA-256 the bundle file must have (64 hex digits, `sha256:` prefix allowed)
    #[arg(long, value_name = "HEX")]
    expect_sha256: Option<Sha256Digest>,

    /// The SHA-256 the bundle's `manifest.txt` must have (as printed by `zip pack`)
    ///
    /// A manifest written by whoever made the bundle proves nothing unless its digest is
    /// pinned from outside; without either pin the gate refuses (see --allow-unpinned).
    #[arg(long, value_name = "HEX")]
    expect_manifest: Option<Sha256Digest>,

    /// Gate a bundle with neither digest pinned, on purpose
    ///
    /// The bundle's own manifest then proves only that the bundle is self-consistent: the
    /// warning stays on screen and in the report (`config.allow_unpinned`).
    #[arg(long)]
    allow_unpinned: bool,

    /// Largest log kept per check stream, e.g. `64MiB`, `512KiB`, `1GiB`, `4096`
    ///
    /// Up to the cap each log is verbatim; past it the log keeps the first and the last half
    /// of the cap with a marker line saying how many bytes were dropped, and the step records
    /// `gate-check-log-truncated` (a warning, unless --fail-on-truncated-log). The check's
    /// output is always read to its end, so a talkative check is never blocked.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    max_log: u64,

    /// Fail the gate when a check's log was truncated by --max-log
    #[arg(long)]
    fail_on_truncated_log: bool,

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
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{s}` has no unit\nhelp: write `{s}s` for seconds (or `{s}m`, `{s}h`)"
        ));
    }
    let d = clock::parse_duration(s)?;
    if d.is_zero() {
        return Err("a zero timeout would kill every check".to_owned());
    }
    Ok(d)
}

/// A byte size: digits, then nothing or `B` (bytes), `K`/`KiB`, `M`/`MiB`, `G`/`GiB` (powers of
/// 1024). At least 2 bytes, so both the head and the tail of a log keep something.
fn parse_size(s: &str) -> Result<u64, String> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = s.split_at(digits);
    let shift = match unit {
        "" | "B" => 0,
        "K" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        _ => {
            return Err(format!(
                "invalid size `{s}`\nhelp: a number of bytes, or with `KiB`, `MiB` or `GiB`: `64MiB`"
            ));
        }
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size `{s}`\nhelp: for example `64MiB`"))?;
    let bytes = n
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("size `{s}` is too large"))?;
    if bytes < 2 {
        return Err(format!("size `{s}` is too small: at least 2 bytes"));
    }
    Ok(bytes)
}

/// Run the gate: a verdict is a report (exit 0 or 1); could not run is exit 2, with the report
/// as far as it got shown when there is one.
pub fn dispatch(a: GateArgs, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    let started_at = clock::format_rfc3339(ctx.clock.now())?;
    let opts = GateOptions {
        bundle: a.bundle,
        run: a.run,
        require: a.require,
        report_dir: a.report,
        force: a.force,
        timeout: a.timeout,
        pins: Pins {
            sha256: a.expect_sha256,
            manifest: a.expect_manifest,
            allow_unpinned: a.allow_unpinned,
        },
        logs: LogLimit {
            max: a.max_log,
            fail_on_truncated: a.fail_on_truncated_log,
        },
        keep_workspace: a.keep_workspace,
        started_at,
    };
    match gate::gate(&opts) {
        Ok(report) => emit(a.format, &report, ctx),
        Err(e) => match e.report() {
            // The report's own status is `error` (a step errored or it was not written).
            Some(report) => Ok(emit(a.format, report, ctx)?.worst(ExitStatus::Error)),
            None => Err(e.into()),
        },
    }
}

/// The report in the chosen format: text or JSON through the printer, SARIF or JUnit.
fn emit(format: GateFormat, report: &gate::GateReport, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    let format = match format {
        GateFormat::Junit => {
            let status = crate::output::Render::status(report);
            return ctx.product_for(&crate::junit::gate(report)?, status, "junit");
        }
        GateFormat::Text => Format::Text,
        GateFormat::Json => Format::Json,
        GateFormat::Sarif => Format::Sarif,
    };
    ctx.emit_as(format, report, || {
        let mut codes = sarif::codes::<gate::GateCode>();
        codes.extend(sarif::codes::<crate::bundle::ZipCode>());
        codes.extend(sarif::codes::<crate::bundle::extract::ExtractCode>());
        codes.extend(sarif::codes::<crate::manifest::ManifestCode>());
        let file = sarif::Artifact::File(report.bundle.clone());
        sarif::Run::new("gate", codes, report.findings(), file)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_powers_of_1024_and_refuse_the_rest() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        for bad in [
            "",
            "1",
            "MiB",
            "64MB",
            "-1",
            "1.5MiB",
            "99999999999999999999G",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
