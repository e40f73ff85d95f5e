//! Reading the audit log: `audit tail`, `audit verify` (the whole chain against the anchor),
//! `audit export --jsonl` (self-describing, re-verifiable offline given the audit key), and the
//! offline verification of such an export.

use std::io::{BufRead, Write};

use serde_json::{Map, Value, json};

use super::act::{Act, ActFailure, Caller};
use super::audit::{self, ChainVerifier, audit_finding};
use super::codes::VaultCode;
use super::crypto::MacKey;
use super::store::{AuditFilter, AuditRow, TxMode};
use super::{Vault, VaultError, meta};
use crate::report::Finding;

/// The first line's `schema` of an export.
pub const EXPORT_SCHEMA: &str = "vaultgate/audit-export/v1";

/// The outcome of walking the chain.
#[derive(Debug, Clone)]
pub struct VerifyOutcome {
    /// Rows walked.
    pub rows: u64,
    /// The last row's seq.
    pub head_seq: u64,
    /// The last row's MAC.
    pub head_mac: String,
    /// The anchor's seq, when one was compared.
    pub anchor_seq: Option<u64>,
    /// Problems (the first [`ChainVerifier::KEEP`]).
    pub issues: Vec<Finding>,
    /// Problems in all.
    pub issue_total: u64,
    /// Seconds the walk took.
    pub seconds: f64,
}

/// An audit row as a JSON object (with its MAC), metadata parsed.
pub fn row_json(r: &AuditRow) -> Value {
    let metadata =
        crate::canon::parse(r.metadata.as_bytes()).unwrap_or(Value::String(r.metadata.clone()));
    json!({
        "seq": r.seq, "event_id": r.event_id, "at": r.at, "event_type": r.event_type,
        "actor_type": r.actor_type, "actor_id": r.actor_id, "subject_type": r.subject_type,
        "subject_id": r.subject_id, "correlation_id": r.correlation_id,
        "causation_id": r.causation_id, "severity": r.severity, "metadata": metadata,
        "prev_mac": r.prev_mac, "mac": r.mac,
    })
}

