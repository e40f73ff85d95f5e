//! The audit gate pipeline: audit → extract → verify manifest → required paths → checks → report.
//!
//! Contract: each step is fail-closed and recorded with its status (`pass|fail|skipped|error`)
//! and duration. A step runs only when every step before it passed: checks never run on a
//! workspace that failed verification. The verdict is decided once, from the steps (any
//! `error` → exit 2, else any `fail` → exit 1). The report directory is staged beside its
//! final place and renamed into it only when complete; the workspace (a fresh temporary
//! directory: `tree/` the extracted bundle and the checks' working directory, `home/` and
//! `tmp/` their `HOME` and `TMPDIR`) is removed at the end unless it is kept on request.

pub mod report;
pub mod runner;
mod workspace;

use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

pub use report::{CheckRecord, GateConfig, GateReport, Step, StepStatus};
pub use workspace::{ReportDir, ReportDirError};

use crate::bundle::extract::{self as extract, ExtractError};
use crate::bundle::{self, AuditOptions};
use crate::fsutil::IoContext;
use crate::hash::{self, Sha256Digest, sha256_bytes};
use crate::manifest::{self, ManifestError, ManifestVerifyOptions};
use crate::output::Progress;
use crate::paths::SafeRelPath;
use crate::report::{Finding, FindingCode, all_clear};
use crate::walk::WalkOptions;

/// Default `--timeout` for each check: 10 minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Default `--report` directory.
pub const DEFAULT_REPORT_DIR: &str = "gate-report";

/// Stable finding codes of the gate family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateCode {
    /// Neither the bundle nor the manifest digest was pinned (warning).
    Unpinned,
    /// The bundle's SHA-256 differs from `--expect-sha256`.
    BundleDigestMismatch,
    /// The bundle file changed while the gate was reading it.
    BundleChanged,
    /// The bundle has no `manifest.txt`.
    ManifestMissing,
    /// The manifest's SHA-256 differs from `--expect-manifest`.
    ManifestDigestMismatch,
    /// The manifest is malformed or empty.
    ManifestInvalid,
    /// A `--require` path is absent.
    RequiredMissing,
    /// A check exited non-zero or was killed by a signal.
    CheckFailed,
    /// A check ran past `--timeout`; its process group was killed.
    CheckTimeout,
}

impl FindingCode for GateCode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Unpinned => "gate-unpinned",
            Self::BundleDigestMismatch => "gate-bundle-digest-mismatch",
            Self::BundleChanged => "gate-bundle-changed",
            Self::ManifestMissing => "gate-manifest-missing",
            Self::ManifestDigestMismatch => "gate-manifest-digest-mismatch",
            Self::ManifestInvalid => "gate-manifest-invalid",
            Self::RequiredMissing => "gate-required-missing",
            Self::CheckFailed => "gate-check-failed",
            Self::CheckTimeout => "gate-check-timeout",
        }
    }
    fn all() -> &'static [Self] {
        &[
            Self::Unpinned,
            Self::BundleDigestMismatch,
            Self::BundleChanged,
            Self::ManifestMissing,
            Self::ManifestDigestMismatch,
            Self::ManifestInvalid,
            Self::RequiredMissing,
            Self::CheckFailed,
            Self::CheckTimeout,
        ]
    }
}

/// Everything the gate needs, validated.
#[derive(Debug, Clone)]
pub struct GateOptions {
    /// The bundle.
    pub bundle: PathBuf,
    /// Commands to run, in order.
    pub run: Vec<String>,
    /// Paths that must exist in the extracted bundle.
    pub require: Vec<SafeRelPath>,
    /// Where the report goes (prepared with [`ReportDir::prepare`]).
    pub report_dir: PathBuf,
    /// Per-check timeout.
    pub timeout: Duration,
    /// Pinned bundle digest.
    pub expect_sha256: Option<Sha256Digest>,
    /// Pinned manifest digest.
    pub expect_manifest: Option<Sha256Digest>,
    /// Keep the workspace.
    pub keep_workspace: bool,
    /// RFC 3339 UTC start time (from the injectable clock).
    pub started_at: String,
}

