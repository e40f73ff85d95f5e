//! The steps of one gate run, in order, each recorded as a [`Step`] with its status, duration,
//! detail and findings. A step returns `Err` only when it could not run; what it found wrong is
//! in its findings (any error finding fails it). The first step that does not pass ends the run.

use std::path::Path;
use std::time::Instant;

use super::log::LogSink;
use super::report::{CheckRecord, GateReport, Step, StepStatus};
use super::snapshot::{self, Snapshot};
use super::workspace::{ReportDir, Workspace};
use super::{GateCode, GateOptions, StepError, audit_options, check_id, run_id, runner};
use crate::bundle::{self, Entry, extract};
use crate::hash;
use crate::manifest::{self, ManifestError, ManifestVerifyOptions};
use crate::output::Progress;
use crate::report::{Finding, Location, all_clear, escape_bytes_for_display, escape_for_display};
use crate::walk::WalkOptions;

/// How many lines of a failing check's stderr the screen shows.
const SCREEN_LINES: usize = 10;

type StepResult<T> = Result<(String, T), StepError>;

/// One run of the pipeline over a report being filled.
pub(super) struct Pipeline<'a> {
    opts: &'a GateOptions,
    report_dir: &'a ReportDir,
    report: &'a mut GateReport,
}

impl<'a> Pipeline<'a> {
    pub(super) fn new(
        opts: &'a GateOptions,
        report_dir: &'a ReportDir,
        report: &'a mut GateReport,
    ) -> Self {
        Self {
            opts,
            report_dir,
            report,
        }
    }

    /// Run the steps; returns the workspace (to keep or remove) once one was created.
    pub(super) fn run(mut self) -> Option<Workspace> {
        let t = Instant::now();
        let ws = match Workspace::create() {
            Ok(ws) => ws,
            Err(e) => {
                self.record::<()>("audit", t, Vec::new(), Err(e.into()));
                return None;
            }
        };
        let mut f = Vec::new();
        let r = self.audit(&ws, &mut f);
        let Some((snap, entries)) = self.record("audit", t, f, r).1 else {
            return Some(ws);
        };
        let (t, mut f) = (Instant::now(), Vec::new());
        let r = extract_step(snap, &entries, ws.tree(), &mut f);
        if self.record("extract", t, f, r).1.is_none() {
            return Some(ws);
        }
        let (t, mut f) = (Instant::now(), Vec::new());
        let r = self.manifest(ws.tree(), &mut f);
        if self.record("manifest", t, f, r).1.is_none() {
            return Some(ws);
        }
        let (t, mut f) = (Instant::now(), Vec::new());
        let r = self.require(ws.tree(), &mut f);
        if self.record("require", t, f, r).1.is_none() {
            return Some(ws);
        }
        let env = ws.check_env();
        for (i, cmd) in self.opts.run.iter().enumerate() {
            let (t, mut f) = (Instant::now(), Vec::new());
            let r = self.check(i + 1, cmd, &env, &mut f);
            let (passed, rec) = self.record(&check_id(i + 1), t, f, r);
            if let (Some(rec), Some(step)) = (rec, self.report.steps.last_mut()) {
                step.check = Some(rec);
            }
            if !passed {
                break;
            }
        }
        Some(ws)
    }

    /// Push the step; `(passed, value)` where the value is there whenever the step ran.
    fn record<T>(
        &mut self,
        id: &str,
        start: Instant,
        findings: Vec<Finding>,
        r: StepResult<T>,
    ) -> (bool, Option<T>) {
        let (status, detail, value) = match r {
            Ok((d, v)) if all_clear(&findings) => (StepStatus::Pass, d, Some(v)),
            Ok((d, v)) => (StepStatus::Fail, d, Some(v)),
            Err(e) => (StepStatus::Error, e.to_string(), None),
        };
        self.report.steps.push(Step {
            id: id.to_owned(),
            status,
            duration: start.elapsed(),
            detail,
            findings,
            check: None,
        });
        let passed = status == StepStatus::Pass;
        (passed, value.filter(|_| passed || id.starts_with("check-")))
    }