impl Vault<'_> {
    /// `audit tail` (capability `audit:read`).
    pub fn audit_tail(
        &mut self,
        caller: &Caller,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditRow>, ActFailure> {
        self.authorize_read(caller, &Act::new("audit.tail", "audit:read").in_lockdown())?;
        let mut tx = self.store.begin(TxMode::Read).map_err(VaultError::from)?;
        Ok(tx.audit_tail(filter).map_err(VaultError::from)?)
    }

    /// Walk the whole chain and compare its end with the anchor (no token needed for the
    /// walk itself: the CLI checks `audit:read` first).
    pub fn audit_verify_chain(&mut self) -> Result<VerifyOutcome, VaultError> {
        let started = std::time::Instant::now();
        let anchor = audit::read_anchor(&self.home.anchor_path(), &self.keys.audit);
        let mut v = ChainVerifier::new(&self.keys.audit);
        {
            let mut tx = self.store.begin(TxMode::Read)?;
            tx.audit_scan(1, &mut |row| {
                v.push(&row);
                true
            })?;
        }
        let mut anchor_seq = None;
        match &anchor {
            Ok(a) => {
                anchor_seq = Some(a.seq);
                v.finish_against(a);
            }
            Err(i) => {
                v.issue_total += 1;
                v.issues.push((**i).clone());
            }
        }
        let cookie = self.store.schema_cookie()?;
        if let Ok(a) = &anchor
            && a.cookie != cookie
        {
            v.issue_total += 1;
            v.issues.push(audit_finding(
                VaultCode::AuditSchemaChanged,
                None,
                format!(
                    "the schema changed outside vaultgate (cookie {cookie}, anchor recorded {})",
                    a.cookie
                ),
            ));
        }
        let schema = self.store.schema_state()?;
        if !schema.protection_problems.is_empty() {
            v.issue_total += 1;
            v.issues.push(audit_finding(
                VaultCode::SchemaTampered,
                None,
                schema.protection_problems.join("; "),
            ));
        }
        let (head_seq, head_mac) = v.head();
        let head_mac = head_mac.to_owned();
        Ok(VerifyOutcome {
            rows: v.rows,
            head_seq,
            head_mac,
            anchor_seq,
            issues: v.issues,
            issue_total: v.issue_total,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// `audit verify` (capability `audit:read`).
    pub fn audit_verify(&mut self, caller: &Caller) -> Result<VerifyOutcome, ActFailure> {
        self.authorize_read(
            caller,
            &Act::new("audit.verify", "audit:read").in_lockdown(),
        )?;
        Ok(self.audit_verify_chain()?)
    }

    /// `audit export --jsonl` (capability `audit:read`): writes the export to `out`.
    pub fn audit_export(
        &mut self,
        caller: &Caller,
        out: &mut dyn Write,
    ) -> Result<u64, ActFailure> {
        self.authorize_read(
            caller,
            &Act::new("audit.export", "audit:read").in_lockdown(),
        )?;
        Ok(self.export_to(out)?)
    }

    /// `audit key export -o FILE` (capability `admin`): the audit MAC key in hex, in a new
    /// 0600 file; returns its fingerprint. Audited as `audit.key_exported`.
    pub fn audit_key_export(
        &mut self,
        caller: &Caller,
        path: &std::path::Path,
    ) -> Result<String, ActFailure> {
        let fp = audit_key_fingerprint(&self.keys.audit);
        let hexkey = zeroize::Zeroizing::new(hex::encode(self.keys.audit.expose()));
        let shown = path.display().to_string();
        let fp2 = fp.clone();
        self.act(caller, &Act::new("audit.key_export", "admin"), |tx, who| {
            use std::os::unix::fs::OpenOptionsExt as _;
            tx.append(
                super::audit::NewEvent::new("audit.key_exported", who.actor())
                    .severity(super::audit::Severity::Warning)
                    .subject("file", shown.clone())
                    .meta(super::audit::Metadata::new().str("fingerprint", fp2.clone())),
            )?;
            // Written inside the act: if the file cannot be created, the audit row is rolled back.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
                .map_err(|e| {
                    super::act::ActError::Family(format!("cannot create `{shown}`: {e}").into())
                })?;
            f.write_all(hexkey.as_bytes())
                .and_then(|()| f.write_all(b"\n"))
                .and_then(|()| f.sync_all())
                .map_err(|e| {
                    super::act::ActError::Family(format!("cannot write `{shown}`: {e}").into())
                })?;
            Ok(())
        })?;
        Ok(fp)
    }

    fn export_to(&mut self, out: &mut dyn Write) -> Result<u64, VaultError> {
        let anchor = audit::read_anchor(&self.home.anchor_path(), &self.keys.audit).ok();
        let mut tx = self.store.begin(TxMode::Read)?;
        let vault_id = tx.meta_get(meta::VAULT_ID)?.unwrap_or_default();
        let head = tx.audit_head()?;
        let header = json!({
            "schema": EXPORT_SCHEMA,
            "vault_id": vault_id,
            "mac_algorithm": "HMAC-SHA256",
            "mac_input": "bytes.fromhex(prev_mac) + canonical_json(row without mac)",
            "canonical_json": "json.dumps(obj, sort_keys=True, separators=(',', ':'), ensure_ascii=True, allow_nan=False)",
            "genesis_prev_mac": audit::GENESIS,
            "audit_key_fingerprint": audit_key_fingerprint(&self.keys.audit),
            "head": head.as_ref().map(|h| json!({"seq": h.seq, "mac": h.mac})),
            "anchor": anchor.as_ref().map(|a| json!({"seq": a.seq, "mac": a.mac})),
        });
        let io = |e: std::io::Error| VaultError::Act(format!("cannot write the export: {e}"));
        let line = crate::canon::to_bytes(&header).map_err(|e| VaultError::Act(e.to_string()))?;
        out.write_all(&line).map_err(io)?;
        out.write_all(b"\n").map_err(io)?;
        let mut n = 0u64;
        let mut err = None;
        let mut buf = Vec::with_capacity(1024);
        tx.audit_scan(1, &mut |row| {
            buf.clear();
            // The whole row, `mac` included, in canonical form.
            let v = row_json(&row);
            if let Err(e) = crate::canon::write(&v, &mut buf) {
                err = Some(VaultError::Act(e.to_string()));
                return false;
            }
            buf.push(b'\n');
            if let Err(e) = out.write_all(&buf) {
                err = Some(io(e));
                return false;
            }
            n += 1;
            true
        })?;
        if let Some(e) = err {
            return Err(e);
        }
        out.flush().map_err(io)?;
        Ok(n)
    }
}

/// A public fingerprint of the audit key (so an auditor can tell they hold the right one).
pub fn audit_key_fingerprint(key: &MacKey) -> String {
    hex::encode(&super::crypto::hmac(key.expose(), &[b"vaultgate/audit-key-fingerprint/v1"])[..8])
}

/// Verify an export offline with the audit key: every row's MAC and chain, the header's head.
pub fn verify_export(input: &mut dyn BufRead, key: &MacKey) -> Result<VerifyOutcome, VaultError> {
    let started = std::time::Instant::now();
    let mut v = ChainVerifier::new(key);
    let mut lines = input.lines();
    let bad = |m: String| audit_finding(VaultCode::AuditExportInvalid, None, m);
    let mut extra = Vec::new();
    let header: Option<Map<String, Value>> = match lines.next() {
        Some(Ok(l)) => crate::canon::parse_object(l.as_bytes()).ok(),
        _ => None,
    };
    let Some(header) =
        header.filter(|h| h.get("schema").and_then(Value::as_str) == Some(EXPORT_SCHEMA))
    else {
        return Ok(VerifyOutcome {
            rows: 0,
            head_seq: 0,
            head_mac: audit::GENESIS.into(),
            anchor_seq: None,
            issues: vec![bad(format!(
                "the first line is not a `{EXPORT_SCHEMA}` header"
            ))],
            issue_total: 1,
            seconds: 0.0,
        });
    };
    if header.get("audit_key_fingerprint").and_then(Value::as_str)
        != Some(&audit_key_fingerprint(key))
    {
        extra.push(bad(
            "the audit key given is not the one this export was made with".into(),
        ));
    }
    for (i, line) in lines.enumerate() {
        let line = line.map_err(|e| VaultError::Act(format!("cannot read the export: {e}")))?;
        if let Some(row) = parse_export_row(&line) {
            v.push(&row);
        } else {
            v.issue_total += 1;
            extra.push(bad(format!("line {} is not an audit row", i + 2)));
        }
    }
    if let Some(h) = header.get("head").and_then(Value::as_object) {
        let a = audit::Anchor {
            seq: h.get("seq").and_then(Value::as_u64).unwrap_or(0),
            mac: h
                .get("mac")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            cookie: 0,
        };
        v.finish_against(&a);
    }
    let (head_seq, head_mac) = v.head();
    let head_mac = head_mac.to_owned();
    let mut issues = extra;
    issues.extend(v.issues);
    Ok(VerifyOutcome {
        rows: v.rows,
        head_seq,
        head_mac,
        anchor_seq: None,
        issue_total: issues.len() as u64,
        issues,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn parse_export_row(line: &str) -> Option<AuditRow> {
    let m = crate::canon::parse_object(line.as_bytes()).ok()?;
    let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    let o = |k: &str| match m.get(k) {
        Some(Value::Null) => Some(None),
        Some(Value::String(x)) => Some(Some(x.clone())),
        _ => None,
    };
    let metadata = m.get("metadata").filter(|v| v.is_object())?;
    Some(AuditRow {
        seq: m.get("seq")?.as_u64()?,
        event_id: s("event_id")?,
        at: s("at")?,
        event_type: s("event_type")?,
        actor_type: s("actor_type")?,
        actor_id: s("actor_id")?,
        subject_type: o("subject_type")?,
        subject_id: o("subject_id")?,
        correlation_id: o("correlation_id")?,
        causation_id: o("causation_id")?,
        severity: s("severity")?,
        metadata: String::from_utf8(crate::canon::to_bytes(metadata).ok()?).ok()?,
        prev_mac: s("prev_mac")?,
        mac: s("mac")?,
    })
    .filter(|_| m.len() == 14)
}
