//! The envelope file: strict parsing into [`RawEnvelope`], validation into [`ValidEnvelope`].
//!
//! All five fields are required (an explicit `[]` says "none"); unknown fields are refused.
//! `allow_ops` entries must be ops of the [`Op`] vocabulary: an unknown op is refused when the
//! envelope is loaded, because silently ignoring a misspelt op is how a policy drifts from
//! what its author meant. Globs follow the dialect in [`super::globs`]. `max_budget_usd` must
//! be a JSON number (not a string, not null), zero or more, exact to nine decimal places.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;
use serde_json::Value;

use super::EnvelopeError;
use super::globs::{ExactGlobs, FuzzyGlobs, GlobRefusal};
use super::locate;
use super::usd::Usd;
use crate::fsutil;
use crate::report::escape_for_display;

/// The operation vocabulary (the command line maps its own `--op` values onto it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// Read a file's content.
    Read,
    /// List a folder or read metadata.
    List,
    /// Run a program.
    Exec,
    /// Change an existing file's content.
    Write,
    /// Create a file or folder.
    Create,
    /// Remove a file or folder (recursively: everything inside is judged too).
    Delete,
    /// Move a file or folder (every given path — source and destination — is judged, and
    /// everything inside a moved folder).
    Rename,
    /// Change permission bits or ownership.
    Chmod,
}

impl Op {
    /// The whole vocabulary, in documentation order.
    pub const ALL: [Self; 8] = [
        Self::Read,
        Self::List,
        Self::Exec,
        Self::Write,
        Self::Create,
        Self::Delete,
        Self::Rename,
        Self::Chmod,
    ];

    /// The op's name in envelopes and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::List => "list",
            Self::Exec => "exec",
            Self::Write => "write",
            Self::Create => "create",
            Self::Delete => "delete",
            Self::Rename => "rename",
            Self::Chmod => "chmod",
        }
    }

    /// `true` for ops that change the file system: protected paths refuse these.
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Self::Write | Self::Create | Self::Delete | Self::Rename | Self::Chmod
        )
    }

    /// `true` for ops that act on a folder's whole content (`delete`, `rename`).
    pub fn is_recursive(self) -> bool {
        matches!(self, Self::Delete | Self::Rename)
    }

    fn vocabulary() -> String {
        Self::ALL
            .iter()
            .map(|o| format!("`{}`", o.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Op {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown op `{}`\nhelp: the ops are {}",
                    escape_for_display(s),
                    Self::vocabulary()
                )
            })
    }
}

/// The envelope exactly as written: the shape only, nothing validated yet.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnvelope {
    /// Ops the envelope allows.
    pub allow_ops: Vec<String>,
    /// Globs a path must match (at least one).
    pub allow_paths: Vec<String>,
    /// Globs a path must not match (deny wins over allow).
    pub deny_paths: Vec<String>,
    /// Globs no mutating op may touch.
    pub protected_paths: Vec<String>,
    /// The spending limit; kept as a raw JSON value so its exact text can be checked.
    pub max_budget_usd: Value,
}

/// Why a raw envelope is refused: the field, the array element and (for a glob) the glob.
/// [`Refusal::locate`] turns it into an [`EnvelopeError`] pointing into the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The envelope file.
    pub path: PathBuf,
    /// The field at fault.
    pub field: &'static str,
    /// The element of the field's array, when one is at fault.
    pub index: Option<usize>,
    /// The glob (escaped for display), for a bad glob.
    pub glob: Option<String>,
    /// Why (may carry a `help:` line).
    pub reason: String,
}

impl Refusal {
    /// The error, with the line and column of the offending value in `bytes` (the envelope's
    /// text).
    pub fn locate(self, bytes: &[u8]) -> EnvelopeError {
        let at = locate::value_at(bytes, self.field, self.index);
        match self.glob {
            Some(glob) => EnvelopeError::Glob {
                path: self.path,
                field: self.field,
                at,
                glob,
                reason: self.reason,
            },
            None => EnvelopeError::Field {
                path: self.path,
                field: self.field,
                at,
                reason: self.reason,
            },
        }
    }
}

