//! Hashing many files on all cores, each streamed in chunks.
//!
//! Work is handed out through one atomic index, so the result order is the input order
//! whatever the thread count: the same tree gives the same manifest bytes with 1 thread or 64.
//! A large file is hashed with a reader thread feeding the hasher, so reading and hashing
//! overlap (SHA-256 of one file cannot be split across cores).

use std::fs::File;
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

use sha2::{Digest, Sha256};

use super::walk::WalkedFile;
use crate::hash::{CHUNK, Sha256Digest, sha256_reader_with};
use crate::output::Progress;

/// Files at least this large are read by a helper thread while the caller hashes.
const PIPELINE_THRESHOLD: u64 = 16 * 1024 * 1024;
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

/// Hash every file; `results[i]` belongs to `files[i]`. An I/O error is returned per file
/// (as its message) so one unreadable file never hides the others.
pub fn hash_all(
    files: &[WalkedFile],
    threads: usize,
    progress: &Progress,
) -> Vec<Result<Sha256Digest, String>> {
    let n = thread_count(threads).min(files.len()).max(1);
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Result<Sha256Digest, String>>> = vec![None; files.len()];
    thread::scope(|s| {
        let workers: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    let mut buf = vec![0u8; CHUNK];
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(f) = files.get(i) else { break };
                        mine.push((i, hash_one(f, &mut buf).map_err(|e| e.to_string())));
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

fn hash_one(f: &WalkedFile, buf: &mut [u8]) -> io::Result<Sha256Digest> {
    let mut file = File::open(&f.abs)?;
    if f.len >= PIPELINE_THRESHOLD {
        return hash_pipelined(file);
    }
    sha256_reader_with(&mut file, buf).map(|(d, _)| d)
}

/// Read on one thread, hash on this one, with two buffers in flight.
fn hash_pipelined(mut file: File) -> io::Result<Sha256Digest> {
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
        loop {
            match full_rx.recv() {
                Ok(Ok((_, 0))) => break,
                Ok(Ok((buf, n))) => {
                    h.update(&buf[..n]);
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
        Ok(Sha256Digest(h.finalize().into()))
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
        let one = hash_all(&files, 1, &Progress::hidden());
        let many = hash_all(&files, 7, &Progress::hidden());
        assert_eq!(one, many);
        assert_eq!(one[0].as_ref().unwrap(), &sha256_bytes(&big));
        assert_eq!(one[2].as_ref().unwrap(), &sha256_bytes(b""));
    }
}
