//! `vaultgate init`: a new home, built in a private staging folder beside it and renamed into
//! place only when complete, so a failure leaves nothing half-made and an existing home is never
//! touched.
//!
//! Creates: the home (0700), `config.json` (0600, the shipped roles), `master.key` (32 random
//! bytes, 0600, `O_EXCL`), `vault.db` with every migration, the wrapped root key, the first
//! admin token (printed once by the CLI, stored only as an HMAC), the audit rows
//! `vault.initialized` and `token.created`, and the head anchor.

use std::path::{Path, PathBuf};

use super::audit::{Actor, Metadata, NewEvent};
use super::boot::root_aad;
use super::codes::VaultCode;
use super::config::{self, ValidConfig};
use super::crypto::{self, Keys, MasterKey, RootKey, SecretString};
use super::home::{self, Home, Hygiene};
use super::store::sqlite::SqliteStore;
use super::store::{Store, TokenRow};
use super::{Vault, VaultError, meta, token};
use crate::clock::{self, Clock};
use crate::fsutil;

/// What `init` made.
#[derive(Debug)]
pub struct InitOutcome {
    /// The home.
    pub home: PathBuf,
    /// The first admin token (`vgt_…`): shown once, never stored.
    pub token: SecretString,
    /// Its accessor.
    pub accessor: String,
    /// The master key id.
    pub key_id: String,
}

/// The name of the first token.
pub const FIRST_TOKEN_NAME: &str = "initial-admin";

fn staging_path(root: &Path) -> PathBuf {
    let name = root
        .file_name()
        .map_or_else(|| "vaultgate".into(), |n| n.to_string_lossy().into_owned());
    fsutil::parent_dir(root).join(format!(".{name}.init-{}", uuid::Uuid::new_v4().simple()))
}

/// Create a new home at `home`.
pub fn init(home: &Home, clock: &dyn Clock) -> Result<InitOutcome, VaultError> {
    let root = home.root();
    if let Ok(md) = std::fs::symlink_metadata(root) {
        let empty_dir = md.is_dir()
            && !md.file_type().is_symlink()
            && std::fs::read_dir(root).is_ok_and(|mut d| d.next().is_none());
        if !empty_dir {
            return Err(Hygiene {
                code: VaultCode::HomeExists,
                message: format!(
                    "`{}` already exists; a vault is never initialised over an existing home or files",
                    root.display()
                ),
            }
            .into());
        }
    }
    if let Some(parent) = root.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| fsutil::FsError::new("create", parent, e))?;
    }
    let staging = staging_path(root);
    let result = build(&staging, clock).and_then(|out| {
        // rename(2) replaces only an empty directory and never a file: a home that appeared
        // meanwhile makes this fail instead of being overwritten.
        std::fs::rename(&staging, root).map_err(|e| {
            VaultError::Home(Hygiene {
                code: VaultCode::HomeExists,
                message: format!("cannot move the new home into `{}`: {e}", root.display()),
            })
        })?;
        fsutil::fsync_dir(fsutil::parent_dir(root))?;
        Ok(out)
    });
    match result {
        Ok((token, accessor, key_id)) => Ok(InitOutcome {
            home: root.to_path_buf(),
            token,
            accessor,
            key_id,
        }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

fn build(staging: &Path, clock: &dyn Clock) -> Result<(SecretString, String, String), VaultError> {
    home::create_dir(staging)?;
    let h = Home::at(staging);
    {
        let mut b = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(h.agents_dir())
            .map_err(|e| fsutil::FsError::new("create", h.agents_dir(), e))?;
    }

    // config.json: created 0600 first so the atomic write keeps that mode.
    let cfg = ValidConfig::shipped();
    {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(h.config_path())
            .map_err(|e| fsutil::FsError::new("create", h.config_path(), e))?;
    }
    config::save(staging, &cfg)?;

    let master = MasterKey::generate()?;
    home::write_key_exclusive(&h.key_path(), &master)?;
    let key_id = crypto::key_id(&master);

    let now_s = clock::format_rfc3339(clock.now())?;
    let store = SqliteStore::create(&h.db_path(), &now_s)?;
    let root_key = RootKey::generate()?;
    let vault_id = uuid::Uuid::new_v4().to_string();
    let wrapped = crypto::seal(
        master.expose(),
        root_key.expose(),
        &root_aad(&vault_id, &key_id),
        "the root key",
    )?;
    let keys = Keys::new(master, &root_key);
    let new_token = token::generate(&keys.token)?;
    let mut vault = Vault {
        home: h,
        config: cfg,
        keys,
        store: Box::new(store) as Box<dyn Store>,
        clock,
        tamper: None,
    };
    let accessor = new_token.accessor.clone();
    let caps: Vec<String> = vault
        .config
        .role("admin")
        .map(super::caps::CapabilitySet::names)
        .unwrap_or_default();
    let kid = key_id.clone();
    vault.system_act(|tx| {
        let at = tx.now_unix();
        let ops = tx.ops();
        ops.meta_set(meta::VAULT_ID, &vault_id)?;
        ops.meta_set(meta::KEY_ID, &kid)?;
        ops.meta_set(meta::ROOT_WRAPPED, &hex::encode(&wrapped))?;
        ops.meta_set(meta::LOCKDOWN, "off")?;
        ops.meta_set(meta::CREATED_AT, &now_s)?;
        ops.token_insert(&TokenRow {
            accessor: new_token.accessor.clone(),
            name: FIRST_TOKEN_NAME.into(),
            secret_mac: new_token.secret_mac.clone(),
            capabilities: caps.clone(),
            role: Some("admin".into()),
            project: None,
            created_at: at,
            expires_at: None,
            revoked_at: None,
            revoked_by: None,
            created_by: "-".into(),
        })?;
        tx.append(
            NewEvent::new("vault.initialized", Actor::system())
                .subject("vault", vault_id.clone())
                .meta(Metadata::new().str("key_id", kid.clone())),
        )?;
        tx.append(
            NewEvent::new("token.created", Actor::system())
                .subject("token", new_token.accessor.clone())
                .meta(
                    Metadata::new()
                        .str("name", FIRST_TOKEN_NAME)
                        .str("role", "admin")
                        .list("capabilities", caps.clone()),
                ),
        )?;
        Ok(())
    })?;
    drop(vault);
    Ok((new_token.text, accessor, key_id))
}
