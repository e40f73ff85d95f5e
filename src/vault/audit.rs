//! The append-only audit log: rows, their MAC chain, the head anchor, verification.
//!
//! Row MAC: `mac = HMAC-SHA256(audit key, bytes(prev_mac) ‖ canonical(row without mac))`,
//! where `bytes(prev_mac)` is the 32 raw bytes of the previous row's MAC (32 zero bytes for row
//! 1) and `canonical` is the journal's canonical JSON ([`crate::canon`]: Python's `json.dumps(
//! obj, sort_keys=True, separators=(",", ":"))`). `docs/audit.md` specifies it byte by byte.
//!
//! Head anchor: `audit.head` beside the database holds `{v, seq, mac, cookie, anchor_mac}` of the
//! last committed row and the schema cookie, MAC'd with the audit key; it is rewritten (temp
//! file + fsync + rename) after every audited commit while the writers' lock is held. Boot
//! checks the anchor against the database in O(1): a restored older database or a cut tail
//! has fewer rows than the anchor; DDL outside vaultgate (dropping the append-only triggers to
//! edit, delete, reorder or insert rows) changes the cookie. `audit verify` walks the chain.
//!
//! Metadata is built from typed, allowlisted fields ([`Metadata`]): keys are `&'static str`
//! chosen by vaultgate's code (never taken from a request), values are strings, integers,
//! booleans or string lists; there is no conversion from any secret type.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::codes::VaultCode;
use super::crypto::{self, MacKey};
use super::store::{AuditHead, AuditRow, SchemaState};
use crate::canon;
use crate::fsutil::{self, FsError};
use crate::report::{Finding, Location};

/// `prev_mac` of row 1.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Key names that may never appear in metadata (a guard against a careless field name).
const FORBIDDEN_KEY_PARTS: &[&str] = &["secret", "password", "material", "plaintext", "token_text"];

/// How serious an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Normal operation.
    Info,
    /// A refusal or something an operator should look at.
    Warning,
    /// A security-relevant refusal or a tamper signal.
    Critical,
}

impl Severity {
    /// `info`, `warning`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// One allowlisted metadata value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaValue {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A list of strings.
    List(Vec<String>),
    /// Absent / not applicable.
    Null,
}

/// Secret-free, typed event metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(BTreeMap<&'static str, MetaValue>);

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }
    /// Add a string field.
    #[must_use]
    pub fn str(mut self, key: &'static str, v: impl Into<String>) -> Self {
        self.0.insert(key, MetaValue::Str(v.into()));
        self
    }
    /// Add an optional string field (`null` when absent).
    #[must_use]
    pub fn opt_str(mut self, key: &'static str, v: Option<impl Into<String>>) -> Self {
        self.0
            .insert(key, v.map_or(MetaValue::Null, |s| MetaValue::Str(s.into())));
        self
    }
    /// Add an optional integer field (`null` when absent).
    #[must_use]
    pub fn opt_int(mut self, key: &'static str, v: Option<i64>) -> Self {
        self.0
            .insert(key, v.map_or(MetaValue::Null, MetaValue::Int));
        self
    }
    /// Add an integer field.
    #[must_use]
    pub fn int(mut self, key: &'static str, v: i64) -> Self {
        self.0.insert(key, MetaValue::Int(v));
        self
    }
    /// Add a boolean field.
    #[must_use]
    pub fn bool(mut self, key: &'static str, v: bool) -> Self {
        self.0.insert(key, MetaValue::Bool(v));
        self
    }
    /// Add a list of strings.
    #[must_use]
    pub fn list(
        mut self,
        key: &'static str,
        v: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.0.insert(
            key,
            MetaValue::List(v.into_iter().map(Into::into).collect()),
        );
        self
    }
    /// Merge another metadata's fields (later wins).
    #[must_use]
    pub fn merge(mut self, other: Metadata) -> Self {
        self.0.extend(other.0);
        self
    }

    /// The canonical JSON text, after checking every key's shape and the forbidden names.
    pub fn to_canonical(&self) -> Result<String, String> {
        let mut m = serde_json::Map::new();
        for (k, v) in &self.0 {
            let ok_shape = !k.is_empty()
                && k.bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'));
            if !ok_shape || FORBIDDEN_KEY_PARTS.iter().any(|f| k.contains(f)) {
                return Err(format!(
                    "metadata key `{k}` is not allowed (lowercase, `_`, never a secret's name); this is a bug in vaultgate"
                ));
            }
            let jv = match v {
                MetaValue::Str(s) => Value::String(s.clone()),
                MetaValue::Int(i) => Value::from(*i),
                MetaValue::Bool(b) => Value::Bool(*b),
                MetaValue::List(l) => Value::Array(l.iter().cloned().map(Value::String).collect()),
                MetaValue::Null => Value::Null,
            };
            m.insert((*k).to_owned(), jv);
        }
        let mut out = Vec::new();
        canon::write_object(&m, &mut out).map_err(|e| e.to_string())?;
        String::from_utf8(out).map_err(|e| e.to_string())
    }
}

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `token`, `system`, `anonymous`, `unverified-token`.
    pub actor_type: &'static str,
    /// The accessor, `vaultgate`, or `-`.
    pub actor_id: String,
}

