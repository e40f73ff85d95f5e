//! The audit gate pipeline: snapshot → audit → extract → verify manifest → required paths →
//! checks → report.
//!
//! Contract: [`gate`] returns `Ok(report)` when every step ran, whatever the verdict (a refusal
//! is a report: exit 1), and `Err` only when the gate could not run (exit 2); the error carries
//! the report as far as it got. Each step is fail-closed and recorded with its status
//! (`pass|fail|skipped|error`) and duration; a step runs only when every step before it passed,
//! so checks never run on a workspace that failed verification.
//!
//! The bundle is read once, through a hashing reader, into a private snapshot in the fresh
//! workspace ([`snapshot`]); the pins are compared with that digest and the audit and the
//! extraction read only the snapshot, so what was hashed is what runs. The report directory is
//! staged beside its final place and renamed into it only when complete; the workspace
//! (`bundle.zip` the snapshot, `tree/` the extracted bundle and the checks' working directory,
//! `home/` and `tmp/` their `HOME` and `TMPDIR`) is removed at the end unless kept on request.

pub mod codes;
mod error;
pub mod log;
pub mod report;
pub mod runner;
mod snapshot;
mod steps;
mod workspace;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

pub use codes::GateCode;
pub use error::{GateError, StepError};
pub use report::{CheckRecord, GateConfig, GateReport, Step, StepStatus};
pub use workspace::{ReportDir, ReportDirError, is_gate_report};

use crate::bundle::AuditOptions;
use crate::hash::{Sha256Digest, sha256_bytes};
use crate::paths::SafeRelPath;

/// Default `--timeout` for each check: 10 minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Default `--report` directory.
pub const DEFAULT_REPORT_DIR: &str = "gate-report";
pub use log::DEFAULT_MAX_LOG;

/// Everything the gate needs, validated.
#[derive(Debug, Clone)]
pub struct GateOptions {
    /// The bundle.
    pub bundle: PathBuf,
    /// Commands to run, in order.
    pub run: Vec<String>,
    /// Paths that must exist in the extracted bundle.
    pub require: Vec<SafeRelPath>,
    /// Where the report goes (see [`ReportDir::prepare`]).
    pub report_dir: PathBuf,
    /// Replace a report directory that is not a gate report.
    pub force: bool,
    /// Per-check timeout.
    pub timeout: Duration,
    /// What is pinned from outside the bundle.
    pub pins: Pins,
    /// How much of each check's output is kept.
    pub logs: LogLimit,
    /// Keep the workspace.
    pub keep_workspace: bool,
    /// RFC 3339 UTC start time (from the injectable clock).
    pub started_at: String,
}

/// The digests pinned from outside the bundle.
#[derive(Debug, Clone, Default)]
pub struct Pins {
    /// `--expect-sha256`: the bundle's digest.
    pub sha256: Option<Sha256Digest>,
    /// `--expect-manifest`: the digest of the bundle's `manifest.txt`.
    pub manifest: Option<Sha256Digest>,
    /// `--allow-unpinned`: gate without either on purpose (the warning stays, the report
    /// records it).
    pub allow_unpinned: bool,
}

/// The cap on each check stream's log.
#[derive(Debug, Clone)]
pub struct LogLimit {
    /// Bytes per stream; past it the head and the tail are kept.
    pub max: u64,
    /// A truncated log fails the check.
    pub fail_on_truncated: bool,
}

impl Default for LogLimit {
    fn default() -> Self {
        Self {
            max: DEFAULT_MAX_LOG,
            fail_on_truncated: false,
        }
    }
}

impl GateOptions {
    /// The recorded configuration.
    pub fn config(&self) -> GateConfig {
        GateConfig {
            expect_sha256: self.pins.sha256,
            expect_manifest: self.pins.manifest,
            require: self.require.iter().map(ToString::to_string).collect(),
            run: self.run.clone(),
            timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            allow_unpinned: self.pins.allow_unpinned,
            max_log: self.logs.max,
            fail_on_truncated_log: self.logs.fail_on_truncated,
        }
    }
}

