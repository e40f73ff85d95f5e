//! The gate's two directories: the temporary workspace the bundle is extracted into and the
//! checks run in, and the report directory, staged beside its final place and renamed into it
//! only when complete.
//!
//! Report directory rule (documented in `docs/gate.md`): it may not exist, or be an empty
//! directory; a non-empty one is refused before anything runs unless `--force`, which replaces
//! it as a whole only once the new report is complete. A symlink or a file there is refused.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
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
    /// It exists and has files in it.
    #[error(
        "report directory `{}` is not empty\nhelp: pass --force to replace it once the new report is complete, or choose another --report",
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
}

impl ReportDir {
    /// Check `dest` and create the staging directory beside it.
    pub fn prepare(dest: &Path, force: bool) -> Result<Self, ReportDirError> {
        match fs::symlink_metadata(dest) {
            Ok(m) if m.is_dir() => {
                let non_empty = fs::read_dir(dest).ctx("read", dest)?.next().is_some();
                if non_empty && !force {
                    return Err(ReportDirError::NotEmpty(dest.to_path_buf()));
                }
            }
            Ok(_) => return Err(ReportDirError::NotADirectory(dest.to_path_buf())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(FsError::new("inspect", dest, e).into()),
        }
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
        })
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
        let old = match fs::symlink_metadata(&self.dest) {
            Ok(m)
                if m.is_dir()
                    && fs::read_dir(&self.dest)
                        .ctx("read", &self.dest)?
                        .next()
                        .is_some() =>
            {
                // `--force` was checked in `prepare`: move the old report aside first.
                let aside = tempfile::Builder::new()
                    .prefix(".vaultgate-old-report-")
                    .tempdir_in(&parent)
                    .ctx("create a directory in", &parent)?
                    .keep();
                fs::rename(&self.dest, &aside).ctx("move aside", &self.dest)?;
                Some(aside)
            }
            _ => None,
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

/// The temporary workspace: `tree/` (the extracted bundle), `home/`, `tmp/`.
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
