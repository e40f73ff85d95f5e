//! A fast, allocation-free pre-check of the start of a deflate stream, for the plain audit.
//!
//! Why: without `--deep` the audit decodes the first [`super::stream::PROBE_INPUT`] compressed
//! bytes of every deflate entry so that a corrupt block header is a finding. Doing that with
//! `flate2` costs a 32 KiB window reset and three Huffman table builds per entry (about 60,000
//! instructions for a 30-byte stream), which was three quarters of a 50,000-entry audit. This
//! walks the same bits without producing output: block types, stored-length complements,
//! dynamic block headers (counts, code-length code, repeats, over-subscribed and incomplete
//! codes, the end-of-block code), and every literal, length and distance symbol, including
//! distances that reach before the start of the stream.
//!
//! Contract (fail closed): this is a *superset* test, never the verdict. [`Checker::check`]
//! answers [`Verdict::Clean`] only when the bytes decode without any of the conditions above;
//! anything else, including conditions the real decoder (miniz_oxide via flate2) tolerates, is
//! [`Verdict::Doubt`], and the caller then runs the real decoder over the same bytes and reports
//! what it says. So a `Doubt` costs time, never a verdict, and `Clean` is only answered where the
//! real decoder cannot fail. Running out of input is `Clean`: the real decoder, fed the same
//! truncated window without a finish flag, waits for more input there too. A differential test
//! (`tests` below) checks the superset property on mutated and random streams.

// Bit fields are at most 16 bits wide and table indices are masked or bounded by the tables:
// the narrowing casts below cannot lose bits that matter.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]

/// Answer of [`Checker::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The bytes decode without error as far as they go.
    Clean,
    /// Something a decoder could reject: run the real decoder.
    Doubt,
}

/// Why decoding stopped early.
enum Stop {
    /// The probe input is used up: nothing more to check.
    End,
    /// See [`Verdict::Doubt`].
    Doubt,
}

type Step<T> = Result<T, Stop>;

/// Bits of the fast lookup table: every fixed-Huffman code, and most dynamic ones, fit.
const FAST_BITS: u32 = 9;
const FAST_SIZE: usize = 1 << FAST_BITS;
const MAX_BITS: usize = 15;

/// A canonical Huffman code: a fast table for short codes, counts and sorted symbols for the rest.
struct Code {
    /// `symbol << 4 | length` indexed by the next `FAST_BITS` input bits (LSB first); 0 when
    /// the code is longer than `FAST_BITS` or unassigned.
    fast: [u16; FAST_SIZE],
    /// Codes of each length.
    counts: [u16; MAX_BITS + 1],
    /// Symbols ordered by code.
    symbols: [u16; 288],
    /// Longest code length in use (0 when no symbol is coded).
    max_len: usize,
}

impl Code {
    const fn empty() -> Self {
        Self {
            fast: [0; FAST_SIZE],
            counts: [0; MAX_BITS + 1],
            symbols: [0; 288],
            max_len: 0,
        }
    }

    /// Build from code lengths. `Err` when the code is over-subscribed, or incomplete with a
    /// code longer than one bit (or incomplete at all when `complete` is required).
    fn build(&mut self, lengths: &[u8], complete: bool) -> Step<()> {
        self.counts = [0; MAX_BITS + 1];
        for &l in lengths {
            self.counts[usize::from(l)] += 1;
        }
        self.counts[0] = 0;
        let mut left = 1i32;
        let mut max_len = 0;
        let mut offs = [0u16; MAX_BITS + 2];
        for len in 1..=MAX_BITS {
            left = (left << 1) - i32::from(self.counts[len]);
            if left < 0 {
                return Err(Stop::Doubt);
            }
            if self.counts[len] > 0 {
                max_len = len;
            }
            offs[len + 1] = offs[len] + self.counts[len];
        }
        if left > 0 && (complete || max_len > 1) {
            return Err(Stop::Doubt);
        }
        self.max_len = max_len;
        self.fast = [0; FAST_SIZE];
        // First code of each length (RFC 1951, 3.2.2).
        let mut next = [0u32; MAX_BITS + 1];
        let mut code = 0u32;
        for (len, first) in next.iter_mut().enumerate().skip(1) {
            code = (code + u32::from(self.counts[len - 1])) << 1;
            *first = code;
        }
        for (sym, &l) in (0u16..).zip(lengths) {
            if l == 0 {
                continue;
            }
            let len = usize::from(l);
            self.symbols[usize::from(offs[len])] = sym;
            offs[len] += 1;
            let c = next[len];
            next[len] += 1;
            if len <= FAST_BITS as usize {
                // Input bits arrive LSB first: index the table by the reversed code.
                let mut r = (c.reverse_bits() >> (32 - len)) as usize;
                let entry = (sym << 4) | u16::from(l);
                while r < FAST_SIZE {
                    self.fast[r] = entry;
                    r += 1 << len;
                }
            }
        }
        Ok(())
    }
}

