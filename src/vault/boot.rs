//! The boot sequence, run by every command that opens the home, in this order; the first step
//! that fails stops the boot with its reason code (fail closed):
//!
//! 1. `config`   — `config.json` is a private file of ours and validates.
//! 2. `home`     — the home is a 0700 folder of ours; `master.key` is a regular 0600 file of
//!    ours, not a symlink, exactly 32 bytes.
//! 3. `database` — `vault.db` exists, is private, opens as SQLite in WAL mode, knows no
//!    migration newer than this binary, has its append-only triggers intact, and the master
//!    key unwraps its root key (an interrupted key rotation is completed or discarded here).
//! 4. `audit`    — the head anchor verifies and matches the database (O(1) in the log length);
//!    pending migrations are applied now, each audited.
//! 5. `clock`    — the clock is not more than 120 s behind the latest time the vault has seen.
//! 6. `lockdown` — reported; while on, privileged acts are refused with `security.denied`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::audit::{self, Actor, Metadata, NewEvent};
use super::codes::VaultCode;
use super::config::{self, ValidConfig};
use super::crypto::{self, Keys, MasterKey, RootKey};
use super::home::Home;
use super::store::sqlite::SqliteStore;
use super::store::{Store, TxMode};
use super::{Vault, VaultError, meta};
use crate::clock::Clock;
use crate::report::FindingCode as _;

/// How far behind the highest time seen the clock may be.
pub const CLOCK_TOLERANCE: Duration = Duration::from_secs(120);

/// One boot step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootStep {
    /// 1. configuration.
    Config,
    /// 2. home and master key.
    Home,
    /// 3. database.
    Database,
    /// 4. audit head.
    Audit,
    /// 5. clock.
    Clock,
    /// 6. lockdown.
    Lockdown,
}

impl BootStep {
    /// Every step, in order.
    pub const ALL: [Self; 6] = [
        Self::Config,
        Self::Home,
        Self::Database,
        Self::Audit,
        Self::Clock,
        Self::Lockdown,
    ];
    /// `config`, `home`, `database`, `audit`, `clock`, `lockdown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Home => "home",
            Self::Database => "database",
            Self::Audit => "audit",
            Self::Clock => "clock",
            Self::Lockdown => "lockdown",
        }
    }
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    /// Which step.
    pub step: BootStep,
    /// `None` when it passed.
    pub code: Option<VaultCode>,
    /// What was found (on success: a short summary).
    pub detail: String,
}

/// Every step that ran, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootReport {
    /// Steps run (a failed step is the last).
    pub steps: Vec<StepOutcome>,
}

impl BootReport {
    /// The failed step, if any.
    pub fn failure(&self) -> Option<&StepOutcome> {
        self.steps.iter().find(|s| s.code.is_some())
    }
    fn ok(&mut self, step: BootStep, detail: impl Into<String>) {
        self.steps.push(StepOutcome {
            step,
            code: None,
            detail: detail.into(),
        });
    }
    fn fail(&mut self, step: BootStep, code: VaultCode, detail: impl Into<String>) -> VaultError {
        let detail = detail.into();
        self.steps.push(StepOutcome {
            step,
            code: Some(code),
            detail: detail.clone(),
        });
        VaultError::Boot {
            step: step.as_str(),
            code: code.as_str(),
            message: detail,
        }
    }
}

/// Seconds since the epoch (clamped to 0 before 1970; the clock module refuses those anyway).
pub fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The AAD binding the wrapped root key to its vault and master key id.
pub(super) fn root_aad(vault_id: &str, key_id: &str) -> Vec<u8> {
    format!("vaultgate/root-key/v1\n{vault_id}\n{key_id}").into_bytes()
}

/// Run the boot sequence. Returns the report and, when every step passed, the open vault.
pub fn boot<'c>(home: &Home, clock: &'c dyn Clock) -> (BootReport, Result<Vault<'c>, VaultError>) {
    let mut report = BootReport::default();
    let result = run(home, clock, &mut report, false);
    (report, result)
}

