//! Audited transactions and privileged acts: the API every stateful family builds on.
//!
//! A privileged act is one call:
//!
//! ```ignore
//! vault.act(&caller, &Act::new("lease.mint", "lease:mint").project(p), |tx, who| {
//!     // checks that can refuse: return Err(Refusal::violation(code, msg).into())
//!     tx.ops().lease_insert(&row)?;               // typed state change through the store
//!     tx.append(NewEvent::new("LEASE_ISSUED", who.actor()).subject("lease", id))?;
//!     Ok(out)
//! })
//! ```
//!
//! What `act` guarantees, in this order:
//! 1. It takes the writers' lock (`vault.lock`), then opens a write transaction and reads the
//!    audit head **first**: no other writer can append between the head read and the commit.
//! 2. The clock guard: a clock more than 120 s behind the latest time seen refuses
//!    (`clock-regression`); the latest time seen is raised in the same transaction, and every
//!    timestamp and expiry uses the later of the two.
//! 3. The caller's token is authenticated (`token-missing`, `token-malformed`, `token-unknown`,
//!    `token-invalid`, `token-revoked`, `token-expired`), lockdown is checked
//!    (`lockdown-active`), then the named capability (`capability-missing`) and the project
//!    (`project-mismatch`). Deny by default: a check that cannot run is an error, never a pass.
//! 4. The closure runs. State changes and audit rows commit together: if any audit append or
//!    any state change fails, nothing of the act is kept. An act that appends no audit row is
//!    refused as a bug.
//! 5. On a refusal (any step, or the closure returning [`ActError::Refused`]) the transaction
//!    is rolled back, then **one** `security.denied` (or `VIOLATION`) row with the reason code
//!    is written in a transaction of its own, and the caller gets [`ActFailure::Refused`].
//! 6. After the commit the head anchor is rewritten, still under the writers' lock.

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::audit::{self, Actor, Anchor, Metadata, NewEvent, Severity};
use super::boot::{clock_guard, unix};
use super::caps::{Capability, CapabilitySet};
use super::codes::VaultCode;
use super::crypto::{CryptoError, Keys, MacKey};
use super::store::{AuditHead, AuditRow, Store, StoreError, Tx, TxMode};
use super::token::{PresentedToken, TokenFormatError};
use super::{Vault, VaultError, meta};
use crate::fsutil::IoContext as _;
use crate::report::FindingCode;

/// Who is asking: the token presented (or why there is none).
#[derive(Debug, Clone)]
pub enum Caller {
    /// A well-formed token.
    Token(PresentedToken),
    /// No token was presented.
    Missing,
    /// A token was presented but is malformed or its file is unsafe.
    Malformed(TokenFormatError),
}

/// An authenticated token's identity and authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The accessor.
    pub accessor: String,
    /// The token's name (`codex-builder`).
    pub name: String,
    /// What it may do.
    pub capabilities: CapabilitySet,
    /// The role it was created from (informational).
    pub role: Option<String>,
    /// The project it is bound to.
    pub project: Option<String>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
}

impl Principal {
    /// The audit actor for this principal.
    pub fn actor(&self) -> Actor {
        Actor::token(&self.accessor)
    }
    /// Does it hold `cap`?
    pub fn holds(&self, cap: &Capability) -> bool {
        self.capabilities.allows(cap)
    }
}

/// What a privileged act needs.
#[derive(Debug, Clone)]
pub struct Act {
    /// A name for the act (`token.create`), recorded in a denial's metadata.
    pub name: &'static str,
    /// The capability the caller must hold (`None`: any valid token, e.g. `whoami`).
    pub capability: Option<Capability>,
    /// The project the act is about (a token bound to another project is refused).
    pub project: Option<String>,
    /// May run while lockdown is on (`lockdown off`, reads).
    pub allowed_in_lockdown: bool,
}

impl Act {
    /// An act needing `capability`, refused during lockdown.
    pub fn new(name: &'static str, capability: &'static str) -> Self {
        Self {
            name,
            capability: Some(Capability::named(capability)),
            project: None,
            allowed_in_lockdown: false,
        }
    }
    /// An act any valid token may do (no capability named); allowed during lockdown.
    pub fn authenticated(name: &'static str) -> Self {
        Self {
            name,
            capability: None,
            project: None,
            allowed_in_lockdown: true,
        }
    }
    /// Bind to a project.
    #[must_use]
    pub fn project(mut self, p: Option<String>) -> Self {
        self.project = p;
        self
    }
    /// Allow during lockdown.
    #[must_use]
    pub fn in_lockdown(mut self) -> Self {
        self.allowed_in_lockdown = true;
        self
    }
}

