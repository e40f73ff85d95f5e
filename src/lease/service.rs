//! The lease acts: mint, revoke, list/show, exec and sweep. Every check of a mint runs inside
//! its act, so a refusal rolls back everything and leaves exactly one `VIOLATION` row (the
//! vault writes it after the rollback). Material is generated from the OS random source and
//! stored only sealed; only its fingerprint is ever returned.

use std::ffi::OsString;

use crate::report::{FindingCode as _, escape_for_display as esc};
use crate::vault::audit::{Metadata, NewEvent, Severity};
use crate::vault::secret::SecretMeta;
use crate::vault::store::TxMode;
use crate::vault::store::lease::{LeaseFilter, LeaseRow};
use crate::vault::{Act, ActError, Caller, Refusal, SecretBytes, Vault, VaultError};

use super::codes::LeaseCode;
use super::exec::{self, ChildExit, Delivery};
use super::registry::{Failure, RegistryError};
use super::report::{LeaseListReport, LeaseReport, SweepReport};
use super::rules::{self, LeaseStatus, MATERIAL_LEN, Phase};
use super::sweep;

/// What `lease mint` asks for.
#[derive(Debug, Clone)]
pub struct MintRequest {
    /// The bind contract's ingest id.
    pub ingest: String,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// Requested TTL in seconds (`None`: refused with `lease-ttl-missing`).
    pub ttl_secs: Option<u64>,
}

fn project_of_contract(vault: &mut Vault<'_>, ingest: &str) -> Result<Option<String>, VaultError> {
    let mut tx = vault.store().begin(TxMode::Read)?;
    Ok(tx.registry_contract_get(ingest)?.and_then(|c| c.asset))
}

fn project_of_lease(
    vault: &mut Vault<'_>,
    handle: &str,
) -> Result<Option<(LeaseRow, Option<String>)>, VaultError> {
    let mut tx = vault.store().begin(TxMode::Read)?;
    let Some(l) = tx.lease_get(handle)? else {
        return Ok(None);
    };
    let project = tx
        .registry_contract_get(&l.ingest_id)?
        .and_then(|c| c.asset);
    Ok(Some((l, project)))
}

/// The AEAD-bound scope text of a lease: its scopes, sorted, space-separated.
fn sealed_scope(scopes: &[String]) -> String {
    scopes.join(" ")
}

fn violation(code: LeaseCode, msg: impl Into<String>) -> ActError {
    Refusal::violation(code, msg).into()
}

