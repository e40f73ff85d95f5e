//! The vault's home: where it is, what is in it, and the file-hygiene checks of boot step 2.
//!
//! Layout (every path here is fixed; nothing is configurable that could point outside):
//! `config.json` (0600), `master.key` (32 raw bytes, 0600, created exclusively), `vault.db`
//! (SQLite, WAL) with `vault.db-wal` / `vault.db-shm`, `audit.head` (the head anchor),
//! `vault.lock` (the writers' lock), `agents/` (agent checkouts), and `master.key.next` only
//! while a key rotation is in flight. The home itself is 0700 and owned by the user.
//!
//! The home is resolved once: `--home` > `VAULTGATE_HOME` > `~/.vaultgate`.

use std::ffi::OsString;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::codes::VaultCode;
use super::crypto::{KEY_LEN, MasterKey};
use crate::fsutil::{self, IoContext};

/// A located home (not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

/// A failed hygiene check: the reason code and a message naming the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Hygiene {
    /// The reason code.
    pub code: VaultCode,
    /// Lowercase, names the file, says the fix.
    pub message: String,
}

fn hygiene(code: VaultCode, message: String) -> Hygiene {
    Hygiene { code, message }
}

/// The effective user id of this process.
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

impl Home {
    /// `--home` > `VAULTGATE_HOME` > `$HOME/.vaultgate`.
    pub fn resolve(
        flag: Option<&Path>,
        env: Option<OsString>,
        user_home: Option<PathBuf>,
    ) -> Result<Self, String> {
        let root = if let Some(p) = flag {
            p.to_path_buf()
        } else if let Some(e) = env.filter(|e| !e.is_empty()) {
            PathBuf::from(e)
        } else if let Some(h) = user_home.filter(|h| !h.as_os_str().is_empty()) {
            h.join(".vaultgate")
        } else {
            return Err(
                "cannot locate the vault home: neither `--home`, `VAULTGATE_HOME` nor `HOME` is set"
                    .into(),
            );
        };
        Ok(Self::at(root))
    }