impl Actor {
    /// vaultgate itself (init, migrations, boot repairs).
    pub fn system() -> Self {
        Self {
            actor_type: "system",
            actor_id: "vaultgate".into(),
        }
    }
    /// An authenticated token.
    pub fn token(accessor: &str) -> Self {
        Self {
            actor_type: "token",
            actor_id: accessor.to_owned(),
        }
    }
}

/// An event to append (the transaction fills `seq`, `event_id`, `at`, the MACs).
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// `token.created`, `LEASE_ISSUED`, …: `[A-Za-z][A-Za-z0-9_.]*`.
    pub event_type: String,
    /// Who.
    pub actor: Actor,
    /// About what.
    pub subject_type: Option<String>,
    /// Its id.
    pub subject_id: Option<String>,
    /// The event that caused this one, if any.
    pub causation_id: Option<String>,
    /// How serious.
    pub severity: Severity,
    /// Allowlisted fields.
    pub metadata: Metadata,
}

impl NewEvent {
    /// An info event with no subject and no metadata.
    pub fn new(event_type: impl Into<String>, actor: Actor) -> Self {
        Self {
            event_type: event_type.into(),
            actor,
            subject_type: None,
            subject_id: None,
            causation_id: None,
            severity: Severity::Info,
            metadata: Metadata::new(),
        }
    }
    /// Set the subject.
    #[must_use]
    pub fn subject(mut self, kind: impl Into<String>, id: impl Into<String>) -> Self {
        self.subject_type = Some(kind.into());
        self.subject_id = Some(id.into());
        self
    }
    /// Set the metadata.
    #[must_use]
    pub fn meta(mut self, m: Metadata) -> Self {
        self.metadata = m;
        self
    }
    /// Set the severity.
    #[must_use]
    pub fn severity(mut self, s: Severity) -> Self {
        self.severity = s;
        self
    }
    /// Set the causing event.
    #[must_use]
    pub fn caused_by(mut self, event_id: impl Into<String>) -> Self {
        self.causation_id = Some(event_id.into());
        self
    }
}

/// Is this a valid event type name?
pub fn valid_event_type(s: &str) -> bool {
    s.len() <= 64
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn opt(v: Option<&String>, out: &mut Vec<u8>) {
    match v {
        Some(s) => canon::write_str(s, out),
        None => out.extend_from_slice(b"null"),
    }
}

/// The canonical bytes of a row without its `mac` (keys in code point order). `metadata` is
/// spliced as stored: it was written canonical, and any change to it breaks the MAC.
pub fn canonical_bytes(row: &AuditRow, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"actor_id\":");
    canon::write_str(&row.actor_id, out);
    out.extend_from_slice(b",\"actor_type\":");
    canon::write_str(&row.actor_type, out);
    out.extend_from_slice(b",\"at\":");
    canon::write_str(&row.at, out);
    out.extend_from_slice(b",\"causation_id\":");
    opt(row.causation_id.as_ref(), out);
    out.extend_from_slice(b",\"correlation_id\":");
    opt(row.correlation_id.as_ref(), out);
    out.extend_from_slice(b",\"event_id\":");
    canon::write_str(&row.event_id, out);
    out.extend_from_slice(b",\"event_type\":");
    canon::write_str(&row.event_type, out);
    out.extend_from_slice(b",\"metadata\":");
    out.extend_from_slice(row.metadata.as_bytes());
    out.extend_from_slice(b",\"prev_mac\":");
    canon::write_str(&row.prev_mac, out);
    out.extend_from_slice(b",\"seq\":");
    out.extend_from_slice(row.seq.to_string().as_bytes());
    out.extend_from_slice(b",\"severity\":");
    canon::write_str(&row.severity, out);
    out.extend_from_slice(b",\"subject_id\":");
    opt(row.subject_id.as_ref(), out);
    out.extend_from_slice(b",\"subject_type\":");
    opt(row.subject_type.as_ref(), out);
    out.push(b'}');
}