/// The audit options of the gate: the default limits, structure and names only (extraction
/// streams every entry with the size and CRC checks a data audit would do, so decoding the data
/// twice buys nothing).
pub fn audit_options() -> AuditOptions {
    AuditOptions {
        deep: false,
        ..AuditOptions::default()
    }
}

/// `run_id`: `sha256:` + lowercase hex SHA-256 of the canonical bytes ([`crate::canon`], the
/// journal's canonical JSON) of
/// `{"audit":{"allow_byproducts","deep","max_entries","max_name_len","max_ratio","max_total_size"},
/// "bundle_sha256","expect_manifest","expect_sha256","require":[…as given],"run":[…in order],
/// "schema":"vaultgate/gate/v1","timeout_ms"}` (digests as lowercase hex or `null`), plus
/// `allow_unpinned`, `fail_on_truncated_log` and `max_log` only when they differ from their
/// defaults (so a default configuration keeps the `run_id` it had before they existed). The same
/// bundle gated with the same configuration gets the same `run_id`; the report directory,
/// `--force`, `--keep-workspace`, the clock and the output mode do not enter it.
pub fn run_id(bundle_sha256: Sha256Digest, config: &GateConfig, audit: &AuditOptions) -> String {
    let mut doc = json!({
        "audit": {
            "allow_byproducts": audit.allow_byproducts,
            "deep": audit.deep,
            "max_entries": audit.max_entries,
            "max_name_len": audit.max_name_len,
            "max_ratio": audit.max_ratio,
            "max_total_size": audit.max_total_size,
        },
        "bundle_sha256": bundle_sha256.to_hex(),
        "expect_manifest": config.expect_manifest.map(|d| d.to_hex()),
        "expect_sha256": config.expect_sha256.map(|d| d.to_hex()),
        "require": config.require,
        "run": config.run,
        "schema": "vaultgate/gate/v1",
        "timeout_ms": config.timeout_ms,
    });
    if let Some(m) = doc.as_object_mut() {
        if config.allow_unpinned {
            m.insert("allow_unpinned".into(), true.into());
        }
        if config.fail_on_truncated_log {
            m.insert("fail_on_truncated_log".into(), true.into());
        }
        if config.max_log != DEFAULT_MAX_LOG {
            m.insert("max_log".into(), config.max_log.into());
        }
    }
    // Strings, integers, booleans and null only: canonical bytes always exist for this value.
    let bytes = crate::canon::to_bytes(&doc).unwrap_or_default();
    format!("sha256:{}", sha256_bytes(&bytes).to_hex())
}

/// `git rev-parse HEAD` in the current directory; `None` when git is absent or this is not a
/// repository (or the answer is not a commit id).
pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--verify", "-q", "HEAD"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    (matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_owned())
}

/// Run the gate: prepare the report directory (refused before anything runs, and then left as
/// it was), run every step that may run, write the report.
pub fn gate(opts: &GateOptions) -> Result<GateReport, GateError> {
    let report_dir = ReportDir::prepare(&opts.report_dir, opts.force)?;
    let mut report = GateReport {
        bundle: opts.bundle.clone(),
        bundle_sha256: None,
        manifest_sha256: None,
        run_id: None,
        run_id_audit: uuid::Uuid::new_v4().to_string(),
        started_at: opts.started_at.clone(),
        git_commit: git_commit(),
        config: opts.config(),
        steps: Vec::new(),
        report_dir: opts.report_dir.clone(),
        workspace: None,
        report_error: None,
    };
    let ws = steps::Pipeline::new(opts, &report_dir, &mut report).run();
    // Every step not reached is recorded as skipped.
    for id in step_ids(opts) {
        if !report.steps.iter().any(|s| s.id == id) {
            report
                .steps
                .push(Step::skipped(id, "not run: an earlier step did not pass"));
        }
    }
    if let Some(ws) = ws {
        if opts.keep_workspace {
            report.workspace = Some(ws.keep());
        } else if let Err(e) = ws.remove() {
            report.report_error = Some(format!("cannot remove the workspace: {e}"));
        }
    }
    if let Err(e) = report_dir.finish(&report) {
        report.report_error = Some(e.to_string());
    }
    verdict_or_error(report)
}

