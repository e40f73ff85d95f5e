//! Hashing many files on all cores, each streamed in chunks.
//!
//! Work is handed out through one atomic index, so the result order is the input order
//! whatever the thread count: the same tree gives the same manifest bytes with 1 thread or 64.
//! A large file is hashed with a reader thread feeding the hasher, so reading and hashing
//! overlap (SHA-256 of one file cannot be split across cores).

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::thread;

use sha2::{Digest, Sha256};

use crate::hash::{CHUNK, Sha256Digest, sha256_reader_with};
use crate::output::Progress;
use crate::walk::{self, SymlinkPolicy, Walk, WalkOptions, WalkedFile};

/// Files at least this large are read by a helper thread while the caller hashes.
const PIPELINE_THRESHOLD: u64 = 16 * 1024 * 1024;
/// Walked files travel to the hashing threads in batches of this many: one message (and one
/// lock hand-off) per file cost more than overlapping the walk saved.
const BATCH: usize = 256;
/// Chunk size of the read-ahead pipeline.
const PIPELINE_CHUNK: usize = 2 * 1024 * 1024;

/// The number of threads to use: `requested`, or the machine's parallelism when 0.
pub fn thread_count(requested: usize) -> usize {
    if requested > 0 {
        requested
    } else {
        thread::available_parallelism().map_or(1, std::num::NonZero::get)
    }
}

/// A file's digest and the number of bytes hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hashed {
    /// SHA-256 of the content.
    pub digest: Sha256Digest,
    /// Bytes hashed.
    pub len: u64,
}

/// Hash every file; `results[i]` belongs to `files[i]`. An I/O error is returned per file
/// (as its message) so one unreadable file never hides the others. Unless `follow_links`, a
/// file that became a symlink since the walk is refused, not followed.
pub fn hash_all(
    files: &[&WalkedFile],
    threads: usize,
    follow_links: bool,
    progress: &Progress,
) -> Vec<Result<Hashed, String>> {
    let n = thread_count(threads).min(files.len()).max(1);
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Result<Hashed, String>>> = vec![None; files.len()];
    thread::scope(|s| {
        let workers: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    let mut buf = vec![0u8; CHUNK];
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(f) = files.get(i) else { break };
                        mine.push((i, hash_one(f, follow_links, &mut buf)));
                        progress.inc(1);
                    }
                    mine
                })
            })
            .collect();
        for w in workers {
            // A panicking worker leaves its slots `None`: reported below as an error.
            if let Ok(mine) = w.join() {
                for (i, r) in mine {
                    results[i] = Some(r);
                }
            }
        }
    });
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err("internal error: hashing thread panicked (a bug in vaultgate)".into())
            })
        })
        .collect()
}

/// The tree at `root` walked with `opts` and hashed, leaving out `manifest` when it lies inside
/// the tree: what generate and verify both start with.
pub fn hash_tree(
    root: &Path,
    manifest: &Path,
    opts: &WalkOptions,
    threads: usize,
    progress: &Progress,
) -> Result<(Walk, Vec<Result<Hashed, String>>), super::ManifestError> {
    if !root.is_dir() {
        return Err(super::ManifestError::NotADirectory(root.to_path_buf()));
    }
    let omit = walk::rel_inside(root, manifest);
    Ok(walk_and_hash(
        root,
        opts,
        omit.as_deref(),
        threads,
        progress,
    ))
}

