//! The grant acts. `mint` and `consume` and `revoke` each end in one protocol line; the
//! decision is made inside the act's transaction, under the writers' lock, and the database's
//! partial unique index and compare-and-swap updates make the single-use guarantees hold even
//! if this code were wrong.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::exit::ExitStatus;
use crate::output::{Render, Style, json_object};
use crate::report::FindingCode as _;
use crate::vault::audit::{Metadata, NewEvent};
use crate::vault::store::grant::GrantRow;
use crate::vault::store::{StoreError, TxMode};
use crate::vault::{Act, ActError, ActFailure, Caller, Refusal, RefusalKind, Vault, VaultError};

use super::codes::{GrantCode, Kind};
use super::gates::{self, GrantDraft};
use super::policy::GrantPolicy;
use super::request::{ApprovalRequest, REQUEST_MAX_BYTES};

/// The JSON schema of grant reports.
pub const SCHEMA: &str = "vaultgate/grant/v1";

/// One protocol outcome: `OK`, `SKIP:<reason>` or `FAIL:<reason>`.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `mint`, `consume`, `revoke`.
    pub command: &'static str,
    /// `None` for `OK`.
    pub reason: Option<GrantCode>,
    /// The grant's code, when known (never echoed from a refused request).
    pub auth_code: Option<String>,
    /// The grant row after the act (mint/consume/revoke that succeeded).
    pub grant: Option<GrantRow>,
    /// For stderr only: why (never a request's field value, never a secret).
    pub detail: Option<String>,
    /// Exit 2 instead of the protocol's 1 (the vault could not run).
    pub could_not_run: bool,
}

impl Outcome {
    fn ok(command: &'static str, grant: GrantRow) -> Self {
        Self {
            command,
            reason: None,
            auth_code: Some(grant.auth_code.clone()),
            grant: Some(grant),
            detail: None,
            could_not_run: false,
        }
    }

    /// A refusal outcome.
    pub fn refused(command: &'static str, code: GrantCode, detail: impl Into<String>) -> Self {
        Self {
            command,
            reason: Some(code),
            auth_code: None,
            grant: None,
            detail: Some(detail.into()),
            could_not_run: code == GrantCode::VaultUnavailable,
        }
    }

    /// The one line printed.
    pub fn line(&self) -> String {
        self.reason.map_or_else(|| "OK".to_owned(), GrantCode::line)
    }
}

impl Render for Outcome {
    fn schema(&self) -> &'static str {
        SCHEMA
    }
    fn status(&self) -> ExitStatus {
        if self.could_not_run {
            return ExitStatus::Error;
        }
        match self.reason.map(GrantCode::kind) {
            None | Some(Kind::Skip) => ExitStatus::Pass,
            Some(Kind::Fail) => ExitStatus::Fail,
        }
    }
    fn to_json(&self) -> Map<String, Value> {
        json_object(json!({
            "command": self.command,
            "line": self.line(),
            "outcome": match self.reason.map(GrantCode::kind) {
                None => "OK",
                Some(Kind::Skip) => "SKIP",
                Some(Kind::Fail) => "FAIL",
            },
            "reason": self.reason.map(GrantCode::as_str),
            "auth_code": self.auth_code,
            "grant": self.grant.as_ref().map(grant_json),
        }))
    }
    fn render_text(&self, _style: &Style) -> String {
        format!("{}\n", self.line())
    }
    fn summary_line(&self) -> String {
        self.line()
    }
}

fn rfc3339(secs: i64) -> String {
    let t =
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    crate::clock::format_rfc3339(t).unwrap_or_else(|_| secs.to_string())
}

/// A grant as JSON.
pub fn grant_json(g: &GrantRow) -> Value {
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    json!({
        "auth_code": g.auth_code,
        "target": g.target,
        "namespace": g.namespace,
        "axis": g.axis,
        "status": g.status,
        "commit_allowed": g.commit_allowed,
        "requires_sovereign_esign": g.requires_sovereign_esign,
        "granted_at": rfc3339(g.granted_at),
        "expires_at": rfc3339(g.expires_at),
        "request_ref": g.request_ref,
        "approval_ref": parse(&g.approval_ref),
        "evidence": parse(&g.evidence),
        "rollback_plan_ref": g.rollback_plan_ref,
        "granted_by": g.granted_by,
        "consumed_at": g.consumed_at.map(rfc3339),
        "consumed_by": g.consumed_by,
        "revoked_at": g.revoked_at.map(rfc3339),
        "revoked_by": g.revoked_by,
        "revoked_reason": g.revoked_reason,
    })
}