    /// A home at an explicit path.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The home folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join(super::config::FILE)
    }
    /// `master.key`.
    pub fn key_path(&self) -> PathBuf {
        self.root.join("master.key")
    }
    /// `master.key.next` (only during a rotation).
    pub fn next_key_path(&self) -> PathBuf {
        self.root.join("master.key.next")
    }
    /// `vault.db`.
    pub fn db_path(&self) -> PathBuf {
        self.root.join("vault.db")
    }
    /// `audit.head`, the head anchor.
    pub fn anchor_path(&self) -> PathBuf {
        self.root.join("audit.head")
    }
    /// `vault.lock`, held exclusively by every writer from `BEGIN` to the anchor update.
    pub fn lock_path(&self) -> PathBuf {
        self.root.join("vault.lock")
    }
    /// `agents/`.
    pub fn agents_dir(&self) -> PathBuf {
        self.root.join("agents")
    }

    /// Boot step 2a: the home is a real folder of ours, 0700 (no group/other bits).
    pub fn check_dir(&self) -> Result<(), Hygiene> {
        let shown = self.root.display();
        let md = match fs::symlink_metadata(&self.root) {
            Ok(md) => md,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(hygiene(
                    VaultCode::HomeMissing,
                    format!("no vault at `{shown}`\nhelp: run `vaultgate init --home {shown}`"),
                ));
            }
            Err(e) => {
                return Err(hygiene(
                    VaultCode::HomeInsecure,
                    format!("cannot inspect the home `{shown}`: {e}"),
                ));
            }
        };
        if md.file_type().is_symlink() {
            return Err(hygiene(
                VaultCode::HomeInsecure,
                format!("the home `{shown}` is a symlink; refusing to follow it"),
            ));
        }
        if !md.is_dir() {
            return Err(hygiene(
                VaultCode::HomeInsecure,
                format!("the home `{shown}` is not a folder"),
            ));
        }
        if md.uid() != euid() {
            return Err(hygiene(
                VaultCode::HomeInsecure,
                format!(
                    "the home `{shown}` belongs to uid {}, not to this user (uid {})",
                    md.uid(),
                    euid()
                ),
            ));
        }
        if md.mode() & 0o077 != 0 {
            return Err(hygiene(
                VaultCode::HomeInsecure,
                format!(
                    "the home `{shown}` has mode {:04o}; it must not be accessible to group or others\nhelp: chmod 700 {shown}",
                    md.mode() & 0o7777
                ),
            ));
        }
        Ok(())
    }

    /// Boot step 2b: read `master.key` after checking it is a regular file of ours, mode 0600
    /// or stricter, exactly 32 bytes. The file is opened with `O_NOFOLLOW` and checked through
    /// the open descriptor, so a swap between check and read cannot slip a symlink in.
    pub fn read_key(&self, path: &Path) -> Result<MasterKey, Hygiene> {
        let shown = path.display();
        let file = match fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(hygiene(
                    VaultCode::KeyMissing,
                    format!("the master key `{shown}` is missing"),
                ));
            }
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(hygiene(
                    VaultCode::KeySymlink,
                    format!("the master key `{shown}` is a symlink; refusing to follow it"),
                ));
            }
            Err(e) => {
                return Err(hygiene(
                    VaultCode::KeyMissing,
                    format!("cannot open the master key `{shown}`: {e}"),
                ));
            }
        };
        let md = file.metadata().map_err(|e| {
            hygiene(
                VaultCode::KeyMissing,
                format!("cannot inspect the master key `{shown}`: {e}"),
            )
        })?;
        if !md.is_file() {
            return Err(hygiene(
                VaultCode::KeySymlink,
                format!("the master key `{shown}` is not a regular file"),
            ));
        }
        if md.uid() != euid() {
            return Err(hygiene(
                VaultCode::KeyWrongOwner,
                format!(
                    "the master key `{shown}` belongs to uid {}, not to this user (uid {})",
                    md.uid(),
                    euid()
                ),
            ));
        }
        if md.mode() & 0o077 != 0 {
            return Err(hygiene(
                VaultCode::KeyInsecureMode,
                format!(
                    "the master key `{shown}` has mode {:04o}; group and others must have no access\nhelp: chmod 600 {shown}",
                    md.mode() & 0o7777
                ),
            ));
        }
        if md.len() != KEY_LEN as u64 {
            return Err(hygiene(
                VaultCode::KeyWrongLength,
                format!(
                    "the master key `{shown}` has {} bytes, expected {KEY_LEN}",
                    md.len()
                ),
            ));
        }
        let mut buf = zeroize::Zeroizing::new([0u8; KEY_LEN + 1]);
        let n = read_up_to(&file, &mut buf[..]).map_err(|e| {
            hygiene(
                VaultCode::KeyMissing,
                format!("cannot read the master key `{shown}`: {e}"),
            )
        })?;
        MasterKey::from_slice("the master key", &buf[..n]).map_err(|_| {
            hygiene(
                VaultCode::KeyWrongLength,
                format!("the master key `{shown}` has {n} bytes, expected {KEY_LEN}"),
            )
        })
    }

    /// Check a file the vault owns (config, database): ours, not a symlink, not writable by
    /// group or others (and for the database not readable either).
    pub fn check_private_file(path: &Path, code: VaultCode, deny_mask: u32) -> Result<(), Hygiene> {
        let shown = path.display();
        let md = fs::symlink_metadata(path)
            .map_err(|e| hygiene(code, format!("cannot inspect `{shown}`: {e}")))?;
        if md.file_type().is_symlink() || !md.is_file() {
            return Err(hygiene(
                code,
                format!("`{shown}` is not a regular file (a symlink is refused)"),
            ));
        }
        if md.uid() != euid() {
            return Err(hygiene(
                code,
                format!("`{shown}` belongs to uid {}, not to this user", md.uid()),
            ));
        }
        if md.mode() & deny_mask != 0 {
            return Err(hygiene(
                code,
                format!(
                    "`{shown}` has mode {:04o}, which is too open\nhelp: chmod 600 {shown}",
                    md.mode() & 0o7777
                ),
            ));
        }
        Ok(())
    }
}