fn decode_mac(hex_mac: &str) -> Option<[u8; 32]> {
    if hex_mac.len() != 64
        || !hex_mac
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_mac, &mut out).ok()?;
    Some(out)
}

/// The MAC a row must carry (`None` when `prev_mac` is not 64 lowercase hex).
pub fn compute_mac(key: &MacKey, row: &AuditRow, scratch: &mut Vec<u8>) -> Option<String> {
    let prev = decode_mac(&row.prev_mac)?;
    scratch.clear();
    canonical_bytes(row, scratch);
    Some(hex::encode(crypto::hmac(key.expose(), &[&prev, scratch])))
}

/// Does the row's MAC match its contents?
pub fn row_mac_ok(key: &MacKey, row: &AuditRow, scratch: &mut Vec<u8>) -> bool {
    let (Some(prev), Some(tag)) = (decode_mac(&row.prev_mac), decode_mac(&row.mac)) else {
        return false;
    };
    scratch.clear();
    canonical_bytes(row, scratch);
    crypto::hmac_verify(key.expose(), &[&prev, scratch], &tag)
}

/// The head anchor (`audit.head`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Last committed row (0 on an empty log).
    pub seq: u64,
    /// Its MAC ([`GENESIS`] on an empty log).
    pub mac: String,
    /// The schema cookie after that commit.
    pub cookie: i64,
}

fn anchor_body(a: &Anchor) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"cookie\":");
    out.extend_from_slice(a.cookie.to_string().as_bytes());
    out.extend_from_slice(b",\"mac\":");
    canon::write_str(&a.mac, &mut out);
    out.extend_from_slice(b",\"seq\":");
    out.extend_from_slice(a.seq.to_string().as_bytes());
    out.extend_from_slice(b",\"v\":1}");
    out
}

fn anchor_mac(key: &MacKey, a: &Anchor) -> [u8; 32] {
    crypto::hmac(
        key.expose(),
        &[b"vaultgate/audit-anchor/v1\n", &anchor_body(a)],
    )
}

