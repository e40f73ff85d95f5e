//! The agent family's stable finding codes (documented in `docs/agents.md`; pinned by a test).

use crate::report::FindingCode;

/// Every audit event type the agent family writes (documented in `docs/agents.md`).
pub const AUDIT_EVENTS: &[&str] = &[
    "agent.discovered",
    "agent.updated",
    "agent.discovery_unchanged",
    "agent.installed",
    "agent.build_started",
    "agent.built",
    "agent.build_failed",
    "agent.enabled",
    "agent.permissions_revoked",
    "agent.run_started",
    "agent.stop_requested",
    "agent.run_stopped",
    "agent.run_crashed",
    "agent.run_checked",
    "security.denied",
];

/// Every reason the agent lifecycle refuses something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentCode {
    /// The manifest file is larger than 256,000 bytes.
    ManifestTooLarge,
    /// The manifest is not a regular file (a link, a folder, a device).
    ManifestNotFile,
    /// The manifest is not strict JSON (bad syntax, duplicate key, invalid UTF-8, not an object).
    ManifestInvalidJson,
    /// A required field is absent.
    ManifestMissingField,
    /// A field holds a value of the wrong JSON type.
    ManifestWrongType,
    /// A field the standard does not define.
    ManifestUnknownField,
    /// A string field is empty, too long, or holds whitespace or control characters where none
    /// may be.
    ManifestBadValue,
    /// `id` does not match `^[A-Za-z0-9][A-Za-z0-9._-]*$` or is longer than 200 characters.
    ManifestBadId,
    /// A permission is not `domain:action[:pattern]`, is over 300 bytes, or holds whitespace
    /// or control characters.
    ManifestBadPermission,
    /// `entrypoint.type` is not `command`, `mix_task` or `release`, or its value is unsafe.
    ManifestBadEntrypoint,
    /// `manifest_version` is not 1.
    ManifestUnsupportedVersion,
    /// Two manifests under the discovery roots declare the same `id`.
    DuplicateId,
    /// No agent with this id is in the catalog.
    NotFound,
    /// The agent has no installed revision.
    NotInstalled,
    /// The installed revision has not been built successfully.
    NotBuilt,
    /// The agent has no current approval.
    NotEnabled,
    /// `agent build` without `--trust`: building executes the agent's code.
    TrustRequired,
    /// A git URL or ref that could be read as an option or a path trick (`-…`, `..`,
    /// whitespace, control characters).
    UnsafeGitArgument,
    /// The URL's scheme is not allowed (`https`, `ssh`; `file` only with `--allow-file-url`).
    ProtocolNotAllowed,
    /// `git` failed (clone, ref resolution or checkout).
    GitFailed,
    /// The installed revision's manifest is missing, invalid, or declares another id.
    InstalledManifestMismatch,
    /// The build command failed, timed out, or could not start.
    BuildFailed,
    /// A permission given to `--approve` is not requested by the manifest.
    PermissionNotRequested,
    /// The manifest's permissions or entrypoint changed since the approval.
    ApprovalDrift,
    /// The agent already has a live run.
    AlreadyRunning,
    /// The agent has no live run.
    NotRunning,
    /// The recorded pid now belongs to another process (start time or boot id differ).
    PidReused,
    /// The process group did not end even after SIGKILL.
    StopFailed,
    /// The run's monitor died; the run is recorded as crashed.
    MonitorLost,
    /// The monitor could not start the agent.
    RunFailed,
    /// A runtime-protocol client presented a wrong session token or a malformed frame.
    ProtocolDenied,
}

