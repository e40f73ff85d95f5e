//! Building an installed agent: the explicit trust boundary.
//!
//! Contract:
//! - Building executes the agent's code, so the caller must pass `--trust` (checked in
//!   [`super::lifecycle`]); this module only runs what [`build_steps`] lists for the
//!   entrypoint type, never through a shell.
//! - Each step runs in the source folder, in its own process group, with a cleared environment
//!   holding only [`child_env`]'s variables (`PATH`, `LANG`, and `HOME`/`TMPDIR` pinned inside
//!   the home), a timeout that kills the whole group, and its combined output bounded to the
//!   last [`MAX_OUTPUT`] bytes (with a marker saying how much was dropped) and redacted.

use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::logs::Redactor;
use super::manifest::EntrypointType;

/// The most build output kept per build, in bytes (the tail).
pub const MAX_OUTPUT: usize = 64 * 1024;

/// The variables a build step or an agent sees, and nothing else: `PATH` and `LANG` (from the
/// caller, `LANG` defaulting to `C.UTF-8`), `HOME` and `TMPDIR` pinned to `home` and `tmp`.
pub fn child_env(home: &Path, tmp: &Path) -> Vec<(OsString, OsString)> {
    let mut env = vec![
        (
            "PATH".into(),
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
        ),
        (
            "LANG".into(),
            std::env::var_os("LANG").unwrap_or_else(|| "C.UTF-8".into()),
        ),
    ];
    env.push(("HOME".into(), home.as_os_str().to_owned()));
    env.push(("TMPDIR".into(), tmp.as_os_str().to_owned()));
    env
}

/// The documented build argv list for an entrypoint type, given the source folder:
/// - `mix_task`: `mix deps.get`, then `mix deps.compile`;
/// - `release`: `mix deps.get`, then `mix release --overwrite` (with `MIX_ENV=prod`);
/// - `command`: `./build` when the repository has a regular file `build` at its root,
///   otherwise nothing (the command is run as it is).
pub fn build_steps(kind: EntrypointType, src: &Path) -> Vec<Vec<String>> {
    match kind {
        EntrypointType::MixTask => vec![
            vec!["mix".into(), "deps.get".into()],
            vec!["mix".into(), "deps.compile".into()],
        ],
        EntrypointType::Release => vec![
            vec!["mix".into(), "deps.get".into()],
            vec!["mix".into(), "release".into(), "--overwrite".into()],
        ],
        EntrypointType::Command => {
            let script = src.join("build");
            match std::fs::symlink_metadata(&script) {
                Ok(m) if m.is_file() => vec![vec!["./build".into()]],
                _ => Vec::new(),
            }
        }
    }
}

/// How a build went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOutcome {
    /// `true` when every step exited 0.
    pub ok: bool,
    /// The steps run, each as its argv joined by spaces.
    pub steps: Vec<String>,
    /// Why it failed (the step and its exit), when it did.
    pub failure: Option<String>,
    /// The combined output tail, redacted.
    pub output: String,
    /// Bytes of output dropped from the front.
    pub dropped: u64,
    /// How long it took.
    pub elapsed: Duration,
}

/// Run the build steps in `src` with `env`, each bounded by `timeout`.
pub fn run_build(
    steps: &[Vec<String>],
    src: &Path,
    env: &[(OsString, OsString)],
    extra_env: &[(&str, &str)],
    timeout: Duration,
    redactor: &Redactor,
) -> BuildOutcome {
    let start = Instant::now();
    let tail = Arc::new(Mutex::new(Tail::default()));
    let mut done = Vec::new();
    let mut failure = None;
    for argv in steps {
        done.push(argv.join(" "));
        if let Err(why) = run_step(argv, src, env, extra_env, timeout, &tail) {
            failure = Some(format!("`{}` {why}", argv.join(" ")));
            break;
        }
    }
    let t = tail.lock().map(|t| t.clone()).unwrap_or_default();
    BuildOutcome {
        ok: failure.is_none(),
        steps: done,
        failure,
        output: redactor.redact_text(&String::from_utf8_lossy(&t.buf)),
        dropped: t.dropped,
        elapsed: start.elapsed(),
    }
}

#[derive(Debug, Clone, Default)]
struct Tail {
    buf: Vec<u8>,
    dropped: u64,
}

impl Tail {
    fn push(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
        if self.buf.len() > MAX_OUTPUT {
            let cut = self.buf.len() - MAX_OUTPUT;
            self.buf.drain(..cut);
            self.dropped += cut as u64;
        }
    }
}

fn run_step(
    argv: &[String],
    src: &Path,
    env: &[(OsString, OsString)],
    extra_env: &[(&str, &str)],
    timeout: Duration,
    tail: &Arc<Mutex<Tail>>,
) -> Result<(), String> {
    use std::os::unix::process::CommandExt as _;
    let Some((prog, rest)) = argv.split_first() else {
        return Ok(());
    };
    let program: PathBuf = if prog.starts_with("./") {
        src.join(prog.trim_start_matches("./"))
    } else {
        PathBuf::from(prog)
    };
    let mut cmd = Command::new(&program);
    cmd.args(rest)
        .current_dir(src)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .envs(extra_env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| format!("could not start: {e}"))?;
    let pgid = rustix::process::Pid::from_child(&child);
    let mut readers = Vec::new();
    for pipe in [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tail = Arc::clone(tail);
        readers.push(std::thread::spawn(move || {
            let mut pipe = pipe;
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Ok(mut t) = tail.lock() {
                            t.push(&buf[..n]);
                        }
                    }
                }
            }
        }));
    }
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) if Instant::now() >= deadline => {
                let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
                let _ = child.wait();
                break Err(format!(
                    "timed out after {}",
                    humantime::format_duration(timeout)
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => break Err(format!("could not be waited for: {e}")),
        }
    };
    // Whatever the step left in its group goes with it.
    let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    for r in readers {
        let _ = r.join();
    }
    let status = status?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("failed: {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_sees_only_the_allowlisted_environment_and_keeps_a_bounded_tail() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(
            src.join("build"),
            "#!/bin/sh\nenv | sort\nhead -c 200000 /dev/zero | tr '\\0' x\necho\necho done\n",
        )
        .unwrap();
        std::os::unix::fs::PermissionsExt::set_mode(
            &mut std::fs::metadata(src.join("build")).unwrap().permissions(),
            0o755,
        );
        std::fs::set_permissions(
            src.join("build"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let steps = build_steps(EntrypointType::Command, &src);
        assert_eq!(steps, [vec!["./build".to_owned()]]);
        let env = child_env(&t.path().join("h"), &t.path().join("tmp"));
        let out = run_build(
            &steps,
            &src,
            &env,
            &[],
            Duration::from_secs(30),
            &Redactor::new(&[]),
        );
        assert!(out.ok, "{out:?}");
        assert!(out.output.len() <= MAX_OUTPUT + 64);
        assert!(out.dropped > 0);
        assert!(out.output.ends_with("done\n"));
        let bad = run_build(
            &[vec!["/bin/false".into()]],
            &src,
            &env,
            &[],
            Duration::from_secs(30),
            &Redactor::new(&[]),
        );
        assert!(!bad.ok);
        assert!(bad.failure.unwrap().contains("/bin/false"));
    }
}