/// Write the anchor atomically: a private temp file in the home, `fdatasync`, rename over
/// `audit.head`.
///
/// The folder is deliberately not fsynced after the rename: if power fails before the rename
/// reaches the disk, the old anchor reappears, one or more rows *behind* the database, which
/// boot accepts after checking that the newer rows chain to it. What can never happen is an
/// anchor ahead of the database (it is written after the commit) or a torn one (the data is
/// on disk before the rename). This keeps one fsync per audited write instead of two.
pub fn write_anchor(path: &Path, key: &MacKey, a: &Anchor) -> Result<(), FsError> {
    use std::io::Write as _;
    let mut line = Vec::new();
    line.extend_from_slice(b"{\"anchor_mac\":");
    canon::write_str(&hex::encode(anchor_mac(key, a)), &mut line);
    line.push(b',');
    line.extend_from_slice(&anchor_body(a)[1..]);
    line.push(b'\n');
    let dir = fsutil::parent_dir(path);
    let tmp = tempfile::Builder::new()
        .prefix(".audit.head.")
        .tempfile_in(dir)
        .map_err(|e| FsError::new("create a temporary file in", dir, e))?;
    tmp.as_file()
        .write_all(&line)
        .map_err(|e| FsError::new("write", tmp.path(), e))?;
    tmp.as_file()
        .sync_data()
        .map_err(|e| FsError::new("fsync", tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| FsError::new("rename into place", path, e.error))?;
    Ok(())
}

/// A problem found checking the log or its anchor, as the one shared finding type: the code,
/// `audit row N` (or `audit.head`) as subject, and the row's seq as `location.entry_index`.
pub fn audit_finding(code: VaultCode, seq: Option<u64>, message: impl Into<String>) -> Finding {
    audit_finding_inner(code, seq, message.into())
}

/// [`audit_finding`], boxed, as the error of the anchor and head checks (a finding is large).
fn boxed(code: VaultCode, seq: Option<u64>, message: impl Into<String>) -> Box<Finding> {
    Box::new(audit_finding_inner(code, seq, message.into()))
}

fn audit_finding_inner(code: VaultCode, seq: Option<u64>, message: String) -> Finding {
    let subject = seq.map_or_else(|| "audit.head".to_owned(), |s| format!("audit row {s}"));
    Finding::error(code, subject, message).at(Location {
        entry_index: seq,
        ..Location::default()
    })
}

/// Read and authenticate the anchor.
pub fn read_anchor(path: &Path, key: &MacKey) -> Result<Anchor, Box<Finding>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(boxed(
                VaultCode::AuditAnchorMissing,
                None,
                format!("the audit head anchor `{}` is missing", path.display()),
            ));
        }
        Err(e) => {
            return Err(boxed(
                VaultCode::AuditAnchorInvalid,
                None,
                format!("cannot read `{}`: {e}", path.display()),
            ));
        }
    };
    let bad = |why: &str| {
        boxed(
            VaultCode::AuditAnchorInvalid,
            None,
            format!("the audit head anchor `{}` {why}", path.display()),
        )
    };
    let text = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let v = canon::parse_object(text).map_err(|_| bad("is not a JSON object"))?;
    let get_str = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let a = Anchor {
        seq: v
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("has no valid `seq`"))?,
        mac: get_str("mac").ok_or_else(|| bad("has no valid `mac`"))?,
        cookie: v
            .get("cookie")
            .and_then(Value::as_i64)
            .ok_or_else(|| bad("has no valid `cookie`"))?,
    };
    if v.len() != 5 || v.get("v").and_then(Value::as_u64) != Some(1) {
        return Err(bad("has unexpected fields or version"));
    }
    let tag = get_str("anchor_mac")
        .and_then(|t| decode_mac(&t))
        .ok_or_else(|| bad("has no valid `anchor_mac`"))?;
    if !crypto::hmac_verify(
        key.expose(),
        &[b"vaultgate/audit-anchor/v1\n", &anchor_body(&a)],
        &tag,
    ) {
        return Err(bad("does not verify (edited, or from another vault)"));
    }
    Ok(a)
}

/// Boot step 4, O(1) in the log's length: the anchor against the database's head.
///
/// `get` fetches one row by sequence number; `head` is the database's last row; rows between
/// the anchor and the head (a crash after commit, before the anchor was rewritten) are checked
/// link by link.
pub fn check_head(
    key: &MacKey,
    anchor: &Anchor,
    head: Option<&AuditHead>,
    schema: &SchemaState,
    get: &mut dyn FnMut(u64) -> Result<Option<AuditRow>, String>,
) -> Result<(), Box<Finding>> {
    if schema.cookie != anchor.cookie {
        return Err(boxed(
            VaultCode::AuditSchemaChanged,
            None,
            format!(
                "the database schema changed outside vaultgate since the last audited write (schema cookie {} , anchor recorded {}); triggers or tables were altered",
                schema.cookie, anchor.cookie
            ),
        ));
    }
    let head_seq = head.map_or(0, |h| h.seq);
    if head_seq < anchor.seq {
        return Err(boxed(
            VaultCode::AuditTruncated,
            None,
            format!(
                "the database holds {head_seq} audit rows but the anchor recorded {}: the tail was cut or an older copy of the database was restored",
                anchor.seq
            ),
        ));
    }
    let mut scratch = Vec::with_capacity(512);
    let mut prev_mac = anchor.mac.clone();
    if anchor.seq > 0 {
        let row = get(anchor.seq)
            .map_err(|e| boxed(VaultCode::AuditHeadMismatch, Some(anchor.seq), e))?
            .ok_or_else(|| {
                boxed(
                    VaultCode::AuditTruncated,
                    Some(anchor.seq),
                    format!("the anchored row {} is missing", anchor.seq),
                )
            })?;
        if row.mac != anchor.mac {
            return Err(boxed(
                VaultCode::AuditHeadMismatch,
                Some(anchor.seq),
                format!(
                    "row {} has another MAC than the anchor recorded",
                    anchor.seq
                ),
            ));
        }
        if !row_mac_ok(key, &row, &mut scratch) {
            return Err(boxed(
                VaultCode::AuditMacMismatch,
                Some(anchor.seq),
                format!("row {} does not match its MAC (edited)", anchor.seq),
            ));
        }
    }
    for seq in anchor.seq + 1..=head_seq {
        let row = get(seq)
            .map_err(|e| boxed(VaultCode::AuditChainBroken, Some(seq), e))?
            .ok_or_else(|| {
                boxed(
                    VaultCode::AuditSeqGap,
                    Some(seq),
                    format!("row {seq} is missing"),
                )
            })?;
        if row.prev_mac != prev_mac {
            return Err(boxed(
                VaultCode::AuditChainBroken,
                Some(seq),
                format!("row {seq} does not chain to row {}", seq - 1),
            ));
        }
        if !row_mac_ok(key, &row, &mut scratch) {
            return Err(boxed(
                VaultCode::AuditMacMismatch,
                Some(seq),
                format!("row {seq} does not match its MAC"),
            ));
        }
        prev_mac = row.mac;
    }
    Ok(())
}