/// Walk `root` and hash its files at once: the walk hands each file to the hashing threads as
/// it finds it, so the walk's directory reads overlap with hashing instead of running alone
/// first. Returns the walk with its files sorted by path bytes, and each file's result in the
/// same order (so the output is the same whatever the thread count or scheduling).
pub fn walk_and_hash(
    root: &Path,
    opts: &WalkOptions,
    omit: Option<&str>,
    threads: usize,
    progress: &Progress,
) -> (Walk, Vec<Result<Hashed, String>>) {
    let follow = opts.symlinks == SymlinkPolicy::Follow;
    let n = thread_count(threads).max(1);
    let (tx, rx) = mpsc::sync_channel::<Vec<(usize, PathBuf)>>(64);
    let rx = Mutex::new(rx);
    let (mut tree, results) = thread::scope(|s| {
        let workers: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    let mut buf = vec![0u8; CHUNK];
                    let mut mine = Vec::new();
                    loop {
                        // The lock is held only while waiting for the next file.
                        let next = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => break,
                        };
                        let Ok(batch) = next else { break };
                        for (i, abs) in batch {
                            mine.push((i, hash_path(&abs, follow, &mut buf)));
                            progress.inc(1);
                        }
                    }
                    mine
                })
            })
            .collect();
        // A send fails only if every worker is gone (panicked): their slots stay empty and are
        // reported below.
        let mut batch = Vec::with_capacity(BATCH);
        let tree = walk::walk_each(root, opts, omit, &mut |i, f| {
            batch.push((i, f.abs.clone()));
            if batch.len() == BATCH {
                let _ = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
            }
        });
        if !batch.is_empty() {
            let _ = tx.send(batch);
        }
        drop(tx);
        progress.start(tree.files.len() as u64);
        let mut results: Vec<Option<Result<Hashed, String>>> = vec![None; tree.files.len()];
        for w in workers {
            if let Ok(mine) = w.join() {
                for (i, r) in mine {
                    results[i] = Some(r);
                }
            }
        }
        (tree, results)
    });
    let mut results: Vec<Result<Hashed, String>> = results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err("internal error: hashing thread panicked (a bug in vaultgate)".into())
            })
        })
        .collect();
    sort_together(&mut tree.files, &mut results);
    (tree, results)
}

/// Sort the walked files by path bytes and move each result along with its file, in place (a
/// sorted copy of both would double the peak memory on a large tree).
fn sort_together(files: &mut [WalkedFile], results: &mut [Result<Hashed, String>]) {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by(|&a, &b| files[a].rel.as_bytes().cmp(files[b].rel.as_bytes()));
    // Position i must receive the element now at order[i]: follow each cycle of the
    // permutation with swaps.
    let mut placed = vec![false; files.len()];
    for start in 0..files.len() {
        let mut cur = start;
        while !placed[cur] {
            placed[cur] = true;
            let next = order[cur];
            if next == start {
                break;
            }
            files.swap(cur, next);
            results.swap(cur, next);
            cur = next;
        }
    }
}

/// Open and hash one file. The size comes from `fstat` of the open file, on this (hashing)
/// thread, so the walk never stats. `O_NONBLOCK` keeps a file swapped for a FIFO since the
/// walk from blocking the open forever (it is then refused as not a regular file), and
/// `O_NOFOLLOW` keeps one swapped for a symlink from being followed.
fn hash_one(f: &WalkedFile, follow_links: bool, buf: &mut [u8]) -> Result<Hashed, String> {
    hash_path(&f.abs, follow_links, buf)
}

/// [`hash_one`] by path.
fn hash_path(abs: &Path, follow_links: bool, buf: &mut [u8]) -> Result<Hashed, String> {
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if !follow_links {
        flags |= libc::O_NOFOLLOW;
    }
    let mut file = match OpenOptions::new().read(true).custom_flags(flags).open(abs) {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) && !follow_links => {
            return Err("it became a symlink after the walk; refusing to follow it".into());
        }
        Err(e) => return Err(e.to_string()),
    };
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("it is no longer a regular file (it changed after the walk)".into());
    }
    let len = meta.len();
    let hashed = if len >= PIPELINE_THRESHOLD {
        hash_pipelined(file)
    } else if len < buf.len() as u64 {
        hash_small(&mut file, len, buf)
    } else {
        sha256_reader_with(&mut file, buf).map(|(digest, len)| Hashed { digest, len })
    };
    hashed.map_err(|e| e.to_string())
}

/// Hash a file the walk saw as `len` bytes, smaller than `buf`, usually in one `read`.
///
/// Reading until `read` returns 0 costs a second syscall per file, a fifth of the work on a tree
/// of small files. A read that asked for more than `len` bytes and got exactly the remaining
/// `len` is a short read at the size the walk saw: on a regular file that is end of file, so
/// the EOF read is skipped. Anything else (the file shrank, grew, or returned less) falls back
/// to reading until 0, so the digest is always of every byte the file had when read.
fn hash_small(file: &mut File, len: u64, buf: &mut [u8]) -> io::Result<Hashed> {
    let mut h = Sha256::new();
    let mut total = 0u64;
    loop {
        let n = match file.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n as u64;
        if total == len && n < buf.len() {
            break;
        }
    }
    Ok(Hashed {
        digest: Sha256Digest(h.finalize().into()),
        len: total,
    })
}