/// A validated envelope: known ops, compiled globs, an exact non-negative budget.
#[derive(Debug, Clone)]
pub struct ValidEnvelope {
    pub(crate) allow_ops: BTreeSet<Op>,
    pub(crate) allow: ExactGlobs,
    pub(crate) deny: FuzzyGlobs,
    pub(crate) protected: FuzzyGlobs,
    pub(crate) max_budget: Usd,
    source: PathBuf,
}

impl ValidEnvelope {
    /// Read and validate the envelope file at `path`.
    pub fn load(path: &Path) -> Result<Self, EnvelopeError> {
        let bytes = fsutil::read(path)?;
        Self::parse(&bytes, path)
    }

    /// Validate envelope bytes; `source` names the file in errors and is remembered as the
    /// envelope's own location (always protected). Every error about the content points at
    /// the line and column of the offending value.
    pub fn parse(bytes: &[u8], source: &Path) -> Result<Self, EnvelopeError> {
        let raw: RawEnvelope = serde_json::from_slice(bytes).map_err(|e| {
            let text = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let at = (e.line() > 0).then(|| (e.line() as u64, e.column() as u64));
            EnvelopeError::Parse {
                path: source.to_path_buf(),
                at,
                reason: text.strip_suffix(&suffix).unwrap_or(&text).to_owned(),
            }
        })?;
        Self::validate(raw, source).map_err(|e| e.locate(bytes))
    }