/// `security.denied` or `VIOLATION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Authentication or authorisation refused (`security.denied`).
    Denied,
    /// A policy rule of the act was violated (`VIOLATION`).
    Violation,
}

impl RefusalKind {
    /// The audit event type written for it.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::Denied => "security.denied",
            Self::Violation => "VIOLATION",
        }
    }
}

/// A refusal: its kind, a stable reason code, a message (never secret), extra metadata.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Denied or violation.
    pub kind: RefusalKind,
    /// The stable reason code (a family's [`FindingCode`] text).
    pub code: &'static str,
    /// Lowercase message for the user.
    pub message: String,
    /// Allowlisted fields for the audit row (the reason code is added automatically).
    pub metadata: Metadata,
}

impl Refusal {
    /// A `security.denied` refusal.
    pub fn denied(code: impl FindingCode, message: impl Into<String>) -> Self {
        Self {
            kind: RefusalKind::Denied,
            code: code.as_str(),
            message: message.into(),
            metadata: Metadata::new(),
        }
    }
    /// A `VIOLATION` refusal.
    pub fn violation(code: impl FindingCode, message: impl Into<String>) -> Self {
        Self {
            kind: RefusalKind::Violation,
            code: code.as_str(),
            message: message.into(),
            metadata: Metadata::new(),
        }
    }
    /// Add metadata for the audit row.
    #[must_use]
    pub fn meta(mut self, m: Metadata) -> Self {
        self.metadata = self.metadata.merge(m);
        self
    }
}

/// How an act's closure fails.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    /// Refused: rolled back, then audited on its own.
    #[error("{}", .0.message)]
    Refused(Refusal),
    /// The store failed (rolled back; exit 2).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Cryptography failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// Any other failure of the family (rolled back; exit 2).
    #[error(transparent)]
    Family(Box<dyn std::error::Error + Send + Sync>),
}

impl From<Refusal> for ActError {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

/// The outcome of a failed act.
#[derive(Debug, thiserror::Error)]
pub enum ActFailure {
    /// Refused (exit 1); its audit row is at `audit_seq`.
    #[error("{}", refusal.message)]
    Refused {
        /// Why.
        refusal: Refusal,
        /// The `security.denied` / `VIOLATION` row.
        audit_seq: u64,
    },
    /// Could not run (exit 2); nothing was kept.
    #[error(transparent)]
    Error(#[from] VaultError),
}

/// A write transaction whose audit appends are chained and MAC'd.
pub struct AuditedTx<'t> {
    tx: Box<dyn Tx + 't>,
    keys: &'t Keys,
    head: AuditHead,
    at: String,
    now: SystemTime,
    correlation_id: String,
    appended: u64,
    last_event_id: Option<String>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for AuditedTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditedTx")
            .field("head", &self.head)
            .field("appended", &self.appended)
            .finish_non_exhaustive()
    }
}

