//! Where the agent family keeps its files inside the vault home (all folders 0700, files 0600):
//!
//! ```text
//! <home>/agents/<id>/src          the installed clone (detached at the recorded commit)
//! <home>/agents/<id>/home         HOME of builds and runs
//! <home>/agents/<id>/tmp          TMPDIR of builds and runs
//! <home>/agents/<id>/build.log    the last build's bounded, redacted output
//! <home>/logs/<id>/<run>/         stdout.log, stdout.log.1, stderr.log, stderr.log.1
//! <home>/run/<run>/               spec.json, monitor.lock, agent.sock (the runtime socket)
//! ```
//!
//! Ids are validated [`AgentId`]s and run ids are UUIDs, so every path component is a single
//! safe name.

use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use super::manifest::AgentId;
use crate::fsutil::{FsError, IoContext as _};

/// The agent family's paths under one home.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Paths under the home `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }
    /// `<home>/agents` (also a default discovery root).
    pub fn agents_dir(&self) -> PathBuf {
        self.root.join("agents")
    }
    /// `<home>/agents/<id>`.
    pub fn agent_dir(&self, id: &AgentId) -> PathBuf {
        self.agents_dir().join(id.as_str())
    }
    /// The installed clone.
    pub fn src(&self, id: &AgentId) -> PathBuf {
        self.agent_dir(id).join("src")
    }
    /// HOME of builds and runs.
    pub fn agent_home(&self, id: &AgentId) -> PathBuf {
        self.agent_dir(id).join("home")
    }
    /// TMPDIR of builds and runs.
    pub fn agent_tmp(&self, id: &AgentId) -> PathBuf {
        self.agent_dir(id).join("tmp")
    }
    /// git's HOME during installs.
    pub fn git_home(&self, id: &AgentId) -> PathBuf {
        self.agent_dir(id).join("git-home")
    }
    /// The last build's output.
    pub fn build_log(&self, id: &AgentId) -> PathBuf {
        self.agent_dir(id).join("build.log")
    }
    /// A run's log folder.
    pub fn log_dir(&self, id: &AgentId, run: &str) -> PathBuf {
        self.root.join("logs").join(id.as_str()).join(run)
    }
    /// A run's private folder (the socket's 0700 parent).
    pub fn run_dir(&self, run: &str) -> PathBuf {
        self.root.join("run").join(run)
    }
    /// The monitor's spec.
    pub fn spec(&self, run: &str) -> PathBuf {
        self.run_dir(run).join("spec.json")
    }
    /// The monitor's liveness lock.
    pub fn lock(&self, run: &str) -> PathBuf {
        self.run_dir(run).join("monitor.lock")
    }
    /// The runtime socket.
    pub fn socket(&self, run: &str) -> PathBuf {
        self.run_dir(run).join("agent.sock")
    }
}

/// Create `dir` and its missing parents with mode 0700.
pub fn private_dir(dir: &Path) -> Result<(), FsError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .ctx("create", dir)
}
