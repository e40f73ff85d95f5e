//! Running one `--run` check: `sh -c CMD` in the workspace, cleared environment, stdin
//! `/dev/null`, stdout and stderr drained through pipes into capped log files ([`super::log`]),
//! a timeout that kills the whole process group.
//!
//! Invariants:
//! - the child sees only `PATH` (the gate's own, or `/usr/local/bin:/usr/bin:/bin` when unset),
//!   `LANG=C.UTF-8`, `HOME` and `TMPDIR` (both inside the workspace): no secret of the caller's
//!   environment reaches a check;
//! - the child leads its own process group; when the check ends, for whatever reason, the gate
//!   sends `SIGKILL` to the group, so neither a timed-out check nor a background process it left
//!   behind outlives the step (a process that moves itself to another group or session escapes
//!   this; run the gate in a container when that matters);
//! - both pipes are drained to their end while the check runs, whatever it prints, so a check is
//!   never blocked by its own output; memory is bounded by the log cap's kept tail;
//! - a pipe still held open after the group was killed (by a process that left the group) is
//!   waited for at most [`DRAIN_GRACE`], then the step is an error: the log would be incomplete.

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::log::{self, LogOutcome, LogSink};
use crate::fsutil::{FsError, IoContext};

/// How long the logs may take to reach their end once the check's group was killed.
pub const DRAIN_GRACE: Duration = Duration::from_secs(10);

/// `PATH` given to checks when the gate itself has none.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Where and how a check runs.
#[derive(Debug, Clone)]
pub struct CheckEnv {
    /// Working directory: the extracted bundle.
    pub cwd: PathBuf,
    /// `HOME` for the check (inside the workspace).
    pub home: PathBuf,
    /// `TMPDIR` for the check (inside the workspace).
    pub tmpdir: PathBuf,
    /// `PATH` for the check.
    pub path: OsString,
}

impl CheckEnv {
    /// The environment for a workspace, with the gate's `PATH`.
    pub fn new(cwd: PathBuf, home: PathBuf, tmpdir: PathBuf) -> Self {
        Self {
            cwd,
            home,
            tmpdir,
            path: std::env::var_os("PATH")
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| DEFAULT_PATH.into()),
        }
    }
}

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// The exit code, when the shell exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// The timeout expired and the group was killed.
    pub timed_out: bool,
    /// Wall time.
    pub duration: Duration,
    /// What it wrote to stdout.
    pub stdout: LogOutcome,
    /// What it wrote to stderr.
    pub stderr: LogOutcome,
}

impl CheckOutcome {
    /// Passed: exited 0 within the timeout.
    pub fn passed(&self) -> bool {
        !self.timed_out && self.exit_code == Some(0)
    }
}

/// Run `command` with `sh -c` under `env`, output into the two capped logs.
pub fn run_check(
    command: &str,
    env: &CheckEnv,
    timeout: Duration,
    stdout: LogSink,
    stderr: LogSink,
) -> Result<CheckOutcome, FsError> {
    let shell = Path::new("/bin/sh");
    let start = Instant::now();
    let mut child = Command::new(shell)
        .arg("-c")
        .arg(command)
        .current_dir(&env.cwd)
        .env_clear()
        .env("PATH", &env.path)
        .env("LANG", "C.UTF-8")
        .env("HOME", &env.home)
        .env("TMPDIR", &env.tmpdir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .ctx("start", shell)?;
    let pgid = child.id();
    let drains = [
        child
            .stdout
            .take()
            .map(|mut p| spawn_drain(move || log::drain(&mut p, stdout))),
        child
            .stderr
            .take()
            .map(|mut p| spawn_drain(move || log::drain(&mut p, stderr))),
    ];
    let (tx, rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send(());
        status
    });
    let timed_out = matches!(
        rx.recv_timeout(timeout),
        Err(mpsc::RecvTimeoutError::Timeout)
    );
    // Whether it timed out or finished, nothing of the check's group may keep running. The
    // group cannot be recycled before this kill: either its leader is still unreaped (timeout)
    // or it just exited and the gate has not started any other process since.
    kill_group(pgid);
    let status = waiter
        .join()
        .map_err(|_| FsError::new("wait for", shell, std::io::Error::other("waiter panicked")))?
        .ctx("wait for", shell)?;
    let [out, err] = drains.map(|d| finish_drain(d, shell));
    Ok(CheckOutcome {
        exit_code: status.code(),
        signal: status.signal(),
        timed_out,
        duration: start.elapsed(),
        stdout: out?,
        stderr: err?,
    })
}

