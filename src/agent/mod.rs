//! The agent lifecycle: discover OpenSentience agents without running them, install a pinned
//! revision with git, build only on an explicit trust decision, enable with approvals bound to
//! what the manifest requests, run under a detached monitor, stop reliably, and put every
//! privileged step on the vault's audit log (specification: `docs/agents.md`).
//!
//! Layout: [`manifest`] (the `opensentience.agent.json` parser and its hashes), [`discover`]
//! (the walk), [`install`] (git), [`build`] (the trust boundary), [`process`] (identity and
//! signals), [`logs`] (capped logs and redaction), [`protocol`] (framed canonical JSON),
//! [`monitor`] (the detached run monitor).

pub mod build;
pub mod codes;
pub mod discover;
pub mod install;
pub mod layout;
pub mod lifecycle;
pub mod logs;
pub mod manifest;
pub mod monitor;
pub mod process;
pub mod protocol;
pub mod report;
pub mod runs;

pub use codes::AgentCode;
