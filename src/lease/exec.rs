//! Running a command with a lease's secret: the only place material leaves the vault.
//!
//! The contract: the command is spawned directly (no shell, so no word splitting or
//! expansion of anything), in a cleared environment holding only [`ENV_ALLOWLIST`] from the
//! caller plus the secret, never the caller's `VAULTGATE_TOKEN`; core dumps are off for
//! vaultgate and, inherited, for the child (`RLIMIT_CORE` = 0, and vaultgate itself is marked
//! non-dumpable so another process of the same user cannot attach to read it); `SIGINT`,
//! `SIGTERM`, `SIGHUP`, `SIGQUIT`, `SIGUSR1` and `SIGUSR2` sent to vaultgate are forwarded to the
//! child; the child's exit code is returned (`128 + N` when signal `N` ended it).
//!
//! Delivery: `--env NAME` puts the secret, as 64 lowercase hex digits, in `NAME`; `--file`
//! writes the same text to a 0600 file in a fresh 0700 folder on a memory-backed file system
//! (`$XDG_RUNTIME_DIR`, else `/dev/shm`; refused when neither is usable) and passes its path in
//! [`FILE_ENV`]; the folder is removed when the child ends, whatever the outcome.
//!
//! What this cannot do: stop a child from copying what it was given. Expiry and revocation end
//! further use through vaultgate, not a copy the child already holds.

use std::ffi::OsString;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;

/// The caller's variables a child inherits; everything else is cleared.
pub const ENV_ALLOWLIST: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "TMPDIR",
];
/// Where `--env` puts the secret when no name is given.
pub const DEFAULT_ENV: &str = "VAULTGATE_LEASE_SECRET";
/// The variable carrying the secret file's path in `--file` mode.
pub const FILE_ENV: &str = "VAULTGATE_LEASE_FILE";
/// The variable that must never reach a child.
pub const TOKEN_ENV: &str = "VAULTGATE_TOKEN";
/// Signals forwarded to the child.
pub const FORWARDED: &[i32] = &[SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2];

/// How the child receives the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// In an environment variable of this name.
    Env(String),
    /// In a private file whose path is in [`FILE_ENV`].
    File,
}

/// Why the child could not be started (nothing of the secret is in these messages).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The variable name is unusable.
    #[error("`--env {0}`: {1}")]
    BadEnvName(String, &'static str),
    /// No command was given.
    #[error("no command given after `--`")]
    NoCommand,
    /// Core dumps could not be switched off: refusing rather than risking a dump holding the secret.
    #[error("cannot switch core dumps off: {0}")]
    CoreDumps(std::io::Error),
    /// Signal forwarding could not be set up.
    #[error("cannot set up signal forwarding: {0}")]
    Signals(std::io::Error),
    /// No memory-backed folder for `--file`.
    #[error(
        "`--file` needs a private memory-backed folder: {0}\nhelp: set XDG_RUNTIME_DIR to a 0700 tmpfs folder, or use --env"
    )]
    NoRuntimeDir(String),
    /// The secret file could not be prepared.
    #[error("cannot prepare the secret file in `{}`: {source}", dir.display())]
    SecretFile {
        /// The private folder.
        dir: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The program could not be spawned.
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        /// The program as given (escaped).
        program: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Waiting for the child failed.
    #[error("lost track of the child: {0}")]
    Wait(std::io::Error),
}

/// What the child did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildExit {
    /// Its exit code, when it exited.
    pub code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
}

impl ChildExit {
    /// The code vaultgate exits with: the child's, or `128 + signal`, clamped to 0..=255.
    pub fn process_code(self) -> u8 {
        let raw = match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => 255,
        };
        u8::try_from(raw.clamp(0, 255)).unwrap_or(u8::MAX)
    }
}

/// Check a `--env` name: a portable variable name that shadows nothing the child relies on.
pub fn check_env_name(name: &str) -> Result<(), ExecError> {
    let bad = |why| {
        Err(ExecError::BadEnvName(
            crate::report::escape_for_display(name),
            why,
        ))
    };
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_uppercase() || b == b'_');
    if !first_ok || !bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
        return bad("a name is `[A-Z_][A-Z0-9_]*`");
    }
    if name == TOKEN_ENV || name == FILE_ENV || ENV_ALLOWLIST.contains(&name) {
        return bad("that name is reserved");
    }
    Ok(())
}

/// Switch core dumps off for this process (and so for every child it spawns) and make it
/// non-dumpable. Fails closed: an error here stops `lease exec` before any decryption.
pub fn harden_process() -> Result<(), ExecError> {
    use rustix::process::{Resource, Rlimit, setrlimit};
    setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )
    .map_err(|e| ExecError::CoreDumps(e.into()))?;
    #[cfg(target_os = "linux")]
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| ExecError::CoreDumps(e.into()))?;
    Ok(())
}

