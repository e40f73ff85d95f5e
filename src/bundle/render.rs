//! Text and JSON rendering of an [`AuditReport`] (schema `vaultgate/zip/v1`, documented in
//! `docs/zip.md`). Names are always escaped for display; raw name bytes are given in hex so a
//! non-UTF-8 name is encoded, never dropped.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::audit::AuditReport;
use crate::exit::ExitStatus;
use crate::output::{Render, Style};
use crate::report::Severity;

/// The JSON schema name.
pub const SCHEMA: &str = "vaultgate/zip/v1";

/// A `help:` line for the codes whose fix is known.
fn help(code: &str) -> Option<&'static str> {
    Some(match code {
        "zip-byproduct" => {
            "rebuild the bundle from a clean tree (or with `vaultgate zip pack`), or pass `--allow-byproducts`"
        }
        "zip-too-many-entries" => "raise `--max-entries` if the bundle is really this large",
        "zip-total-size-exceeded" | "zip-data-over-limit" => {
            "raise `--max-size` if the bundle is really this large"
        }
        "zip-ratio-exceeded" => "raise `--max-ratio` if this entry is known to compress that well",
        "zip-name-too-long" => "shorten the path, or raise `--max-name-len`",
        "zip-encrypted" => {
            "bundle the files unencrypted; encrypt the whole bundle in transport if needed"
        }
        "zip-unsupported-method" => "re-create the archive with stored or deflate entries only",
        "zip-symlink" | "zip-hard-link" => "replace links with the files they point to",
        "zip-mode-unsafe" => {
            "re-create the archive from files with ordinary modes (`chmod -R u=rwX,go=rX`), or pass `--allow-unsafe-modes`"
        }
        "zip-name-encoding-ambiguous" => {
            "re-create the archive with a writer that sets the utf-8 flag (python `zipfile`, `vaultgate zip pack`, info-zip `zip`)"
        }
        "zip-nested-too-deep" => "unpack the inner archives, or raise `--max-depth`",
        "zip-nested-archive" => "unpack the inner archives, or use `--nested audit`",
        _ => return None,
    })
}

impl AuditReport {
    fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }
}

impl Render for AuditReport {
    crate::render_head!(SCHEMA, |r: &Self| ExitStatus::pass_if(r.passed()));

    fn to_json(&self) -> Map<String, Value> {
        let findings: Vec<Value> = self
            .located()
            .map(|(entry, f)| {
                json!({
                    "code": f.code,
                    "severity": f.severity,
                    "entry": entry,
                    "subject": f.subject,
                    "message": f.message,
                })
            })
            .collect();
        let entries: Vec<Value> = self
            .entries
            .iter()
            .map(|e| {
                json!({
                    "index": e.index,
                    "name": super::names::display(&e.raw_name),
                    "raw_name_hex": hex::encode(&e.raw_name),
                    "is_dir": e.is_dir,
                    "method": e.method,
                    "crc32": format!("{:08x}", e.crc32),
                    "compressed_size": e.compressed_size,
                    "uncompressed_size": e.uncompressed_size,
                    "data_offset": e.data_offset,
                    "unix_mode": e.unix_mode.map(|m| format!("{m:o}")),
                })
            })
            .collect();
        let layout = self.layout.as_ref().map(|l| {
            json!({
                "file_size": l.file_size,
                "eocd_offset": l.eocd_offset,
                "zip64_eocd_offset": l.zip64_eocd_offset,
                "cd_offset": l.cd_offset,
                "cd_size": l.cd_size,
                "declared_entries": l.declared_entries,
                "comment_len": l.comment_len,
            })
        });
        let o = &self.options;
        let mut m = Map::new();
        m.insert("archive".into(), Value::from(self.archive.clone()));
        m.insert(
            "options".into(),
            json!({
                "max_entries": o.max_entries,
                "max_size": o.max_total_size,
                "max_ratio": o.max_ratio,
                "max_name_len": o.max_name_len,
                "allow_byproducts": o.allow_byproducts,
                "allow_unsafe_modes": o.allow_unsafe_modes,
                "deep": o.deep,
                "nested": o.nested.as_str(),
                "max_depth": o.max_depth,
            }),
        );
        m.insert("layout".into(), layout.unwrap_or(Value::Null));
        m.insert("findings".into(), Value::Array(findings));
        m.insert("entries".into(), Value::Array(entries));
        let files = self.entries.iter().filter(|e| !e.is_dir).count();
        m.insert(
            "summary".into(),
            json!({
                "entries": self.entries.len(),
                "files": files,
                "dirs": self.entries.len() - files,
                "findings": self.findings.len(),
                "errors": self.errors(),
                "warnings": self.findings.len() - self.errors(),
                "total_uncompressed": self.entries.iter().map(|e| u128::from(e.uncompressed_size)).sum::<u128>(),
                "total_compressed": self.entries.iter().map(|e| u128::from(e.compressed_size)).sum::<u128>(),
                "deep": o.deep,
            }),
        );
        m
    }

    fn render_text(&self, style: &Style) -> String {
        let mut out = String::new();
        let mut codes = BTreeSet::new();
        for (entry, f) in self.located() {
            let index = entry.map_or_else(|| "#-".to_owned(), |i| format!("#{i}"));
            let code = if f.severity == Severity::Error {
                style.bad(f.code)
            } else {
                style.warn(f.code)
            };
            let _ = writeln!(out, "{code}  {index}  {}  {}", f.subject, f.message);
            codes.insert(f.code);
        }
        if !codes.is_empty() {
            let _ = writeln!(
                out,
                "note: #N is the entry's 0-based index in the central directory (--json `entries[].index`); #- is about the whole archive"
            );
        }
        for code in codes {
            if let Some(h) = help(code) {
                let _ = writeln!(out, "help: {h}");
            }
        }
        let _ = writeln!(
            out,
            "{} {}",
            style.verdict(self.status()),
            self.summary_text()
        );
        out
    }

    fn summary_line(&self) -> String {
        format!("{} {}", self.status().verdict(), self.summary_text())
    }
}

impl AuditReport {
    fn summary_text(&self) -> String {
        let deep = if self.options.deep {
            ", data checked"
        } else {
            ", data NOT checked (--structure-only: real sizes, CRC-32s and nested archives unverified)"
        };
        format!(
            "`{}`: {} entries, {} findings ({} errors){deep}",
            crate::report::escape_for_display(&self.archive),
            self.entries.len(),
            self.findings.len(),
            self.errors()
        )
    }
}