/// The bit reader over the probe input.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u64,
    n: u32,
}

impl Bits<'_> {
    fn refill(&mut self) {
        while self.n <= 56 {
            let Some(&b) = self.data.get(self.pos) else {
                break;
            };
            self.buf |= u64::from(b) << self.n;
            self.pos += 1;
            self.n += 8;
        }
    }

    fn take(&mut self, k: u32) -> Step<u32> {
        if self.n < k {
            self.refill();
            if self.n < k {
                return Err(Stop::End);
            }
        }
        // k <= 16 here, so the value fits in u32.
        let v = (self.buf & ((1u64 << k) - 1)) as u32;
        self.buf >>= k;
        self.n -= k;
        Ok(v)
    }

    /// Decode one symbol of `code`.
    fn decode(&mut self, code: &Code) -> Step<u16> {
        if self.n < MAX_BITS as u32 {
            self.refill();
        }
        let e = code.fast[(self.buf as usize) & (FAST_SIZE - 1)];
        let len = u32::from(e & 15);
        if e != 0 && len <= self.n {
            self.buf >>= len;
            self.n -= len;
            return Ok(e >> 4);
        }
        // Long, unassigned, or not enough bits: walk the canonical code one bit at a time. An
        // unassigned code is known as soon as its bits pass the longest code, before the input
        // ends (as the real decoder knows it).
        let (mut first, mut index, mut c) = (0i32, 0i32, 0i32);
        for len in 1..=code.max_len {
            if len as u32 > self.n {
                return Err(Stop::End);
            }
            c |= ((self.buf >> (len - 1)) & 1) as i32;
            let count = i32::from(code.counts[len]);
            if c - first < count {
                self.buf >>= len;
                self.n -= len as u32;
                // In range: index + (c - first) < number of coded symbols.
                return Ok(code.symbols[(index + c - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            c <<= 1;
        }
        Err(Stop::Doubt)
    }
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u32; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// Order of the code-length code lengths in a dynamic block header.
const CLEN_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Reusable tables (about 4 KiB): the fixed codes are built once, the dynamic ones per block.
pub struct Checker {
    fixed_lit: Code,
    fixed_dist: Code,
    lit: Code,
    dist: Code,
}

impl Default for Checker {
    fn default() -> Self {
        Self::new()
    }
}

impl Checker {
    /// Build the fixed-Huffman tables.
    pub fn new() -> Self {
        let mut c = Self {
            fixed_lit: Code::empty(),
            fixed_dist: Code::empty(),
            lit: Code::empty(),
            dist: Code::empty(),
        };
        let mut lens = [8u8; 288];
        lens[144..256].fill(9);
        lens[256..280].fill(7);
        // Both fixed codes are complete, so building them cannot fail.
        let ok =
            c.fixed_lit.build(&lens, true).is_ok() && c.fixed_dist.build(&[5; 32], true).is_ok();
        debug_assert!(ok, "the fixed codes are complete");
        c
    }

    /// Check the start of a raw deflate stream (`input` is the probe window).
    pub fn check(&mut self, input: &[u8]) -> Verdict {
        let mut bits = Bits {
            data: input,
            pos: 0,
            buf: 0,
            n: 0,
        };
        match self.blocks(&mut bits) {
            Ok(()) | Err(Stop::End) => Verdict::Clean,
            Err(Stop::Doubt) => Verdict::Doubt,
        }
    }

    fn blocks(&mut self, bits: &mut Bits<'_>) -> Step<()> {
        // Bytes produced so far: a distance may not reach before the start of the stream.
        let mut out = 0u64;
        loop {
            let header = bits.take(3)?;
            match header >> 1 {
                0 => stored(bits, &mut out)?,
                1 => data(bits, &self.fixed_lit, &self.fixed_dist, &mut out)?,
                2 => {
                    self.dynamic_header(bits)?;
                    data(bits, &self.lit, &self.dist, &mut out)?;
                }
                _ => return Err(Stop::Doubt),
            }
            if header & 1 == 1 {
                return Ok(());
            }
        }
    }

    fn dynamic_header(&mut self, bits: &mut Bits<'_>) -> Step<()> {
        let nlit = bits.take(5)? as usize + 257;
        let ndist = bits.take(5)? as usize + 1;
        let nclen = bits.take(4)? as usize + 4;
        if nlit > 286 || ndist > 30 {
            return Err(Stop::Doubt);
        }
        let mut clens = [0u8; 19];
        for &i in &CLEN_ORDER[..nclen] {
            // Three bits: always fits in u8.
            clens[i] = bits.take(3)? as u8;
        }
        // The code-length code only needs 19 symbols; `lit` is rebuilt below.
        self.lit.build(&clens, true)?;
        let mut lens = [0u8; 286 + 30];
        let total = nlit + ndist;
        let mut i = 0;
        while i < total {
            let sym = bits.decode(&self.lit)?;
            let (value, repeat) = match sym {
                0..=15 => (sym as u8, 1),
                16 if i > 0 => (lens[i - 1], 3 + bits.take(2)? as usize),
                17 => (0, 3 + bits.take(3)? as usize),
                18 => (0, 11 + bits.take(7)? as usize),
                _ => return Err(Stop::Doubt),
            };
            if i + repeat > total {
                return Err(Stop::Doubt);
            }
            lens[i..i + repeat].fill(value);
            i += repeat;
        }
        if lens[256] == 0 {
            // No end-of-block code.
            return Err(Stop::Doubt);
        }
        self.lit.build(&lens[..nlit], false)?;
        self.dist.build(&lens[nlit..total], false)
    }
}

fn stored(bits: &mut Bits<'_>, out: &mut u64) -> Step<()> {
    // Back to the byte boundary: whole bytes still in the bit buffer are unread input.
    let unread = (bits.n / 8) as usize;
    let pos = bits.pos - unread;
    bits.buf = 0;
    bits.n = 0;
    let Some(h) = input_at(bits.data, pos, 4) else {
        return Err(Stop::End);
    };
    let (len, nlen) = (
        u16::from_le_bytes([h[0], h[1]]),
        u16::from_le_bytes([h[2], h[3]]),
    );
    if len != !nlen {
        return Err(Stop::Doubt);
    }
    bits.pos = pos + 4 + usize::from(len);
    if bits.pos > bits.data.len() {
        return Err(Stop::End);
    }
    *out += u64::from(len);
    Ok(())
}

fn input_at(data: &[u8], pos: usize, len: usize) -> Option<&[u8]> {
    data.get(pos..pos.checked_add(len)?)
}

fn data(bits: &mut Bits<'_>, lit: &Code, dist: &Code, out: &mut u64) -> Step<()> {
    loop {
        let sym = bits.decode(lit)?;
        match sym {
            0..=255 => *out += 1,
            256 => return Ok(()),
            257..=285 => {
                let k = usize::from(sym - 257);
                let len = u64::from(LEN_BASE[k]) + u64::from(bits.take(u32::from(LEN_EXTRA[k]))?);
                let d = usize::from(bits.decode(dist)?);
                if d >= DIST_BASE.len() {
                    return Err(Stop::Doubt);
                }
                let distance =
                    u64::from(DIST_BASE[d]) + u64::from(bits.take(u32::from(DIST_EXTRA[d]))?);
                if distance > *out {
                    return Err(Stop::Doubt);
                }
                *out += len;
            }
            _ => return Err(Stop::Doubt),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, Decompress, FlushDecompress, Status};
    use proptest::prelude::*;
    use std::io::Write;

    /// What the real decoder says about a probe window, exactly as the probe feeds it.
    fn real_decoder_fails(input: &[u8]) -> bool {
        let mut z = Decompress::new(false);
        let mut out = vec![0u8; 16 * 1024];
        let mut start = 0usize;
        for _ in 0..64 {
            let before = z.total_in();
            match z.decompress(&input[start..], &mut out, FlushDecompress::None) {
                Err(_) => return true,
                Ok(status) => {
                    start += usize::try_from(z.total_in() - before).unwrap();
                    if status == Status::StreamEnd
                        || start >= input.len()
                        || status == Status::BufError
                    {
                        return false;
                    }
                }
            }
        }
        false
    }

    fn deflate(plain: &[u8], level: u32) -> Vec<u8> {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), Compression::new(level));
        enc.write_all(plain).unwrap();
        enc.finish().unwrap()
    }

    fn assert_superset(input: &[u8]) {
        if real_decoder_fails(input) {
            assert_eq!(
                Checker::new().check(input),
                Verdict::Doubt,
                "the real decoder rejects {input:02x?} but the pre-check passed it"
            );
        }
    }

    #[test]
    fn honest_streams_are_clean() {
        let text = b"# module 1\nVALUE = 1\n".repeat(20);
        let mut noise = Vec::new();
        let mut x = 1u32;
        for _ in 0..20_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            noise.push((x >> 16) as u8);
        }
        let mut c = Checker::new();
        for plain in [&b""[..], b"x", &text, &noise, &b"ab".repeat(40_000)] {
            for level in [0, 1, 6, 9] {
                let z = deflate(plain, level);
                assert_eq!(
                    c.check(&z),
                    Verdict::Clean,
                    "level {level}, {} bytes",
                    plain.len()
                );
                let window = &z[..z.len().min(4096)];
                assert_eq!(c.check(window), Verdict::Clean);
            }
        }
    }

    #[test]
    fn corrupt_headers_are_doubted() {
        let mut c = Checker::new();
        // Block type 3.
        assert_eq!(c.check(&[0x07]), Verdict::Doubt);
        // Stored block with a bad length complement.
        assert_eq!(c.check(&[0x01, 0x05, 0x00, 0x00, 0x00]), Verdict::Doubt);
        assert_eq!(c.check(&[0xff; 32]), Verdict::Doubt);
        // Dynamic block declaring 287 literal/length codes (too many symbols).
        assert_eq!(c.check(&[0xf5, 0xff, 0xff, 0xff]), Verdict::Doubt);
        // Fixed block whose first match reaches before the start of the stream.
        assert_eq!(c.check(&[0x03, 0x02]), Verdict::Doubt);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn superset_of_the_real_decoder_on_random_bytes(input in proptest::collection::vec(any::<u8>(), 0..64)) {
            assert_superset(&input);
        }

        #[test]
        fn superset_of_the_real_decoder_on_mutated_streams(
            seed in any::<u64>(),
            len in 0usize..3000,
            level in 0u32..10,
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
            cut in any::<usize>(),
        ) {
            let mut x = seed | 1;
            let plain: Vec<u8> = (0..len).map(|_| {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                b"abcdefgh \n"[(x % 10) as usize]
            }).collect();
            let mut z = deflate(&plain, level);
            for (at, mask) in flips {
                let n = z.len();
                z[at % n] ^= mask;
            }
            let n = z.len();
            z.truncate(1 + cut % n);
            assert_superset(&z);
        }
    }
}