/// Walks the whole chain, row by row (`audit verify`, export re-verification).
#[derive(Debug)]
pub struct ChainVerifier {
    keyed: crypto::KeyedHmac,
    expected_seq: u64,
    prev_mac: String,
    scratch: Vec<u8>,
    /// Rows seen.
    pub rows: u64,
    /// The first issues (at most [`ChainVerifier::KEEP`]).
    pub issues: Vec<Finding>,
    /// Issues in all.
    pub issue_total: u64,
}

impl ChainVerifier {
    /// Issues kept in the report.
    pub const KEEP: usize = 50;

    /// Start at row 1.
    pub fn new(key: &MacKey) -> Self {
        Self {
            keyed: crypto::KeyedHmac::new(key.expose()),
            expected_seq: 1,
            prev_mac: GENESIS.to_owned(),
            scratch: Vec::with_capacity(1024),
            rows: 0,
            issues: Vec::new(),
            issue_total: 0,
        }
    }

    fn issue(&mut self, code: VaultCode, seq: u64, message: String) {
        self.issue_total += 1;
        if self.issues.len() < Self::KEEP {
            self.issues.push(audit_finding(code, Some(seq), message));
        }
    }

    /// Check the next row.
    pub fn push(&mut self, row: &AuditRow) {
        self.rows += 1;
        if row.seq != self.expected_seq {
            self.issue(
                VaultCode::AuditSeqGap,
                row.seq,
                format!("expected row {}, found row {}", self.expected_seq, row.seq),
            );
        }
        if decode_mac(&row.mac).is_none()
            || decode_mac(&row.prev_mac).is_none()
            || !row.metadata.starts_with('{')
            || !row.metadata.ends_with('}')
        {
            self.issue(
                VaultCode::AuditRowInvalid,
                row.seq,
                format!("row {} has a malformed MAC or metadata", row.seq),
            );
        } else if row.prev_mac != self.prev_mac {
            self.issue(
                VaultCode::AuditChainBroken,
                row.seq,
                format!(
                    "row {}'s prev_mac is not the MAC of the row before it (a row was removed, reordered or inserted)",
                    row.seq
                ),
            );
        }
        let mac_ok = match (decode_mac(&row.prev_mac), decode_mac(&row.mac)) {
            (Some(prev), Some(tag)) => {
                self.scratch.clear();
                canonical_bytes(row, &mut self.scratch);
                self.keyed.verify(&[&prev, &self.scratch], &tag)
            }
            _ => false,
        };
        if !mac_ok {
            self.issue(
                VaultCode::AuditMacMismatch,
                row.seq,
                format!(
                    "row {} does not match its MAC (edited, or not written by this vault)",
                    row.seq
                ),
            );
        }
        self.expected_seq = row.seq + 1;
        self.prev_mac.clone_from(&row.mac);
    }

    /// The last row's `(seq, mac)` seen.
    pub fn head(&self) -> (u64, &str) {
        (self.expected_seq - 1, &self.prev_mac)
    }