type DrainResult = Result<LogOutcome, FsError>;

fn spawn_drain(f: impl FnOnce() -> DrainResult + Send + 'static) -> mpsc::Receiver<DrainResult> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

fn finish_drain(d: Option<mpsc::Receiver<DrainResult>>, shell: &Path) -> DrainResult {
    let Some(rx) = d else {
        return Err(FsError::new(
            "capture the output of",
            shell,
            std::io::Error::other("no pipe: this is a bug in vaultgate"),
        ));
    };
    rx.recv_timeout(DRAIN_GRACE).unwrap_or_else(|_| {
        Err(FsError::new(
            "capture the output of",
            shell,
            std::io::Error::other(
                "a process outside the check's process group kept its output open",
            ),
        ))
    })
}

/// `SIGKILL` to a process group, without `unsafe`: the shell's `kill` builtin does the system
/// call. "No such process" (the group already ended) is the expected case and is ignored.
fn kill_group(pgid: u32) {
    let _ = Command::new("/bin/sh")
        .args(["-c", "kill -s KILL -- \"-$1\" 2>/dev/null", "sh"])
        .arg(pgid.to_string())
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    fn env_in(dir: &Path) -> CheckEnv {
        CheckEnv::new(dir.to_path_buf(), dir.to_path_buf(), dir.to_path_buf())
    }

    fn files(dir: &Path) -> (LogSink, LogSink) {
        let sink = |name: &str| LogSink {
            file: File::create(dir.join(name)).unwrap(),
            path: dir.join(name),
            max: log::DEFAULT_MAX_LOG,
        };
        (sink("out"), sink("err"))
    }

    #[test]
    fn output_goes_to_files_verbatim_and_exit_code_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (o, e) = files(dir.path());
        let r = run_check(
            "printf 'a\\377b'; printf err >&2; exit 3",
            &env_in(dir.path()),
            Duration::from_secs(60),
            o,
            e,
        )
        .unwrap();
        assert_eq!(
            (r.exit_code, r.timed_out, r.passed()),
            (Some(3), false, false)
        );
        assert_eq!(std::fs::read(dir.path().join("out")).unwrap(), b"a\xffb");
        assert_eq!(std::fs::read(dir.path().join("err")).unwrap(), b"err");
    }

    #[test]
    fn environment_is_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let (o, e) = files(dir.path());
        let r = run_check(
            "env | sort | cut -d= -f1",
            &env_in(dir.path()),
            Duration::from_secs(60),
            o,
            e,
        )
        .unwrap();
        assert!(r.passed());
        let out = std::fs::read_to_string(dir.path().join("out")).unwrap();
        let names: Vec<&str> = out
            .lines()
            .filter(|l| !matches!(*l, "PWD" | "SHLVL" | "_" | "OLDPWD"))
            .collect();
        assert_eq!(names, ["HOME", "LANG", "PATH", "TMPDIR"]);
    }

    #[test]
    fn timeout_kills_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let (o, e) = files(dir.path());
        let r = run_check(
            "sleep 30",
            &env_in(dir.path()),
            Duration::from_millis(200),
            o,
            e,
        )
        .unwrap();
        assert!(r.timed_out && !r.passed());
        assert_eq!(r.signal, Some(9));
        assert!(r.duration < Duration::from_secs(25), "{:?}", r.duration);
    }
}