/// Run `argv` with `secret_text` delivered as `delivery` says; returns once the child ended and
/// the secret file (if any) is gone. The caller has already called [`harden_process`].
pub fn run(
    argv: &[OsString],
    delivery: &Delivery,
    secret_text: &str,
) -> Result<ChildExit, ExecError> {
    let (program, rest) = argv.split_first().ok_or(ExecError::NoCommand)?;
    if let Delivery::Env(name) = delivery {
        check_env_name(name)?;
    }
    let mut cmd = Command::new(program);
    cmd.args(rest).env_clear().stdin(Stdio::inherit());
    for k in ENV_ALLOWLIST {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    // Held until the child ends; dropping it removes the folder and the file.
    let mut private_dir = None;
    match delivery {
        Delivery::Env(name) => {
            cmd.env(name, secret_text);
        }
        Delivery::File => {
            let dir = private_folder()?;
            let file = write_secret_file(dir.path(), secret_text)?;
            cmd.env(FILE_ENV, &file);
            private_dir = Some(dir);
        }
    }
    let mut signals = Signals::new(FORWARDED).map_err(ExecError::Signals)?;
    let handle = signals.handle();
    let mut child = cmd.spawn().map_err(|source| ExecError::Spawn {
        program: crate::report::escape_for_display(&program.to_string_lossy()),
        source,
    })?;
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let forwarder = std::thread::spawn(move || {
        for sig in signals.forever() {
            if let (Some(pid), Some(sig)) = (pid, rustix::process::Signal::from_named_raw(sig)) {
                // The child may already be gone; nothing else to do then.
                let _ = rustix::process::kill_process(pid, sig);
            }
        }
    });
    let status = child.wait();
    handle.close();
    let _ = forwarder.join();
    drop(private_dir);
    let status = status.map_err(ExecError::Wait)?;
    Ok(ChildExit {
        code: status.code(),
        signal: status.signal(),
    })
}

fn private_folder() -> Result<tempfile::TempDir, ExecError> {
    let candidates: Vec<PathBuf> = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/dev/shm")])
        .collect();
    let mut why = Vec::new();
    for base in candidates {
        if !base.is_dir() {
            why.push(format!("`{}` is not a folder", base.display()));
            continue;
        }
        match tempfile::Builder::new()
            .prefix("vaultgate-lease-")
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(&base)
        {
            Ok(d) => return Ok(d),
            Err(e) => why.push(format!("`{}`: {e}", base.display())),
        }
    }
    Err(ExecError::NoRuntimeDir(why.join("; ")))
}

fn write_secret_file(dir: &Path, secret_text: &str) -> Result<PathBuf, ExecError> {
    let err = |source| ExecError::SecretFile {
        dir: dir.to_path_buf(),
        source,
    };
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(err)?;
    let path = dir.join("secret");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(err)?;
    f.write_all(secret_text.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<OsString> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn env_names_are_checked() {
        assert!(check_env_name("API_KEY").is_ok());
        assert!(check_env_name(DEFAULT_ENV).is_ok());
        for bad in ["", "1X", "a", "X-Y", "PATH", TOKEN_ENV, FILE_ENV, "X\nY"] {
            assert!(check_env_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn exit_codes_and_signals_map_to_the_process_code() {
        let out = tempfile::tempdir().unwrap();
        let mark = out.path().join("mark");
        let r = run(
            &sh(&format!(
                "printf %s \"$API_KEY\" > '{}'; exit 7",
                mark.display()
            )),
            &Delivery::Env("API_KEY".into()),
            "deadbeef",
        )
        .unwrap();
        assert_eq!(r.code, Some(7));
        assert_eq!(r.process_code(), 7);
        assert_eq!(fs::read_to_string(&mark).unwrap(), "deadbeef");
        let r = run(&sh("kill -TERM $$"), &Delivery::Env("K".into()), "x").unwrap();
        assert_eq!(r.signal, Some(SIGTERM));
        assert_eq!(r.process_code(), 143);
    }

    #[test]
    fn the_environment_is_cleared_to_the_allowlist() {
        let out = tempfile::tempdir().unwrap();
        let envf = out.path().join("env");
        // Whatever this test process has, the child sees only allowlisted names plus K.
        let r = run(
            &sh(&format!("env > '{}'", envf.display())),
            &Delivery::Env("K".into()),
            "v",
        )
        .unwrap();
        assert_eq!(r.code, Some(0));
        for line in fs::read_to_string(&envf).unwrap().lines() {
            let name = line.split('=').next().unwrap();
            assert!(
                name == "K"
                    || name == "PWD"
                    || name == "SHLVL"
                    || name == "_"
                    || ENV_ALLOWLIST.contains(&name),
                "unexpected variable `{name}`"
            );
        }
    }

    #[test]
    fn file_delivery_is_private_and_removed_after() {
        let out = tempfile::tempdir().unwrap();
        let rec = out.path().join("rec");
        let r = run(
            &sh(&format!(
                "f=\"$VAULTGATE_LEASE_FILE\"; printf '%s\\n%s\\n%s\\n' \"$f\" \"$(stat -c %a \"$f\")\" \"$(stat -c %a \"$(dirname \"$f\")\")\" > '{0}'; cat \"$f\" >> '{0}'",
                rec.display()
            )),
            &Delivery::File,
            "cafe",
        )
        .unwrap();
        assert_eq!(r.code, Some(0));
        let text = fs::read_to_string(&rec).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(&lines[1..], ["600", "700", "cafe"]);
        let file = Path::new(lines[0]);
        assert!(!file.exists());
        assert!(!file.parent().unwrap().exists());
    }

    #[test]
    fn a_missing_program_is_an_error_naming_it() {
        let e = run(
            &["/nonexistent/prog".into()],
            &Delivery::Env("K".into()),
            "x",
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/prog"));
        assert!(matches!(
            run(&[], &Delivery::File, "x"),
            Err(ExecError::NoCommand)
        ));
    }
}