impl FindingCode for AgentCode {
    fn as_str(self) -> &'static str {
        match self {
            Self::ManifestTooLarge => "agent-manifest-too-large",
            Self::ManifestNotFile => "agent-manifest-not-file",
            Self::ManifestInvalidJson => "agent-manifest-invalid-json",
            Self::ManifestMissingField => "agent-manifest-missing-field",
            Self::ManifestWrongType => "agent-manifest-wrong-type",
            Self::ManifestUnknownField => "agent-manifest-unknown-field",
            Self::ManifestBadValue => "agent-manifest-bad-value",
            Self::ManifestBadId => "agent-manifest-bad-id",
            Self::ManifestBadPermission => "agent-manifest-bad-permission",
            Self::ManifestBadEntrypoint => "agent-manifest-bad-entrypoint",
            Self::ManifestUnsupportedVersion => "agent-manifest-unsupported-version",
            Self::DuplicateId => "agent-duplicate-id",
            Self::NotFound => "agent-not-found",
            Self::NotInstalled => "agent-not-installed",
            Self::NotBuilt => "agent-not-built",
            Self::NotEnabled => "agent-not-enabled",
            Self::TrustRequired => "agent-trust-required",
            Self::UnsafeGitArgument => "agent-unsafe-git-argument",
            Self::ProtocolNotAllowed => "agent-protocol-not-allowed",
            Self::GitFailed => "agent-git-failed",
            Self::InstalledManifestMismatch => "agent-installed-manifest-mismatch",
            Self::BuildFailed => "agent-build-failed",
            Self::PermissionNotRequested => "agent-permission-not-requested",
            Self::ApprovalDrift => "agent-approval-drift",
            Self::AlreadyRunning => "agent-already-running",
            Self::NotRunning => "agent-not-running",
            Self::PidReused => "agent-pid-reused",
            Self::StopFailed => "agent-stop-failed",
            Self::MonitorLost => "agent-monitor-lost",
            Self::RunFailed => "agent-run-failed",
            Self::ProtocolDenied => "agent-protocol-denied",
        }
    }

    fn all() -> &'static [Self] {
        &[
            Self::ManifestTooLarge,
            Self::ManifestNotFile,
            Self::ManifestInvalidJson,
            Self::ManifestMissingField,
            Self::ManifestWrongType,
            Self::ManifestUnknownField,
            Self::ManifestBadValue,
            Self::ManifestBadId,
            Self::ManifestBadPermission,
            Self::ManifestBadEntrypoint,
            Self::ManifestUnsupportedVersion,
            Self::DuplicateId,
            Self::NotFound,
            Self::NotInstalled,
            Self::NotBuilt,
            Self::NotEnabled,
            Self::TrustRequired,
            Self::UnsafeGitArgument,
            Self::ProtocolNotAllowed,
            Self::GitFailed,
            Self::InstalledManifestMismatch,
            Self::BuildFailed,
            Self::PermissionNotRequested,
            Self::ApprovalDrift,
            Self::AlreadyRunning,
            Self::NotRunning,
            Self::PidReused,
            Self::StopFailed,
            Self::MonitorLost,
            Self::RunFailed,
            Self::ProtocolDenied,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_and_event_is_documented() {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/agents.md"))
            .unwrap();
        for c in AgentCode::all() {
            assert!(
                docs.contains(&format!("`{}`", c.as_str())),
                "{} is not in docs/agents.md",
                c.as_str()
            );
        }
        for e in AUDIT_EVENTS {
            assert!(
                docs.contains(&format!("`{e}`")),
                "{e} is not in docs/agents.md"
            );
        }
        // Every event the code appends is in the list.
        for file in ["lifecycle.rs", "runs.rs"] {
            let src =
                std::fs::read_to_string(format!("{}/src/agent/{file}", env!("CARGO_MANIFEST_DIR")))
                    .unwrap();
            for part in src.split("NewEvent::new(").skip(1) {
                let lit = part.trim_start().trim_start_matches('\n');
                if let Some(rest) = lit.strip_prefix('"') {
                    let name = &rest[..rest.find('"').unwrap()];
                    assert!(
                        AUDIT_EVENTS.contains(&name),
                        "{name} ({file}) is not in AUDIT_EVENTS"
                    );
                }
            }
        }
    }

    #[test]
    fn the_full_code_list_is_pinned() {
        let all: Vec<&str> = AgentCode::all().iter().map(|c| c.as_str()).collect();
        assert_eq!(
            all,
            [
                "agent-manifest-too-large",
                "agent-manifest-not-file",
                "agent-manifest-invalid-json",
                "agent-manifest-missing-field",
                "agent-manifest-wrong-type",
                "agent-manifest-unknown-field",
                "agent-manifest-bad-value",
                "agent-manifest-bad-id",
                "agent-manifest-bad-permission",
                "agent-manifest-bad-entrypoint",
                "agent-manifest-unsupported-version",
                "agent-duplicate-id",
                "agent-not-found",
                "agent-not-installed",
                "agent-not-built",
                "agent-not-enabled",
                "agent-trust-required",
                "agent-unsafe-git-argument",
                "agent-protocol-not-allowed",
                "agent-git-failed",
                "agent-installed-manifest-mismatch",
                "agent-build-failed",
                "agent-permission-not-requested",
                "agent-approval-drift",
                "agent-already-running",
                "agent-not-running",
                "agent-pid-reused",
                "agent-stop-failed",
                "agent-monitor-lost",
                "agent-run-failed",
                "agent-protocol-denied",
            ]
        );
    }
}