/// Boot for inspection (`audit verify`): like [`boot`], but a tampered audit table (step 3's
/// `schema-tampered`) or a failed audit step is recorded in the report instead of stopping the
/// boot, so the whole chain can be walked and every problem named. The vault returned refuses
/// every write (nothing may be appended to, or re-anchor, a log that failed its check).
pub fn boot_for_inspection<'c>(
    home: &Home,
    clock: &'c dyn Clock,
) -> (BootReport, Result<Vault<'c>, VaultError>) {
    let mut report = BootReport::default();
    let result = run(home, clock, &mut report, true);
    (report, result)
}

#[allow(clippy::too_many_lines)] // the six steps read best in one place, in order
fn run<'c>(
    home: &Home,
    clock: &'c dyn Clock,
    r: &mut BootReport,
    inspect: bool,
) -> Result<Vault<'c>, VaultError> {
    let mut tamper: Option<String> = None;
    // 1. configuration
    if std::fs::symlink_metadata(home.root()).is_err() {
        return Err(r.fail(
            BootStep::Config,
            VaultCode::HomeMissing,
            format!(
                "no vault at `{}`\nhelp: run `vaultgate init --home {}`",
                home.root().display(),
                home.root().display()
            ),
        ));
    }
    let cfg_path = home.config_path();
    if std::fs::symlink_metadata(&cfg_path).is_err() {
        return Err(r.fail(
            BootStep::Config,
            VaultCode::ConfigMissing,
            format!("the configuration `{}` is missing", cfg_path.display()),
        ));
    }
    if let Err(h) = Home::check_private_file(&cfg_path, VaultCode::ConfigInsecure, 0o022) {
        return Err(r.fail(BootStep::Config, h.code, h.message));
    }
    let config: ValidConfig = match config::load(home.root()) {
        Ok(c) => c,
        Err(e) => return Err(r.fail(BootStep::Config, VaultCode::ConfigInvalid, e.to_string())),
    };
    r.ok(
        BootStep::Config,
        format!(
            "{} providers, {} roles",
            config.providers().len(),
            config.roles().len()
        ),
    );

    // 2. home and key
    if let Err(h) = home.check_dir() {
        return Err(r.fail(BootStep::Home, h.code, h.message));
    }
    let master = match home.read_key(&home.key_path()) {
        Ok(k) => k,
        Err(h) => return Err(r.fail(BootStep::Home, h.code, h.message)),
    };
    r.ok(BootStep::Home, "home 0700, master.key 0600, 32 bytes");

    // 3. database
    let db_path = home.db_path();
    // The PostgreSQL store when a URL selects it (docs/scale.md); else the home's SQLite file.
    let pg_url = super::store::postgres::selected_url(config.database_url());
    if pg_url.is_none() && std::fs::symlink_metadata(&db_path).is_err() {
        return Err(r.fail(
            BootStep::Database,
            VaultCode::DbMissing,
            format!("the database `{}` is missing", db_path.display()),
        ));
    }
    if pg_url.is_none()
        && let Err(h) = Home::check_private_file(&db_path, VaultCode::DbInsecure, 0o077)
    {
        return Err(r.fail(BootStep::Database, h.code, h.message));
    }
    let opened = match &pg_url {
        Some(url) => {
            super::store::postgres::PgStore::open(url).map(|s| Box::new(s) as Box<dyn Store>)
        }
        None => SqliteStore::open(&db_path).map(|s| Box::new(s) as Box<dyn Store>),
    };
    let mut store: Box<dyn Store> = match opened {
        Ok(s) => s,
        Err(e) => return Err(r.fail(BootStep::Database, VaultCode::DbUnreadable, e.to_string())),
    };
    let schema = match store.schema_state() {
        Ok(s) => s,
        Err(e) => return Err(r.fail(BootStep::Database, VaultCode::DbUnreadable, e.to_string())),
    };
    if !schema.unknown.is_empty() {
        return Err(r.fail(
            BootStep::Database,
            VaultCode::SchemaTooNew,
            format!(
                "the database has migration(s) {:?} that this vaultgate does not know; it was written by a newer version\nhelp: use that version of vaultgate",
                schema.unknown
            ),
        ));
    }
    if !schema.protection_problems.is_empty() {
        let msg = format!(
            "the audit table's append-only protections were altered: {}",
            schema.protection_problems.join("; ")
        );
        let e = r.fail(BootStep::Database, VaultCode::SchemaTampered, msg.clone());
        if !inspect {
            return Err(e);
        }
        tamper = Some(msg);
    }
    let (vault_id, db_key_id, root_wrapped) = match read_root_meta(store.as_mut()) {
        Ok(v) => v,
        Err(e) => return Err(r.fail(BootStep::Database, VaultCode::DbUnreadable, e)),
    };
    let (master, rotation_note) = match settle_rotation(home, master, &db_key_id) {
        Ok(v) => v,
        Err(msg) => return Err(r.fail(BootStep::Database, VaultCode::KeyMismatch, msg)),
    };
    let Ok(root) = crypto::open(
        master.expose(),
        &root_wrapped,
        &root_aad(&vault_id, &db_key_id),
        "the root key",
    )
    .and_then(|b| RootKey::from_slice("the root key", b.expose())) else {
        return Err(r.fail(
            BootStep::Database,
            VaultCode::KeyMismatch,
            format!(
                "`{}` does not unwrap this database's root key (key id {db_key_id}): another vault's key, or an edited one",
                home.key_path().display()
            ),
        ));
    };
    let keys = Keys::new(master, &root);
    r.ok(
        BootStep::Database,
        format!(
            "schema {:?}{}, key {}{}",
            schema.applied,
            if schema.pending.is_empty() {
                String::new()
            } else {
                format!(" (pending {:?})", schema.pending)
            },
            keys.key_id,
            rotation_note
        ),
    );

    // 4. audit head
    let checked = (|| -> Result<(audit::Anchor, u64), (VaultCode, String)> {
        let anchor = audit::read_anchor(&home.anchor_path(), &keys.audit)
            .map_err(|f| (VaultCode::of_finding(&f), f.message))?;
        let inner = (|| -> Result<Result<u64, Box<crate::report::Finding>>, String> {
            let mut tx = store.begin(TxMode::Read).map_err(|e| e.to_string())?;
            let head = tx.audit_head().map_err(|e| e.to_string())?;
            let mut get = |seq| tx_get(tx.as_mut(), seq);
            let res = audit::check_head(&keys.audit, &anchor, head.as_ref(), &schema, &mut get);
            Ok(res.map(|()| head.map_or(0, |h| h.seq)))
        })();
        match inner {
            Ok(Ok(seq)) => Ok((anchor, seq)),
            Ok(Err(f)) => Err((VaultCode::of_finding(&f), f.message)),
            Err(e) => Err((VaultCode::DbUnreadable, e)),
        }
    })();
    let mut vault = Vault {
        home: home.clone(),
        config,
        keys,
        store,
        clock,
        tamper: None,
    };
    match checked {
        Ok((anchor, head_seq)) if tamper.is_none() => {
            let mut migrated = Vec::new();
            for version in &schema.pending {
                if let Err(e) = vault.apply_migration(*version) {
                    return Err(r.fail(
                        BootStep::Audit,
                        VaultCode::DbUnreadable,
                        format!("applying migration {version} failed: {e}"),
                    ));
                }
                migrated.push(*version);
            }
            r.ok(
                BootStep::Audit,
                format!(
                    "anchor at row {}, database head at row {head_seq}{}",
                    anchor.seq,
                    if migrated.is_empty() {
                        String::new()
                    } else {
                        format!("; applied migration(s) {migrated:?}")
                    }
                ),
            );
        }
        Ok((anchor, head_seq)) => {
            r.ok(
                BootStep::Audit,
                format!(
                    "anchor at row {}, database head at row {head_seq}",
                    anchor.seq
                ),
            );
        }
        Err((code, msg)) => {
            let e = r.fail(BootStep::Audit, code, msg.clone());
            if !inspect {
                return Err(e);
            }
            tamper.get_or_insert(msg);
        }
    }
    vault.tamper = tamper;

    // 5. clock
    let now = clock.now();
    let highest = match vault.read_meta(meta::HIGHEST_SEEN) {
        Ok(v) => v.and_then(|s| s.parse::<i64>().ok()).unwrap_or(0),
        Err(e) => return Err(r.fail(BootStep::Clock, VaultCode::DbUnreadable, e.to_string())),
    };
    if let Err(msg) = clock_guard(now, highest) {
        return Err(r.fail(BootStep::Clock, VaultCode::ClockRegression, msg));
    }
    r.ok(
        BootStep::Clock,
        format!("now {}, latest seen {}", unix(now), highest),
    );

    // 6. lockdown
    let lock = match vault.lockdown() {
        Ok(l) => l,
        Err(e) => return Err(r.fail(BootStep::Lockdown, VaultCode::DbUnreadable, e.to_string())),
    };
    r.ok(
        BootStep::Lockdown,
        match lock {
            Some(reason) => format!("ON: {reason} (privileged commands are refused)"),
            None => "off".into(),
        },
    );
    Ok(vault)
}

