//! SARIF 2.1.0 for any command's findings, so GitHub code scanning (and every other SARIF
//! reader) shows them inline.
//!
//! One run; the driver `vaultgate` with its version; one rule per finding code the command can
//! emit (plus any code a finding carries that the list missed: nothing is ever dropped), each with
//! its description and documentation link taken from `docs/<family>.md` at build time; one result
//! per finding with its level, message and location. The physical location is the command's
//! artifact (the bundle, the journal, the envelope) with the finding's line, column and byte
//! offset, and the entry, the file inside the bundle or the field as a logical location; for a
//! tree (manifest verify) it is the finding's path under the root. Output is deterministic: rules sorted by code, results in finding order.
//!
//! Validated against the published OASIS schema in `tests/sarif.rs`.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::exit::ExitStatus;
use crate::report::{Finding, FindingCode, Severity};

/// The schema URI written in every log (the OASIS errata01 schema the tests validate against).
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// Where a finding's artifact is, when the finding does not name its own file.
#[derive(Debug, Clone)]
pub enum Artifact {
    /// Every finding is about this one file (a bundle, a journal, an envelope); the subject is
    /// a logical location inside it (an entry name, a field).
    File(PathBuf),
    /// The subject is a path relative to this root (a manifest's tree).
    UnderRoot(PathBuf),
}

/// One command's findings, ready to be written as a SARIF log.
#[derive(Debug)]
pub struct Run<'a> {
    /// The command, e.g. `zip audit` (recorded in the run's properties).
    pub command: &'static str,
    /// Every code the command can emit, in any order.
    pub codes: Vec<&'static str>,
    /// The findings, in report order.
    pub findings: Vec<&'a Finding>,
    /// Where findings without their own file point.
    pub artifact: Artifact,
    /// The command's verdict.
    pub status: ExitStatus,
    /// An absolute base for documentation links (`https://…/blob/v0.1.0`), from
    /// `VAULTGATE_DOCS_URL`; without it rules carry the repository-relative link in `help`.
    pub docs_base: Option<String>,
}

impl<'a> Run<'a> {
    /// A run over `findings`; the verdict and the documentation base are filled in by the
    /// caller that prints it.
    pub fn new(
        command: &'static str,
        codes: Vec<&'static str>,
        findings: impl IntoIterator<Item = &'a Finding>,
        artifact: Artifact,
    ) -> Self {
        Self {
            command,
            codes,
            findings: findings.into_iter().collect(),
            artifact,
            status: ExitStatus::Pass,
            docs_base: None,
        }
    }
}

/// Every code of a family, for [`Run::codes`].
pub fn codes<C: FindingCode>() -> Vec<&'static str> {
    C::all().iter().map(|c| c.as_str()).collect()
}

/// The family documentation page and section for a code, and its one-line description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeDoc {
    /// `docs/zip.md#findings`.
    pub link: String,
    /// The description from the code's table row, or the code itself when none is found.
    pub description: String,
}

const DOCS: &[(&str, &str)] = &[
    ("docs/zip.md", include_str!("../docs/zip.md")),
    ("docs/gate.md", include_str!("../docs/gate.md")),
    ("docs/manifest.md", include_str!("../docs/manifest.md")),
    ("docs/journal.md", include_str!("../docs/journal.md")),
    ("docs/envelope.md", include_str!("../docs/envelope.md")),
];

/// The page a code is documented on, by its prefix (`zip-extract-*` belongs to the gate).
fn page_for(code: &str) -> &'static str {
    let prefix = if code.starts_with("zip-extract-") {
        "gate"
    } else {
        code.split('-').next().unwrap_or_default()
    };
    match prefix {
        "zip" => "docs/zip.md",
        "manifest" => "docs/manifest.md",
        "journal" => "docs/journal.md",
        "envelope" => "docs/envelope.md",
        _ => "docs/gate.md",
    }
}