impl<'t> AuditedTx<'t> {
    /// Open: read the head first, then the clock guard (raising the latest time seen).
    fn begin(
        store: &'t mut dyn Store,
        keys: &'t Keys,
        now: SystemTime,
    ) -> Result<(Self, Option<String>), StoreError> {
        let mut tx = store.begin(TxMode::Write)?;
        let head = tx.audit_head()?.unwrap_or(AuditHead {
            seq: 0,
            mac: audit::GENESIS.to_owned(),
        });
        let highest = tx
            .meta_get(meta::HIGHEST_SEEN)?
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0);
        let regression = clock_guard(now, highest).err();
        let effective = unix(now).max(highest);
        if effective > highest {
            tx.meta_set(meta::HIGHEST_SEEN, &effective.to_string())?;
        }
        let eff_time = UNIX_EPOCH + Duration::from_secs(u64::try_from(effective).unwrap_or(0));
        let at = crate::clock::format_rfc3339(eff_time)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok((
            Self {
                tx,
                keys,
                head,
                at,
                now: eff_time,
                correlation_id: uuid::Uuid::new_v4().to_string(),
                appended: 0,
                last_event_id: None,
                scratch: Vec::with_capacity(512),
            },
            regression,
        ))
    }

    /// The typed operations of every family on this transaction.
    pub fn ops(&mut self) -> &mut dyn Tx {
        self.tx.as_mut()
    }

    /// The effective time of this act: the later of the clock and the latest time seen.
    pub fn now(&self) -> SystemTime {
        self.now
    }

    /// The effective time in Unix seconds.
    pub fn now_unix(&self) -> i64 {
        unix(self.now)
    }

    /// The effective time as RFC 3339 (the audit rows' `at`).
    pub fn now_rfc3339(&self) -> &str {
        &self.at
    }

    /// The master key and its id, for the secret methods (crate-internal).
    pub(crate) fn keys(&self) -> &Keys {
        self.keys
    }

    /// The id shared by every row of this act.
    pub fn correlation_id(&self) -> &str {
        &self.correlation_id
    }

    /// Append an audit row at the head, chained and MAC'd. Returns `(seq, event_id)`.
    pub fn append(&mut self, ev: NewEvent) -> Result<(u64, String), ActError> {
        if !audit::valid_event_type(&ev.event_type) {
            return Err(ActError::Family(
                format!(
                    "event type `{}` is not valid; this is a bug in vaultgate",
                    ev.event_type
                )
                .into(),
            ));
        }
        let metadata = ev
            .metadata
            .to_canonical()
            .map_err(|e| ActError::Family(e.into()))?;
        let event_id = uuid::Uuid::new_v4().to_string();
        let mut row = AuditRow {
            seq: self.head.seq + 1,
            event_id: event_id.clone(),
            at: self.at.clone(),
            event_type: ev.event_type,
            actor_type: ev.actor.actor_type.to_owned(),
            actor_id: ev.actor.actor_id,
            subject_type: ev.subject_type,
            subject_id: ev.subject_id,
            correlation_id: Some(self.correlation_id.clone()),
            causation_id: ev.causation_id.or_else(|| self.last_event_id.clone()),
            severity: ev.severity.as_str().to_owned(),
            metadata,
            prev_mac: self.head.mac.clone(),
            mac: String::new(),
        };
        row.mac = audit::compute_mac(&self.keys.audit, &row, &mut self.scratch)
            .ok_or_else(|| StoreError::Corrupt("the audit head's MAC is not hex".into()))?;
        self.tx.audit_insert(&row)?;
        self.head = AuditHead {
            seq: row.seq,
            mac: row.mac,
        };
        self.appended += 1;
        self.last_event_id = Some(event_id.clone());
        Ok((self.head.seq, event_id))
    }

    /// Commit; returns the new head. Refuses an act that appended nothing.
    fn commit(self) -> Result<AuditHead, ActError> {
        if self.appended == 0 {
            return Err(ActError::Family(
                "a privileged act tried to commit without an audit row; this is a bug in vaultgate"
                    .into(),
            ));
        }
        self.tx.commit()?;
        Ok(self.head)
    }
}

fn lock_file(path: &std::path::Path) -> Result<File, VaultError> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ctx("open the writers' lock", path)?;
    f.lock().ctx("lock", path)?;
    Ok(f)
}

fn authenticate(
    tx: &mut dyn Tx,
    token_key: &MacKey,
    caller: &Caller,
    now: i64,
) -> Result<Result<Principal, Refusal>, StoreError> {
    let t = match caller {
        Caller::Missing => {
            return Ok(Err(Refusal::denied(
                VaultCode::TokenMissing,
                "no token presented\nhelp: set `VAULTGATE_TOKEN` or pass `--token-file FILE`",
            )));
        }
        Caller::Malformed(e) => {
            return Ok(Err(Refusal {
                kind: RefusalKind::Denied,
                code: e.code.as_str(),
                message: e.message.clone(),
                metadata: Metadata::new(),
            }));
        }
        Caller::Token(t) => t,
    };
    let acc = t.accessor();
    let Some(row) = tx.token_get(acc)? else {
        return Ok(Err(Refusal::denied(
            VaultCode::TokenUnknown,
            format!("no token with accessor `{acc}`"),
        )));
    };
    if !t.matches(token_key, &row.secret_mac) {
        return Ok(Err(Refusal::denied(
            VaultCode::TokenInvalid,
            format!("the secret of token `{acc}` does not match"),
        )));
    }
    if row.revoked_at.is_some() {
        return Ok(Err(Refusal::denied(
            VaultCode::TokenRevoked,
            format!("token `{acc}` was revoked"),
        )));
    }
    if let Some(exp) = row.expires_at
        && now >= exp
    {
        return Ok(Err(Refusal::denied(
            VaultCode::TokenExpired,
            format!("token `{acc}` expired"),
        )));
    }
    let mut caps = CapabilitySet::default();
    for c in &row.capabilities {
        // A stored name this binary does not know grants nothing (fail closed).
        if let Ok(cap) = Capability::parse(c) {
            caps.0.insert(cap);
        }
    }
    Ok(Ok(Principal {
        accessor: row.accessor,
        name: row.name,
        capabilities: caps,
        role: row.role,
        project: row.project,
        expires_at: row.expires_at,
    }))
}