/// A report whose steps all ran is the verdict; an `error` step or an unwritten report is an
/// error carrying the report.
fn verdict_or_error(report: GateReport) -> Result<GateReport, GateError> {
    if let Some(st) = report.steps.iter().find(|s| s.status == StepStatus::Error) {
        return Err(GateError::Step {
            step: st.id.clone(),
            reason: st.detail.clone(),
            report: Box::new(report),
        });
    }
    if let Some(reason) = report.report_error.clone() {
        return Err(GateError::Report {
            reason,
            report: Box::new(report),
        });
    }
    Ok(report)
}

fn step_ids(opts: &GateOptions) -> Vec<String> {
    let mut ids: Vec<String> = ["audit", "extract", "manifest", "require"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    ids.extend((1..=opts.run.len()).map(check_id));
    ids
}

fn check_id(n: usize) -> String {
    format!("check-{n:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> GateConfig {
        GateConfig {
            expect_sha256: None,
            expect_manifest: Some(
                "b17eea588fbfef77c9a7ae9d7bd8f3fe73f8bb96ef20e7881d882c37596d800a"
                    .parse()
                    .unwrap(),
            ),
            require: Vec::new(),
            run: vec!["sh checks.sh".into()],
            timeout_ms: 600_000,
            allow_unpinned: false,
            max_log: DEFAULT_MAX_LOG,
            fail_on_truncated_log: false,
        }
    }

    fn demo_sha() -> Sha256Digest {
        "053d569b89b6208b1a08452e5a3ced82e6081e8388b4d8a6edd048cf479b23a4"
            .parse()
            .unwrap()
    }

    /// Snapshot taken with the serde_json serialisation before `run_id` moved to `canon`
    /// (issue 7): an ASCII configuration keeps its value exactly.
    #[test]
    fn run_id_of_an_ascii_configuration_is_unchanged_by_the_move_to_canon() {
        assert_eq!(
            run_id(demo_sha(), &cfg(), &audit_options()),
            "sha256:94e1cc5de4f6f5e7e8bd26cfe36e09ff62f899f7cd93e345cdbd5a095d45a96b"
        );
    }

    /// A non-ASCII command is now hashed in its canonical (ASCII-escaped) form, the value
    /// Python's `json.dumps(sort_keys=True, separators=(",", ":"))` gives; serde_json's raw
    /// UTF-8 gave `sha256:3dbd13d7…` before.
    #[test]
    fn run_id_of_a_non_ascii_configuration_is_the_canonical_one() {
        let mut c = cfg();
        c.run = vec!["échec ü".into()];
        c.require = vec!["checks.sh".into()];
        assert_eq!(
            run_id(demo_sha(), &c, &audit_options()),
            "sha256:138bb878f18b1b657c426cb871e5256a4879da75c4bdce436b681daa749c55cb"
        );
    }

    #[test]
    fn run_id_is_deterministic_and_covers_the_configuration() {
        let d = sha256_bytes(b"bundle");
        let mut cfg = cfg();
        let a = run_id(d, &cfg, &audit_options());
        assert_eq!(a, run_id(d, &cfg, &audit_options()));
        assert!(a.starts_with("sha256:") && a.len() == 7 + 64, "{a}");
        cfg.run.push("true".into());
        assert_ne!(a, run_id(d, &cfg, &audit_options()));
        cfg.run.pop();
        assert_ne!(a, run_id(sha256_bytes(b"other"), &cfg, &audit_options()));
        for change in [
            |c: &mut GateConfig| c.allow_unpinned = true,
            |c: &mut GateConfig| c.fail_on_truncated_log = true,
            |c: &mut GateConfig| c.max_log = 1024,
        ] {
            let mut c = cfg.clone();
            change(&mut c);
            assert_ne!(a, run_id(d, &c, &audit_options()));
        }
    }
}