/// GitHub's anchor for a Markdown heading: lowercase, spaces to `-`, punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Look a code up in its family's documentation: the section that first names it in a table
/// row (else anywhere), and that row's last cell as the description.
pub fn code_doc(code: &str) -> CodeDoc {
    let page = page_for(code);
    let text = DOCS
        .iter()
        .find(|(p, _)| *p == page)
        .map_or("", |(_, t)| *t);
    let needle = format!("`{code}`");
    let mut heading = String::new();
    let mut first_mention: Option<String> = None;
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(h) = line.strip_prefix('#') {
            heading = anchor(h.trim_start_matches('#'));
            continue;
        }
        if !line.contains(&needle) {
            continue;
        }
        let row = line.trim();
        if row.starts_with('|') {
            let cells: Vec<&str> = row
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            let names_it = cells.first().is_some_and(|c| c.contains(&needle))
                || cells.get(1).is_some_and(|c| *c == needle);
            if cells.len() >= 2 && names_it {
                let description = cells.last().map_or(code, |c| c).replace('`', "");
                let description = description.trim_end_matches('.').to_owned();
                return CodeDoc {
                    link: format!("{page}#{heading}"),
                    description,
                };
            }
        }
        first_mention.get_or_insert_with(|| heading.clone());
    }
    CodeDoc {
        link: match first_mention {
            Some(h) if !h.is_empty() => format!("{page}#{h}"),
            _ => page.to_owned(),
        },
        description: code.to_owned(),
    }
}

/// Percent-encode a path as a URI reference: relative paths stay relative (`/` separators),
/// absolute ones become `file://` URIs.
pub fn path_uri(path: &Path) -> String {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => parts.push(encode(&s.to_string_lossy())),
            Component::ParentDir => parts.push("..".to_owned()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    let joined = parts.join("/");
    if path.is_absolute() {
        format!("file:///{joined}")
    } else if joined.is_empty() {
        ".".to_owned()
    } else {
        joined
    }
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn rule(code: &str, docs_base: Option<&str>) -> Value {
    let doc = code_doc(code);
    let mut r = json!({
        "id": code,
        "shortDescription": {"text": doc.description},
        "help": {
            "text": format!("{code}: {}. See {}.", doc.description, doc.link),
            "markdown": format!("`{code}`: {}. See [{}]({}).", doc.description, doc.link, doc.link),
        },
        "properties": {"documentation": doc.link},
    });
    if let Some(base) = docs_base {
        r["helpUri"] = Value::from(format!("{}/{}", base.trim_end_matches('/'), doc.link));
    }
    r
}

fn location(f: &Finding, artifact: &Artifact) -> Value {
    let loc = f.location.clone().unwrap_or_default();
    // A finding's own `file` is a path inside the artifact (an entry of the bundle, a log in
    // the gate's report), or under the root for a tree.
    let (uri, logical) = match artifact {
        Artifact::File(p) => (
            path_uri(p),
            loc.file.clone().or_else(|| Some(f.subject.clone())),
        ),
        Artifact::UnderRoot(root) => {
            let rel = loc.file.clone().unwrap_or_else(|| f.subject.clone());
            let p = Path::new(&rel);
            if rel.is_empty() {
                (path_uri(root), None)
            } else if p.is_absolute() {
                (path_uri(p), None)
            } else {
                (path_uri(&root.join(p)), None)
            }
        }
    };
    let mut physical = json!({"artifactLocation": {"uri": uri}});
    let mut region = Map::new();
    if let Some(line) = loc.line.filter(|l| *l >= 1) {
        region.insert("startLine".into(), Value::from(line));
        if let Some(col) = loc.column.filter(|c| *c >= 1) {
            region.insert("startColumn".into(), Value::from(col));
        }
    }
    if let Some(off) = loc.byte_offset {
        region.insert("byteOffset".into(), Value::from(off));
    }
    if !region.is_empty() {
        physical["region"] = Value::Object(region);
    }
    let mut out = json!({"physicalLocation": physical});
    let logical_name = loc.field.clone().or(logical).filter(|s| !s.is_empty());
    if let Some(name) = logical_name {
        let mut l =
            json!({"name": name, "kind": if loc.field.is_some() { "field" } else { "member" }});
        if let Some(i) = loc.entry_index {
            l["properties"] = json!({"entryIndex": i});
        }
        out["logicalLocations"] = json!([l]);
    }
    out
}

/// The SARIF log as a JSON value.
pub fn log(run: &Run<'_>) -> Value {
    let mut codes: Vec<&str> = run.codes.clone();
    codes.extend(run.findings.iter().map(|f| f.code));
    codes.sort_unstable();
    codes.dedup();
    let docs_base = run.docs_base.as_deref();
    let rules: Vec<Value> = codes.iter().map(|c| rule(c, docs_base)).collect();
    let results: Vec<Value> = run
        .findings
        .iter()
        .map(|f| {
            let index = codes.binary_search(&f.code).unwrap_or_default();
            let message = if f.subject.is_empty() {
                f.message.clone()
            } else {
                format!("`{}`: {}", f.subject, f.message)
            };
            let mut props = json!({"subject": f.subject});
            if let Some(i) = f.location.as_ref().and_then(|l| l.entry_index) {
                props["entryIndex"] = Value::from(i);
            }
            json!({
                "ruleId": f.code,
                "ruleIndex": index,
                "level": match f.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": {"text": message},
                "locations": [location(f, &run.artifact)],
                "properties": props,
            })
        })
        .collect();
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "vaultgate",
                "version": env!("VAULTGATE_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": run.status != ExitStatus::Error,
                "exitCode": run.status.code(),
            }],
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {"command": run.command, "verdict": run.status.verdict()},
        }],
    })
}