/// Map a failed act to its protocol outcome.
fn from_failure(command: &'static str, f: ActFailure) -> Outcome {
    match f {
        ActFailure::Refused { refusal, .. } => {
            let code = GrantCode::parse(refusal.code).unwrap_or(
                if refusal.code == crate::vault::VaultCode::LockdownActive.as_str() {
                    GrantCode::RejectLockdown
                } else {
                    GrantCode::RejectUnauthorized
                },
            );
            Outcome::refused(
                command,
                code,
                format!("{} ({})", refusal.message, refusal.code),
            )
        }
        ActFailure::Error(e) => {
            Outcome::refused(command, GrantCode::VaultUnavailable, e.to_string())
        }
    }
}

/// Read the request file (bounded) without echoing its content anywhere.
pub fn read_request(path: &Path) -> Result<ApprovalRequest, Box<Outcome>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path)
        .and_then(|f| f.take(REQUEST_MAX_BYTES + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        return Err(Box::new(Outcome::refused(
            "mint",
            GrantCode::RejectRequestUnreadable,
            format!("cannot read `{}`: {e}", path.display()),
        )));
    }
    if bytes.len() as u64 > REQUEST_MAX_BYTES {
        return Err(Box::new(Outcome::refused(
            "mint",
            GrantCode::RejectRequestMalformed,
            format!(
                "`{}` is larger than {REQUEST_MAX_BYTES} bytes",
                path.display()
            ),
        )));
    }
    ApprovalRequest::parse(&bytes).map_err(|e| {
        Box::new(Outcome::refused(
            "mint",
            GrantCode::RejectRequestMalformed,
            format!("`{}`: {e}", path.display()),
        ))
    })
}

fn refuse(code: GrantCode) -> ActError {
    let r = Refusal {
        kind: RefusalKind::Violation,
        code: code.as_str(),
        message: format!("grant refused: {}", code.as_str()),
        metadata: Metadata::new(),
    };
    r.into()
}

/// `grant mint --request APR.json [--policy FILE]`.
#[allow(clippy::too_many_lines)] // the gates and the store checks, in their documented order
pub fn mint(
    vault: &mut Vault<'_>,
    caller: &Caller,
    req: &ApprovalRequest,
    policy: &GrantPolicy,
) -> Outcome {
    if let Err(e) = crate::lease::sweep::before_command(vault) {
        return Outcome::refused("mint", GrantCode::VaultUnavailable, e.to_string());
    }
    let result = vault.act(caller, &Act::new("grant.mint", "grant:mint"), |tx, who| {
        let base = || {
            Metadata::new()
                .str("apr_code", &req.apr_code)
                .str("target", &req.target)
                .opt_str("requested_by", req.requested_by.clone())
        };
        let draft: GrantDraft = match gates::evaluate(req, policy) {
            Ok(d) => d,
            Err(code) if code.kind() == Kind::Skip => {
                tx.append(
                    NewEvent::new("GRANT_SKIPPED", who.actor())
                        .meta(base().str("reason", code.as_str())),
                )?;
                return Ok(Err(code));
            }
            Err(code) => return Err(refuse(code)),
        };
        if let Some(existing) = tx.ops().grant_get(&draft.auth_code)? {
            // Idempotent re-run: the same request finds its own active grant.
            let same = existing.target == draft.target
                && existing.request_ref == draft.request_ref
                && serde_json::from_str::<Value>(&existing.approval_ref)
                    .ok()
                    .as_ref()
                    == Some(&draft.approval_ref);
            if same && existing.status == "active" {
                tx.append(
                    NewEvent::new("GRANT_MINT_REPEATED", who.actor())
                        .subject("grant", &existing.auth_code)
                        .meta(base()),
                )?;
                return Ok(Ok(existing));
            }
            return Err(refuse(GrantCode::RejectAuthCodeConflict));
        }
        if tx.ops().grant_open_for_target(&draft.target)?.is_some() {
            tx.append(
                NewEvent::new("GRANT_SKIPPED", who.actor())
                    .meta(base().str("reason", GrantCode::ActiveGrantExists.as_str())),
            )?;
            return Ok(Err(GrantCode::ActiveGrantExists));
        }
        let now = tx.now_unix();
        let canon = |v: &Value| -> Result<String, ActError> {
            crate::canon::to_bytes(v)
                .map_err(|e| ActError::Family(e.to_string().into()))
                .and_then(|b| String::from_utf8(b).map_err(|e| ActError::Family(e.into())))
        };
        let row = GrantRow {
            auth_code: draft.auth_code.clone(),
            target: draft.target.clone(),
            namespace: draft.namespace.clone(),
            axis: draft.axis.clone(),
            status: "active".into(),
            commit_allowed: GrantDraft::COMMIT_ALLOWED,
            requires_sovereign_esign: GrantDraft::REQUIRES_SOVEREIGN_ESIGN,
            granted_at: now,
            expires_at: now + i64::try_from(draft.ttl_secs).unwrap_or(i64::MAX),
            request_ref: draft.request_ref.clone(),
            approval_ref: canon(&draft.approval_ref)?,
            evidence: canon(&draft.evidence)?,
            rollback_plan_ref: draft.rollback_plan_ref.clone(),
            granted_by: who.accessor.clone(),
            consumed_at: None,
            consumed_by: None,
            revoked_at: None,
            revoked_by: None,
            revoked_reason: None,
        };
        match tx.ops().grant_insert(&row) {
            Ok(()) => {}
            // The partial unique index is the guarantee; the check above only names it.
            Err(StoreError::Constraint(_)) => return Err(refuse(GrantCode::ActiveGrantExists)),
            Err(e) => return Err(e.into()),
        }
        // Read back what the database holds, not what we meant to write.
        let stored = tx.ops().grant_get(&row.auth_code)?.ok_or_else(|| {
            ActError::Family("the grant just inserted cannot be read back".into())
        })?;
        if stored != row {
            return Err(ActError::Family(
                "the grant read back differs from the one written".into(),
            ));
        }
        tx.append(
            NewEvent::new("GRANT_ISSUED", who.actor())
                .subject("grant", &row.auth_code)
                .meta(
                    base()
                        .str("namespace", &row.namespace)
                        .str("axis", &row.axis)
                        .int("expires_at", row.expires_at)
                        .str("request_ref", &row.request_ref),
                ),
        )?;
        Ok(Ok(stored))
    });
    match result {
        Ok(Ok(g)) => Outcome::ok("mint", g),
        Ok(Err(code)) => Outcome::refused("mint", code, code.as_str()),
        // A racing insert refused by the partial unique index arrives here as the
        // `active_grant_exists` refusal: a SKIP, exit 0, like the check above.
        Err(f) => from_failure("mint", f),
    }
}

