//! Reading a manifest file strictly, and `manifest digest`: the SHA-256 of its bytes, the one
//! value a CI gate pins. A malformed manifest is refused rather than digested.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::{ManifestError, ParsedLine, parse};
use crate::fsutil;
use crate::hash::{Sha256Digest, sha256_bytes};
use crate::output::{self, Render, Style, json_object};

/// Read and strictly parse the manifest at `path`: its lines and the SHA-256 of its bytes (the
/// bytes themselves are not kept). A malformed line is an error naming the line.
pub fn read_manifest(path: &Path) -> Result<(Vec<ParsedLine>, Sha256Digest), ManifestError> {
    let bytes = fsutil::read(path)?;
    let lines = parse(&bytes).map_err(|e| ManifestError::Malformed {
        manifest: path.to_path_buf(),
        line: e.line,
        reason: e.reason,
    })?;
    Ok((lines, sha256_bytes(&bytes)))
}

/// What `manifest digest` reports.
#[derive(Debug, Clone)]
pub struct DigestReport {
    /// The manifest file.
    pub file: PathBuf,
    /// SHA-256 of its bytes.
    pub digest: Sha256Digest,
    /// Number of entries it lists.
    pub entries: usize,
}

/// The SHA-256 of the manifest at `path`, after checking that it parses.
pub fn digest(path: &Path) -> Result<DigestReport, ManifestError> {
    let (lines, digest) = read_manifest(path)?;
    Ok(DigestReport {
        file: path.to_path_buf(),
        digest,
        entries: lines.len(),
    })
}

impl Render for DigestReport {
    crate::render_head!(super::SCHEMA, output::passes);
    fn to_json(&self) -> Map<String, Value> {
        json_object(json!({
            "command": "digest",
            "manifest": self.file.to_string_lossy(),
            "manifest_sha256": self.digest.to_hex(),
            "summary": {"entries": self.entries},
        }))
    }
    fn render_text(&self, _style: &Style) -> String {
        format!("{}\n", self.digest)
    }
    fn summary_line(&self) -> String {
        format!("manifest digest: {}", self.digest)
    }
}