#[allow(clippy::too_many_lines)] // one check after another, in the documented order
/// `lease mint`: every check, then 32 random bytes sealed, the row and `LEASE_ISSUED`.
pub fn mint(
    vault: &mut Vault<'_>,
    caller: &Caller,
    req: &MintRequest,
) -> Result<LeaseReport, Failure> {
    sweep::before_command(vault)?;
    let project = project_of_contract(vault, &req.ingest)?;
    let mut scopes = req.scopes.clone();
    scopes.sort();
    scopes.dedup();
    let lease = vault.act(
        caller,
        &Act::new("lease.mint", "lease:mint").project(project),
        |tx, who| {
            let ingest_meta = || Metadata::new().str("ingest", &req.ingest);
            let Some(c) = tx.ops().registry_contract_get(&req.ingest)? else {
                return Err(Refusal::violation(
                    LeaseCode::LeaseContractUnknown,
                    format!("no bind contract for ingest `{}`", esc(&req.ingest)),
                )
                .meta(ingest_meta())
                .into());
            };
            let phase = Phase::parse(&c.phase).ok_or_else(|| {
                ActError::Family(
                    format!(
                        "contract `{}` has an unknown phase; the database is corrupt",
                        c.ingest_id
                    )
                    .into(),
                )
            })?;
            if !phase.allows_leases() {
                return Err(violation(
                    LeaseCode::LeasePhaseClosed,
                    format!(
                        "contract `{}` is in phase `{}`, which allows no leases",
                        c.ingest_id, c.phase
                    ),
                ));
            }
            if c.eligibility != "PASS" {
                return Err(violation(
                    LeaseCode::LeaseIneligible,
                    format!(
                        "contract `{}` is not eligible ({})",
                        c.ingest_id,
                        c.reasons.join(", ")
                    ),
                ));
            }
            let max = u64::try_from(c.max_ttl_secs).unwrap_or(0);
            let ttl = rules::check_ttl(req.ttl_secs, max).map_err(|code| {
                let msg = match code {
                    LeaseCode::LeaseTtlMissing => "a lease needs `--ttl`".to_owned(),
                    LeaseCode::LeaseTtlTooShort => {
                        format!("a lease lasts at least {} s", rules::MIN_TTL_SECS)
                    }
                    _ => format!("the contract allows at most {max} s"),
                };
                Refusal::violation(code, msg).meta(ingest_meta())
            })?;
            for s in &scopes {
                rules::check_scope_name(s)
                    .map_err(|r| violation(LeaseCode::LeaseScopeBroaden, r))?;
            }
            rules::check_scopes(&scopes, &c.scopes).map_err(|code| {
                Refusal::violation(
                    code,
                    if code == LeaseCode::LeaseScopeMissing {
                        "a lease needs at least one `--scope`".to_owned()
                    } else {
                        format!(
                            "requested scopes exceed the contract's ({})",
                            c.scopes.join(", ")
                        )
                    },
                )
                .meta(ingest_meta().list("scopes", scopes.clone()))
            })?;
            let active = tx.ops().lease_count_active(&c.ingest_id)?;
            if active >= u64::try_from(c.max_active).unwrap_or(0) {
                return Err(violation(
                    LeaseCode::LeaseCapExceeded,
                    format!(
                        "contract `{}` already has {active} active lease(s), its maximum",
                        c.ingest_id
                    ),
                ));
            }
            let now = tx.now_unix();
            let expires_at = now + i64::try_from(ttl).unwrap_or(i64::MAX);
            let handle = format!("vgl_{}", uuid::Uuid::new_v4().simple());
            let meta = SecretMeta {
                id: handle.clone(),
                scope: sealed_scope(&scopes),
                expires_at: Some(expires_at),
            };
            let material = tx.secret_generate(&meta, MATERIAL_LEN)?;
            let fingerprint = rules::fingerprint(material.expose()).to_hex();
            drop(material);
            let row = LeaseRow {
                handle: handle.clone(),
                ingest_id: c.ingest_id.clone(),
                scopes: scopes.clone(),
                issued_at: now,
                expires_at,
                status: LeaseStatus::Active.as_str().to_owned(),
                issued_by: who.accessor.clone(),
                fingerprint: fingerprint.clone(),
                secret_id: handle.clone(),
                revoked_at: None,
                revoked_by: None,
                revoked_reason: None,
                expired_at: None,
            };
            tx.ops().lease_insert(&row)?;
            tx.append(
                NewEvent::new("LEASE_ISSUED", who.actor())
                    .subject("lease", &handle)
                    .meta(
                        Metadata::new()
                            .str("ingest", &c.ingest_id)
                            .list("scopes", scopes.clone())
                            .int("ttl_secs", i64::try_from(ttl).unwrap_or(i64::MAX))
                            .int("expires_at", expires_at)
                            .str("fingerprint", &fingerprint),
                    ),
            )?;
            Ok(row)
        },
    )?;
    Ok(LeaseReport {
        command: "mint",
        lease,
        note: None,
    })
}

/// Check a `--reason`: 1-256 printable characters.
pub fn check_reason(reason: &str) -> Result<(), RegistryError> {
    if reason.trim().is_empty() || reason.len() > 256 || reason.chars().any(char::is_control) {
        Err(RegistryError::Invalid(
            "`--reason` must be 1-256 printable characters".into(),
        ))
    } else {
        Ok(())
    }
}