fn authorize(p: &Principal, act: &Act, lockdown: Option<&str>) -> Result<(), Refusal> {
    if let Some(reason) = lockdown
        && !act.allowed_in_lockdown
    {
        return Err(Refusal::denied(
            VaultCode::LockdownActive,
            format!(
                "the vault is in lockdown (`{reason}`); `{}` is refused",
                act.name
            ),
        ));
    }
    if let Some(cap) = &act.capability
        && !p.holds(cap)
    {
        return Err(Refusal::denied(
            VaultCode::CapabilityMissing,
            format!(
                "token `{}` lacks the capability `{cap}` that `{}` needs",
                p.accessor, act.name
            ),
        ));
    }
    if let (Some(want), Some(bound)) = (&act.project, &p.project)
        && want != bound
    {
        return Err(Refusal::denied(
            VaultCode::ProjectMismatch,
            format!(
                "token `{}` is bound to project `{bound}`, not `{want}`",
                p.accessor
            ),
        ));
    }
    Ok(())
}

fn caller_actor(caller: &Caller) -> Actor {
    match caller {
        Caller::Token(t) => Actor {
            actor_type: "unverified-token",
            actor_id: t.accessor().to_owned(),
        },
        _ => Actor {
            actor_type: "anonymous",
            actor_id: "-".into(),
        },
    }
}

fn lockdown_of(tx: &mut dyn Tx) -> Result<Option<String>, StoreError> {
    Ok(match tx.meta_get(meta::LOCKDOWN)?.as_deref() {
        Some("on") => Some(tx.meta_get(meta::LOCKDOWN_REASON)?.unwrap_or_default()),
        _ => None,
    })
}

