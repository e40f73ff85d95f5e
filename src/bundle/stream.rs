//! Streaming decompression of one entry, trusting nothing the headers declare.
//!
//! Contract: [`copy_entry_data`] reads at most `compressed_size` bytes from `data_offset`
//! through fixed 64 KiB buffers (declared sizes never size an allocation), writes the
//! decompressed bytes to the sink, and succeeds only when the actual size equals the declared
//! uncompressed size, stays within `cap`, the CRC-32 matches, and — for deflate — the stream
//! ends exactly at the last compressed byte. It stops as soon as the output passes the declared
//! size or the cap, so a bomb costs at most `cap + 64 KiB` of output work.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use flate2::{Decompress, FlushDecompress, Status};

use super::error::StreamError;
use super::inflate_check::{Checker, Verdict};
use super::structure::Entry;

const BUF: usize = 64 * 1024;

/// Stream an entry's data from an open archive into `sink`; returns the bytes written.
///
/// Fails (naming the entry) when the method is not stored or deflate, the data is corrupt or
/// followed by leftover compressed bytes, the actual size differs from
/// `entry.uncompressed_size` or exceeds `cap`, or the CRC-32 differs from `entry.crc32`.
pub fn copy_entry_data(
    file: &mut File,
    entry: &Entry,
    sink: &mut dyn Write,
    cap: u64,
) -> Result<u64, StreamError> {
    copy_data(file, entry, sink, cap)
}

/// [`copy_entry_data`] for any seekable reader (used on in-memory archives by the fuzz target).
pub fn copy_data<R: Read + Seek>(
    reader: &mut R,
    entry: &Entry,
    sink: &mut dyn Write,
    cap: u64,
) -> Result<u64, StreamError> {
    Copier::new().copy(reader, entry, sink, cap)
}

/// Reusable state for [`copy_data`] over many entries: one deflate decoder, reset between
/// entries, and fixed buffers. A fresh decoder and two zeroed 64 KiB buffers per entry cost
/// more than the data itself on a bundle of 50,000 small files.
pub struct Copier {
    z: Decompress,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
}

impl Default for Copier {
    fn default() -> Self {
        Self::new()
    }
}

impl Copier {
    /// A decoder and buffers, ready for the first entry.
    pub fn new() -> Self {
        Self {
            z: Decompress::new(false),
            inbuf: vec![0; BUF],
            outbuf: vec![0; BUF],
        }
    }

    /// [`copy_data`] with this state.
    pub fn copy<R: Read + Seek>(
        &mut self,
        reader: &mut R,
        entry: &Entry,
        sink: &mut dyn Write,
        cap: u64,
    ) -> Result<u64, StreamError> {
        copy_with(self, reader, entry, sink, cap)
    }
}

fn copy_with<R: Read + Seek>(
    state: &mut Copier,
    reader: &mut R,
    entry: &Entry,
    sink: &mut dyn Write,
    cap: u64,
) -> Result<u64, StreamError> {
    let name = || super::names::display(&entry.raw_name);
    let io_err = |source: io::Error| StreamError::Io {
        entry: name(),
        source,
    };
    reader
        .seek(SeekFrom::Start(entry.data_offset))
        .map_err(io_err)?;
    let mut input = reader.take(entry.compressed_size);
    let mut out = Counter {
        sink,
        crc: crc32fast::Hasher::new(),
        written: 0,
        declared: entry.uncompressed_size,
        cap,
    };
    match entry.method {
        0 => copy_stored(&mut input, &mut out, entry, &mut state.inbuf, &name)?,
        8 => {
            state.z.reset(false);
            copy_deflate(&mut input, &mut out, state, &name)?;
        }
        method => {
            return Err(StreamError::UnsupportedMethod {
                entry: name(),
                method,
            });
        }
    }
    if out.written != entry.uncompressed_size {
        return Err(StreamError::SizeMismatch {
            entry: name(),
            declared: entry.uncompressed_size,
            actual: out.written,
            at_least: false,
        });
    }
    let actual = out.crc.finalize();
    if actual != entry.crc32 {
        return Err(StreamError::CrcMismatch {
            entry: name(),
            declared: entry.crc32,
            actual,
        });
    }
    Ok(out.written)
}

/// Decode the start of a deflate entry (at most [`PROBE_INPUT`] compressed bytes, at most one
/// 64 KiB output buffer at a time) and report a corrupt stream. Sizes and CRC are not checked:
/// that takes the whole stream ([`copy_data`]). The audit keeps one [`Prober`] instead.
#[cfg(test)]
pub fn probe_deflate<R: Read + Seek>(reader: &mut R, entry: &Entry) -> Result<(), StreamError> {
    Prober::new().probe(reader, entry)
}

/// Reusable state for probing the start of many deflate entries (one decoder, fixed buffers).
pub struct Prober {
    /// The fast pre-check; the real decoder runs only when it has a doubt.
    checker: Box<Checker>,
    z: Decompress,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
}