fn read_up_to(mut file: &fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read as _;
    let mut n = 0;
    while n < buf.len() {
        let k = file.read(&mut buf[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}

/// Create the home folder (0700). Refuses when anything already exists at the path.
pub fn create_dir(root: &Path) -> Result<(), Hygiene> {
    let shown = root.display();
    if fs::symlink_metadata(root).is_ok() {
        // An empty folder made by the user (`mkdir`) is adopted only if it is really empty.
        let empty = fs::read_dir(root).is_ok_and(|mut d| d.next().is_none());
        let md = fs::symlink_metadata(root).ok();
        let plain_dir = md.as_ref().is_some_and(|m| m.is_dir() && m.uid() == euid());
        if !(empty && plain_dir) {
            return Err(hygiene(
                VaultCode::HomeExists,
                format!(
                    "`{shown}` already exists and is not an empty folder of yours; a vault is never initialised over existing files"
                ),
            ));
        }
        fs::set_permissions(root, fs::Permissions::from_mode(0o700)).map_err(|e| {
            hygiene(
                VaultCode::HomeInsecure,
                format!("cannot chmod `{shown}`: {e}"),
            )
        })?;
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(false);
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    if let Some(parent) = root.parent()
        && !parent.as_os_str().is_empty()
    {
        fs::create_dir_all(parent).map_err(|e| {
            hygiene(
                VaultCode::HomeMissing,
                format!("cannot create `{}`: {e}", parent.display()),
            )
        })?;
    }
    b.create(root).map_err(|e| {
        hygiene(
            VaultCode::HomeExists,
            format!("cannot create `{shown}`: {e}"),
        )
    })?;
    // The umask may have removed bits we want; it never adds any, but set it exactly.
    fs::set_permissions(root, fs::Permissions::from_mode(0o700)).map_err(|e| {
        hygiene(
            VaultCode::HomeInsecure,
            format!("cannot chmod `{shown}`: {e}"),
        )
    })?;
    Ok(())
}

/// Write a new key file exclusively (`O_CREAT|O_EXCL|O_NOFOLLOW`, 0600), fsync it and its folder.
pub fn write_key_exclusive(path: &Path, key: &MasterKey) -> Result<(), fsutil::FsError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ctx("create", path)?;
    f.write_all(key.expose()).ctx("write", path)?;
    f.sync_all().ctx("fsync", path)?;
    fsutil::fsync_dir(fsutil::parent_dir(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_precedence() {
        let h = Home::resolve(Some(Path::new("/a")), Some("/b".into()), Some("/c".into())).unwrap();
        assert_eq!(h.root(), Path::new("/a"));
        let h = Home::resolve(None, Some("/b".into()), Some("/c".into())).unwrap();
        assert_eq!(h.root(), Path::new("/b"));
        let h = Home::resolve(None, None, Some("/c".into())).unwrap();
        assert_eq!(h.root(), Path::new("/c/.vaultgate"));
        assert!(Home::resolve(None, None, None).is_err());
    }

    #[test]
    fn key_hygiene() {
        let d = tempfile::tempdir().unwrap();
        let home = Home::at(d.path());
        let k = home.key_path();
        write_key_exclusive(&k, &MasterKey::generate().unwrap()).unwrap();
        assert!(home.read_key(&k).is_ok());
        assert!(write_key_exclusive(&k, &MasterKey::generate().unwrap()).is_err());
        fs::set_permissions(&k, fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(
            home.read_key(&k).unwrap_err().code,
            VaultCode::KeyInsecureMode
        );
        fs::set_permissions(&k, fs::Permissions::from_mode(0o600)).unwrap();
        let link = d.path().join("link.key");
        std::os::unix::fs::symlink(&k, &link).unwrap();
        assert_eq!(
            home.read_key(&link).unwrap_err().code,
            VaultCode::KeySymlink
        );
        let short = d.path().join("short.key");
        fs::write(&short, [0u8; 31]).unwrap();
        fs::set_permissions(&short, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            home.read_key(&short).unwrap_err().code,
            VaultCode::KeyWrongLength
        );
    }
}