fn tx_get(
    tx: &mut dyn super::store::Tx,
    seq: u64,
) -> Result<Option<super::store::AuditRow>, String> {
    tx.audit_get(seq).map_err(|e| e.to_string())
}

/// The clock-regression rule: refuse a clock more than [`CLOCK_TOLERANCE`] behind `highest`.
pub fn clock_guard(now: SystemTime, highest: i64) -> Result<(), String> {
    let now_s = unix(now);
    let tol = i64::try_from(CLOCK_TOLERANCE.as_secs()).unwrap_or(120);
    if now_s.saturating_add(tol) < highest {
        return Err(format!(
            "the clock reads {now_s} (unix seconds), {} s behind the latest time this vault has seen ({highest}); more than {tol} s is refused\nhelp: fix the system clock",
            highest - now_s
        ));
    }
    Ok(())
}

fn read_root_meta(store: &mut dyn Store) -> Result<(String, String, Vec<u8>), String> {
    let mut tx = store.begin(TxMode::Read).map_err(|e| e.to_string())?;
    let get = |tx: &mut dyn super::store::Tx, k: &str| -> Result<String, String> {
        tx.meta_get(k)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the database has no `{k}` setting; it is not a complete vault"))
    };
    let vault_id = get(tx.as_mut(), meta::VAULT_ID)?;
    let key_id = get(tx.as_mut(), meta::KEY_ID)?;
    let wrapped = hex::decode(get(tx.as_mut(), meta::ROOT_WRAPPED)?)
        .map_err(|_| "the wrapped root key is not hex".to_owned())?;
    Ok((vault_id, key_id, wrapped))
}

