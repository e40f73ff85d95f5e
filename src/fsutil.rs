//! File-system helpers that name their file in every error and never leave half a file behind.
//!
//! [`write_atomic`] writes to a temporary file in the destination's directory, fsyncs it,
//! renames it over the destination and fsyncs the directory: a crash or an error leaves either
//! the old file or the new one, never a mix.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// An I/O error with the operation and the path it failed on.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} `{}`: {source}", path.display())]
pub struct FsError {
    /// What was being done (`read`, `open`, `create`, `rename`, …).
    pub op: &'static str,
    /// The file it was done to.
    pub path: PathBuf,
    /// The underlying error.
    #[source]
    pub source: io::Error,
}

impl FsError {
    /// Label an I/O error with its operation and path.
    pub fn new(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Extension to label `io::Result`s.
pub trait IoContext<T> {
    /// Attach the operation and path to an I/O error.
    fn ctx(self, op: &'static str, path: &Path) -> Result<T, FsError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T, FsError> {
        self.map_err(|e| FsError::new(op, path, e))
    }
}

/// Open a file for reading.
pub fn open(path: &Path) -> Result<File, FsError> {
    File::open(path).ctx("open", path)
}

/// Read a whole file (only for files known to be small: configs, manifests, journals).
pub fn read(path: &Path) -> Result<Vec<u8>, FsError> {
    let mut buf = Vec::new();
    open(path)?.read_to_end(&mut buf).ctx("read", path)?;
    Ok(buf)
}

/// Atomically replace `dest` with what `fill` writes: temp file in the same directory, fsync,
/// rename, fsync of the directory. On any error the temp file is removed and `dest` is untouched.
pub fn write_atomic<F>(dest: &Path, fill: F) -> Result<(), FsError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let dir = parent_dir(dest);
    // A temporary file is private (0600); the result must not be. Keep the mode of the file
    // being replaced, else create with 0666 filtered by the umask, like any new file.
    let existing = std::fs::metadata(dest).ok().map(|m| m.permissions());
    let tmp = tempfile::Builder::new()
        .prefix(".vaultgate-tmp-")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .ctx("create a temporary file in", dir)?;
    if let Some(perms) = existing {
        tmp.as_file()
            .set_permissions(perms)
            .ctx("set permissions of", tmp.path())?;
    }
    {
        let mut w = BufWriter::new(tmp.as_file());
        fill(&mut w).ctx("write", tmp.path())?;
        w.flush().ctx("write", tmp.path())?;
    }
    tmp.as_file().sync_all().ctx("fsync", tmp.path())?;
    tmp.persist(dest)
        .map_err(|e| FsError::new("rename into place", dest, e.error))?;
    fsync_dir(dir)
}

/// Atomically replace `dest` with `bytes`.
pub fn write_atomic_bytes(dest: &Path, bytes: &[u8]) -> Result<(), FsError> {
    write_atomic(dest, |w| w.write_all(bytes))
}

/// fsync a directory so a rename or a create in it is durable.
pub fn fsync_dir(dir: &Path) -> Result<(), FsError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .ctx("fsync directory", dir)
}

/// The directory a path lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_old_content_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.txt");
        write_atomic_bytes(&dest, b"old").unwrap();
        let err = write_atomic(&dest, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn atomic_write_gives_a_normal_mode_and_keeps_an_existing_one() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("m.txt");
        write_atomic_bytes(&dest, b"x").unwrap();
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let umask = status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .unwrap()
            .trim();
        let umask = u32::from_str_radix(umask, 8).unwrap();
        assert_eq!(
            mode,
            0o666 & !umask,
            "a new file gets 0666 & !umask, not the temp file's 0600"
        );
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic_bytes(&dest, b"y").unwrap();
        assert_eq!(
            std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn errors_name_the_path() {
        let err = read(Path::new("/nonexistent/vaultgate-test")).unwrap_err();
        assert!(
            err.to_string().contains("`/nonexistent/vaultgate-test`"),
            "{err}"
        );
    }
}
