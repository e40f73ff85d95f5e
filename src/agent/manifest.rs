//! The OpenSentience agent manifest, `opensentience.agent.json` (schema: `docs/agents.md`).
//!
//! Contract:
//! - [`parse`] reads at most [`MAX_MANIFEST_BYTES`] of strict JSON (duplicate keys, lone
//!   surrogates and invalid UTF-8 refused by [`crate::canon`]) and validates every field of the
//!   standard; a field the standard does not define is refused (fail closed). It never runs
//!   anything and never touches the file system.
//! - `manifest_hash` is the SHA-256 of the file's bytes exactly as read.
//! - `permissions_hash` is the SHA-256 of the canonical JSON array of the requested
//!   permissions sorted by bytes with duplicates removed, so reordering or repeating a
//!   permission is not a change, while adding, removing or editing one is.
//! - [`read`] refuses anything but a regular file (a symlink is not followed) and reads with a
//!   bound, so a hostile tree cannot make discovery read gigabytes.

use std::fmt;
use std::fs::File;
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use serde_json::{Map, Value};

use super::codes::AgentCode;
use crate::canon;
use crate::hash::{Sha256Digest, sha256_bytes};
use crate::paths::SafeRelPath;
use crate::report::{Finding, Location, escape_for_display};

/// The manifest's file name at the repository root.
pub const MANIFEST_FILE: &str = "opensentience.agent.json";
/// The largest manifest accepted, in bytes.
pub const MAX_MANIFEST_BYTES: u64 = 256_000;
/// The longest agent id, in characters (ids are ASCII).
pub const MAX_ID_LEN: usize = 200;
/// The longest permission string, in bytes.
pub const MAX_PERMISSION_BYTES: usize = 300;
/// The most permissions or capabilities one manifest may list.
pub const MAX_LIST_ITEMS: usize = 500;

const MAX_NAME: usize = 200;
const MAX_VERSION: usize = 100;
const MAX_DESCRIPTION: usize = 4000;
const MAX_URL: usize = 2048;
const MAX_CAPABILITY: usize = 100;

/// A validated agent id: `^[A-Za-z0-9][A-Za-z0-9._-]*$`, at most 200 characters. Such an id is
/// always a safe single path component (it cannot be `.`, `..`, start with `-`, or hold `/`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgentId(String);