fn state_refusal(g: &GrantRow, now: i64) -> Option<GrantCode> {
    match g.status.as_str() {
        "consumed" => Some(GrantCode::RejectAuthAlreadyConsumed),
        "revoked" => Some(GrantCode::RejectAuthRevoked),
        "expired" => Some(GrantCode::RejectAuthExpired),
        "active" if g.expires_at <= now => Some(GrantCode::RejectAuthExpired),
        "active" => None,
        _ => Some(GrantCode::RejectAuthUnknown),
    }
}

/// `grant consume CODE`: compare-and-swap `active` → `consumed`.
pub fn consume(vault: &mut Vault<'_>, caller: &Caller, code: &str) -> Outcome {
    if let Err(e) = crate::lease::sweep::before_command(vault) {
        return Outcome::refused("consume", GrantCode::VaultUnavailable, e.to_string());
    }
    let result = vault.act(
        caller,
        &Act::new("grant.consume", "grant:consume"),
        |tx, who| {
            let Some(g) = tx.ops().grant_get(code)? else {
                return Err(refuse(GrantCode::RejectAuthUnknown));
            };
            let now = tx.now_unix();
            if let Some(r) = state_refusal(&g, now) {
                return Err(refuse(r));
            }
            if !tx.ops().grant_consume(code, now, &who.accessor)? {
                return Err(refuse(GrantCode::RejectAuthAlreadyConsumed));
            }
            tx.append(
                NewEvent::new("GRANT_CONSUMED", who.actor())
                    .subject("grant", code)
                    .meta(Metadata::new().str("target", &g.target)),
            )?;
            tx.ops()
                .grant_get(code)?
                .ok_or_else(|| ActError::Family("the consumed grant vanished".into()))
        },
    );
    match result {
        Ok(g) => Outcome::ok("consume", g),
        Err(f) => from_failure("consume", f),
    }
}

