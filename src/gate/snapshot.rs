//! The bundle, read once: every byte goes through one SHA-256 hasher into a private snapshot
//! file, and every later step (audit, extraction) reads only the snapshot.
//!
//! Why (issue 8 §1): a gate that hashes the bundle and then reads it again (to audit, to
//! extract) can be shown one file and run another: a writer rewrites early entries in place
//! while the hash pass is busy with a large late entry, keeps the CRC-32s, and restores the
//! mtime. No comparison of (device, inode, length, mtime) can see that. Here the digest and the
//! bytes used afterwards are the same bytes by construction: the snapshot is what was hashed.
//!
//! Invariants:
//! - the original path is opened exactly once (non-blocking, so a FIFO cannot hang the gate;
//!   anything but a regular file is refused) and never again;
//! - the snapshot is created with `create_new` and mode `0600` inside the fresh `0700`
//!   workspace, so it is not a file anyone else created or can replace;
//! - the digest is of exactly the bytes written to the snapshot, in order;
//! - a change of the original's length or mtime during the read is reported (`changed`): the
//!   snapshot is still consistent with its digest, but it may not be any file that ever
//!   existed whole, so the gate fails closed on it.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::fsutil::{FsError, IoContext};
use crate::hash::{CHUNK, Sha256Digest};

/// The private copy of the bundle.
#[derive(Debug)]
pub struct Snapshot {
    /// Open for reading, positioned at 0.
    pub file: File,
    /// Its path inside the workspace.
    pub path: PathBuf,
    /// SHA-256 of its bytes.
    pub digest: Sha256Digest,
    /// The original's length or mtime changed while it was read.
    pub changed: bool,
}

/// Copy `src` into a new file `dest`, hashing every byte on the way.
pub fn take(src: &Path, dest: &Path) -> Result<Snapshot, FsError> {
    let mut input = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(src)
        .ctx("open", src)?;
    let before = input.metadata().ctx("inspect", src)?;
    if !before.is_file() {
        return Err(FsError::new(
            "gate",
            src,
            io::Error::other("not a regular file"),
        ));
    }
    let mut out = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .ctx("create", dest)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut len = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FsError::new("read", src, e)),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).ctx("write", dest)?;
        len += n as u64;
    }
    let after = input.metadata().ctx("inspect", src)?;
    drop(input);
    let stamp = |m: &std::fs::Metadata| (m.len(), m.mtime(), m.mtime_nsec());
    let changed = stamp(&before) != stamp(&after) || len != before.len();
    out.seek(SeekFrom::Start(0)).ctx("rewind", dest)?;
    Ok(Snapshot {
        file: out,
        path: dest.to_path_buf(),
        digest: Sha256Digest(hasher.finalize().into()),
        changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_bytes;

    #[test]
    fn the_snapshot_is_the_bytes_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("b.zip");
        let data: Vec<u8> = (0..(CHUNK * 2 + 17))
            .map(|i| u8::try_from(i % 251).unwrap())
            .collect();
        std::fs::write(&src, &data).unwrap();
        let mut s = take(&src, &dir.path().join("snap")).unwrap();
        assert_eq!(s.digest, sha256_bytes(&data));
        assert!(!s.changed);
        let mut back = Vec::new();
        s.file.read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn an_existing_destination_and_a_fifo_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("b.zip");
        std::fs::write(&src, b"x").unwrap();
        std::fs::write(dir.path().join("snap"), b"planted").unwrap();
        assert!(take(&src, &dir.path().join("snap")).is_err());
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let e = take(&fifo, &dir.path().join("snap2")).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
}