/// Finish or discard an interrupted key rotation. The database's `key_id` decides: if it names
/// `master.key.next`, the rotation committed and only the rename is left; if it names
/// `master.key`, the rotation never committed and `master.key.next` is discarded.
fn settle_rotation(
    home: &Home,
    master: MasterKey,
    db_key_id: &str,
) -> Result<(MasterKey, String), String> {
    let next_path = home.next_key_path();
    let next_exists = std::fs::symlink_metadata(&next_path).is_ok();
    if crypto::key_id(&master) == db_key_id {
        if next_exists {
            std::fs::remove_file(&next_path)
                .map_err(|e| format!("cannot remove the stale `{}`: {e}", next_path.display()))?;
            return Ok((master, "; discarded an uncommitted key rotation".into()));
        }
        return Ok((master, String::new()));
    }
    if next_exists {
        let next = home.read_key(&next_path).map_err(|h| h.message)?;
        if crypto::key_id(&next) == db_key_id {
            std::fs::rename(&next_path, home.key_path())
                .map_err(|e| format!("cannot complete the key rotation: {e}"))?;
            crate::fsutil::fsync_dir(home.root()).map_err(|e| e.to_string())?;
            return Ok((next, "; completed an interrupted key rotation".into()));
        }
    }
    Err(format!(
        "`{}` (key id {}) is not the key this database was wrapped with (key id {db_key_id})",
        home.key_path().display(),
        crypto::key_id(&master)
    ))
}

impl Vault<'_> {
    fn apply_migration(&mut self, version: u32) -> Result<(), VaultError> {
        let at = self.now_rfc3339()?;
        self.system_act(|tx| {
            tx.ops().apply_migration(version, &at)?;
            tx.append(
                NewEvent::new("vault.migrated", Actor::system())
                    .subject("schema", version.to_string())
                    .meta(Metadata::new().int("version", i64::from(version))),
            )?;
            Ok(())
        })
    }
}
