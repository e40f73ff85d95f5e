//! The vault's secure spine: the home, the boot sequence, tokens and capabilities, the
//! append-only audit log, and encrypted secret storage.
//!
//! Everything stateful in vaultgate (leases, grants, agents) stands on this family:
//! - [`boot::boot`] opens a home through six checks and returns a [`Vault`];
//! - [`Vault::act`] runs a privileged act: authenticated, capability-checked, and committed
//!   together with its audit row (see [`act`]);
//! - [`Vault::authorize_read`] checks a read-only request;
//! - [`Vault::secret_put`] / [`Vault::secret_open`] / [`Vault::secret_destroy`] store
//!   material only encrypted (see [`secret`]);
//! - the [`store::Store`] trait keeps SQL out of every family (see its recipe for adding
//!   tables).
//!
//! Threat model (also in `docs/vault.md`): a process running as the same user can read
//! `master.key` and therefore everything; what is protected is a copy of the database alone,
//! other users on the machine, and leaks into logs, terminals and the audit log.

pub mod act;
pub mod audit;
pub mod boot;
pub mod caps;
pub mod codes;
pub mod config;
pub mod crypto;
pub mod home;
pub mod init;
pub mod ops;
pub mod report;
pub mod rotate;
pub mod secret;
pub mod store;
pub mod token;
pub mod verify;

pub use act::{Act, ActError, ActFailure, AuditedTx, Caller, Principal, Refusal, RefusalKind};
pub use audit::{Actor, Metadata, NewEvent, Severity};
pub use boot::{BootReport, BootStep, boot, boot_for_inspection};
pub use caps::{Capability, CapabilitySet};
pub use codes::VaultCode;
pub use config::ValidConfig;
pub use crypto::{SecretBytes, SecretString};
pub use home::Home;
pub use secret::SecretMeta;
pub use token::PresentedToken;

use crate::clock::Clock;
use crypto::Keys;
use store::{Store, StoreError, TxMode};

/// Keys of the `vault_meta` table.
pub mod meta {
    /// A UUID naming this vault (bound into the wrapped root key).
    pub const VAULT_ID: &str = "vault_id";
    /// The id of the master key that wraps the root and data keys.
    pub const KEY_ID: &str = "key_id";
    /// `nonce ‖ XChaCha20-Poly1305(master, root key)` in hex.
    pub const ROOT_WRAPPED: &str = "root_wrapped";
    /// The latest Unix time any act has seen (the clock-regression guard).
    pub const HIGHEST_SEEN: &str = "highest_seen";
    /// `on` or `off`.
    pub const LOCKDOWN: &str = "lockdown";
    /// Why lockdown was turned on.
    pub const LOCKDOWN_REASON: &str = "lockdown_reason";
    /// RFC 3339 time of `init`.
    pub const CREATED_AT: &str = "created_at";
}

/// Why a vault command could not run (exit 2). A refusal is not an error: see [`ActFailure`].
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// A boot step failed.
    #[error("boot step `{step}` refused ({code}): {message}")]
    Boot {
        /// The step.
        step: &'static str,
        /// Its reason code.
        code: &'static str,
        /// What was wrong.
        message: String,
    },
    /// `init` or another home-level check refused.
    #[error("{} ({})", .0.message, report_code(.0.code))]
    Home(#[from] home::Hygiene),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Cryptography failed.
    #[error(transparent)]
    Crypto(#[from] crypto::CryptoError),
    /// A file operation failed.
    #[error(transparent)]
    Fs(#[from] crate::fsutil::FsError),
    /// The configuration could not be written or read.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The clock could not be read.
    #[error(transparent)]
    Clock(#[from] crate::clock::ClockError),
    /// An act failed for a reason other than a refusal.
    #[error("{0}")]
    Act(String),
}

fn report_code(c: VaultCode) -> &'static str {
    crate::report::FindingCode::as_str(c)
}

/// An open, booted vault.
pub struct Vault<'c> {
    home: Home,
    config: ValidConfig,
    keys: Keys,
    store: Box<dyn Store>,
    clock: &'c dyn Clock,
    /// Set when booted for inspection over a log that failed its check: writes are refused.
    tamper: Option<String>,
}

impl std::fmt::Debug for Vault<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("home", &self.home)
            .field("key_id", &self.keys.key_id)
            .finish_non_exhaustive()
    }
}

impl<'c> Vault<'c> {
    /// Boot a home; the error names the failed step.
    pub fn open(home: &Home, clock: &'c dyn Clock) -> Result<Self, VaultError> {
        boot::boot(home, clock).1
    }

    /// Refuse to write to a log that failed its boot check (inspection boots only).
    fn writable(&self) -> Result<(), VaultError> {
        match &self.tamper {
            None => Ok(()),
            Some(why) => Err(VaultError::Act(format!(
                "the audit log failed its check ({why}); nothing is written until it is resolved"
            ))),
        }
    }

    /// The home.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// The validated configuration loaded at boot.
    pub fn config(&self) -> &ValidConfig {
        &self.config
    }

    /// The master key id in use.
    pub fn key_id(&self) -> &str {
        &self.keys.key_id
    }

    /// The clock (raw; acts use the effective time of their transaction).
    pub fn clock(&self) -> &dyn Clock {
        self.clock
    }

    /// The store, for read-only queries of a family (`store.begin(TxMode::Read)`).
    pub fn store(&mut self) -> &mut dyn Store {
        self.store.as_mut()
    }

    /// The effective current time: the later of the clock and the latest time seen.
    pub fn effective_now(&mut self) -> Result<std::time::SystemTime, VaultError> {
        let highest = self
            .read_meta(meta::HIGHEST_SEEN)?
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        let now = self.clock.now();
        let h = std::time::UNIX_EPOCH + std::time::Duration::from_secs(highest);
        Ok(now.max(h))
    }

    fn now_rfc3339(&self) -> Result<String, VaultError> {
        Ok(crate::clock::format_rfc3339(self.clock.now())?)
    }

    /// One `vault_meta` value, read outside any act.
    pub fn read_meta(&mut self, key: &str) -> Result<Option<String>, VaultError> {
        let mut tx = self.store.begin(TxMode::Read)?;
        Ok(tx.meta_get(key)?)
    }

    /// `Some(reason)` while lockdown is on.
    pub fn lockdown(&mut self) -> Result<Option<String>, VaultError> {
        let mut tx = self.store.begin(TxMode::Read)?;
        Ok(match tx.meta_get(meta::LOCKDOWN)?.as_deref() {
            Some("on") => Some(tx.meta_get(meta::LOCKDOWN_REASON)?.unwrap_or_default()),
            _ => None,
        })
    }
}