/// Read on one thread, hash on this one, with two buffers in flight.
fn hash_pipelined(mut file: File) -> io::Result<Hashed> {
    let (full_tx, full_rx) = mpsc::sync_channel::<io::Result<(Vec<u8>, usize)>>(2);
    let (empty_tx, empty_rx) = mpsc::sync_channel::<Vec<u8>>(3);
    for _ in 0..3 {
        // Cannot fail: the channel has room for exactly these three buffers.
        let _ = empty_tx.send(vec![0u8; PIPELINE_CHUNK]);
    }
    thread::scope(|s| {
        s.spawn(move || {
            while let Ok(mut buf) = empty_rx.recv() {
                let r = read_full(&mut file, &mut buf);
                let done = !matches!(r, Ok(n) if n > 0);
                if full_tx.send(r.map(|n| (buf, n))).is_err() || done {
                    break;
                }
            }
        });
        let mut h = Sha256::new();
        let mut total = 0u64;
        loop {
            match full_rx.recv() {
                Ok(Ok((_, 0))) => break,
                Ok(Ok((buf, n))) => {
                    h.update(&buf[..n]);
                    total += n as u64;
                    let _ = empty_tx.send(buf);
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(io::Error::other(
                        "reader thread stopped (a bug in vaultgate)",
                    ));
                }
            }
        }
        Ok(Hashed {
            digest: Sha256Digest(h.finalize().into()),
            len: total,
        })
    })
}

/// Fill `buf` as far as the file allows; `Ok(0)` only at end of file.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_bytes;

    #[test]
    fn pipelined_matches_plain_and_any_thread_count_agrees() {
        let dir = tempfile::tempdir().unwrap();
        let len = usize::try_from(PIPELINE_THRESHOLD).unwrap() + PIPELINE_CHUNK / 3;
        let big: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
        let mut files = Vec::new();
        for (i, content) in [big.clone(), b"small".to_vec(), Vec::new()]
            .into_iter()
            .enumerate()
        {
            let abs = dir.path().join(format!("f{i}"));
            std::fs::write(&abs, &content).unwrap();
            files.push(WalkedFile {
                rel: format!("f{i}"),
                abs,
                len: content.len() as u64,
                mode: 0o644,
            });
        }
        let refs: Vec<&WalkedFile> = files.iter().collect();
        let one = hash_all(&refs, 1, false, &Progress::hidden());
        let many = hash_all(&refs, 7, false, &Progress::hidden());
        assert_eq!(one, many);
        assert_eq!(one[0].as_ref().unwrap().digest, sha256_bytes(&big));
        assert_eq!(one[0].as_ref().unwrap().len, big.len() as u64);
        assert_eq!(one[2].as_ref().unwrap().digest, sha256_bytes(b""));
    }

    #[test]
    fn small_file_shortcut_hashes_every_byte_even_if_the_size_changed_since_the_walk() {
        let dir = tempfile::tempdir().unwrap();
        let abs = dir.path().join("f");
        std::fs::write(&abs, b"0123456789").unwrap();
        let mut buf = vec![0u8; 64];
        for seen in [0, 3, 10, 40] {
            // The size was `seen`; the file has 10 bytes now (grown, same, or shrunk).
            let h = hash_small(&mut File::open(&abs).unwrap(), seen, &mut buf).unwrap();
            assert_eq!(h.digest, sha256_bytes(b"0123456789"), "seen {seen}");
            assert_eq!(h.len, 10, "seen {seen}");
        }
        std::fs::write(&abs, b"").unwrap();
        let f = WalkedFile {
            rel: "f".into(),
            abs,
            len: 0,
            mode: 0o644,
        };
        assert_eq!(
            hash_one(&f, false, &mut buf).unwrap().digest,
            sha256_bytes(b"")
        );
    }

    proptest::proptest! {
        /// After sorting, files are in path-byte order and every result still belongs to its file.
        #[test]
        fn sort_together_keeps_each_result_with_its_file(names in proptest::collection::hash_set("[a-c./]{1,6}", 0..60)) {
            let mut files: Vec<WalkedFile> = names
                .iter()
                .map(|n| WalkedFile { rel: n.clone(), abs: n.into(), len: 0, mode: 0 })
                .collect();
            let mut results: Vec<Result<Hashed, String>> = names.iter().map(|n| Err(n.clone())).collect();
            sort_together(&mut files, &mut results);
            for (f, r) in files.iter().zip(&results) {
                proptest::prop_assert_eq!(r.as_ref().unwrap_err(), &f.rel);
            }
            proptest::prop_assert!(files.windows(2).all(|w| w[0].rel.as_bytes() < w[1].rel.as_bytes()));
        }
    }
}