impl Default for Prober {
    fn default() -> Self {
        Self::new()
    }
}

impl Prober {
    /// A decoder and two fixed buffers.
    pub fn new() -> Self {
        Self {
            checker: Box::new(Checker::new()),
            z: Decompress::new(false),
            inbuf: vec![0; usize::try_from(PROBE_INPUT).unwrap_or(4096)],
            outbuf: vec![0; 16 * 1024],
        }
    }

    /// Probe one entry.
    pub fn probe<R: Read + Seek>(
        &mut self,
        reader: &mut R,
        entry: &Entry,
    ) -> Result<(), StreamError> {
        let name = || super::names::display(&entry.raw_name);
        reader
            .seek(SeekFrom::Start(entry.data_offset))
            .map_err(|source| StreamError::Io {
                entry: name(),
                source,
            })?;
        let want = usize::try_from(entry.compressed_size.min(PROBE_INPUT)).unwrap_or(0);
        let mut filled = 0;
        while filled < want {
            let n = read_some(reader, &mut self.inbuf[filled..want], &name)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        // Most streams are clean: the pre-check walks the same bits without a window or table
        // allocation and answers `Clean` only where the real decoder cannot fail (see
        // `inflate_check`). On any doubt the real decoder below gives the verdict.
        if self.checker.check(&self.inbuf[..filled]) == Verdict::Clean {
            return Ok(());
        }
        self.z.reset(false);
        let mut start = 0usize;
        // Each round consumes input or fills the output buffer; stop when the probe input is
        // used up, the stream ends, or the decoder stalls on the truncated probe input.
        for _ in 0..64 {
            let before = self.z.total_in();
            let status = self
                .z
                .decompress(
                    &self.inbuf[start..filled],
                    &mut self.outbuf,
                    FlushDecompress::None,
                )
                .map_err(|e| StreamError::Corrupt {
                    entry: name(),
                    detail: e.to_string(),
                })?;
            start += usize::try_from(self.z.total_in() - before).unwrap_or(filled - start);
            if status == Status::StreamEnd || start >= filled || status == Status::BufError {
                break;
            }
        }
        Ok(())
    }
}

/// Compressed bytes read by a [`Prober`]: enough for any dynamic block header.
pub const PROBE_INPUT: u64 = 4 * 1024;

/// Counts, hashes and bounds the output.
struct Counter<'a> {
    sink: &'a mut dyn Write,
    crc: crc32fast::Hasher,
    written: u64,
    declared: u64,
    cap: u64,
}

impl Counter<'_> {
    fn put(&mut self, bytes: &[u8], name: &dyn Fn() -> String) -> Result<(), StreamError> {
        let after = self.written + bytes.len() as u64;
        if after > self.cap {
            return Err(StreamError::OverCap {
                entry: name(),
                cap: self.cap,
            });
        }
        if after > self.declared {
            return Err(StreamError::SizeMismatch {
                entry: name(),
                declared: self.declared,
                actual: after,
                at_least: true,
            });
        }
        self.crc.update(bytes);
        self.sink
            .write_all(bytes)
            .map_err(|source| StreamError::Io {
                entry: name(),
                source,
            })?;
        self.written = after;
        Ok(())
    }
}

fn copy_stored(
    input: &mut impl Read,
    out: &mut Counter<'_>,
    entry: &Entry,
    buf: &mut [u8],
    name: &dyn Fn() -> String,
) -> Result<(), StreamError> {
    let mut read = 0u64;
    loop {
        let n = read_some(input, buf, name)?;
        if n == 0 {
            break;
        }
        read += n as u64;
        out.put(&buf[..n], name)?;
    }
    if read != entry.compressed_size {
        return Err(StreamError::Corrupt {
            entry: name(),
            detail: format!(
                "the file ends after {read} of {} stored bytes",
                entry.compressed_size
            ),
        });
    }
    Ok(())
}

fn copy_deflate(
    input: &mut impl Read,
    out: &mut Counter<'_>,
    state: &mut Copier,
    name: &dyn Fn() -> String,
) -> Result<(), StreamError> {
    let Copier { z, inbuf, outbuf } = state;
    let (mut start, mut end) = (0usize, 0usize);
    let mut input_done = false;
    loop {
        if start == end && !input_done {
            end = read_some(input, inbuf, name)?;
            start = 0;
            input_done = end == 0;
        }
        let (before_in, before_out) = (z.total_in(), z.total_out());
        let status = z
            .decompress(&inbuf[start..end], outbuf, FlushDecompress::None)
            .map_err(|e| StreamError::Corrupt {
                entry: name(),
                detail: e.to_string(),
            })?;
        // Invariant: the decoder consumes at most what it was given and produces at most the
        // output buffer, so both deltas fit in usize.
        let used = usize::try_from(z.total_in() - before_in).unwrap_or(end - start);
        let produced = usize::try_from(z.total_out() - before_out).unwrap_or(0);
        start += used;
        out.put(&outbuf[..produced], name)?;
        if status == Status::StreamEnd {
            break;
        }
        if used == 0 && produced == 0 && input_done {
            return Err(StreamError::Corrupt {
                entry: name(),
                detail: "the compressed data ends before the final deflate block".into(),
            });
        }
    }
    let mut extra = (end - start) as u64;
    loop {
        let n = read_some(input, inbuf, name)?;
        if n == 0 {
            break;
        }
        extra += n as u64;
    }
    if extra > 0 {
        return Err(StreamError::TrailingData {
            entry: name(),
            extra,
        });
    }
    Ok(())
}