impl Vault<'_> {
    /// Run a privileged act (see the module documentation for the guarantees).
    pub fn act<T>(
        &mut self,
        caller: &Caller,
        act: &Act,
        f: impl FnOnce(&mut AuditedTx<'_>, &Principal) -> Result<T, ActError>,
    ) -> Result<T, ActFailure> {
        self.writable()?;
        let lock = lock_file(&self.home.lock_path())?;
        let now = self.clock.now();
        let outcome = {
            let Vault { store, keys, .. } = self;
            (|| -> Result<(T, AuditHead), ActError> {
                let (mut atx, regression) = AuditedTx::begin(store.as_mut(), keys, now)?;
                if let Some(msg) = regression {
                    return Err(Refusal::denied(VaultCode::ClockRegression, msg).into());
                }
                let at = atx.now_unix();
                let principal = authenticate(atx.ops(), &keys.token, caller, at)??;
                let lockdown = lockdown_of(atx.ops())?;
                authorize(&principal, act, lockdown.as_deref())?;
                let out = f(&mut atx, &principal)?;
                let head = atx.commit()?;
                Ok((out, head))
            })()
        };
        let result = match outcome {
            Ok((out, head)) => {
                self.write_anchor(&head)?;
                Ok(out)
            }
            Err(ActError::Refused(refusal)) => {
                let seq = self.record_refusal(caller_actor(caller), act, &refusal, now)?;
                Err(ActFailure::Refused {
                    refusal,
                    audit_seq: seq,
                })
            }
            Err(ActError::Store(e)) => Err(VaultError::Store(e).into()),
            Err(ActError::Crypto(e)) => Err(VaultError::Crypto(e).into()),
            Err(ActError::Family(e)) => Err(VaultError::Act(e.to_string()).into()),
        };
        drop(lock);
        result
    }

    /// Authenticate and authorise a read-only request. A refusal is audited like any other
    /// (its own transaction); success writes nothing.
    pub fn authorize_read(&mut self, caller: &Caller, act: &Act) -> Result<Principal, ActFailure> {
        let now = self.clock.now();
        let checked = (|| -> Result<Result<Principal, Refusal>, StoreError> {
            let mut tx = self.store.begin(TxMode::Read)?;
            let highest = tx
                .meta_get(meta::HIGHEST_SEEN)?
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(0);
            if let Err(msg) = clock_guard(now, highest) {
                return Ok(Err(Refusal::denied(VaultCode::ClockRegression, msg)));
            }
            let p = match authenticate(
                tx.as_mut(),
                &self.keys.token,
                caller,
                unix(now).max(highest),
            )? {
                Ok(p) => p,
                Err(r) => return Ok(Err(r)),
            };
            let lockdown = lockdown_of(tx.as_mut())?;
            Ok(authorize(&p, act, lockdown.as_deref()).map(|()| p))
        })()
        .map_err(VaultError::Store)?;
        match checked {
            Ok(p) => Ok(p),
            Err(refusal) => {
                let lock = lock_file(&self.home.lock_path())?;
                let seq = self.record_refusal(caller_actor(caller), act, &refusal, now)?;
                drop(lock);
                Err(ActFailure::Refused {
                    refusal,
                    audit_seq: seq,
                })
            }
        }
    }

    /// An act by vaultgate itself, on behalf of no request: `init`, migrations, and the
    /// families' own bookkeeping (expiring due leases, an agent monitor recording an exit).
    /// No token is checked, so never use it for something a caller asked for. The same
    /// guarantees otherwise: writers' lock, head first, state and audit rows commit together,
    /// anchor rewritten. A system act that appends **no** audit row is rolled back (nothing
    /// was due) and returns its value.
    pub fn system_act<T>(
        &mut self,
        f: impl FnOnce(&mut AuditedTx<'_>) -> Result<T, ActError>,
    ) -> Result<T, VaultError> {
        self.writable()?;
        let lock = lock_file(&self.home.lock_path())?;
        let now = self.clock.now();
        let res = {
            let Vault { store, keys, .. } = self;
            (|| -> Result<(T, Option<AuditHead>), ActError> {
                let (mut atx, _) = AuditedTx::begin(store.as_mut(), keys, now)?;
                let out = f(&mut atx)?;
                if atx.appended == 0 {
                    return Ok((out, None));
                }
                let head = atx.commit()?;
                Ok((out, Some(head)))
            })()
        };
        let out = match res {
            Ok((out, head)) => {
                if let Some(head) = head {
                    self.write_anchor(&head)?;
                }
                Ok(out)
            }
            Err(ActError::Store(e)) => Err(VaultError::Store(e)),
            Err(ActError::Crypto(e)) => Err(VaultError::Crypto(e)),
            Err(e) => Err(VaultError::Act(e.to_string())),
        };
        drop(lock);
        out
    }

    fn record_refusal(
        &mut self,
        actor: Actor,
        act: &Act,
        refusal: &Refusal,
        now: SystemTime,
    ) -> Result<u64, VaultError> {
        self.writable()?;
        let head = {
            let Vault { store, keys, .. } = self;
            (|| -> Result<(u64, AuditHead), ActError> {
                let (mut atx, _) = AuditedTx::begin(store.as_mut(), keys, now)?;
                let meta = Metadata::new()
                    .str("reason", refusal.code)
                    .str("action", act.name)
                    .opt_str(
                        "capability",
                        act.capability.as_ref().map(Capability::as_str),
                    )
                    .opt_str("project", act.project.clone())
                    .merge(refusal.metadata.clone());
                let (seq, _) = atx.append(
                    NewEvent::new(refusal.kind.event_type(), actor)
                        .severity(match refusal.kind {
                            RefusalKind::Denied => Severity::Warning,
                            RefusalKind::Violation => Severity::Critical,
                        })
                        .meta(meta),
                )?;
                Ok((seq, atx.commit()?))
            })()
            .map_err(|e| VaultError::Act(format!("cannot record the refusal: {e}")))?
        };
        self.write_anchor(&head.1)?;
        Ok(head.0)
    }

    fn write_anchor(&mut self, head: &AuditHead) -> Result<(), VaultError> {
        let cookie = self.store.schema_cookie()?;
        audit::write_anchor(
            &self.home.anchor_path(),
            &self.keys.audit,
            &Anchor {
                seq: head.seq,
                mac: head.mac.clone(),
                cookie,
            },
        )?;
        Ok(())
    }
}
