//! A check's log with a size cap: verbatim up to `--max-log` bytes per stream; past it, the
//! first half and the last half of the cap with a visible marker of what was dropped between.
//!
//! Invariants:
//! - the source is read to its end whatever its size (the check is never blocked on a full
//!   pipe, and never told to stop);
//! - a stream of at most `max` bytes is written byte for byte, nothing added;
//! - a longer stream is written as its first `max / 2` bytes, one marker line, and its last
//!   `max - max / 2` bytes; the file never exceeds `max` plus the marker;
//! - memory is bounded by the tail kept (`max - max / 2`, allocated only when the head is full)
//!   plus the few KiB shown on screen.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::fsutil::{FsError, IoContext};

/// The default `--max-log`: 64 MiB per stream.
pub const DEFAULT_MAX_LOG: u64 = 64 << 20;
/// How much of a stream's end is kept for the screen.
pub const SCREEN_TAIL: usize = 2048;

/// One stream's log file and its cap.
#[derive(Debug)]
pub struct LogSink {
    /// The open log file (empty, created by the gate).
    pub file: File,
    /// Its path, for error messages.
    pub path: PathBuf,
    /// `--max-log`.
    pub max: u64,
}

/// What a stream wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOutcome {
    /// Bytes the check wrote to the stream.
    pub total: u64,
    /// Bytes left out of the log file (0 when it is verbatim).
    pub dropped: u64,
    /// The last bytes of the stream (at most [`SCREEN_TAIL`]), for the screen.
    pub last: Vec<u8>,
}

/// A ring of the last `cap` bytes.
struct Ring {
    buf: Vec<u8>,
    cap: usize,
    /// Next write position once `buf` is full.
    pos: usize,
}

impl Ring {
    fn push(&mut self, mut data: &[u8]) {
        if self.cap == 0 {
            return;
        }
        if data.len() > self.cap {
            data = &data[data.len() - self.cap..];
        }
        let room = self.cap - self.buf.len();
        if room > 0 {
            let n = room.min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        while !data.is_empty() {
            let n = (self.cap - self.pos).min(data.len());
            self.buf[self.pos..self.pos + n].copy_from_slice(&data[..n]);
            self.pos = (self.pos + n) % self.cap;
            data = &data[n..];
        }
    }
    /// The bytes in stream order.
    fn parts(&self) -> (&[u8], &[u8]) {
        if self.buf.len() < self.cap {
            (&self.buf, &[])
        } else {
            let (a, b) = self.buf.split_at(self.pos);
            (b, a)
        }
    }
}

/// The marker written where bytes were dropped.
pub fn marker(dropped: u64, head: u64, tail: u64, total: u64) -> String {
    format!(
        "\n[vaultgate gate: {dropped} bytes dropped here; this log keeps the first {head} and the last {tail} of {total} bytes (--max-log)]\n"
    )
}

/// Read `src` to its end into `sink` (see the module invariants).
pub fn drain(src: &mut dyn Read, mut sink: LogSink) -> Result<LogOutcome, FsError> {
    let head = sink.max / 2;
    let tail_cap = usize::try_from(sink.max - head).unwrap_or(usize::MAX);
    let mut ring = Ring {
        buf: Vec::new(),
        cap: tail_cap,
        pos: 0,
    };
    let mut out = LogOutcome::default();
    let mut buf = vec![0u8; 64 * 1024];
    let path = sink.path.clone();
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FsError::new("read the output for", &path, e)),
        };
        let chunk = &buf[..n];
        keep_last(&mut out.last, chunk);
        let in_head = usize::try_from(head.saturating_sub(out.total))
            .unwrap_or(usize::MAX)
            .min(n);
        sink.file.write_all(&chunk[..in_head]).ctx("write", &path)?;
        ring.push(&chunk[in_head..]);
        out.total += n as u64;
    }
    let kept_tail = ring.buf.len() as u64;
    out.dropped = out.total.saturating_sub(head.min(out.total) + kept_tail);
    if out.dropped > 0 {
        let m = marker(out.dropped, head, kept_tail, out.total);
        sink.file.write_all(m.as_bytes()).ctx("write", &path)?;
    }
    let (a, b) = ring.parts();
    write_parts(&mut sink.file, &path, a, b)?;
    Ok(out)
}

fn write_parts(f: &mut File, path: &Path, a: &[u8], b: &[u8]) -> Result<(), FsError> {
    f.write_all(a).ctx("write", path)?;
    f.write_all(b).ctx("write", path)
}

fn keep_last(last: &mut Vec<u8>, chunk: &[u8]) {
    if chunk.len() >= SCREEN_TAIL {
        last.clear();
        last.extend_from_slice(&chunk[chunk.len() - SCREEN_TAIL..]);
    } else {
        last.extend_from_slice(chunk);
        if last.len() > SCREEN_TAIL {
            last.drain(..last.len() - SCREEN_TAIL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that yields `data` in pieces of `step` bytes.
    struct Pieces<'a> {
        data: &'a [u8],
        step: usize,
    }
    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn run(data: &[u8], max: u64, step: usize) -> (Vec<u8>, LogOutcome) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let file = File::create(&path).unwrap();
        let out = drain(
            &mut Pieces { data, step },
            LogSink {
                file,
                path: path.clone(),
                max,
            },
        )
        .unwrap();
        (std::fs::read(&path).unwrap(), out)
    }

    #[test]
    fn up_to_the_cap_the_log_is_verbatim() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for step in [1, 7, 1000] {
            let (log, out) = run(&data, 1000, step);
            assert_eq!(log, data);
            assert_eq!((out.total, out.dropped), (1000, 0));
        }
    }

    #[test]
    fn past_the_cap_head_and_tail_are_kept_with_a_marker() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
        for step in [1, 33, 4096, 10_000] {
            let (log, out) = run(&data, 1001, step);
            assert_eq!((out.total, out.dropped), (10_000, 10_000 - 1001));
            let m = marker(10_000 - 1001, 500, 501, 10_000);
            let mut want = data[..500].to_vec();
            want.extend_from_slice(m.as_bytes());
            want.extend_from_slice(&data[10_000 - 501..]);
            assert_eq!(log, want, "step {step}");
            assert_eq!(out.last, data[10_000 - SCREEN_TAIL..]);
        }
    }
}