/// `lease revoke HANDLE --reason R`: own leases with `lease:revoke`, others' with
/// `lease:revoke-any`; destroys the material; revoking again keeps the first revoker.
pub fn revoke(
    vault: &mut Vault<'_>,
    caller: &Caller,
    handle: &str,
    reason: &str,
) -> Result<LeaseReport, Failure> {
    check_reason(reason)?;
    sweep::before_command(vault)?;
    let pre = project_of_lease(vault, handle)?;
    // The capability needed depends on whose lease it is. The presented accessor is only a
    // hint here: authentication inside the act verifies the token before anything happens,
    // and the closure re-checks ownership against the verified principal.
    let own = match (&pre, caller) {
        (Some((l, _)), Caller::Token(t)) => l.issued_by == t.accessor(),
        _ => false,
    };
    let project = pre.and_then(|(_, p)| p);
    let act = if own {
        Act::new("lease.revoke", "lease:revoke")
    } else {
        Act::new("lease.revoke", "lease:revoke-any")
    }
    .project(project);
    let mut destroyed = false;
    let (lease, note) = vault.act(caller, &act, |tx, who| {
        let Some(l) = tx.ops().lease_get(handle)? else {
            return Err(violation(
                LeaseCode::LeaseUnknown,
                format!("no lease `{}`", esc(handle)),
            ));
        };
        if own && l.issued_by != who.accessor {
            return Err(Refusal::denied(
                LeaseCode::LeaseNotOwner,
                "only the lease's issuer may revoke it with `lease:revoke`",
            )
            .into());
        }
        match LeaseStatus::parse(&l.status) {
            Some(LeaseStatus::Active) => {
                let now = tx.now_unix();
                if !tx.ops().lease_revoke(handle, now, &who.accessor, reason)? {
                    return Err(ActError::Family(
                        "the lease changed under the writers' lock; this is a bug in vaultgate"
                            .into(),
                    ));
                }
                destroyed = tx.secret_destroy(&l.secret_id)?;
                tx.append(
                    NewEvent::new("LEASE_REVOKED", who.actor())
                        .subject("lease", handle)
                        .meta(
                            Metadata::new()
                                .str("ingest", &l.ingest_id)
                                .str("reason", reason)
                                .bool("destroyed", destroyed),
                        ),
                )?;
                let l = tx
                    .ops()
                    .lease_get(handle)?
                    .ok_or_else(|| ActError::Family("the revoked lease vanished".into()))?;
                Ok((l, None))
            }
            Some(LeaseStatus::Revoked) => {
                tx.append(
                    NewEvent::new("LEASE_REVOKE_REPEATED", who.actor())
                        .subject("lease", handle)
                        .meta(Metadata::new().str("reason", reason)),
                )?;
                let by = l.revoked_by.clone().unwrap_or_default();
                Ok((l, Some(format!("already revoked (first revoked by {by})"))))
            }
            Some(LeaseStatus::Expired) => {
                tx.append(
                    NewEvent::new("LEASE_REVOKE_REPEATED", who.actor())
                        .subject("lease", handle)
                        .meta(
                            Metadata::new()
                                .str("reason", reason)
                                .str("status", "expired"),
                        ),
                )?;
                Ok((
                    l,
                    Some("already expired: its material is destroyed".to_owned()),
                ))
            }
            None => Err(ActError::Family(
                format!("lease `{handle}` has an unknown status; the database is corrupt").into(),
            )),
        }
    })?;
    if destroyed {
        vault.purge_freed()?;
    }
    Ok(LeaseReport {
        command: "revoke",
        lease,
        note,
    })
}

/// `lease list [--ingest ID] [--status S]`.
pub fn list(
    vault: &mut Vault<'_>,
    caller: &Caller,
    filter: &LeaseFilter,
) -> Result<LeaseListReport, Failure> {
    sweep::before_command(vault)?;
    vault.authorize_read(caller, &Act::new("lease.list", "lease:read").in_lockdown())?;
    let mut tx = vault
        .store()
        .begin(TxMode::Read)
        .map_err(VaultError::from)?;
    let leases = tx.lease_list(filter).map_err(VaultError::from)?;
    Ok(LeaseListReport { leases })
}

/// `lease show HANDLE`.
pub fn show(vault: &mut Vault<'_>, caller: &Caller, handle: &str) -> Result<LeaseReport, Failure> {
    sweep::before_command(vault)?;
    vault.authorize_read(caller, &Act::new("lease.show", "lease:read").in_lockdown())?;
    let mut tx = vault
        .store()
        .begin(TxMode::Read)
        .map_err(VaultError::from)?;
    match tx.lease_get(handle).map_err(VaultError::from)? {
        Some(lease) => Ok(LeaseReport {
            command: "show",
            lease,
            note: None,
        }),
        None => Err(RegistryError::Invalid(format!(
            "no lease `{}` ({})",
            esc(handle),
            LeaseCode::LeaseUnknown.as_str()
        ))
        .into()),
    }
}

/// `lease sweep`: only the expiry, as an act of the caller (`lease:sweep`).
pub fn sweep_cmd(vault: &mut Vault<'_>, caller: &Caller) -> Result<SweepReport, Failure> {
    let swept = vault.act(
        caller,
        &Act::new("lease.sweep", "lease:sweep").in_lockdown(),
        |tx, who| {
            let s = sweep::expire_due_in(tx, &who.actor())?;
            tx.append(
                NewEvent::new("LEASE_SWEPT", who.actor()).meta(
                    Metadata::new()
                        .int(
                            "expired_leases",
                            i64::try_from(s.leases).unwrap_or(i64::MAX),
                        )
                        .int(
                            "expired_grants",
                            i64::try_from(s.grants).unwrap_or(i64::MAX),
                        ),
                ),
            )?;
            Ok(s)
        },
    )?;
    if swept.leases > 0 {
        vault.purge_freed()?;
    }
    Ok(SweepReport {
        leases: swept.leases,
        grants: swept.grants,
    })
}