impl AgentId {
    /// Validate `s`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("the agent id is empty".into());
        }
        if s.len() > MAX_ID_LEN {
            return Err(format!(
                "the agent id is {} characters long, more than {MAX_ID_LEN}",
                s.len()
            ));
        }
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !first_ok || !rest_ok {
            return Err(format!(
                "agent id `{}` does not match `^[A-Za-z0-9][A-Za-z0-9._-]*$`",
                escape_for_display(s)
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated permission `domain:action[:pattern]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission(String);

impl Permission {
    /// Validate `s`: at most 300 bytes, no whitespace or control characters, a `domain` and an
    /// `action` of `[A-Za-z0-9][A-Za-z0-9_.-]*`, and an optional non-empty pattern (which may
    /// itself hold `:`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let shown = || escape_for_display(s);
        if s.len() > MAX_PERMISSION_BYTES {
            return Err(format!(
                "permission is {} bytes long, more than {MAX_PERMISSION_BYTES}",
                s.len()
            ));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "permission `{}` holds whitespace or control characters",
                shown()
            ));
        }
        let mut parts = s.splitn(3, ':');
        let domain = parts.next().unwrap_or_default();
        let action = parts.next();
        let pattern = parts.next();
        let word = |w: &str| {
            let mut c = w.chars();
            c.next().is_some_and(|c| c.is_ascii_alphanumeric())
                && c.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        };
        match action {
            Some(a) if word(domain) && word(a) && pattern != Some("") => Ok(Self(s.to_owned())),
            _ => Err(format!(
                "permission `{}` is not `domain:action[:pattern]`",
                shown()
            )),
        }
    }

    /// The permission as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the agent is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntrypointType {
    /// `value` is an executable path relative to the repository root.
    Command,
    /// `value` is a Mix task name, started as `mix <task>`.
    MixTask,
    /// `value` is a release script path relative to the repository root, started as
    /// `<value> start`.
    Release,
}

impl EntrypointType {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Command => "command",
            Self::MixTask => "mix_task",
            Self::Release => "release",
        }
    }

    /// Parse the manifest spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "command" => Some(Self::Command),
            "mix_task" => Some(Self::MixTask),
            "release" => Some(Self::Release),
            _ => None,
        }
    }
}

/// The validated entrypoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entrypoint {
    /// The type.
    pub kind: EntrypointType,
    /// The task name or relative path.
    pub value: String,
}

impl Entrypoint {
    /// `type:value`, the form an approval binds to.
    pub fn binding(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.value)
    }

    fn parse(kind: EntrypointType, value: &str) -> Result<Self, String> {
        let shown = escape_for_display(value);
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "entrypoint value `{shown}` holds whitespace or control characters (no shell is used; name one executable)"
            ));
        }
        if value.starts_with('-') {
            return Err(format!(
                "entrypoint value `{shown}` begins with `-` and could be read as an option"
            ));
        }
        match kind {
            EntrypointType::MixTask => {
                let ok = !value.is_empty()
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'));
                if !ok {
                    return Err(format!("mix task name `{shown}` is not a task name"));
                }
            }
            EntrypointType::Command | EntrypointType::Release => {
                SafeRelPath::parse(value).map_err(|e| {
                    format!("entrypoint value `{shown}` must be a path inside the repository: {e}")
                })?;
            }
        }
        Ok(Self {
            kind,
            value: value.to_owned(),
        })
    }
}

/// Where the agent's code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The git URL (checked against the protocol allowlist at install time).
    pub git_url: String,
    /// The ref to install when `--ref` is not given.
    pub git_ref: Option<String>,
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `manifest_version` (only 1 exists).
    pub manifest_version: u64,
    /// The id.
    pub id: AgentId,
    /// Display name.
    pub name: String,
    /// Version string.
    pub version: String,
    /// Description.
    pub description: String,
    /// Source.
    pub source: Source,
    /// Entrypoint.
    pub entrypoint: Entrypoint,
    /// Requested permissions, in manifest order (duplicates kept as written).
    pub permissions: Vec<Permission>,
    /// Declared capabilities (`tools`, `streaming`, …).
    pub capabilities: Vec<String>,
    /// Optional homepage.
    pub homepage_url: Option<String>,
    /// Optional repository page.
    pub repository_url: Option<String>,
    /// Display-only tool summary (runtime registration is authoritative), canonical JSON.
    pub tool_summary: Option<String>,
}

impl Manifest {
    /// The requested permissions sorted by bytes, duplicates removed.
    pub fn requested_set(&self) -> Vec<Permission> {
        let mut v = self.permissions.clone();
        v.sort();
        v.dedup();
        v
    }
}

/// A manifest with its two hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedManifest {
    /// The validated fields.
    pub manifest: Manifest,
    /// SHA-256 of the file bytes.
    pub manifest_hash: Sha256Digest,
    /// SHA-256 of the canonical sorted, de-duplicated permission array.
    pub permissions_hash: Sha256Digest,
}

/// Why a manifest was refused: a code, the JSON pointer of the field when there is one, and a
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestProblem {
    /// Stable code.
    pub code: AgentCode,
    /// JSON pointer (`/permissions/2`), when the problem is in one field.
    pub field: Option<String>,
    /// Lowercase message, user values in backticks.
    pub message: String,
}

impl ManifestProblem {
    fn new(code: AgentCode, field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            code,
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    /// This problem as a finding about `subject` (the manifest's path).
    pub fn finding(&self, subject: &str) -> Finding {
        Finding::error(self.code, subject, self.message.clone()).at(Location {
            field: self.field.clone(),
            ..Location::default()
        })
    }
}

impl fmt::Display for ManifestProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(p) => write!(f, "{} (at `{p}`)", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The hash the approval binds to: SHA-256 of the canonical JSON array of `perms` sorted by
/// bytes and de-duplicated.
pub fn permissions_hash<'a>(perms: impl IntoIterator<Item = &'a Permission>) -> Sha256Digest {
    let mut v: Vec<&str> = perms.into_iter().map(Permission::as_str).collect();
    v.sort_unstable();
    v.dedup();
    let arr = Value::Array(v.into_iter().map(Value::from).collect());
    // Strings always have a canonical form; an array of them cannot fail to serialise.
    let bytes = canon::to_bytes(&arr).unwrap_or_default();
    sha256_bytes(&bytes)
}

/// Read and parse the manifest at `path` without following a symlink, reading at most
/// [`MAX_MANIFEST_BYTES`] + 1 bytes. An I/O failure is returned as `Err(Err(io))`, a refusal
/// of the content as `Err(Ok(problem))`.
pub fn read(path: &Path) -> Result<ParsedManifest, Result<ManifestProblem, std::io::Error>> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Ok(ManifestProblem::new(
                AgentCode::ManifestNotFile,
                None,
                "the manifest is a symbolic link; vaultgate does not follow links from an agent tree",
            )));
        }
        Err(e) => return Err(Err(e)),
    };
    let meta = file.metadata().map_err(Err)?;
    if !meta.is_file() {
        return Err(Ok(ManifestProblem::new(
            AgentCode::ManifestNotFile,
            None,
            "the manifest is not a regular file",
        )));
    }
    let mut bytes =
        Vec::with_capacity(usize::try_from(meta.len().min(MAX_MANIFEST_BYTES)).unwrap_or(0));
    file.take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(Err)?;
    parse(&bytes).map_err(Ok)
}

/// Parse and validate manifest bytes.
pub fn parse(bytes: &[u8]) -> Result<ParsedManifest, ManifestProblem> {
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(ManifestProblem::new(
            AgentCode::ManifestTooLarge,
            None,
            format!("the manifest is larger than {MAX_MANIFEST_BYTES} bytes"),
        ));
    }
    let obj = canon::parse_object(bytes).map_err(|e| {
        ManifestProblem::new(
            AgentCode::ManifestInvalidJson,
            None,
            format!("the manifest is not a strict JSON object: {e}"),
        )
    })?;
    let manifest = from_object(&obj)?;
    let permissions_hash = permissions_hash(&manifest.permissions);
    Ok(ParsedManifest {
        manifest,
        manifest_hash: sha256_bytes(bytes),
        permissions_hash,
    })
}

const TOP_FIELDS: &[&str] = &[
    "manifest_version",
    "id",
    "name",
    "version",
    "description",
    "source",
    "entrypoint",
    "permissions",
    "capabilities",
    "homepage_url",
    "repository_url",
    "tool_summary",
];

// One linear pass over the standard's fields, in document order; splitting it would only
// scatter the schema.
#[allow(clippy::too_many_lines)]
fn from_object(obj: &Map<String, Value>) -> Result<Manifest, ManifestProblem> {
    known_fields(obj, TOP_FIELDS, "")?;
    let manifest_version = match obj.get("manifest_version") {
        None => 1,
        Some(Value::Number(n)) if n.as_u64() == Some(1) => 1,
        Some(other) => {
            return Err(ManifestProblem::new(
                AgentCode::ManifestUnsupportedVersion,
                Some("/manifest_version"),
                format!(
                    "manifest_version `{}` is not supported (only 1 is)",
                    escape_for_display(&other.to_string())
                ),
            ));
        }
    };
    let id_text = string(obj, "id", "/id", MAX_ID_LEN * 4, false)?;
    let id = AgentId::parse(&id_text)
        .map_err(|m| ManifestProblem::new(AgentCode::ManifestBadId, Some("/id"), m))?;
    let name = string(obj, "name", "/name", MAX_NAME, true)?;
    let version = string(obj, "version", "/version", MAX_VERSION, false)?;
    let description = string(obj, "description", "/description", MAX_DESCRIPTION, true)?;

    let source_obj = object(obj, "source", "/source")?;
    known_fields(source_obj, &["git_url", "ref"], "/source")?;
    let git_url = string(source_obj, "git_url", "/source/git_url", MAX_URL, false)?;
    let git_ref = match source_obj.get("ref") {
        None | Some(Value::Null) => None,
        Some(_) => Some(string(source_obj, "ref", "/source/ref", 255, false)?),
    };

    let ep_obj = object(obj, "entrypoint", "/entrypoint")?;
    known_fields(ep_obj, &["type", "value"], "/entrypoint")?;
    let ep_type = string(ep_obj, "type", "/entrypoint/type", 32, false)?;
    let kind = EntrypointType::parse(&ep_type).ok_or_else(|| {
        ManifestProblem::new(
            AgentCode::ManifestBadEntrypoint,
            Some("/entrypoint/type"),
            format!(
                "entrypoint type `{}` is not `command`, `mix_task` or `release`",
                escape_for_display(&ep_type)
            ),
        )
    })?;
    let ep_value = string(ep_obj, "value", "/entrypoint/value", 1024, true)?;
    let entrypoint = Entrypoint::parse(kind, &ep_value).map_err(|m| {
        ManifestProblem::new(
            AgentCode::ManifestBadEntrypoint,
            Some("/entrypoint/value"),
            m,
        )
    })?;

    let permissions = string_list(obj, "permissions", MAX_PERMISSION_BYTES)?
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            Permission::parse(&p).map_err(|m| {
                ManifestProblem::new(
                    AgentCode::ManifestBadPermission,
                    Some(&format!("/permissions/{i}")),
                    m,
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let capabilities = string_list(obj, "capabilities", MAX_CAPABILITY)?;
    for (i, c) in capabilities.iter().enumerate() {
        if c.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ManifestProblem::new(
                AgentCode::ManifestBadValue,
                Some(&format!("/capabilities/{i}")),
                format!(
                    "capability `{}` holds whitespace or control characters",
                    escape_for_display(c)
                ),
            ));
        }
    }
    let homepage_url = optional_string(obj, "homepage_url", MAX_URL)?;
    let repository_url = optional_string(obj, "repository_url", MAX_URL)?;
    let tool_summary = match obj.get("tool_summary") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            String::from_utf8(canon::to_bytes(v).map_err(|e| {
                ManifestProblem::new(
                    AgentCode::ManifestBadValue,
                    Some("/tool_summary"),
                    format!("tool_summary has no canonical form: {e}"),
                )
            })?)
            .unwrap_or_default(),
        ),
    };
    Ok(Manifest {
        manifest_version,
        id,
        name,
        version,
        description,
        source: Source { git_url, git_ref },
        entrypoint,
        permissions,
        capabilities,
        homepage_url,
        repository_url,
        tool_summary,
    })
}

fn known_fields(obj: &Map<String, Value>, known: &[&str], at: &str) -> Result<(), ManifestProblem> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ManifestProblem::new(
            AgentCode::ManifestUnknownField,
            Some(&format!("{at}/{}", escape_for_display(k))),
            format!(
                "field `{}` is not part of the opensentience.agent.json standard",
                escape_for_display(k)
            ),
        )),
        None => Ok(()),
    }
}

fn missing(field: &str, pointer: &str) -> ManifestProblem {
    ManifestProblem::new(
        AgentCode::ManifestMissingField,
        Some(pointer),
        format!("required field `{field}` is missing"),
    )
}

fn wrong_type(pointer: &str, expected: &str, found: &Value) -> ManifestProblem {
    ManifestProblem::new(
        AgentCode::ManifestWrongType,
        Some(pointer),
        format!("expected {expected}, found {}", canon::type_name(found)),
    )
}

fn object<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
    pointer: &str,
) -> Result<&'a Map<String, Value>, ManifestProblem> {
    match obj.get(field) {
        None => Err(missing(field, pointer)),
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(wrong_type(pointer, "an object", other)),
    }
}

/// A required non-empty string of at most `max` bytes; `spaces` allows inner spaces (names and
/// descriptions), never control characters.
fn string(
    obj: &Map<String, Value>,
    field: &str,
    pointer: &str,
    max: usize,
    spaces: bool,
) -> Result<String, ManifestProblem> {
    let s = match obj.get(field) {
        None => return Err(missing(field, pointer)),
        Some(Value::String(s)) => s,
        Some(other) => return Err(wrong_type(pointer, "a string", other)),
    };
    check_text(s, pointer, max, spaces)?;
    Ok(s.clone())
}

fn check_text(s: &str, pointer: &str, max: usize, spaces: bool) -> Result<(), ManifestProblem> {
    let bad = |m: String| {
        Err(ManifestProblem::new(
            AgentCode::ManifestBadValue,
            Some(pointer),
            m,
        ))
    };
    if s.trim().is_empty() {
        return bad("the value is empty".into());
    }
    if s.len() > max {
        return bad(format!(
            "the value is {} bytes long, more than {max}",
            s.len()
        ));
    }
    let forbidden = |c: char| {
        if spaces {
            c.is_control() && c != '\n' && c != '\t'
        } else {
            c.is_control() || c.is_whitespace()
        }
    };
    if s.chars().any(forbidden) {
        return bad(format!(
            "`{}` holds {} characters",
            escape_for_display(s),
            if spaces {
                "control"
            } else {
                "whitespace or control"
            }
        ));
    }
    Ok(())
}

fn optional_string(
    obj: &Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Option<String>, ManifestProblem> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => string(obj, field, &format!("/{field}"), max, false).map(Some),
    }
}

fn string_list(
    obj: &Map<String, Value>,
    field: &str,
    item_max: usize,
) -> Result<Vec<String>, ManifestProblem> {
    let pointer = format!("/{field}");
    let arr = match obj.get(field) {
        None => return Err(missing(field, &pointer)),
        Some(Value::Array(a)) => a,
        Some(other) => return Err(wrong_type(&pointer, "an array of strings", other)),
    };
    if arr.len() > MAX_LIST_ITEMS {
        return Err(ManifestProblem::new(
            AgentCode::ManifestBadValue,
            Some(&pointer),
            format!("{} items, more than {MAX_LIST_ITEMS}", arr.len()),
        ));
    }
    let mut out = Vec::with_capacity(arr.len());
    for (i, v) in arr.iter().enumerate() {
        let p = format!("{pointer}/{i}");
        match v {
            Value::String(s) => {
                if s.is_empty() {
                    return Err(ManifestProblem::new(
                        AgentCode::ManifestBadValue,
                        Some(&p),
                        "the value is empty",
                    ));
                }
                if field != "permissions" && s.len() > item_max {
                    return Err(ManifestProblem::new(
                        AgentCode::ManifestBadValue,
                        Some(&p),
                        format!("the value is {} bytes long, more than {item_max}", s.len()),
                    ));
                }
                out.push(s.clone());
            }
            other => return Err(wrong_type(&p, "a string", other)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the OpenSentience agent manifest standard, in its shape.
    const EXAMPLE: &str = r#"{
  "manifest_version": 1,
  "id": "com.graphonomous.core",
  "name": "Graphonomous Knowledge Agent",
  "version": "1.0.0",
  "description": "Arcana-backed knowledge graph RAG agent",
  "source": { "git_url": "https://github.com/your-org/graphonomous" },
  "entrypoint": { "type": "mix_task", "value": "opensentience.agent" },
  "capabilities": ["tools", "streaming"],
  "permissions": [
    "filesystem:read:~/.opensentience/**",
    "database:rw:graphonomous"
  ]
}"#;

    fn with(edit: impl FnOnce(&mut Map<String, Value>)) -> Result<ParsedManifest, ManifestProblem> {
        let mut m = canon::parse_object(EXAMPLE.as_bytes()).unwrap();
        edit(&mut m);
        parse(serde_json::to_string(&Value::Object(m)).unwrap().as_bytes())
    }

    #[test]
    fn the_standards_example_parses() {
        let p = parse(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(p.manifest.id.as_str(), "com.graphonomous.core");
        assert_eq!(p.manifest.entrypoint.kind, EntrypointType::MixTask);
        assert_eq!(p.manifest.permissions.len(), 2);
        assert_eq!(p.manifest_hash, sha256_bytes(EXAMPLE.as_bytes()));
    }

    #[test]
    fn permissions_hash_ignores_order_and_duplicates_only() {
        let a = with(|m| {
            m["permissions"] = serde_json::json!(["b:x", "a:y:z", "b:x"]);
        })
        .unwrap();
        let b = with(|m| {
            m["permissions"] = serde_json::json!(["a:y:z", "b:x"]);
        })
        .unwrap();
        let c = with(|m| {
            m["permissions"] = serde_json::json!(["a:y:z", "b:x", "c:d"]);
        })
        .unwrap();
        assert_eq!(a.permissions_hash, b.permissions_hash);
        assert_ne!(a.manifest_hash, b.manifest_hash);
        assert_ne!(a.permissions_hash, c.permissions_hash);
        // The documented form: SHA-256 of the canonical sorted array.
        assert_eq!(b.permissions_hash, sha256_bytes(br#"["a:y:z","b:x"]"#));
    }

    #[test]
    fn ids_follow_the_pattern_and_length() {
        for bad in ["../x", "-x", ".x", "a/b", "a b", "", "é"] {
            assert!(AgentId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(AgentId::parse(&"a".repeat(200)).is_ok());
        assert!(AgentId::parse(&"a".repeat(201)).is_err());
        let e = with(|m| m["id"] = "../x".into()).unwrap_err();
        assert_eq!(e.code, AgentCode::ManifestBadId);
        let e = with(|m| m["id"] = "-x".into()).unwrap_err();
        assert_eq!(e.code, AgentCode::ManifestBadId);
    }

    #[test]
    fn permissions_follow_the_grammar() {
        for ok in [
            "filesystem:read:~/notes/**",
            "network:egress:api.example.com",
            "tool:invoke:com.x/search",
            "tool:invoke:*/search",
            "a2a:publish:topic:with:colons",
            "event:subscribe",
        ] {
            assert!(Permission::parse(ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "filesystem",
            "filesystem:",
            ":read",
            "fs:read:",
            "fs:read:a b",
            "fs:read:a\u{7}",
            "fs :read",
        ] {
            assert!(Permission::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("fs:read:{}", "a".repeat(300 - 8));
        assert!(Permission::parse(&long).is_ok());
        assert!(Permission::parse(&format!("{long}a")).is_err());
        let e = with(|m| m["permissions"] = serde_json::json!(["ok:x", "bad"])).unwrap_err();
        assert_eq!(e.code, AgentCode::ManifestBadPermission);
        assert_eq!(e.field.as_deref(), Some("/permissions/1"));
    }

    #[test]
    fn missing_wrong_and_unknown_fields_are_refused() {
        let e = with(|m| {
            m.remove("permissions");
        })
        .unwrap_err();
        assert_eq!(e.code, AgentCode::ManifestMissingField);
        let e = with(|m| m["permissions"] = "x:y".into()).unwrap_err();
        assert_eq!(e.code, AgentCode::ManifestWrongType);
        let e = with(|m| {
            m.insert("extra".into(), 1.into());
        })
        .unwrap_err();
        assert_eq!(e.code, AgentCode::ManifestUnknownField);
        let e = with(|m| {
            m["source"]
                .as_object_mut()
                .unwrap()
                .insert("branch".into(), "x".into());
        })
        .unwrap_err();
        assert_eq!(e.code, AgentCode::ManifestUnknownField);
        let e = with(|m| m["manifest_version"] = 2.into()).unwrap_err();
        assert_eq!(e.code, AgentCode::ManifestUnsupportedVersion);
        let e = with(|m| m["name"] = " ".into()).unwrap_err();
        assert_eq!(e.code, AgentCode::ManifestBadValue);
    }

    #[test]
    fn entrypoints_are_checked_by_type() {
        let e = with(|m| m["entrypoint"]["type"] = "shell".into()).unwrap_err();
        assert_eq!(e.code, AgentCode::ManifestBadEntrypoint);
        for (t, v) in [
            ("command", "../escape"),
            ("command", "/bin/sh"),
            ("command", "run.sh --flag"),
            ("command", "-x"),
            ("mix_task", "a;b"),
        ] {
            let e =
                with(|m| m["entrypoint"] = serde_json::json!({"type": t, "value": v})).unwrap_err();
            assert_eq!(e.code, AgentCode::ManifestBadEntrypoint, "{t} {v}");
        }
        let ok = with(|m| {
            m["entrypoint"] = serde_json::json!({"type": "command", "value": "bin/agent.sh"});
        })
        .unwrap();
        assert_eq!(ok.manifest.entrypoint.binding(), "command:bin/agent.sh");
    }

    #[test]
    fn oversize_and_bad_json_are_refused() {
        let mut big = EXAMPLE.trim_end_matches('}').to_owned();
        big.push_str(",\"tool_summary\":\"");
        big.push_str(&"x".repeat(256_000));
        big.push_str("\"}");
        assert_eq!(
            parse(big.as_bytes()).unwrap_err().code,
            AgentCode::ManifestTooLarge
        );
        for bad in [&b"{"[..], b"[]", b"{\"id\":1,\"id\":2}", b"\xff"] {
            assert_eq!(parse(bad).unwrap_err().code, AgentCode::ManifestInvalidJson);
        }
    }
}