/// The SARIF log as pretty-printed text.
pub fn render(run: &Run<'_>) -> String {
    serde_json::to_string_pretty(&log(run)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Location;

    #[derive(Clone, Copy)]
    struct C(&'static str);
    impl FindingCode for C {
        fn as_str(self) -> &'static str {
            self.0
        }
        fn all() -> &'static [Self] {
            &[]
        }
    }

    #[test]
    fn codes_find_their_docs() {
        let d = code_doc("zip-path-traversal");
        assert_eq!(d.link, "docs/zip.md#findings");
        assert!(d.description.contains(".."), "{d:?}");
        let g = code_doc("gate-unpinned");
        assert_eq!(g.link, "docs/gate.md#finding-codes");
        assert!(g.description.starts_with("neither"), "{g:?}");
        let m = code_doc("manifest-hash-mismatch");
        assert_eq!(m.link, "docs/manifest.md#verification");
        assert_eq!(
            code_doc("zip-extract-link").link,
            "docs/gate.md#finding-codes"
        );
        let unknown = code_doc("journal-no-such-code");
        assert_eq!(unknown.description, "journal-no-such-code");
    }

    #[test]
    fn uris_are_encoded_references() {
        assert_eq!(path_uri(Path::new("dist/a b.txt")), "dist/a%20b.txt");
        assert_eq!(path_uri(Path::new("/tmp/x/é")), "file:///tmp/x/%C3%A9");
        assert_eq!(path_uri(Path::new("./a/../b")), "a/../b");
        assert_eq!(path_uri(Path::new("")), ".");
    }

    #[test]
    fn every_finding_is_a_result_and_every_code_a_rule() {
        let a = Finding::error(C("zip-path-traversal"), "../etc/passwd", "escapes").at(Location {
            entry_index: Some(0),
            byte_offset: Some(30),
            ..Location::default()
        });
        let b = Finding::warning(C("zip-not-listed-anywhere"), "x", "odd");
        let run = Run {
            command: "zip audit",
            codes: vec!["zip-path-traversal", "zip-symlink"],
            findings: vec![&a, &b],
            artifact: Artifact::File(PathBuf::from("b.zip")),
            status: ExitStatus::Fail,
            docs_base: None,
        };
        let v = log(&run);
        let r = &v["runs"][0];
        let ids: Vec<&str> = r["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                "zip-not-listed-anywhere",
                "zip-path-traversal",
                "zip-symlink"
            ]
        );
        let res = r["results"].as_array().unwrap();
        assert_eq!(res.len(), 2);
        assert_eq!(res[0]["ruleIndex"], 1);
        assert_eq!(res[0]["level"], "error");
        assert_eq!(res[1]["level"], "warning");
        let loc = &res[0]["locations"][0];
        assert_eq!(loc["physicalLocation"]["artifactLocation"]["uri"], "b.zip");
        assert_eq!(loc["physicalLocation"]["region"]["byteOffset"], 30);
        assert_eq!(loc["logicalLocations"][0]["name"], "../etc/passwd");
        assert_eq!(r["invocations"][0]["exitCode"], 1);
        assert!(r["tool"]["driver"]["rules"][0].get("helpUri").is_none());
    }
}