impl GateOptions {
    /// The recorded configuration.
    pub fn config(&self) -> GateConfig {
        GateConfig {
            expect_sha256: self.expect_sha256,
            expect_manifest: self.expect_manifest,
            require: self.require.iter().map(ToString::to_string).collect(),
            run: self.run.clone(),
            timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// The audit options of the gate: the defaults, not deep (extraction streams every entry with
/// the size and CRC checks a deep audit would do, so reading the data twice buys nothing).
pub fn audit_options() -> AuditOptions {
    AuditOptions::default()
}

/// `run_id`: `sha256:` + lowercase hex SHA-256 of the canonical configuration bytes, i.e. the
/// compact JSON with keys sorted (serde_json, no whitespace) of
/// `{"audit":{"allow_byproducts","deep","max_entries","max_name_len","max_ratio","max_total_size"},
/// "bundle_sha256","expect_manifest","expect_sha256","require":[…as given],"run":[…in order],
/// "schema":"vaultgate/gate/v1","timeout_ms"}` (digests as lowercase hex or `null`). The same
/// bundle gated with the same configuration gets the same `run_id`; the report directory,
/// `--keep-workspace`, the clock and the output mode do not enter it.
pub fn run_id(bundle_sha256: Sha256Digest, config: &GateConfig, audit: &AuditOptions) -> String {
    let doc = json!({
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
    // serde_json's map is a BTreeMap (no `preserve_order`): keys serialise sorted.
    let bytes = serde_json::to_vec(&doc).unwrap_or_default();
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

/// A step being timed.
struct Timer {
    id: String,
    start: Instant,
}

impl Timer {
    fn start(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            start: Instant::now(),
        }
    }
    /// Close the step: `fail` when a finding is an error, else `pass`.
    fn done(self, detail: String, findings: Vec<Finding>) -> Step {
        Step {
            status: if all_clear(&findings) {
                StepStatus::Pass
            } else {
                StepStatus::Fail
            },
            id: self.id,
            duration: self.start.elapsed(),
            detail,
            findings,
            check: None,
        }
    }
    fn error(self, detail: String, findings: Vec<Finding>) -> Step {
        Step {
            status: StepStatus::Error,
            id: self.id,
            duration: self.start.elapsed(),
            detail,
            findings,
            check: None,
        }
    }
}

/// Run the gate; the report directory was prepared by the caller and is finished here.
pub fn run(opts: &GateOptions, report_dir: ReportDir) -> GateReport {
    let config = opts.config();
    let mut report = GateReport {
        bundle: opts.bundle.clone(),
        bundle_sha256: None,
        manifest_sha256: None,
        run_id: None,
        run_id_audit: uuid::Uuid::new_v4().to_string(),
        started_at: opts.started_at.clone(),
        git_commit: git_commit(),
        config,
        steps: Vec::new(),
        report_dir: opts.report_dir.clone(),
        workspace: None,
        report_error: None,
    };
    let mut ws = None;
    pipeline(opts, &report_dir, &mut report, &mut ws);
    // Every step not reached is recorded as skipped.
    let reached: Vec<String> = report.steps.iter().map(|s| s.id.clone()).collect();
    for id in step_ids(opts) {
        if !reached.contains(&id) {
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
    report
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

fn pipeline(
    opts: &GateOptions,
    report_dir: &ReportDir,
    report: &mut GateReport,
    ws_out: &mut Option<workspace::Workspace>,
) {
    // 1. audit: digest, pins, structure and names.
    let t = Timer::start("audit");
    let (mut file, audit) = match audit_step(opts, report) {
        Ok(v) => v,
        Err(step) => {
            report.steps.push(t.error(step.0, step.1));
            return;
        }
    };
    let (detail, findings, entries) = audit;
    let step = t.done(detail, findings);
    let passed = step.status == StepStatus::Pass;
    report.steps.push(step);
    if !passed {
        return;
    }

    // 2. extract into a fresh workspace.
    let t = Timer::start("extract");
    let ws = match workspace::Workspace::create() {
        Ok(ws) => ws,
        Err(e) => {
            report.steps.push(t.error(e.to_string(), Vec::new()));
            return;
        }
    };
    let tree = ws.tree().to_path_buf();
    let env = ws.check_env();
    *ws_out = Some(ws);
    let max_total = audit_options().max_total_size;
    let step = match extract::extract_entries(&mut file, &entries, &tree, max_total) {
        Ok(x) => t.done(
            format!(
                "{} files, {} directories, {} bytes",
                x.files, x.dirs, x.bytes
            ),
            x.findings,
        ),
        Err(e @ (ExtractError::Read(_) | ExtractError::Fs(_) | ExtractError::NotEmpty(_))) => {
            t.error(e.to_string(), Vec::new())
        }
    };
    let passed = step.status == StepStatus::Pass;
    report.steps.push(step);
    if !passed {
        return;
    }

    // 3. manifest: present, pinned digest, strict verification.
    let step = manifest_step(opts, &tree, report);
    let passed = step.status == StepStatus::Pass;
    report.steps.push(step);
    if !passed {
        return;
    }

    // 4. required paths.
    let t = Timer::start("require");
    let mut findings = Vec::new();
    for r in &opts.require {
        if std::fs::symlink_metadata(r.under(&tree)).is_err() {
            findings.push(Finding::error(
                GateCode::RequiredMissing,
                r.as_str(),
                format!("required path `{r}` is not in the bundle"),
            ));
        }
    }
    let step = t.done(format!("{} required paths", opts.require.len()), findings);
    let passed = step.status == StepStatus::Pass;
    report.steps.push(step);
    if !passed {
        return;
    }

    // 5. checks, in order; the first that does not pass stops the rest.
    for (i, cmd) in opts.run.iter().enumerate() {
        let step = check_step(i + 1, cmd, opts.timeout, &env, report_dir);
        let passed = step.status == StepStatus::Pass;
        report.steps.push(step);
        if !passed {
            return;
        }
    }
}

type AuditOut = (File, (String, Vec<Finding>, Vec<bundle::Entry>));

fn audit_step(
    opts: &GateOptions,
    report: &mut GateReport,
) -> Result<AuditOut, (String, Vec<Finding>)> {
    let mut findings = Vec::new();
    if opts.expect_sha256.is_none() && opts.expect_manifest.is_none() {
        findings.push(Finding::warning(
            GateCode::Unpinned,
            "bundle",
            "neither --expect-sha256 nor --expect-manifest was given: the manifest inside the bundle proves only that the bundle is self-consistent",
        ));
    }
    let path = &opts.bundle;
    let mut file = crate::fsutil::open(path).map_err(|e| (e.to_string(), findings.clone()))?;
    let before = file
        .metadata()
        .ctx("inspect", path)
        .map_err(|e| (e.to_string(), findings.clone()))?;
    if !before.is_file() {
        return Err((
            format!("`{}` is not a regular file", path.display()),
            findings,
        ));
    }
    let mut buf = vec![0u8; hash::CHUNK];
    let (digest, _) = hash::sha256_reader_with(&mut file, &mut buf)
        .ctx("read", path)
        .map_err(|e| (e.to_string(), findings.clone()))?;
    report.bundle_sha256 = Some(digest);
    report.run_id = Some(run_id(digest, &report.config, &audit_options()));
    if let Some(want) = opts.expect_sha256
        && want != digest
    {
        findings.push(Finding::error(
            GateCode::BundleDigestMismatch,
            "bundle",
            format!("bundle sha256 mismatch: expected `{want}`, bundle has `{digest}`"),
        ));
    }
    let audit = bundle::audit_file(path, &audit_options())
        .map_err(|e| (e.to_string(), findings.clone()))?;
    findings.extend(audit.findings.iter().cloned());
    // The audit opened the path again; the file extracted next is the handle hashed above. If
    // the path no longer names the same, unchanged file, what was audited is not what was hashed.
    let same = std::fs::metadata(path).is_ok_and(|now| {
        use std::os::unix::fs::MetadataExt;
        (
            now.dev(),
            now.ino(),
            now.len(),
            now.mtime(),
            now.mtime_nsec(),
        ) == (
            before.dev(),
            before.ino(),
            before.len(),
            before.mtime(),
            before.mtime_nsec(),
        )
    });
    if !same {
        findings.push(Finding::error(
            GateCode::BundleChanged,
            "bundle",
            "the bundle file changed while the gate was reading it",
        ));
    }
    let detail = format!(
        "sha256 {digest}; {} entries; {} findings",
        audit.entries.len(),
        audit.findings.len()
    );
    Ok((file, (detail, findings, audit.entries)))
}

fn manifest_step(opts: &GateOptions, tree: &std::path::Path, report: &mut GateReport) -> Step {
    let t = Timer::start("manifest");
    let path = tree.join(manifest::MANIFEST_NAME);
    let mut findings = Vec::new();
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => {}
        _ => {
            findings.push(Finding::error(
                GateCode::ManifestMissing,
                manifest::MANIFEST_NAME,
                "the bundle has no `manifest.txt` at its root\nhelp: pack it with `vaultgate zip pack`, or add one made by `vaultgate manifest generate`",
            ));
            return t.done("no manifest".to_owned(), findings);
        }
    }
    let digest = match hash::sha256_file(&path) {
        Ok(d) => d,
        Err(e) => return t.error(e.to_string(), findings),
    };
    report.manifest_sha256 = Some(digest);
    if let Some(want) = opts.expect_manifest
        && want != digest
    {
        findings.push(Finding::error(
            GateCode::ManifestDigestMismatch,
            manifest::MANIFEST_NAME,
            format!("manifest sha256 mismatch: expected `{want}`, manifest has `{digest}`"),
        ));
        return t.done(format!("sha256 {digest}"), findings);
    }
    let vopts = ManifestVerifyOptions {
        root: tree.to_path_buf(),
        manifest: path,
        allow_unlisted: false,
        allow_empty: false,
        walk: WalkOptions::exact(),
        threads: 0,
    };
    match manifest::verify(&vopts, &Progress::hidden()) {
        Ok(v) => {
            let detail = format!(
                "sha256 {digest}; {} listed, {} unlisted",
                v.files.len(),
                v.unlisted.len()
            );
            findings.extend(v.findings());
            if v.tree_unreadable {
                return t.error(detail, findings);
            }
            t.done(detail, findings)
        }
        Err(e @ (ManifestError::Malformed { .. } | ManifestError::EmptyManifest(_))) => {
            findings.push(Finding::error(
                GateCode::ManifestInvalid,
                manifest::MANIFEST_NAME,
                e.to_string(),
            ));
            t.done(format!("sha256 {digest}"), findings)
        }
        Err(e) => t.error(e.to_string(), findings),
    }
}

fn check_step(
    n: usize,
    cmd: &str,
    timeout: Duration,
    env: &runner::CheckEnv,
    report_dir: &ReportDir,
) -> Step {
    let t = Timer::start(check_id(n));
    let (stdout_rel, stderr_rel) = (
        format!("checks/{n:02}.stdout"),
        format!("checks/{n:02}.stderr"),
    );
    let files = report_dir
        .create_log(&stdout_rel)
        .and_then(|o| report_dir.create_log(&stderr_rel).map(|e| (o, e)));
    let (out, err) = match files {
        Ok(f) => f,
        Err(e) => return t.error(e.to_string(), Vec::new()),
    };
    let outcome = match runner::run_check(cmd, env, timeout, out, err) {
        Ok(o) => o,
        Err(e) => return t.error(e.to_string(), Vec::new()),
    };
    let mut findings = Vec::new();
    let subject = crate::report::escape_for_display(cmd);
    if outcome.timed_out {
        findings.push(Finding::error(
            GateCode::CheckTimeout,
            subject,
            format!(
                "check ran past the {} timeout; its process group was killed",
                humantime::format_duration(timeout)
            ),
        ));
    } else if !outcome.passed() {
        let how = match (outcome.exit_code, outcome.signal) {
            (Some(c), _) => format!("exit status {c}"),
            (None, Some(s)) => format!("signal {s}"),
            (None, None) => "an unknown status".to_owned(),
        };
        findings.push(Finding::error(
            GateCode::CheckFailed,
            subject,
            format!("check failed with {how}; see `{stdout_rel}` and `{stderr_rel}`"),
        ));
    }
    let mut step = t.done(
        format!(
            "`{cmd}` → {}",
            match (outcome.timed_out, outcome.exit_code) {
                (true, _) => "timed out".to_owned(),
                (false, Some(c)) => format!("exit {c}"),
                (false, None) => format!("signal {}", outcome.signal.unwrap_or_default()),
            }
        ),
        findings,
    );
    step.check = Some(CheckRecord {
        command: cmd.to_owned(),
        stdout: stdout_rel,
        stderr: stderr_rel,
        exit_code: outcome.exit_code,
        signal: outcome.signal,
        timed_out: outcome.timed_out,
    });
    step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_codes_are_pinned() {
        let all: Vec<&str> = GateCode::all().iter().map(|c| c.as_str()).collect();
        assert_eq!(
            all,
            [
                "gate-unpinned",
                "gate-bundle-digest-mismatch",
                "gate-bundle-changed",
                "gate-manifest-missing",
                "gate-manifest-digest-mismatch",
                "gate-manifest-invalid",
                "gate-required-missing",
                "gate-check-failed",
                "gate-check-timeout",
            ]
        );
    }

    #[test]
    fn run_id_is_deterministic_and_covers_the_configuration() {
        let d = sha256_bytes(b"bundle");
        let mut cfg = GateConfig {
            expect_sha256: None,
            expect_manifest: None,
            require: vec!["a".into()],
            run: vec!["sh checks.sh".into()],
            timeout_ms: 600_000,
        };
        let a = run_id(d, &cfg, &audit_options());
        assert_eq!(a, run_id(d, &cfg, &audit_options()));
        assert!(a.starts_with("sha256:") && a.len() == 7 + 64, "{a}");
        cfg.run.push("true".into());
        assert_ne!(a, run_id(d, &cfg, &audit_options()));
        cfg.run.pop();
        assert_ne!(a, run_id(sha256_bytes(b"other"), &cfg, &audit_options()));
    }
}