    /// Turn a raw envelope into a valid one, or name the field (and the element) at fault.
    pub fn validate(raw: RawEnvelope, source: &Path) -> Result<Self, Refusal> {
        let field = |field: &'static str, index: Option<usize>, reason: String| Refusal {
            path: source.to_path_buf(),
            field,
            index,
            glob: None,
            reason,
        };
        let mut allow_ops = BTreeSet::new();
        for (i, op) in raw.allow_ops.iter().enumerate() {
            allow_ops.insert(
                op.parse::<Op>()
                    .map_err(|reason| field("allow_ops", Some(i), reason))?,
            );
        }
        let glob_err = |field: &'static str| {
            move |(index, glob, reason): GlobRefusal| Refusal {
                path: source.to_path_buf(),
                field,
                index: Some(index),
                glob: Some(escape_for_display(&glob)),
                reason,
            }
        };
        let allow = ExactGlobs::new(raw.allow_paths).map_err(glob_err("allow_paths"))?;
        let deny = FuzzyGlobs::new(raw.deny_paths).map_err(glob_err("deny_paths"))?;
        let protected =
            FuzzyGlobs::new(raw.protected_paths).map_err(glob_err("protected_paths"))?;
        let max_budget = Usd::from_json(&raw.max_budget_usd)
            .map_err(|reason| field("max_budget_usd", None, reason))?;
        if max_budget.is_negative() {
            return Err(field(
                "max_budget_usd",
                None,
                format!("negative budget `{max_budget}`\nhelp: use `0` to allow no spending"),
            ));
        }
        Ok(Self {
            allow_ops,
            allow,
            deny,
            protected,
            max_budget,
            source: source.to_path_buf(),
        })
    }

    /// Where the envelope was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The spending limit.
    pub fn max_budget(&self) -> Usd {
        self.max_budget
    }

    /// `true` when `op` is listed in `allow_ops`.
    pub fn allows_op(&self, op: Op) -> bool {
        self.allow_ops.contains(&op)
    }

    /// The protected globs as written.
    pub fn protected_globs(&self) -> &[String] {
        self.protected.patterns()
    }

    /// The allow globs as written.
    pub fn allow_globs(&self) -> &[String] {
        self.allow.patterns()
    }

    /// The deny globs as written.
    pub fn deny_globs(&self) -> &[String] {
        self.deny.patterns()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<ValidEnvelope, EnvelopeError> {
        ValidEnvelope::parse(json.as_bytes(), Path::new("env.json"))
    }

    const GOOD: &str = r#"{"allow_ops": ["read", "write"], "allow_paths": ["src/**"],
        "deny_paths": ["src/secret/**"], "protected_paths": ["ci/**"], "max_budget_usd": 1.25}"#;

    #[test]
    fn a_good_envelope_validates() {
        let env = parse(GOOD).unwrap();
        assert!(env.allows_op(Op::Read) && env.allows_op(Op::Write));
        assert!(!env.allows_op(Op::Delete));
        assert_eq!(env.max_budget().to_string(), "1.25");
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let json = GOOD.replace(
            "\"max_budget_usd\"",
            "\"max_budjet_usd\": 1, \"max_budget_usd\"",
        );
        let err = parse(&json).unwrap_err().to_string();
        assert!(err.contains("unknown field `max_budjet_usd`"), "{err}");
    }

    #[test]
    fn missing_fields_are_refused_by_name() {
        let err = parse(
            r#"{"allow_ops": [], "allow_paths": [], "deny_paths": [], "protected_paths": []}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("missing field `max_budget_usd`"), "{err}");
    }

    #[test]
    fn unknown_ops_are_refused() {
        let err = parse(&GOOD.replace("\"write\"", "\"wrte\""))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("field `allow_ops`: unknown op `wrte`"),
            "{err}"
        );
        assert!(err.contains("help: the ops are `read`"), "{err}");
    }

    #[test]
    fn bad_budgets_are_refused() {
        for (budget, why) in [
            ("-1", "negative budget `-1`"),
            ("null", "is null"),
            ("\"\"", "is the string ``"),
            ("\"5\"", "is the string `5`"),
            ("0.0000000001", "more than 9 decimal places"),
            ("[]", "is an array"),
        ] {
            let err = parse(&GOOD.replace("1.25", budget))
                .unwrap_err()
                .to_string();
            assert!(err.contains("field `max_budget_usd`"), "{budget}: {err}");
            assert!(err.contains(why), "{budget}: {err}");
        }
        assert_eq!(
            parse(&GOOD.replace("1.25", "0")).unwrap().max_budget(),
            Usd::ZERO
        );
    }

    #[test]
    fn bad_globs_name_field_and_glob() {
        let err = parse(&GOOD.replace("src/secret/**", "src/[oops"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("field `deny_paths`: bad glob `src/[oops`"),
            "{err}"
        );
        let err = parse(&GOOD.replace("ci/**", "/abs/**"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("field `protected_paths`: bad glob `/abs/**`"),
            "{err}"
        );
    }

    #[test]
    fn errors_point_at_the_offending_value() {
        let text = "{\"allow_ops\": [\"read\",\n  \"chown\"], \"allow_paths\": [],\n \"deny_paths\": [\"a\", \"b/[x\"], \"protected_paths\": [], \"max_budget_usd\": -2}";
        let err = parse(text).unwrap_err();
        assert!(
            err.to_string()
                .contains("at line 2, column 3: field `allow_ops`: unknown op `chown`"),
            "{err}"
        );
        let loc = err.location().unwrap();
        assert_eq!(
            (loc.line, loc.column, loc.field.as_deref()),
            (Some(2), Some(3), Some("/allow_ops"))
        );
        let err = parse(&text.replace("chown", "write"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("at line 3, column 22: field `deny_paths`: bad glob `b/[x`"),
            "{err}"
        );
        let err = parse(&text.replace("chown", "write").replace("b/[x", "b"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("at line 3, column 69: field `max_budget_usd`: negative"),
            "{err}"
        );
        let err = parse("{\n\n  \"allow_opz\": []}").unwrap_err().to_string();
        assert!(
            err.contains("at line 3, column 13: unknown field `allow_opz`"),
            "{err}"
        );
        assert!(!err.contains("column 13 at line"), "{err}");
    }

    #[test]
    fn op_vocabulary_and_mutation() {
        let mutating: Vec<&str> = Op::ALL
            .iter()
            .filter(|o| o.is_mutating())
            .map(|o| o.as_str())
            .collect();
        assert_eq!(mutating, ["write", "create", "delete", "rename", "chmod"]);
        assert_eq!("chmod".parse::<Op>().unwrap(), Op::Chmod);
        assert!("READ".parse::<Op>().is_err(), "ops are case-sensitive");
    }
}
