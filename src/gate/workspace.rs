//! The gate's two directories: the temporary workspace the bundle is extracted into and the
//! checks run in, and the report directory, staged beside its final place and renamed into it
//! only when complete.
//!
//! Report directory rule (documented in `docs/gate.md`): it may not exist, be an empty
//! directory, or be a finished vaultgate gate report (see [`is_gate_report`]), which the new
//! report replaces as a whole once it is complete, so re-running the same command in the same
//! folder works. Any other directory is refused before anything runs unless `--force`; a
//! symlink or a file there is always refused. The rule is checked again just before the old
//! report is moved aside, so a directory swapped in during the run is not destroyed either.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{Read as _, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::report::GateReport;
use super::runner::CheckEnv;
use crate::fsutil::{self, FsError, IoContext};
use crate::output::Printer;

/// The report directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReportDirError {
    /// It exists, has files in it, and is not a finished gate report.
    #[error(
        "report directory `{}` is not empty and is not a vaultgate gate report\nhelp: choose another --report, or pass --force to replace it anyway once the new report is complete",
        .0.display()
    )]
    NotEmpty(PathBuf),
    /// It exists and is not a directory.
    #[error("report path `{}` exists and is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// An I/O error on a named file.
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// A report directory being written: a staging directory beside the final one.
#[derive(Debug)]
pub struct ReportDir {
    dest: PathBuf,
    staging: TempDir,
    force: bool,
}

/// What is at the report path now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dest {
    /// Nothing, or an empty directory.
    Free,
    /// A directory with something in it that may be replaced.
    Replaceable,
}

/// Apply the report directory rule to `dest`.
fn check_dest(dest: &Path, force: bool) -> Result<Dest, ReportDirError> {
    match fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() => {
            if fs::read_dir(dest).ctx("read", dest)?.next().is_none() {
                Ok(Dest::Free)
            } else if force || is_gate_report(dest) {
                Ok(Dest::Replaceable)
            } else {
                Err(ReportDirError::NotEmpty(dest.to_path_buf()))
            }
        }
        Ok(_) => Err(ReportDirError::NotADirectory(dest.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Dest::Free),
        Err(e) => Err(FsError::new("inspect", dest, e).into()),
    }
}

/// Largest `report.json` read to recognise a gate report.
const MAX_REPORT_JSON: u64 = 64 << 20;

/// `true` when `dir` is exactly what a finished gate run leaves: a real directory holding a
/// regular `report.json` whose `schema` is `vaultgate/gate/v1` with a `summary.verdict`, at most
/// a regular `report.md`, and at most a real `checks/` directory of regular `NN.stdout` /
/// `NN.stderr` files. Nothing else (no other file, no symlink anywhere) may be in it: a folder
/// that merely contains a copied `report.json` is not a report and is never replaced.
pub fn is_gate_report(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    let mut has_json = false;
    for e in entries {
        let Ok(e) = e else { return false };
        let Ok(ft) = e.file_type() else { return false };
        let ok = match e.file_name().to_str() {
            Some("report.json") => {
                has_json = ft.is_file() && report_json_is_ours(&e.path());
                has_json
            }
            Some("report.md") => ft.is_file(),
            Some("checks") => ft.is_dir() && only_check_logs(&e.path()),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    has_json
}

fn report_json_is_ours(path: &Path) -> bool {
    let Ok(f) = File::open(path) else {
        return false;
    };
    let mut bytes = Vec::new();
    if std::io::Read::take(f, MAX_REPORT_JSON)
        .read_to_end(&mut bytes)
        .is_err()
    {
        return false;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return false;
    };
    v["schema"] == "vaultgate/gate/v1" && v["summary"]["verdict"].is_string()
}

fn only_check_logs(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.into_iter().all(|e| {
        e.is_ok_and(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let log = name.split_once('.').is_some_and(|(n, s)| {
                !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit())
                    && matches!(s, "stdout" | "stderr")
            });
            log && e.file_type().is_ok_and(|t| t.is_file())
        })
    })
}

impl ReportDir {
    /// Check `dest` and create the staging directory beside it.
    pub fn prepare(dest: &Path, force: bool) -> Result<Self, ReportDirError> {
        check_dest(dest, force)?;
        let parent = fsutil::parent_dir(dest);
        fs::create_dir_all(parent).ctx("create directory", parent)?;
        let staging = tempfile::Builder::new()
            .prefix(".vaultgate-report-")
            .tempdir_in(parent)
            .ctx("create a staging directory in", parent)?;
        let checks = staging.path().join("checks");
        fs::create_dir(&checks).ctx("create directory", &checks)?;
        Ok(Self {
            dest: dest.to_path_buf(),
            staging,
            force,
        })
    }

    /// Where a log file is while the report is staged.
    pub fn log_path(&self, rel: &str) -> PathBuf {
        self.staging.path().join(rel)
    }

