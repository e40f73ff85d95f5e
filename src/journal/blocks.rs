//! How a scan reads and spreads its work: large blocks that end at a line boundary, and one
//! block's lines checked on every core.
//!
//! Contract: [`Blocks`] yields the journal in order, each block but the last ending with a
//! newline that has bytes after it (so the last line of a block that is not the last is never
//! the journal's last line); [`map_lines`] returns one result per line of a block, in line
//! order, whatever the number of threads.

use std::io::{self, Read};

/// A journal read in large blocks that end at a line boundary. A block that is not the last
/// has at least one byte after it, so its last line is never the journal's last line (which
/// decides torn tail against tampering); the last block holds everything left, including a
/// final line without its newline.
pub(super) struct Blocks {
    pub(super) buf: Vec<u8>,
    filled: usize,
    eof: bool,
}

impl Blocks {
    pub(super) fn new(size: usize) -> Self {
        Self {
            buf: vec![0; size.max(2)],
            filled: 0,
            eof: false,
        }
    }

    /// The next block, as `(length, is_last)`; `buf[..length]` holds it.
    pub(super) fn next(&mut self, reader: &mut dyn Read) -> io::Result<Option<(usize, bool)>> {
        loop {
            while !self.eof && self.filled < self.buf.len() {
                match reader.read(&mut self.buf[self.filled..]) {
                    Ok(0) => self.eof = true,
                    Ok(n) => self.filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if self.eof {
                return Ok((self.filled > 0).then_some((self.filled, true)));
            }
            // The buffer is full: end the block after the last newline that has bytes after it.
            if let Some(p) = memchr::memrchr(b'\n', &self.buf[..self.filled - 1]) {
                return Ok(Some((p + 1, false)));
            }
            // A single line longer than the buffer.
            let grown = self.buf.len() * 2;
            self.buf.resize(grown, 0);
        }
    }

    pub(super) fn consume(&mut self, len: usize) {
        self.buf.copy_within(len..self.filled, 0);
        self.filled -= len;
    }
}

/// The lines of `data`, each with its `\n` (the last one perhaps without).
pub(super) fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |p| p + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        Some(line)
    })
}

/// Split `data` into up to `n` runs of whole lines of about equal size.
pub(super) fn split_lines(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut rest = data;
    for k in (1..=n).rev() {
        if k == 1 || rest.is_empty() {
            parts.push(rest);
            break;
        }
        let target = rest.len() / k;
        let Some(p) = memchr::memchr(b'\n', &rest[target..]) else {
            parts.push(rest);
            break;
        };
        let (part, tail) = rest.split_at(target + p + 1);
        parts.push(part);
        rest = tail;
    }
    parts
}

/// Blocks smaller than this are checked on one thread (spawning costs more than it saves).
const PARALLEL_MIN: usize = 256 * 1024;

/// `check` applied to every line of `data` (each with its `\n`, the last perhaps without), on
/// up to `threads` threads, results in line order. `check` must not depend on other lines.
pub(super) fn map_lines<T, F>(data: &[u8], threads: usize, check: F) -> Vec<T>
where
    T: Send,
    F: Fn(&[u8]) -> T + Sync,
{
    let run = |part: &[u8]| lines(part).map(&check).collect::<Vec<T>>();
    if threads <= 1 || data.len() < PARALLEL_MIN {
        return run(data);
    }
    let parts = split_lines(data, threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = parts[1..]
            .iter()
            .map(|&part| s.spawn(move || run(part)))
            .collect();
        let mut out = run(parts[0]);
        for h in handles {
            match h.join() {
                Ok(r) => out.extend(r),
                // A panic in a checker is a bug; re-raise it rather than give a verdict.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_lines_cuts_after_newlines_only() {
        let data = b"aa\nbbbb\nc\nddddddd\ne";
        for n in 1..6 {
            let parts = split_lines(data, n);
            assert_eq!(parts.concat(), data);
            assert!(parts.len() <= n);
            for p in &parts[..parts.len() - 1] {
                assert!(p.ends_with(b"\n"), "{n}: {parts:?}");
            }
        }
    }

    #[test]
    fn map_lines_keeps_line_order_on_many_threads() {
        let data: Vec<u8> = (0..100_000)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        for threads in [1, 2, 3, 8] {
            let got = map_lines(&data, threads, <[u8]>::len);
            assert_eq!(got.len(), 100_000);
            assert_eq!(got.iter().sum::<usize>(), data.len());
            assert_eq!(got[..3], [2, 2, 2]);
        }
    }
}
