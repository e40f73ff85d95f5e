//! Per-run log capture: capped, rotated-once files with a visible drop marker, and best-effort
//! redaction.
//!
//! Contract:
//! - [`CappedLog`] keeps at most two files per stream, `NAME` and `NAME.1`, each at most `cap`
//!   bytes (plus one marker line). When `NAME` is full it becomes `NAME.1` (the older `NAME.1`
//!   is dropped and its size counted), so the **tail always survives**; the new `NAME` opens
//!   with `[vaultgate: N earlier bytes dropped …]`, and closing a stream that dropped anything
//!   appends a final marker with the totals. Writing never blocks on anything but the disk.
//! - [`Redactor`] replaces the known secrets (the run's session token, any lease secret handed
//!   to it) and common token shapes (`vgt_…`, GitHub, GitLab, Slack, OpenAI-style `sk-…`, AWS
//!   access key ids) with `[REDACTED]`. It works line by line, so a secret split across a line
//!   longer than [`MAX_LINE`] can escape it: best effort, as documented.

use std::fs::File;
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use regex::bytes::Regex;

/// The longest line redacted as a whole; a longer line is redacted in pieces of this size.
pub const MAX_LINE: usize = 64 * 1024;

/// What a secret becomes in a log.
pub const REDACTED: &[u8] = b"[REDACTED]";

/// The token shapes always redacted (ASCII word boundary before the prefix).
const PATTERNS: &[&str] = &[
    r"vg[ts]_[A-Za-z0-9_-]{8,}",
    r"gh[pousr]_[A-Za-z0-9]{20,}",
    r"github_pat_[A-Za-z0-9_]{20,}",
    r"glpat-[A-Za-z0-9_-]{20,}",
    r"xox[abprs]-[A-Za-z0-9-]{10,}",
    r"sk-[A-Za-z0-9_-]{20,}",
    r"AKIA[0-9A-Z]{16}",
];

/// Replaces secrets in log bytes.
#[derive(Debug, Clone)]
pub struct Redactor {
    re: Regex,
}

impl Redactor {
    /// A redactor for the token shapes plus the exact `secrets` given (empty ones ignored).
    pub fn new(secrets: &[String]) -> Self {
        let mut alts: Vec<String> = secrets
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| regex::escape(s))
            .collect();
        alts.extend(PATTERNS.iter().map(|p| format!(r"(?-u:\b){p}")));
        let re = Regex::new(&alts.join("|"))
            // The patterns are constants and the secrets are escaped: the regex always builds.
            .unwrap_or_else(|_| Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable_regex()));
        Self { re }
    }

    /// Redact one line (or a piece of at most [`MAX_LINE`] bytes).
    pub fn redact<'a>(&self, line: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        self.re.replace_all(line, REDACTED)
    }

    /// Redact text line by line.
    pub fn redact_text(&self, text: &str) -> String {
        String::from_utf8_lossy(&self.redact(text.as_bytes())).into_owned()
    }
}

#[allow(clippy::unwrap_used)] // `a^` is a valid regex; this is only the fallback's fallback.
fn unreachable_regex() -> Regex {
    Regex::new("a^").unwrap()
}

/// A stream's log file, capped and rotated once.
#[derive(Debug)]
pub struct CappedLog {
    path: PathBuf,
    rotated: PathBuf,
    file: File,
    cap: u64,
    in_file: u64,
    /// Bytes accepted from the stream.
    pub total: u64,
    /// Bytes dropped by rotation.
    pub dropped: u64,
}

fn create_private(path: &Path) -> io::Result<File> {
    File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

impl CappedLog {
    /// Create `path` (0600), truncating it, with a cap of `cap` bytes per file (at least 4 KiB).
    pub fn create(path: &Path, cap: u64) -> io::Result<Self> {
        let mut rotated = path.as_os_str().to_owned();
        rotated.push(".1");
        Ok(Self {
            file: create_private(path)?,
            path: path.to_path_buf(),
            rotated: PathBuf::from(rotated),
            cap: cap.max(4096),
            in_file: 0,
            total: 0,
            dropped: 0,
        })
    }

    /// Append bytes, rotating when the file is full.
    pub fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.total += data.len() as u64;
        while !data.is_empty() {
            if self.in_file >= self.cap {
                self.rotate()?;
            }
            let room = usize::try_from(self.cap - self.in_file).unwrap_or(usize::MAX);
            let n = room.min(data.len());
            self.file.write_all(&data[..n])?;
            self.in_file += n as u64;
            data = &data[n..];
        }
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if let Ok(m) = std::fs::metadata(&self.rotated) {
            self.dropped += m.len();
        }
        std::fs::rename(&self.path, &self.rotated)?;
        self.file = create_private(&self.path)?;
        self.in_file = 0;
        if self.dropped > 0 {
            let marker = format!(
                "[vaultgate: {} earlier bytes dropped; the {} bytes before this file are in {}]\n",
                self.dropped,
                self.cap,
                self.rotated
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            );
            self.file.write_all(marker.as_bytes())?;
        }
        Ok(())
    }

    /// Flush and, when anything was dropped, append the final marker.
    pub fn finish(mut self) -> io::Result<(u64, u64)> {
        if self.dropped > 0 {
            let marker = format!(
                "\n[vaultgate: stream closed; {} bytes written, {} dropped]\n",
                self.total, self.dropped
            );
            self.file.write_all(marker.as_bytes())?;
        }
        self.file.sync_data()?;
        Ok((self.total, self.dropped))
    }
}