/// `grant revoke CODE --reason R`: `active` → `revoked` with the triple; again is `OK`.
pub fn revoke(vault: &mut Vault<'_>, caller: &Caller, code: &str, reason: &str) -> Outcome {
    if crate::lease::service::check_reason(reason).is_err() {
        return Outcome::refused(
            "revoke",
            GrantCode::RejectRequestMalformed,
            "`--reason` must be 1-256 printable characters",
        );
    }
    if let Err(e) = crate::lease::sweep::before_command(vault) {
        return Outcome::refused("revoke", GrantCode::VaultUnavailable, e.to_string());
    }
    let result = vault.act(
        caller,
        &Act::new("grant.revoke", "grant:revoke"),
        |tx, who| {
            let Some(g) = tx.ops().grant_get(code)? else {
                return Err(refuse(GrantCode::RejectAuthUnknown));
            };
            let now = tx.now_unix();
            match g.status.as_str() {
                "revoked" => {
                    tx.append(
                        NewEvent::new("GRANT_REVOKE_REPEATED", who.actor())
                            .subject("grant", code)
                            .meta(Metadata::new().str("reason", reason)),
                    )?;
                    return Ok(g);
                }
                "draft" | "active" => {}
                _ => {
                    return Err(refuse(
                        state_refusal(&g, now).unwrap_or(GrantCode::RejectAuthUnknown),
                    ));
                }
            }
            if !tx.ops().grant_revoke(code, now, &who.accessor, reason)? {
                return Err(ActError::Family(
                    "the grant changed under the writers' lock; this is a bug in vaultgate".into(),
                ));
            }
            tx.append(
                NewEvent::new("GRANT_REVOKED", who.actor())
                    .subject("grant", code)
                    .meta(
                        Metadata::new()
                            .str("target", &g.target)
                            .str("reason", reason),
                    ),
            )?;
            tx.ops()
                .grant_get(code)?
                .ok_or_else(|| ActError::Family("the revoked grant vanished".into()))
        },
    );
    match result {
        Ok(g) => Outcome::ok("revoke", g),
        Err(f) => from_failure("revoke", f),
    }
}

/// `grant list` / `grant show CODE`.
#[derive(Debug, Clone)]
pub struct GrantListReport {
    /// `list` or `show`.
    pub command: &'static str,
    /// The grants.
    pub grants: Vec<GrantRow>,
}

impl Render for GrantListReport {
    crate::render_head!(SCHEMA, crate::output::passes);
    fn to_json(&self) -> Map<String, Value> {
        json_object(json!({
            "command": self.command,
            "grants": self.grants.iter().map(grant_json).collect::<Vec<_>>(),
            "summary": {"grants": self.grants.len()},
        }))
    }
    fn render_text(&self, _style: &Style) -> String {
        let mut s = String::new();
        for g in &self.grants {
            s.push_str(&format!(
                "{}  {:<8}  target {}  granted {}  expires {}  by {}\n",
                g.auth_code,
                g.status,
                g.target,
                rfc3339(g.granted_at),
                rfc3339(g.expires_at),
                g.granted_by
            ));
        }
        s.push_str(&format!("{} grant(s)\n", self.grants.len()));
        s
    }
    fn summary_line(&self) -> String {
        format!("{} grant(s)", self.grants.len())
    }
}

/// Why `grant list|show` could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ReadFailure {
    /// Refused (exit 1): the reason and a message.
    #[error("{1}")]
    Refused(GrantCode, String),
    /// Could not run (exit 2).
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// `grant list` or `grant show CODE`.
pub fn read(
    vault: &mut Vault<'_>,
    caller: &Caller,
    code: Option<&str>,
) -> Result<GrantListReport, ReadFailure> {
    crate::lease::sweep::before_command(vault)?;
    vault
        .authorize_read(caller, &Act::new("grant.read", "grant:read").in_lockdown())
        .map_err(|f| match f {
            ActFailure::Refused { refusal, .. } => ReadFailure::Refused(
                GrantCode::RejectUnauthorized,
                format!("{} ({})", refusal.message, refusal.code),
            ),
            ActFailure::Error(e) => ReadFailure::Vault(e),
        })?;
    let mut tx = vault
        .store()
        .begin(TxMode::Read)
        .map_err(VaultError::from)?;
    let grants = match code {
        Some(c) => match tx.grant_get(c).map_err(VaultError::from)? {
            Some(g) => vec![g],
            None => {
                return Err(ReadFailure::Refused(
                    GrantCode::RejectAuthUnknown,
                    format!(
                        "no grant `{}` ({})",
                        crate::report::escape_for_display(c),
                        GrantCode::RejectAuthUnknown.as_str()
                    ),
                ));
            }
        },
        None => tx.grant_list().map_err(VaultError::from)?,
    };
    Ok(GrantListReport {
        command: if code.is_some() { "show" } else { "list" },
        grants,
    })
}
