//! Installing a pinned revision with the real `git` CLI.
//!
//! Contract:
//! - [`check_url`] and [`check_ref`] run **before** git: a value that begins with `-`, holds
//!   `..`, whitespace or control characters (or, for a ref, any character git forbids in ref
//!   names) is refused, and only `https://`, `ssh://` and scp-like `user@host:path` URLs are
//!   allowed; `file://` only when the caller passes `allow_file`.
//! - git runs with a cleared environment (`PATH`, `LANG=C`, `HOME` pinned to a folder of the
//!   home, no system or global configuration, `GIT_TERMINAL_PROMPT=0`), the protocol
//!   allowlist as `-c protocol.*.allow` settings, hooks disabled (`core.hooksPath=/dev/null`),
//!   no submodules, `--` before every URL or path, and object checking on fetch.
//! - The clone is made with `--no-checkout` into a staging folder beside the destination; the
//!   ref is resolved to a commit, checked out detached, and only then is the staging folder
//!   renamed into place, so a failure leaves the previous install untouched.
//! - Nothing is built or run: git is the only program started.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::codes::AgentCode;
use crate::report::escape_for_display;

/// Why an install was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallProblem {
    /// Stable code.
    pub code: AgentCode,
    /// Lowercase message.
    pub message: String,
}

fn problem(code: AgentCode, message: impl Into<String>) -> InstallProblem {
    InstallProblem {
        code,
        message: message.into(),
    }
}

fn common_unsafe(what: &str, s: &str) -> Option<InstallProblem> {
    let shown = escape_for_display(s);
    if s.is_empty() {
        return Some(problem(
            AgentCode::UnsafeGitArgument,
            format!("the {what} is empty"),
        ));
    }
    if s.starts_with('-') {
        return Some(problem(
            AgentCode::UnsafeGitArgument,
            format!("the {what} `{shown}` begins with `-` and could be read as a git option"),
        ));
    }
    if s.contains("..") {
        return Some(problem(
            AgentCode::UnsafeGitArgument,
            format!("the {what} `{shown}` contains `..`"),
        ));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some(problem(
            AgentCode::UnsafeGitArgument,
            format!("the {what} `{shown}` contains whitespace or control characters"),
        ));
    }
    None
}

/// The transport a URL uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `https://`
    Https,
    /// `ssh://` or `user@host:path`
    Ssh,
    /// `file://`
    File,
}

/// Check a git URL against the allowlist before git ever sees it.
pub fn check_url(url: &str, allow_file: bool) -> Result<Transport, InstallProblem> {
    if let Some(p) = common_unsafe("git URL", url) {
        return Err(p);
    }
    let shown = escape_for_display(url);
    let transport = if url.starts_with("https://") {
        Transport::Https
    } else if url.starts_with("ssh://") {
        Transport::Ssh
    } else if url.starts_with("file://") {
        if !allow_file {
            return Err(problem(
                AgentCode::ProtocolNotAllowed,
                format!(
                    "`{shown}` uses the file protocol, which is refused by default\nhelp: pass `--allow-file-url` to install from a local repository"
                ),
            ));
        }
        Transport::File
    } else if is_scp_like(url) {
        Transport::Ssh
    } else {
        return Err(problem(
            AgentCode::ProtocolNotAllowed,
            format!("`{shown}` is not an https, ssh or (with `--allow-file-url`) file URL"),
        ));
    };
    if url.contains("::") {
        return Err(problem(
            AgentCode::ProtocolNotAllowed,
            format!("`{shown}` names a git remote helper (`::`)"),
        ));
    }
    Ok(transport)
}

/// `user@host:path` with a plain host (git's scp-like ssh syntax).
fn is_scp_like(url: &str) -> bool {
    let Some((user_host, path)) = url.split_once(':') else {
        return false;
    };
    let Some((user, host)) = user_host.split_once('@') else {
        return false;
    };
    !user.is_empty()
        && !host.is_empty()
        && !path.is_empty()
        && !path.starts_with('/')
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
}

