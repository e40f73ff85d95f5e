//! The agent family's stable finding codes (documented in `docs/agents.md`; pinned by a test).

use crate::report::FindingCode;

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
