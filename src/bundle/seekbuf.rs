//! A read buffer that survives seeks.
//!
//! `std::io::BufReader` throws its buffer away on every `seek`, so a reader that hops between
//! headers (the `zip` crate's consistency check, the deflate probe) pays two syscalls per
//! header. [`SeekBuf`] keeps one fixed 64 KiB window and serves any read that falls inside it;
//! a seek only moves the logical position. Memory stays bounded by the window.

use std::io::{self, Read, Seek, SeekFrom};

const WINDOW: usize = 64 * 1024;

/// A seekable reader with a window that survives seeks.
pub struct SeekBuf<R> {
    inner: R,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    start: u64,
    /// Valid bytes in `buf`.
    len: usize,
    /// Logical position.
    pos: u64,
    /// Position of `inner`, when known.
    inner_pos: Option<u64>,
    size: u64,
}

impl<R: Read + Seek> SeekBuf<R> {
    /// Wrap `inner`, whose total length is `size`.
    pub fn new(inner: R, size: u64) -> Self {
        Self {
            inner,
            buf: vec![0; WINDOW],
            start: 0,
            len: 0,
            pos: 0,
            inner_pos: None,
            size,
        }
    }

    fn inner_seek(&mut self, to: u64) -> io::Result<()> {
        if self.inner_pos != Some(to) {
            self.inner.seek(SeekFrom::Start(to))?;
            self.inner_pos = Some(to);
        }
        Ok(())
    }

    fn inner_read(&mut self, into_buf: bool, out: &mut [u8]) -> io::Result<usize> {
        let target = if into_buf { &mut self.buf[..] } else { out };
        let n = loop {
            match self.inner.read(target) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => break r?,
            }
        };
        self.inner_pos = self.inner_pos.map(|p| p + n as u64);
        Ok(n)
    }
}

impl<R: Read + Seek> Read for SeekBuf<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let end = self.start + self.len as u64;
        if self.pos < self.start || self.pos >= end {
            self.inner_seek(self.pos)?;
            if out.len() >= WINDOW {
                // A large read gains nothing from the window.
                let n = self.inner_read(false, out)?;
                self.pos += n as u64;
                return Ok(n);
            }
            self.start = self.pos;
            self.len = self.inner_read(true, &mut [])?;
            if self.len == 0 {
                return Ok(0);
            }
        }
        // Invariant: start <= pos < start + len, so the offset fits in usize.
        let off = usize::try_from(self.pos - self.start).unwrap_or(0);
        let n = out.len().min(self.len - off);
        out[..n].copy_from_slice(&self.buf[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for SeekBuf<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let Some(target) = target else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the archive",
            ));
        };
        self.pos = target;
        Ok(target)
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // test offsets are small
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn reads_match_the_underlying_bytes_after_any_seek() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut r = SeekBuf::new(Cursor::new(&data), data.len() as u64);
        for &(at, len) in &[
            (0u64, 10usize),
            (100, 5),
            (70_000, 100),
            (65_530, 20),
            (199_990, 50),
            (5, 100_000),
        ] {
            r.seek(SeekFrom::Start(at)).unwrap();
            let mut got = Vec::new();
            (&mut r).take(len as u64).read_to_end(&mut got).unwrap();
            let end = (at as usize + len).min(data.len());
            assert_eq!(got, &data[at as usize..end], "at {at} len {len}");
        }
        assert_eq!(r.seek(SeekFrom::End(-1)).unwrap(), 199_999);
        assert!(r.seek(SeekFrom::Current(-300_000)).is_err());
    }
}