    /// The pins, the single read into the snapshot, and the structure audit of the snapshot.
    fn audit(
        &mut self,
        ws: &Workspace,
        f: &mut Vec<Finding>,
    ) -> StepResult<(Snapshot, Vec<Entry>)> {
        let opts = self.opts;
        if opts.pins.sha256.is_none() && opts.pins.manifest.is_none() {
            f.push(unpinned(opts.pins.allow_unpinned));
        }
        let snap = snapshot::take(&opts.bundle, &ws.snapshot_path())?;
        let digest = snap.digest;
        self.report.bundle_sha256 = Some(digest);
        self.report.run_id = Some(run_id(digest, &self.report.config, &audit_options()));
        if snap.changed {
            f.push(Finding::error(
                GateCode::BundleChanged,
                "bundle",
                "the bundle file changed (length or modification time) while the gate read it",
            ));
        }
        if let Some(want) = opts.pins.sha256
            && want != digest
        {
            f.push(Finding::error(
                GateCode::BundleDigestMismatch,
                "bundle",
                format!("bundle sha256 mismatch: expected `{want}`, bundle has `{digest}`"),
            ));
        }
        // The snapshot's own path: private to this run, created by it, never the original.
        let audit = bundle::audit_file(&snap.path, &audit_options())?;
        f.extend(audit.findings.iter().cloned());
        let detail = format!(
            "sha256 {digest}; {} entries; {} zip findings",
            audit.entries.len(),
            audit.findings.len()
        );
        Ok((detail, (snap, audit.entries)))
    }

    fn manifest(&mut self, tree: &Path, f: &mut Vec<Finding>) -> StepResult<()> {
        let path = tree.join(manifest::MANIFEST_NAME);
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            f.push(Finding::error(
                GateCode::ManifestMissing,
                manifest::MANIFEST_NAME,
                "the bundle has no `manifest.txt` at its root\nhelp: pack it with `vaultgate zip pack`, or add one made by `vaultgate manifest generate`",
            ));
            return Ok(("no manifest".to_owned(), ()));
        }
        let digest = hash::sha256_file(&path)?;
        self.report.manifest_sha256 = Some(digest);
        if let Some(want) = self.opts.pins.manifest
            && want != digest
        {
            f.push(Finding::error(
                GateCode::ManifestDigestMismatch,
                manifest::MANIFEST_NAME,
                format!("manifest sha256 mismatch: expected `{want}`, manifest has `{digest}`"),
            ));
            return Ok((format!("sha256 {digest}"), ()));
        }
        let mut vopts = ManifestVerifyOptions::new(tree);
        // Nothing may hide in a gated tree: no excludes at all, symlinks refused.
        vopts.walk = WalkOptions::exact();
        match manifest::verify(&vopts, &Progress::hidden()) {
            Ok(v) => {
                f.extend(v.findings());
                if v.tree_unreadable {
                    return Err(StepError::TreeUnreadable(format!(
                        "sha256 {digest}; {} listed, {} unlisted",
                        v.files.len(),
                        v.unlisted.len()
                    )));
                }
                let detail = format!(
                    "sha256 {digest}; {} listed, {} unlisted",
                    v.files.len(),
                    v.unlisted.len()
                );
                Ok((detail, ()))
            }
            Err(e @ (ManifestError::Malformed { .. } | ManifestError::EmptyManifest(_))) => {
                f.push(Finding::error(
                    GateCode::ManifestInvalid,
                    manifest::MANIFEST_NAME,
                    e.to_string(),
                ));
                Ok((format!("sha256 {digest}"), ()))
            }
            Err(e) => Err(e.into()),
        }
    }

    #[allow(clippy::unnecessary_wraps)] // one signature for every step
    fn require(&mut self, tree: &Path, f: &mut Vec<Finding>) -> StepResult<()> {
        for r in &self.opts.require {
            if std::fs::symlink_metadata(r.under(tree)).is_err() {
                f.push(
                    Finding::error(
                        GateCode::RequiredMissing,
                        r.as_str(),
                        format!("required path `{r}` is not in the bundle"),
                    )
                    .at(Location {
                        file: Some(r.to_string()),
                        ..Location::default()
                    }),
                );
            }
        }
        Ok((format!("{} required paths", self.opts.require.len()), ()))
    }

    fn check(
        &mut self,
        n: usize,
        cmd: &str,
        env: &runner::CheckEnv,
        f: &mut Vec<Finding>,
    ) -> StepResult<CheckRecord> {
        let (stdout_rel, stderr_rel) = (
            format!("checks/{n:02}.stdout"),
            format!("checks/{n:02}.stderr"),
        );
        let sink = |rel: &str| -> Result<LogSink, StepError> {
            Ok(LogSink {
                file: self.report_dir.create_log(rel)?,
                path: self.report_dir.log_path(rel),
                max: self.opts.logs.max,
            })
        };
        let (out, err) = (sink(&stdout_rel)?, sink(&stderr_rel)?);
        let o = runner::run_check(cmd, env, self.opts.timeout, out, err)?;
        let subject = escape_for_display(cmd);
        let at = |rel: &str| Location {
            file: Some(rel.to_owned()),
            ..Location::default()
        };
        for (rel, log) in [(&stdout_rel, &o.stdout), (&stderr_rel, &o.stderr)] {
            if log.dropped > 0 {
                let msg = format!(
                    "the check wrote {} bytes to `{rel}`, more than --max-log {}: the log keeps the head and the tail, {} bytes were dropped",
                    log.total, self.opts.logs.max, log.dropped
                );
                let finding = if self.opts.logs.fail_on_truncated {
                    Finding::error(GateCode::CheckLogTruncated, &subject, msg)
                } else {
                    Finding::warning(GateCode::CheckLogTruncated, &subject, msg)
                };
                f.push(finding.at(Location {
                    byte_offset: Some(self.opts.logs.max / 2),
                    ..at(rel)
                }));
            }
        }
        let outcome = describe(&o);
        if o.timed_out {
            f.push(
                Finding::error(
                    GateCode::CheckTimeout,
                    &subject,
                    format!(
                        "check ran past the {} timeout; its process group was killed",
                        humantime::format_duration(self.opts.timeout)
                    ),
                )
                .at(at(&stderr_rel)),
            );
        } else if !o.passed() {
            f.push(
                Finding::error(
                    GateCode::CheckFailed,
                    &subject,
                    format!("check failed with {outcome}; see `{stdout_rel}` and `{stderr_rel}`"),
                )
                .at(at(&stderr_rel)),
            );
        }
        let detail = format!(
            "`{cmd}` → {}",
            match (o.timed_out, o.exit_code) {
                (true, _) => "timed out".to_owned(),
                (false, Some(c)) => format!("exit {c}"),
                (false, None) => format!("signal {}", o.signal.unwrap_or_default()),
            }
        );
        let record = CheckRecord {
            command: cmd.to_owned(),
            stdout: stdout_rel,
            stderr: stderr_rel,
            exit_code: o.exit_code,
            signal: o.signal,
            timed_out: o.timed_out,
            stdout_bytes: o.stdout.total,
            stderr_bytes: o.stderr.total,
            stdout_dropped: o.stdout.dropped,
            stderr_dropped: o.stderr.dropped,
            stderr_tail: screen_tail(&o.stderr.last),
        };
        Ok((detail, record))
    }
}