/// Splits a byte stream into lines (or [`MAX_LINE`] pieces), redacts each, writes it.
#[derive(Debug)]
pub struct LineRedactingWriter {
    log: CappedLog,
    redactor: Redactor,
    pending: Vec<u8>,
}

impl LineRedactingWriter {
    /// Wrap `log`.
    pub fn new(log: CappedLog, redactor: Redactor) -> Self {
        Self {
            log,
            redactor,
            pending: Vec::with_capacity(MAX_LINE),
        }
    }

    /// Feed bytes read from the stream.
    pub fn feed(&mut self, data: &[u8]) -> io::Result<()> {
        let mut rest = data;
        // Complete the pending line first.
        if !self.pending.is_empty() {
            let Some(i) = memchr::memchr(b'\n', rest) else {
                self.pending.extend_from_slice(rest);
                if self.pending.len() >= MAX_LINE {
                    let line = std::mem::take(&mut self.pending);
                    self.emit(&line)?;
                }
                return Ok(());
            };
            self.pending.extend_from_slice(&rest[..=i]);
            rest = &rest[i + 1..];
            let line = std::mem::take(&mut self.pending);
            self.emit(&line)?;
            self.pending = line;
            self.pending.clear();
        }
        // Whole lines straight from the buffer, in one redaction pass.
        if let Some(last_nl) = memchr::memrchr(b'\n', rest) {
            let (mut lines, tail) = rest.split_at(last_nl + 1);
            // Pieces end at a line end whenever a line fits, so no secret is cut in two
            // unless its line is longer than MAX_LINE.
            while !lines.is_empty() {
                let window = &lines[..lines.len().min(MAX_LINE)];
                let cut = if window.len() == lines.len() {
                    window.len()
                } else {
                    memchr::memrchr(b'\n', window).map_or(window.len(), |i| i + 1)
                };
                self.emit(&lines[..cut])?;
                lines = &lines[cut..];
            }
            rest = tail;
        }
        if rest.len() >= MAX_LINE {
            for piece in rest.chunks(MAX_LINE) {
                self.emit(piece)?;
            }
        } else {
            self.pending.extend_from_slice(rest);
        }
        Ok(())
    }

    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        let red = self.redactor.redact(bytes);
        self.log.write(&red)
    }

    /// Flush the partial last line and close the log.
    pub fn finish(mut self) -> io::Result<(u64, u64)> {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line)?;
        }
        self.log.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_known_secrets_and_token_shapes_only() {
        let r = Redactor::new(&["s3cr3t-value".into()]);
        let out = r.redact_text(
            "a s3cr3t-value b vgt_abcd1234_efgh5678 ghp_abcdefghijklmnopqrstuvwx AKIAABCDEFGHIJKLMNOP task-skip sk-short\n",
        );
        assert_eq!(
            out,
            "a [REDACTED] b [REDACTED] [REDACTED] [REDACTED] task-skip sk-short\n"
        );
    }

    #[test]
    fn the_log_keeps_the_tail_and_marks_what_it_dropped() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("stdout.log");
        let mut w =
            LineRedactingWriter::new(CappedLog::create(&p, 4096).unwrap(), Redactor::new(&[]));
        for i in 0..2000 {
            w.feed(format!("line {i:05}\n").as_bytes()).unwrap();
        }
        let (total, dropped) = w.finish().unwrap();
        assert_eq!(total, 2000 * 11);
        assert!(dropped > 0);
        let cur = std::fs::read_to_string(&p).unwrap();
        let old = std::fs::read_to_string(t.path().join("stdout.log.1")).unwrap();
        assert!(cur.starts_with("[vaultgate: "), "{cur}");
        assert!(cur.contains("line 01999\n"));
        assert!(cur.contains(&format!("{dropped} dropped]")));
        assert!(old.len() <= 4096 + 200);
        assert!(cur.len() <= 4096 + 300);
        assert!(old.contains("line 01"));
    }

    #[test]
    fn a_secret_in_a_big_read_of_short_lines_is_redacted() {
        // Regression: a read holding more than MAX_LINE bytes of complete lines was cut every
        // MAX_LINE bytes, mid-line, so a token on the cut escaped redaction.
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("stdout.log");
        let tok = "vgs_00112233445566778899aabbccddeeff";
        let mut w = LineRedactingWriter::new(
            CappedLog::create(&p, 1 << 24).unwrap(),
            Redactor::new(&[tok.into()]),
        );
        let mut big = Vec::new();
        while big.len() < 3 * MAX_LINE {
            big.extend_from_slice(format!("x {tok} y\n").as_bytes());
        }
        w.feed(&big).unwrap();
        w.finish().unwrap();
        let out = std::fs::read_to_string(&p).unwrap();
        assert!(!out.contains("vgs_"), "a token escaped redaction");
        assert_eq!(
            out.lines().count(),
            memchr::memchr_iter(b'\n', &big).count()
        );
    }

    #[test]
    fn a_secret_split_across_reads_is_still_redacted() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("stderr.log");
        let tok = "vgs_0123456789abcdef0123456789abcdef";
        let mut w = LineRedactingWriter::new(
            CappedLog::create(&p, 1 << 20).unwrap(),
            Redactor::new(&[tok.into()]),
        );
        w.feed(b"token=vgs_01234567").unwrap();
        w.feed(b"89abcdef0123456789abcdef end\nnext").unwrap();
        w.finish().unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "token=[REDACTED] end\nnext"
        );
    }
}
