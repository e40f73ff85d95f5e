//! The vault's own privileged commands: tokens, whoami, lockdown.

use std::time::Duration;

use super::act::{Act, ActFailure, Caller, Principal, Refusal};
use super::audit::{Metadata, NewEvent, Severity};
use super::caps::{Capability, CapabilitySet};
use super::codes::VaultCode;
use super::crypto::SecretString;
use super::store::{TokenRow, TxMode};
use super::{Vault, VaultError, meta, token};

/// How a new token's authority is given.
#[derive(Debug, Clone)]
pub enum Authority {
    /// A role from the configuration (expanded now).
    Role(String),
    /// Explicit capability names.
    Capabilities(Vec<String>),
}

/// `token create` input.
#[derive(Debug, Clone)]
pub struct NewTokenSpec {
    /// Human name.
    pub name: String,
    /// Role or capabilities.
    pub authority: Authority,
    /// Lifetime.
    pub ttl: Option<Duration>,
    /// Bind to a project.
    pub project: Option<String>,
}

/// A created token.
#[derive(Debug)]
pub struct CreatedToken {
    /// Shown once.
    pub text: SecretString,
    /// The stored row (no secret).
    pub row: TokenRow,
}

fn valid_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/'))
}

impl Vault<'_> {
    /// `token create` (capability `admin`).
    pub fn token_create(
        &mut self,
        caller: &Caller,
        spec: &NewTokenSpec,
    ) -> Result<CreatedToken, ActFailure> {
        let (role, caps): (Option<String>, Result<CapabilitySet, Refusal>) = match &spec.authority {
            Authority::Role(r) => (
                Some(r.clone()),
                self.config.role(r).cloned().ok_or_else(|| {
                    Refusal::violation(
                        VaultCode::RoleUnknown,
                        format!(
                            "no role `{r}` in the configuration (known: {})",
                            self.config
                                .roles()
                                .keys()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                }),
            ),
            Authority::Capabilities(list) => (None, {
                let mut set = CapabilitySet::default();
                let mut err = None;
                for c in list {
                    match Capability::parse(c) {
                        Ok(cap) => {
                            set.0.insert(cap);
                        }
                        Err(e) => {
                            err = Some(Refusal::violation(
                                VaultCode::CapabilityUnknown,
                                e.to_string(),
                            ));
                            break;
                        }
                    }
                }
                err.map_or(Ok(set), Err)
            }),
        };
        let name_ok = valid_label(&spec.name) && spec.project.as_deref().is_none_or(valid_label);
        let ttl = spec
            .ttl
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let token_key = self.keys.token.clone();
        let generated = token::generate(&token_key).map_err(|e| ActFailure::Error(e.into()))?;
        let text = generated.text.clone();
        let row = self.act(caller, &Act::new("token.create", "admin"), |tx, who| {
            if !name_ok {
                return Err(Refusal::violation(
                    VaultCode::TokenNameInvalid,
                    "a token name or project is letters, digits and `._-:/`, at most 128",
                )
                .into());
            }
            let caps = caps?;
            if caps.0.is_empty() {
                return Err(Refusal::violation(
                    VaultCode::CapabilityUnknown,
                    "a token needs at least one capability",
                )
                .into());
            }
            let at = tx.now_unix();
            let row = TokenRow {
                accessor: generated.accessor.clone(),
                name: spec.name.clone(),
                secret_mac: generated.secret_mac.clone(),
                capabilities: caps.names(),
                role: role.clone(),
                project: spec.project.clone(),
                created_at: at,
                expires_at: ttl.map(|t| at.saturating_add(t)),
                revoked_at: None,
                revoked_by: None,
                created_by: who.accessor.clone(),
            };
            tx.ops().token_insert(&row)?;
            tx.append(
                NewEvent::new("token.created", who.actor())
                    .subject("token", row.accessor.clone())
                    .meta(
                        Metadata::new()
                            .str("name", row.name.clone())
                            .opt_str("role", row.role.clone())
                            .opt_str("project", row.project.clone())
                            .list("capabilities", row.capabilities.clone())
                            .opt_int("expires_at", row.expires_at),
                    ),
            )?;
            Ok(row)
        })?;
        Ok(CreatedToken { text, row })
    }

    /// `token list` (capability `token:read`).
    pub fn token_list(&mut self, caller: &Caller) -> Result<Vec<TokenRow>, ActFailure> {
        self.authorize_read(caller, &Act::new("token.list", "token:read").in_lockdown())?;
        let mut tx = self.store.begin(TxMode::Read).map_err(VaultError::from)?;
        Ok(tx.token_list().map_err(VaultError::from)?)
    }

    /// `token revoke` (capability `admin`). Revoking again reports the first revocation.
    pub fn token_revoke(
        &mut self,
        caller: &Caller,
        accessor: &str,
    ) -> Result<TokenRow, ActFailure> {
        let accessor = accessor.to_owned();
        self.act(caller, &Act::new("token.revoke", "admin"), |tx, who| {
            let Some(row) = tx.ops().token_get(&accessor)? else {
                return Err(Refusal::violation(
                    VaultCode::TokenNotFound,
                    format!(
                        "no token with accessor `{}`",
                        crate::report::escape_for_display(&accessor)
                    ),
                )
                .into());
            };
            let at = tx.now_unix();
            let newly = tx.ops().token_revoke(&accessor, at, &who.accessor)?;
            tx.append(
                NewEvent::new("token.revoked", who.actor())
                    .subject("token", accessor.clone())
                    .meta(
                        Metadata::new()
                            .bool("already_revoked", !newly)
                            .str("name", row.name.clone()),
                    ),
            )?;
            Ok(tx.ops().token_get(&accessor)?.unwrap_or(row))
        })
    }

    /// `whoami`: any valid token; nothing is written on success.
    pub fn whoami(&mut self, caller: &Caller) -> Result<Principal, ActFailure> {
        self.authorize_read(caller, &Act::authenticated("whoami"))
    }

    /// `lockdown on|off --reason R` (capability `admin`; allowed during lockdown).
    pub fn set_lockdown(
        &mut self,
        caller: &Caller,
        on: bool,
        reason: &str,
    ) -> Result<bool, ActFailure> {
        let reason = reason.to_owned();
        self.act(
            caller,
            &Act::new("lockdown.set", "admin").in_lockdown(),
            |tx, who| {
                let was_on = tx.ops().meta_get(meta::LOCKDOWN)?.as_deref() == Some("on");
                tx.ops()
                    .meta_set(meta::LOCKDOWN, if on { "on" } else { "off" })?;
                tx.ops()
                    .meta_set(meta::LOCKDOWN_REASON, if on { &reason } else { "" })?;
                tx.append(
                    NewEvent::new(
                        if on {
                            "lockdown.enabled"
                        } else {
                            "lockdown.disabled"
                        },
                        who.actor(),
                    )
                    .severity(Severity::Critical)
                    .subject("vault", "lockdown")
                    .meta(
                        Metadata::new()
                            .str("reason", reason.clone())
                            .bool("was_on", was_on),
                    ),
                )?;
                Ok(was_on)
            },
        )
    }
}