/// Check a ref (branch, tag or commit id) before git ever sees it.
pub fn check_ref(r: &str) -> Result<(), InstallProblem> {
    if let Some(p) = common_unsafe("ref", r) {
        return Err(p);
    }
    let bad = r
        .chars()
        .any(|c| matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
        || r.contains("@{")
        || r.ends_with('/')
        || r.to_ascii_lowercase().ends_with(".lock")
        || r.starts_with('/');
    if bad {
        return Err(problem(
            AgentCode::UnsafeGitArgument,
            format!("`{}` is not a valid ref name", escape_for_display(r)),
        ));
    }
    Ok(())
}

/// A successful install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The commit checked out (40 or 64 lowercase hex digits).
    pub commit: String,
    /// Where the source now is.
    pub src: PathBuf,
}

/// The git invocation: cleared environment, allowlist, hooks off.
struct Git {
    home: PathBuf,
    allow_file: bool,
}

impl Git {
    fn command(&self, cwd: Option<&Path>) -> Command {
        let mut c = Command::new("git");
        c.env_clear();
        if let Some(p) = std::env::var_os("PATH") {
            c.env("PATH", p);
        }
        if let Some(sock) = std::env::var_os("SSH_AUTH_SOCK") {
            c.env("SSH_AUTH_SOCK", sock);
        }
        c.env("LANG", "C")
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "/bin/false")
            .env("SSH_ASKPASS", "/bin/false")
            .env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
        let mut cfg: Vec<&str> = vec![
            "protocol.allow=never",
            "protocol.https.allow=always",
            "protocol.ssh.allow=always",
            "core.hooksPath=/dev/null",
            "core.fsmonitor=false",
            "submodule.recurse=false",
            "transfer.fsckObjects=true",
            "advice.detachedHead=false",
        ];
        if self.allow_file {
            cfg.push("protocol.file.allow=always");
        }
        for c1 in cfg {
            c.arg("-c").arg(c1);
        }
        if let Some(cwd) = cwd {
            c.arg("-C").arg(cwd);
        }
        c.stdin(Stdio::null());
        c
    }

    fn run(
        &self,
        cwd: Option<&Path>,
        args: &[OsString],
        what: &str,
    ) -> Result<String, InstallProblem> {
        let out = self
            .command(cwd)
            .args(args)
            .output()
            .map_err(|e| problem(AgentCode::GitFailed, format!("cannot start `git`: {e}")))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: String = err.lines().rev().take(3).collect::<Vec<_>>().join(" / ");
            Err(problem(
                AgentCode::GitFailed,
                format!(
                    "git {what} failed ({}): {}",
                    out.status,
                    escape_for_display(&tail)
                ),
            ))
        }
    }
}