fn unpinned(allowed: bool) -> Finding {
    if allowed {
        Finding::warning(
            GateCode::Unpinned,
            "bundle",
            "neither --expect-sha256 nor --expect-manifest was given (--allow-unpinned): the manifest inside the bundle proves only that the bundle is self-consistent",
        )
    } else {
        Finding::error(
            GateCode::Unpinned,
            "bundle",
            "neither --expect-sha256 nor --expect-manifest was given: the manifest inside the bundle proves only that the bundle is self-consistent\nhelp: pin the digests published outside the bundle (`zip pack` prints them), or pass --allow-unpinned to gate it unpinned on purpose",
        )
    }
}

/// Extract the snapshot, then delete it: the checks never see a copy of the bundle.
fn extract_step(
    snap: Snapshot,
    entries: &[Entry],
    tree: &Path,
    f: &mut Vec<Finding>,
) -> StepResult<()> {
    let Snapshot { mut file, path, .. } = snap;
    let max_total = audit_options().max_total_size;
    let x = extract::extract_entries(&mut file, entries, tree, max_total)?;
    drop(file);
    std::fs::remove_file(&path).map_err(|e| crate::fsutil::FsError::new("remove", &path, e))?;
    f.extend(x.findings);
    Ok((
        format!(
            "{} files, {} directories, {} bytes",
            x.files, x.dirs, x.bytes
        ),
        (),
    ))
}

fn describe(o: &runner::CheckOutcome) -> String {
    match (o.exit_code, o.signal) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("signal {s}"),
        (None, None) => "an unknown status".to_owned(),
    }
}

/// The last lines of a stream, escaped for a terminal.
fn screen_tail(last: &[u8]) -> Vec<String> {
    let last = last.strip_suffix(b"\n").unwrap_or(last);
    let lines: Vec<&[u8]> = last.split(|&b| b == b'\n').collect();
    let skip = lines.len().saturating_sub(SCREEN_LINES);
    lines[skip..]
        .iter()
        .filter(|_| !last.is_empty())
        .map(|l| escape_bytes_for_display(l))
        .collect()
}