#[allow(clippy::too_many_lines)] // check, decrypt, audit, spawn, audit the exit
/// `lease exec HANDLE [--env NAME | --file] -- CMD…`: the child's exit, after `LEASE_USED`
/// (before the spawn) and `LEASE_EXEC_ENDED` (after it) are on the audit log.
pub fn exec(
    vault: &mut Vault<'_>,
    caller: &Caller,
    handle: &str,
    delivery: &Delivery,
    argv: &[OsString],
) -> Result<ChildExit, Failure> {
    if argv.is_empty() {
        return Err(RegistryError::Invalid(exec::ExecError::NoCommand.to_string()).into());
    }
    if let Delivery::Env(name) = delivery {
        exec::check_env_name(name).map_err(|e| RegistryError::Invalid(e.to_string()))?;
    }
    // Before any material is decrypted: no core dump and no same-user attach can reveal it.
    exec::harden_process().map_err(|e| RegistryError::Invalid(e.to_string()))?;
    sweep::before_command(vault)?;
    let project = project_of_lease(vault, handle)?.and_then(|(_, p)| p);
    let program = esc(&argv[0].to_string_lossy());
    let mode = match delivery {
        Delivery::Env(_) => "env",
        Delivery::File => "file",
    };
    let (material, used_event): (SecretBytes, String) = vault.act(
        caller,
        &Act::new("lease.exec", "lease:exec").project(project),
        |tx, who| {
            let Some(l) = tx.ops().lease_get(handle)? else {
                return Err(violation(
                    LeaseCode::LeaseUnknown,
                    format!("no lease `{}`", esc(handle)),
                ));
            };
            let subject = || Metadata::new().str("lease", handle);
            match LeaseStatus::parse(&l.status) {
                Some(LeaseStatus::Active) => {}
                Some(LeaseStatus::Revoked) => {
                    return Err(Refusal::violation(
                        LeaseCode::LeaseRevoked,
                        format!("lease `{handle}` was revoked"),
                    )
                    .meta(subject())
                    .into());
                }
                Some(LeaseStatus::Expired) | None => {
                    return Err(Refusal::violation(
                        LeaseCode::LeaseExpired,
                        format!("lease `{handle}` expired"),
                    )
                    .meta(subject())
                    .into());
                }
            }
            if l.expires_at <= tx.now_unix() {
                return Err(Refusal::violation(
                    LeaseCode::LeaseExpired,
                    format!("lease `{handle}` expired"),
                )
                .meta(subject())
                .into());
            }
            let tampered = || -> ActError {
                Refusal::violation(
                    LeaseCode::LeaseTampered,
                    format!(
                        "lease `{handle}` no longer matches its sealed material; refusing to use it"
                    ),
                )
                .meta(subject())
                .into()
            };
            let (meta, material) = match tx.secret_open(&l.secret_id) {
                Ok(Some(x)) => x,
                Ok(None) | Err(ActError::Crypto(_)) => return Err(tampered()),
                Err(e) => return Err(e),
            };
            if meta.scope != sealed_scope(&l.scopes)
                || meta.expires_at != Some(l.expires_at)
                || rules::fingerprint(material.expose()).to_hex() != l.fingerprint
            {
                return Err(tampered());
            }
            let (_, event_id) = tx.append(
                NewEvent::new("LEASE_USED", who.actor())
                    .subject("lease", handle)
                    .meta(
                        Metadata::new()
                            .str("ingest", &l.ingest_id)
                            .str("program", &program)
                            .str("delivery", mode),
                    ),
            )?;
            Ok((material, event_id))
        },
    )?;
    let text = zeroize::Zeroizing::new(hex::encode(material.expose()));
    drop(material);
    let outcome = exec::run(argv, delivery, &text);
    drop(text);
    let (code, signal, error) = match &outcome {
        Ok(x) => (x.code, x.signal, None),
        Err(e) => (None, None, Some(e.to_string())),
    };
    vault.system_act(|tx| {
        let mut m = Metadata::new().str("lease", handle);
        if let Some(c) = code {
            m = m.int("exit_code", i64::from(c));
        }
        if let Some(s) = signal {
            m = m.int("signal", i64::from(s));
        }
        if let Some(e) = &error {
            m = m.str("spawn_error", e);
        }
        tx.append(
            NewEvent::new("LEASE_EXEC_ENDED", crate::vault::audit::Actor::system())
                .subject("lease", handle)
                .severity(if error.is_some() {
                    Severity::Warning
                } else {
                    Severity::Info
                })
                .caused_by(used_event.clone())
                .meta(m),
        )?;
        Ok(())
    })?;
    outcome.map_err(|e| RegistryError::Invalid(e.to_string()).into())
}