/// Clone `url` and check out `git_ref` (the default branch when `None`) detached in
/// `dest` (replacing a previous install only once everything succeeded and `verify` accepted
/// the checked-out tree). `git_home` is the folder used as git's `HOME`.
pub fn install(
    url: &str,
    git_ref: Option<&str>,
    dest: &Path,
    git_home: &Path,
    allow_file: bool,
    verify: &dyn Fn(&Path) -> Result<(), String>,
) -> Result<Installed, InstallProblem> {
    check_url(url, allow_file)?;
    if let Some(r) = git_ref {
        check_ref(r)?;
    }
    let io = |what: &str, p: &Path, e: std::io::Error| {
        problem(
            AgentCode::GitFailed,
            format!("cannot {what} `{}`: {e}", p.display()),
        )
    };
    std::fs::create_dir_all(git_home).map_err(|e| io("create", git_home, e))?;
    let parent = crate::fsutil::parent_dir(dest);
    std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
    let staging = parent.join(format!(".src.staging-{}", uuid::Uuid::new_v4()));
    let git = Git {
        home: git_home.to_path_buf(),
        allow_file,
    };
    let result = (|| {
        git.run(
            None,
            &[
                "clone".into(),
                "--no-checkout".into(),
                "--no-recurse-submodules".into(),
                "--quiet".into(),
                "--".into(),
                url.into(),
                staging.clone().into_os_string(),
            ],
            "clone",
        )?;
        let commit = resolve(&git, &staging, git_ref)?;
        git.run(
            Some(&staging),
            &[
                "checkout".into(),
                "--quiet".into(),
                "--detach".into(),
                commit.clone().into(),
                "--".into(),
            ],
            "checkout",
        )?;
        verify(&staging).map_err(|m| problem(AgentCode::InstalledManifestMismatch, m))?;
        Ok(commit)
    })();
    let commit = match result {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    // Swap into place: the old install (if any) moves aside first, then is removed.
    let old = parent.join(format!(".src.old-{}", uuid::Uuid::new_v4()));
    let had_old = dest.exists();
    if had_old {
        std::fs::rename(dest, &old).map_err(|e| io("move aside", dest, e))?;
    }
    if let Err(e) = std::fs::rename(&staging, dest) {
        if had_old {
            let _ = std::fs::rename(&old, dest);
        }
        let _ = std::fs::remove_dir_all(&staging);
        return Err(io("rename into", dest, e));
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(Installed {
        commit,
        src: dest.to_path_buf(),
    })
}

fn is_hex_commit(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn resolve(git: &Git, repo: &Path, git_ref: Option<&str>) -> Result<String, InstallProblem> {
    let candidates: Vec<String> = match git_ref {
        None => vec!["HEAD".into()],
        Some(r) if is_hex_commit(r) => vec![r.to_ascii_lowercase()],
        Some(r) => vec![format!("refs/tags/{r}"), format!("refs/remotes/origin/{r}")],
    };
    for c in &candidates {
        let spec = format!("{c}^{{commit}}");
        if let Ok(out) = git.run(
            Some(repo),
            &[
                "rev-parse".into(),
                "--verify".into(),
                "--quiet".into(),
                "--end-of-options".into(),
                spec.into(),
            ],
            "rev-parse",
        ) && is_hex_commit(&out)
        {
            return Ok(out);
        }
    }
    Err(problem(
        AgentCode::GitFailed,
        format!(
            "ref `{}` is not a tag, a branch or a commit of the repository",
            escape_for_display(git_ref.unwrap_or("HEAD"))
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_before_git() {
        for ok in [
            "https://example.com/a.git",
            "ssh://git@example.com/a.git",
            "git@example.com:org/a.git",
        ] {
            assert!(check_url(ok, false).is_ok(), "{ok}");
        }
        assert_eq!(
            check_url("file:///tmp/a.git", true).unwrap(),
            Transport::File
        );
        let code = |u: &str| check_url(u, false).unwrap_err().code;
        assert_eq!(code("file:///tmp/a.git"), AgentCode::ProtocolNotAllowed);
        assert_eq!(code("http://example.com/a"), AgentCode::ProtocolNotAllowed);
        assert_eq!(code("git://example.com/a"), AgentCode::ProtocolNotAllowed);
        assert_eq!(code("ext::sh -c x"), AgentCode::UnsafeGitArgument);
        assert_eq!(code("/tmp/a.git"), AgentCode::ProtocolNotAllowed);
        assert_eq!(code("--upload-pack=x"), AgentCode::UnsafeGitArgument);
        assert_eq!(code("https://e.com/../a"), AgentCode::UnsafeGitArgument);
        assert_eq!(code("https://e.com/a\nb"), AgentCode::UnsafeGitArgument);
        assert_eq!(code("https://e.com/a b"), AgentCode::UnsafeGitArgument);
    }

    #[test]
    fn refs_are_checked_before_git() {
        for ok in [
            "v1.0",
            "main",
            "feature/x",
            "0123456789abcdef0123456789abcdef01234567",
        ] {
            assert!(check_ref(ok).is_ok(), "{ok}");
        }
        for bad in [
            "-x",
            "--output=/tmp/x",
            "a..b",
            "a b",
            "a\tb",
            "x\u{1b}",
            "a^",
            "a:b",
            "@{1}",
            "x.lock",
            "",
        ] {
            assert!(check_ref(bad).is_err(), "{bad:?}");
        }
    }
}