    /// Create a log file (`checks/01.stdout`, …) in the staging directory.
    pub fn create_log(&self, rel: &str) -> Result<File, FsError> {
        let p = self.staging.path().join(rel);
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&p)
            .ctx("create", &p)
    }

    /// Write `report.json` and `report.md`, fsync everything, and rename into place.
    pub fn finish(self, report: &GateReport) -> Result<(), FsError> {
        let dir = self.staging.path();
        let json = serde_json::to_string_pretty(&Printer::json_document(report))
            .map_err(|e| FsError::new("serialise", dir.join("report.json"), e.into()))?;
        write_synced(&dir.join("report.json"), format!("{json}\n").as_bytes())?;
        write_synced(&dir.join("report.md"), report.render_markdown().as_bytes())?;
        let checks = dir.join("checks");
        for e in fs::read_dir(&checks).ctx("read", &checks)? {
            let p = e.ctx("read", &checks)?.path();
            File::open(&p).and_then(|f| f.sync_all()).ctx("fsync", &p)?;
        }
        fsutil::fsync_dir(&checks)?;
        for d in [dir, checks.as_path()] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755))
                .ctx("set permissions on", d)?;
        }
        fsutil::fsync_dir(dir)?;
        let parent = fsutil::parent_dir(&self.dest).to_path_buf();
        let staged = self.staging.keep();
        // The rule again: what is there now is what gets moved aside and removed.
        let old = match check_dest(&self.dest, self.force) {
            // `rename` replaces an empty directory atomically.
            Ok(Dest::Free) => None,
            Ok(Dest::Replaceable) => {
                let aside = tempfile::Builder::new()
                    .prefix(".vaultgate-old-report-")
                    .tempdir_in(&parent)
                    .ctx("create a directory in", &parent)?
                    .keep();
                fs::rename(&self.dest, &aside).ctx("move aside", &self.dest)?;
                Some(aside)
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&staged);
                return Err(FsError::new(
                    "replace",
                    &self.dest,
                    std::io::Error::other(format!("it changed during the gate: {e}")),
                ));
            }
        };
        if let Err(e) = fs::rename(&staged, &self.dest) {
            let _ = fs::remove_dir_all(&staged);
            if let Some(aside) = &old {
                let _ = fs::rename(aside, &self.dest);
            }
            return Err(FsError::new("rename into place", &self.dest, e));
        }
        fsutil::fsync_dir(&parent)?;
        if let Some(aside) = old {
            fs::remove_dir_all(&aside).ctx("remove the old report", &aside)?;
        }
        Ok(())
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .ctx("create", path)?;
    f.write_all(bytes).ctx("write", path)?;
    f.sync_all().ctx("fsync", path)
}

/// The temporary workspace: `bundle.zip` (the snapshot, until extracted), `tree/` (the
/// extracted bundle), `home/`, `tmp/`.
#[derive(Debug)]
pub struct Workspace {
    dir: TempDir,
    tree: PathBuf,
}

impl Workspace {
    /// A fresh workspace in the system temporary directory.
    pub fn create() -> Result<Self, FsError> {
        let tmp = std::env::temp_dir();
        let dir = tempfile::Builder::new()
            .prefix("vaultgate-gate-")
            .tempdir()
            .ctx("create a workspace in", &tmp)?;
        let mut b = DirBuilder::new();
        b.mode(0o700);
        for sub in ["tree", "home", "tmp"] {
            let p = dir.path().join(sub);
            b.create(&p).ctx("create directory", &p)?;
        }
        let tree = dir.path().join("tree");
        Ok(Self { dir, tree })
    }

    /// Where the private snapshot of the bundle goes (created by the gate, `create_new`).
    pub fn snapshot_path(&self) -> PathBuf {
        self.dir.path().join("bundle.zip")
    }

    /// The extraction target and the checks' working directory.
    pub fn tree(&self) -> &Path {
        &self.tree
    }

    /// The checks' environment.
    pub fn check_env(&self) -> CheckEnv {
        CheckEnv::new(
            self.tree.clone(),
            self.dir.path().join("home"),
            self.dir.path().join("tmp"),
        )
    }

    /// Keep the workspace; returns its path.
    pub fn keep(self) -> PathBuf {
        self.dir.keep()
    }

    /// Remove the workspace (a check may have left read-only directories: make them writable).
    pub fn remove(self) -> Result<(), FsError> {
        let root = self.dir.path().to_path_buf();
        for e in walkdir::WalkDir::new(&root)
            .follow_links(false)
            .into_iter()
            .flatten()
        {
            if e.file_type().is_dir() {
                let _ = fs::set_permissions(e.path(), fs::Permissions::from_mode(0o700));
            }
        }
        self.dir.close().ctx("remove", &root)
    }
}