fn read_some(
    input: &mut impl Read,
    buf: &mut [u8],
    name: &dyn Fn() -> String,
) -> Result<usize, StreamError> {
    loop {
        match input.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(StreamError::Io {
                    entry: name(),
                    source,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn entry(method: u16, data: &[u8], plain: &[u8]) -> Entry {
        Entry {
            index: 0,
            name: "a.txt".into(),
            raw_name: b"a.txt".to_vec(),
            name_len: 5,
            is_dir: false,
            method,
            crc32: crc32fast::hash(plain),
            compressed_size: data.len() as u64,
            uncompressed_size: plain.len() as u64,
            data_offset: 0,
            unix_mode: None,
            flags: 0,
            version_made_by: 0,
            external_attr: 0,
            local_header_offset: 0,
            extra_ids: vec![],
            has_link_extra: false,
            local_ok: true,
        }
    }

    fn deflate(plain: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(plain).unwrap();
        enc.finish().unwrap()
    }

    fn run(e: &Entry, data: &[u8], cap: u64) -> Result<u64, StreamError> {
        copy_data(&mut Cursor::new(data), e, &mut io::sink(), cap)
    }

    #[test]
    fn stored_and_deflate_round_trip() {
        let plain = b"hello hello hello hello".repeat(1000);
        assert_eq!(
            run(&entry(0, &plain, &plain), &plain, u64::MAX).unwrap(),
            plain.len() as u64
        );
        let z = deflate(&plain);
        assert_eq!(
            run(&entry(8, &z, &plain), &z, u64::MAX).unwrap(),
            plain.len() as u64
        );
    }

    #[test]
    fn wrong_crc_is_refused() {
        let plain = b"abc";
        let mut e = entry(0, plain, plain);
        e.crc32 ^= 1;
        assert!(matches!(
            run(&e, plain, 100),
            Err(StreamError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn declared_size_too_small_stops_early() {
        let plain = vec![0u8; 1 << 20];
        let z = deflate(&plain);
        let mut e = entry(8, &z, &plain);
        e.uncompressed_size = 10;
        assert!(matches!(
            run(&e, &z, u64::MAX),
            Err(StreamError::SizeMismatch { at_least: true, .. })
        ));
        e.uncompressed_size = (2 << 20) as u64;
        assert!(matches!(
            run(&e, &z, u64::MAX),
            Err(StreamError::SizeMismatch {
                at_least: false,
                ..
            })
        ));
    }

    #[test]
    fn cap_is_enforced_on_actual_bytes() {
        let plain = vec![0u8; 1 << 20];
        let z = deflate(&plain);
        let e = entry(8, &z, &plain);
        assert!(matches!(
            run(&e, &z, 1000),
            Err(StreamError::OverCap { cap: 1000, .. })
        ));
    }

    #[test]
    fn trailing_garbage_and_truncation_are_refused() {
        let plain = b"some text some text".repeat(50);
        let mut z = deflate(&plain);
        z.extend_from_slice(b"junk");
        let e = entry(8, &z, &plain);
        assert!(matches!(
            run(&e, &z, u64::MAX),
            Err(StreamError::TrailingData { extra: 4, .. })
        ));
        let z = deflate(&plain);
        let cut = &z[..z.len() / 2];
        let e = entry(8, cut, &plain);
        assert!(matches!(
            run(&e, cut, u64::MAX),
            Err(StreamError::Corrupt { .. })
        ));
    }

    #[test]
    fn probe_catches_a_corrupt_block_header_and_passes_a_good_stream() {
        let plain = b"probe me ".repeat(100_000);
        let z = deflate(&plain);
        assert!(probe_deflate(&mut Cursor::new(&z), &entry(8, &z, &plain)).is_ok());
        let bad = [0xffu8; 64];
        assert!(matches!(
            probe_deflate(&mut Cursor::new(&bad[..]), &entry(8, &bad, b"x")),
            Err(StreamError::Corrupt { .. })
        ));
    }

    #[test]
    fn corrupt_deflate_and_unknown_method_are_refused() {
        let bad = [0xffu8; 16];
        assert!(matches!(
            run(&entry(8, &bad, b"x"), &bad, 100),
            Err(StreamError::Corrupt { .. })
        ));
        assert!(matches!(
            run(&entry(12, &bad, b"x"), &bad, 100),
            Err(StreamError::UnsupportedMethod { method: 12, .. })
        ));
    }
}