    /// Compare the end of the walk with the anchor.
    pub fn finish_against(&mut self, anchor: &Anchor) {
        let (seq, mac) = (self.expected_seq - 1, self.prev_mac.clone());
        if seq < anchor.seq {
            self.issue_total += 1;
            self.issues.push(audit_finding(
                VaultCode::AuditTruncated,
                None,
                format!(
                    "the log ends at row {seq} but the anchor recorded row {}",
                    anchor.seq
                ),
            ));
        } else if seq == anchor.seq && mac != anchor.mac {
            self.issue_total += 1;
            self.issues.push(audit_finding(
                VaultCode::AuditHeadMismatch,
                Some(seq),
                "the last row's MAC differs from the anchor's".to_owned(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::FindingCode as _;

    fn row(seq: u64, prev: &str, key: &MacKey) -> AuditRow {
        let mut r = AuditRow {
            seq,
            event_id: format!("e{seq}"),
            at: "2026-01-01T00:00:00Z".into(),
            event_type: "test.event".into(),
            actor_type: "system".into(),
            actor_id: "vaultgate".into(),
            subject_type: None,
            subject_id: Some("é\n".into()),
            correlation_id: None,
            causation_id: None,
            severity: "info".into(),
            metadata: Metadata::new().int("n", 1).to_canonical().unwrap(),
            prev_mac: prev.into(),
            mac: String::new(),
        };
        r.mac = compute_mac(key, &r, &mut Vec::new()).unwrap();
        r
    }

    #[test]
    fn canonical_bytes_match_the_canon_module() {
        let key = MacKey::generate().unwrap();
        let r = row(1, GENESIS, &key);
        let mut ours = Vec::new();
        canonical_bytes(&r, &mut ours);
        let v: Value = serde_json::json!({
            "actor_id": r.actor_id, "actor_type": r.actor_type, "at": r.at,
            "causation_id": null, "correlation_id": null, "event_id": r.event_id,
            "event_type": r.event_type, "metadata": {"n": 1}, "prev_mac": r.prev_mac,
            "seq": 1, "severity": "info", "subject_id": "é\n", "subject_type": null,
        });
        assert_eq!(ours, canon::to_bytes(&v).unwrap());
    }

    #[test]
    fn the_verifier_catches_edits_gaps_and_reorders() {
        let key = MacKey::generate().unwrap();
        let r1 = row(1, GENESIS, &key);
        let r2 = row(2, &r1.mac, &key);
        let r3 = row(3, &r2.mac, &key);
        let mut v = ChainVerifier::new(&key);
        for r in [&r1, &r2, &r3] {
            v.push(r);
        }
        assert_eq!(v.issue_total, 0);

        let mut edited = r2.clone();
        edited.at = "2026-01-01T00:00:01Z".into();
        let mut v = ChainVerifier::new(&key);
        for r in [&r1, &edited, &r3] {
            v.push(r);
        }
        assert_eq!(v.issues[0].code, VaultCode::AuditMacMismatch.as_str());

        let mut v = ChainVerifier::new(&key);
        for r in [&r1, &r3] {
            v.push(r);
        }
        assert!(
            v.issues
                .iter()
                .any(|i| i.code == VaultCode::AuditSeqGap.as_str())
        );
        assert!(
            v.issues
                .iter()
                .any(|i| i.code == VaultCode::AuditChainBroken.as_str())
        );
    }

    #[test]
    fn metadata_refuses_secret_like_keys() {
        assert!(Metadata::new().str("secret", "x").to_canonical().is_err());
        assert!(Metadata::new().str("Bad-Key", "x").to_canonical().is_err());
        assert_eq!(
            Metadata::new()
                .str("b", "x")
                .int("a", 2)
                .list("c", ["y"])
                .to_canonical()
                .unwrap(),
            r#"{"a":2,"b":"x","c":["y"]}"#
        );
    }

    #[test]
    fn anchor_round_trips_and_detects_edits() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.head");
        let key = MacKey::generate().unwrap();
        let a = Anchor {
            seq: 3,
            mac: GENESIS.into(),
            cookie: 7,
        };
        write_anchor(&p, &key, &a).unwrap();
        assert_eq!(read_anchor(&p, &key).unwrap(), a);
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("\"seq\":3", "\"seq\":2");
        std::fs::write(&p, text).unwrap();
        assert_eq!(
            read_anchor(&p, &key).unwrap_err().code,
            VaultCode::AuditAnchorInvalid.as_str()
        );
    }
}
