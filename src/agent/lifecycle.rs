//! Catalog, install, build, enable and revoke: every privileged step through the vault.
//!
//! Contract:
//! - Every command first authenticates its caller and checks its capability
//!   (`agent:discover`, `agent:read`, `agent:install`, `agent:build`, `agent:enable`,
//!   `agent:revoke`); every refusal is a report (exit 1) whose `security.denied` row the vault
//!   writes in a transaction of its own.
//! - State changes commit with their audit rows ([`Vault::act`]); slow external work (git, a
//!   build) runs **outside** any transaction, between a checked start and an audited end.
//! - An approval is bound to the requested-permissions hash, the manifest hash and the
//!   entrypoint; `run` compares the hash and the entrypoint (reordering is not drift).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::build;
use super::codes::AgentCode;
use super::discover;
use super::install;
use super::layout::{Layout, private_dir};
use super::logs::Redactor;
use super::manifest::{self, AgentId, EntrypointType, MANIFEST_FILE, ParsedManifest, Permission};
use super::report::AgentReport;
use crate::report::{Finding, Severity, escape_for_display};
use crate::vault::store::TxMode;
use crate::vault::store::agent::{AgentApprovalRow, AgentCatalogRow};
use crate::vault::{
    Act, ActError, ActFailure, Caller, Metadata, NewEvent, Refusal, Vault, VaultError,
};

/// Why an agent command could not run (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::vault::store::StoreError),
    /// A file operation failed.
    #[error(transparent)]
    Fs(#[from] crate::fsutil::FsError),
    /// Anything else (the message names what).
    #[error("{0}")]
    Other(String),
}

/// A finding from a vault refusal.
pub fn refusal_finding(subject: &str, r: &Refusal) -> Finding {
    Finding {
        code: r.code,
        severity: Severity::Error,
        subject: subject.to_owned(),
        message: r.message.clone(),
        location: None,
    }
}

/// Turn a failed act into a report (a refusal) or an error.
pub fn failed(
    command: &'static str,
    subject: &str,
    f: ActFailure,
) -> Result<AgentReport, AgentError> {
    match f {
        ActFailure::Refused { refusal, audit_seq } => Ok(AgentReport::refused(
            command,
            refusal_finding(subject, &refusal),
        )
        .with("audit_seq", json!(audit_seq))),
        ActFailure::Error(e) => Err(e.into()),
    }
}

/// Refuse `act` with `refusal`: the vault authenticates the caller, then records
/// `security.denied` with the reason code in a transaction of its own.
pub fn deny(
    vault: &mut Vault<'_>,
    caller: &Caller,
    act: &Act,
    subject: &str,
    refusal: Refusal,
) -> Result<AgentReport, AgentError> {
    match vault.act(caller, act, |_, _| Err::<(), _>(refusal.into())) {
        Ok(()) => Err(AgentError::Other(
            "a refusal was committed as an act; this is a bug in vaultgate".into(),
        )),
        Err(f) => failed(act.name, subject, f),
    }
}

/// A `security.denied` refusal about agent `subject` (its id in the audit metadata).
pub(crate) fn refuse(code: AgentCode, subject: &str, message: impl Into<String>) -> Refusal {
    Refusal::denied(code, message).meta(Metadata::new().str("agent_id", subject.to_owned()))
}

fn hex(d: &crate::hash::Sha256Digest) -> String {
    d.to_hex()
}

/// The catalog row for a parsed manifest found at `path`, keeping `prev`'s install and build
/// state.
fn catalog_row(
    p: &ParsedManifest,
    path: &Path,
    now: i64,
    prev: Option<&AgentCatalogRow>,
) -> AgentCatalogRow {
    let m = &p.manifest;
    AgentCatalogRow {
        agent_id: m.id.to_string(),
        name: m.name.clone(),
        version: m.version.clone(),
        description: m.description.clone(),
        manifest_path: path.display().to_string(),
        manifest_hash: hex(&p.manifest_hash),
        permissions_hash: hex(&p.permissions_hash),
        permissions: m.permissions.iter().map(ToString::to_string).collect(),
        entrypoint_type: m.entrypoint.kind.as_str().to_owned(),
        entrypoint_value: m.entrypoint.value.clone(),
        git_url: m.source.git_url.clone(),
        git_ref: m.source.git_ref.clone(),
        capabilities: m.capabilities.clone(),
        discovered_at: prev.map_or(now, |r| r.discovered_at),
        updated_at: now,
        installed_commit: prev.and_then(|r| r.installed_commit.clone()),
        installed_ref: prev.and_then(|r| r.installed_ref.clone()),
        installed_at: prev.and_then(|r| r.installed_at),
        build_status: prev.map_or_else(|| "none".to_owned(), |r| r.build_status.clone()),
        build_commit: prev.and_then(|r| r.build_commit.clone()),
        build_started_at: prev.and_then(|r| r.build_started_at),
        build_finished_at: prev.and_then(|r| r.build_finished_at),
        build_message: prev.and_then(|r| r.build_message.clone()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    New,
    Updated,
    Same,
}

fn change_of(prev: Option<&AgentCatalogRow>, p: &ParsedManifest, path: &Path) -> Change {
    match prev {
        None => Change::New,
        Some(r)
            if r.manifest_hash == hex(&p.manifest_hash)
                && r.manifest_path == path.display().to_string() =>
        {
            Change::Same
        }
        Some(_) => Change::Updated,
    }
}

/// The folders of the home that discovery never enters (installed clones and agent homes).
fn home_exclusions(layout: &Layout) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(layout.agents_dir()) {
        for e in rd.flatten() {
            for sub in ["src", "home", "tmp", "git-home"] {
                out.push(e.path().join(sub));
            }
            // Staging folders of installs in progress.
            if let Ok(inner) = std::fs::read_dir(e.path()) {
                for i in inner.flatten() {
                    if i.file_name().to_string_lossy().starts_with(".src.") {
                        out.push(i.path());
                    }
                }
            }
        }
    }
    out
}

/// `agent discover`.
// Check, work outside any transaction, then record: one sequence read top to bottom.
#[allow(clippy::too_many_lines)]
pub fn discover(
    vault: &mut Vault<'_>,
    caller: &Caller,
    roots: &[PathBuf],
) -> Result<AgentReport, AgentError> {
    let act = Act::new("agent.discover", "agent:discover");
    if let Err(f) = vault.authorize_read(caller, &act) {
        return failed("discover", "catalog", f);
    }
    let layout = Layout::new(vault.home().root());
    let roots: Vec<PathBuf> = if roots.is_empty() {
        let user_home = std::env::var_os("HOME").map(PathBuf::from);
        vault
            .config()
            .discovery_roots(vault.home().root(), user_home.as_deref())
    } else {
        roots.to_vec()
    };
    let walk = discover::walk(&roots, &home_exclusions(&layout))?;
    let missing = walk.missing_roots.clone();
    let folders = walk.folders;
    let (valid, refused) = walk.split();

    // Is there anything to record? Decide on a snapshot; the act decides again under the lock.
    let pending = {
        let mut tx = vault.store().begin(TxMode::Read)?;
        let mut n = 0;
        for (id, f) in &valid {
            let Ok(p) = &f.result else { continue };
            if change_of(tx.agent_catalog_get(id)?.as_ref(), p, &f.path) != Change::Same {
                n += 1;
            }
        }
        n
    };
    let mut changes: Vec<(String, Change)> =
        valid.keys().map(|k| (k.clone(), Change::Same)).collect();
    if pending > 0 {
        let res = vault.act(caller, &act, |tx, who| {
            let now = tx.now_unix();
            let mut out = Vec::new();
            for (id, f) in &valid {
                let Ok(p) = &f.result else { continue };
                let prev = tx.ops().agent_catalog_get(id)?;
                let change = change_of(prev.as_ref(), p, &f.path);
                if change != Change::Same {
                    tx.ops()
                        .agent_catalog_put(&catalog_row(p, &f.path, now, prev.as_ref()))?;
                    let event = if change == Change::New {
                        "agent.discovered"
                    } else {
                        "agent.updated"
                    };
                    tx.append(
                        NewEvent::new(event, who.actor())
                            .subject("agent", id.clone())
                            .meta(
                                Metadata::new()
                                    .str("manifest_path", f.path.display().to_string())
                                    .str("manifest_hash", hex(&p.manifest_hash))
                                    .str("permissions_hash", hex(&p.permissions_hash))
                                    .str("entrypoint", p.manifest.entrypoint.binding()),
                            ),
                    )?;
                }
                out.push((id.clone(), change));
            }
            if out.iter().all(|(_, c)| *c == Change::Same) {
                // Another discover recorded the same changes first; say so once.
                tx.append(
                    NewEvent::new("agent.discovery_unchanged", who.actor()).meta(
                        Metadata::new().int("agents", i64::try_from(out.len()).unwrap_or(i64::MAX)),
                    ),
                )?;
            }
            Ok(out)
        });
        match res {
            Ok(c) => changes = c,
            Err(f) => return failed("discover", "catalog", f),
        }
    }

    let mut r = AgentReport::new("discover");
    let mut items = Vec::new();
    for (id, change) in &changes {
        let path = valid
            .get(id)
            .map(|f| f.path.display().to_string())
            .unwrap_or_default();
        let word = match change {
            Change::New => "discovered",
            Change::Updated => "updated",
            Change::Same => "unchanged",
        };
        r.lines
            .push(format!("{word:<10} {id}  {}", escape_for_display(&path)));
        items.push(json!({"agent_id": id, "change": word, "manifest_path": path}));
    }
    for m in &missing {
        r.lines
            .push(format!("skipped    root `{}` does not exist", m.display()));
    }
    for f in &refused {
        if let Err(p) = &f.result {
            r.findings
                .push(p.finding(&escape_for_display(&f.path.display().to_string())));
        }
    }
    let count = |c: Change| changes.iter().filter(|(_, x)| *x == c).count();
    r.summary = format!(
        "{} agents: {} discovered, {} updated, {} unchanged; {} manifests refused; {folders} folders walked",
        changes.len(),
        count(Change::New),
        count(Change::Updated),
        count(Change::Same),
        refused.len()
    );
    Ok(r.with("agents", Value::Array(items))
        .with(
            "roots",
            json!(
                roots
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
            ),
        )
        .with(
            "missing_roots",
            json!(
                missing
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
            ),
        )
        .with("folders", json!(folders)))
}

/// Parse a user-given id (a bad one is a refusal like an unknown one).
pub fn parse_id(
    vault: &mut Vault<'_>,
    caller: &Caller,
    act: &Act,
    id: &str,
) -> Result<Result<AgentId, AgentReport>, AgentError> {
    match AgentId::parse(id) {
        Ok(i) => Ok(Ok(i)),
        Err(m) => Ok(Err(deny(
            vault,
            caller,
            act,
            &escape_for_display(id),
            refuse(AgentCode::NotFound, "-", m),
        )?)),
    }
}

/// The installed manifest of `id`, parsed.
pub fn installed_manifest(layout: &Layout, id: &AgentId) -> Result<ParsedManifest, String> {
    let path = layout.src(id).join(MANIFEST_FILE);
    match manifest::read(&path) {
        Ok(p) if p.manifest.id == *id => Ok(p),
        Ok(p) => Err(format!(
            "the installed revision's manifest declares id `{}`, not `{id}`",
            p.manifest.id
        )),
        Err(Ok(problem)) => Err(format!(
            "the installed revision's manifest is refused: {problem}"
        )),
        Err(Err(e)) => Err(format!("cannot read `{}`: {e}", path.display())),
    }
}

/// `agent install`.
// Check, work outside any transaction, then record: one sequence read top to bottom.
#[allow(clippy::too_many_lines)]
pub fn install(
    vault: &mut Vault<'_>,
    caller: &Caller,
    id: &str,
    git_ref: Option<&str>,
    allow_file: bool,
) -> Result<AgentReport, AgentError> {
    let act = Act::new("agent.install", "agent:install");
    if let Err(f) = vault.authorize_read(caller, &act) {
        return failed("install", id, f);
    }
    let id = match parse_id(vault, caller, &act, id)? {
        Ok(i) => i,
        Err(r) => return Ok(r),
    };
    let row = vault
        .store()
        .begin(TxMode::Read)?
        .agent_catalog_get(id.as_str())?;
    let Some(row) = row else {
        return deny(
            vault,
            caller,
            &act,
            id.as_str(),
            refuse(
                AgentCode::NotFound,
                id.as_str(),
                format!(
                    "no agent `{id}` in the catalog\nhelp: run `vaultgate agent discover` first"
                ),
            ),
        );
    };
    let want_ref = git_ref.map(str::to_owned).or_else(|| row.git_ref.clone());
    // Refuse unsafe values before git runs.
    let checked = install::check_url(&row.git_url, allow_file)
        .and_then(|_| want_ref.as_deref().map_or(Ok(()), install::check_ref));
    if let Err(p) = checked {
        return deny(
            vault,
            caller,
            &act,
            id.as_str(),
            refuse(p.code, id.as_str(), p.message),
        );
    }
    let layout = Layout::new(vault.home().root());
    private_dir(&layout.agent_dir(&id))?;
    let verify_id = id.clone();
    let result = install::install(
        &row.git_url,
        want_ref.as_deref(),
        &layout.src(&id),
        &layout.git_home(&id),
        allow_file,
        &|staging: &Path| {
            let path = staging.join(MANIFEST_FILE);
            match manifest::read(&path) {
                Ok(p) if p.manifest.id == verify_id => Ok(()),
                Ok(p) => Err(format!(
                    "the revision's manifest declares id `{}`, not `{verify_id}`",
                    p.manifest.id
                )),
                Err(Ok(problem)) => Err(format!("the revision's manifest is refused: {problem}")),
                Err(Err(e)) => Err(format!(
                    "the revision has no readable `{MANIFEST_FILE}`: {e}"
                )),
            }
        },
    );
    let installed = match result {
        Ok(i) => i,
        Err(p) => {
            return deny(
                vault,
                caller,
                &act,
                id.as_str(),
                refuse(p.code, id.as_str(), p.message),
            );
        }
    };
    let commit = installed.commit.clone();
    let res = vault.act(caller, &act, |tx, who| {
        let now = tx.now_unix();
        let Some(mut row) = tx.ops().agent_catalog_get(id.as_str())? else {
            return Err(refuse(
                AgentCode::NotFound,
                id.as_str(),
                format!("agent `{id}` left the catalog during the install"),
            )
            .into());
        };
        row.installed_commit = Some(commit.clone());
        row.installed_ref.clone_from(&want_ref);
        row.installed_at = Some(now);
        row.build_status = "none".into();
        row.build_commit = None;
        row.build_message = None;
        tx.ops().agent_catalog_put(&row)?;
        tx.append(
            NewEvent::new("agent.installed", who.actor())
                .subject("agent", id.to_string())
                .meta(
                    Metadata::new()
                        .str("commit", commit.clone())
                        .opt_str("ref", want_ref.clone())
                        .str("git_url", row.git_url.clone()),
                ),
        )?;
        Ok(())
    });
    if let Err(f) = res {
        return failed("install", id.as_str(), f);
    }
    let mut r = AgentReport::new("install");
    r.lines
        .push(format!("installed {id} at {}", installed.commit));
    r.lines
        .push(format!("source    {}", installed.src.display()));
    r.summary = format!(
        "`{id}` installed at commit {} (not built, not run)",
        installed.commit
    );
    Ok(r.with("agent_id", json!(id.as_str()))
        .with("commit", json!(installed.commit))
        .with("src", json!(installed.src.display().to_string())))
}

/// `agent build`.
// Check, work outside any transaction, then record: one sequence read top to bottom.
#[allow(clippy::too_many_lines)]
pub fn build(
    vault: &mut Vault<'_>,
    caller: &Caller,
    id: &str,
    trust: bool,
    timeout: Duration,
) -> Result<AgentReport, AgentError> {
    let act = Act::new("agent.build", "agent:build");
    if let Err(f) = vault.authorize_read(caller, &act) {
        return failed("build", id, f);
    }
    let id = match parse_id(vault, caller, &act, id)? {
        Ok(i) => i,
        Err(r) => return Ok(r),
    };
    if !trust {
        return deny(
            vault,
            caller,
            &act,
            id.as_str(),
            refuse(
                AgentCode::TrustRequired,
                id.as_str(),
                format!(
                    "building `{id}` executes the agent's own code (its build scripts and dependencies)\nhelp: read the source in the home's `agents/{id}/src`, then pass `--trust`"
                ),
            ),
        );
    }
    let layout = Layout::new(vault.home().root());
    // Start: checked and audited.
    let started = vault.act(caller, &act, |tx, who| {
        let now = tx.now_unix();
        let Some(mut row) = tx.ops().agent_catalog_get(id.as_str())? else {
            return Err(refuse(
                AgentCode::NotFound,
                id.as_str(),
                format!("no agent `{id}` in the catalog"),
            )
            .into());
        };
        let Some(commit) = row.installed_commit.clone() else {
            return Err(refuse(
                AgentCode::NotInstalled,
                id.as_str(),
                format!("`{id}` is not installed\nhelp: `vaultgate agent install {id}`"),
            )
            .into());
        };
        let parsed = installed_manifest(&layout, &id).map_err(|m| {
            ActError::from(refuse(AgentCode::InstalledManifestMismatch, id.as_str(), m))
        })?;
        row.build_status = "building".into();
        row.build_commit = Some(commit.clone());
        row.build_started_at = Some(now);
        row.build_finished_at = None;
        row.build_message = None;
        tx.ops().agent_catalog_put(&row)?;
        tx.append(
            NewEvent::new("agent.build_started", who.actor())
                .subject("agent", id.to_string())
                .meta(
                    Metadata::new()
                        .str("commit", commit.clone())
                        .bool("trust_boundary", true),
                ),
        )?;
        Ok((commit, parsed.manifest.entrypoint.kind))
    });
    let (commit, kind) = match started {
        Ok(v) => v,
        Err(f) => return failed("build", id.as_str(), f),
    };
    let src = layout.src(&id);
    private_dir(&layout.agent_home(&id))?;
    private_dir(&layout.agent_tmp(&id))?;
    let steps = build::build_steps(kind, &src);
    let env = build::child_env(&layout.agent_home(&id), &layout.agent_tmp(&id));
    let extra: &[(&str, &str)] = if kind == EntrypointType::Release {
        &[("MIX_ENV", "prod")]
    } else {
        &[]
    };
    let outcome = build::run_build(&steps, &src, &env, extra, timeout, &Redactor::new(&[]));
    crate::fsutil::write_atomic_bytes(&layout.build_log(&id), outcome.output.as_bytes())?;
    let ok = outcome.ok;
    let failure = outcome.failure.clone();
    let ended = vault.act(caller, &act, |tx, who| {
        let now = tx.now_unix();
        if let Some(mut row) = tx.ops().agent_catalog_get(id.as_str())? {
            row.build_status = if ok { "built" } else { "failed" }.into();
            row.build_finished_at = Some(now);
            row.build_message.clone_from(&failure);
            tx.ops().agent_catalog_put(&row)?;
        }
        let event = if ok {
            "agent.built"
        } else {
            "agent.build_failed"
        };
        tx.append(
            NewEvent::new(event, who.actor())
                .subject("agent", id.to_string())
                .meta(
                    Metadata::new()
                        .str("commit", commit.clone())
                        .bool("trust_boundary", true)
                        .list("steps", outcome.steps.clone())
                        .opt_str("failure", failure.clone())
                        .int(
                            "elapsed_ms",
                            i64::try_from(outcome.elapsed.as_millis()).unwrap_or(i64::MAX),
                        ),
                ),
        )?;
        Ok(())
    });
    if let Err(f) = ended {
        return failed("build", id.as_str(), f);
    }
    let mut r = AgentReport::new("build");
    for s in &outcome.steps {
        r.lines.push(format!("step  {s}"));
    }
    if steps.is_empty() {
        r.lines
            .push("no build step for this entrypoint (nothing to run)".into());
    }
    r.lines
        .push(format!("log   {}", layout.build_log(&id).display()));
    if let Some(f) = &outcome.failure {
        r.findings.push(Finding::error(
            AgentCode::BuildFailed,
            id.as_str(),
            f.clone(),
        ));
        r.summary = format!("build of `{id}` failed");
    } else {
        r.summary = format!(
            "`{id}` built at {commit} in {} ms",
            outcome.elapsed.as_millis()
        );
    }
    Ok(r.with("agent_id", json!(id.as_str()))
        .with("commit", json!(commit))
        .with("steps", json!(outcome.steps))
        .with("trust_boundary", json!(true))
        .with(
            "build_log",
            json!(layout.build_log(&id).display().to_string()),
        )
        .with("output_dropped_bytes", json!(outcome.dropped)))
}

/// `agent enable`.
// Check, work outside any transaction, then record: one sequence read top to bottom.
#[allow(clippy::too_many_lines)]
pub fn enable(
    vault: &mut Vault<'_>,
    caller: &Caller,
    id: &str,
    approve: &[String],
    all: bool,
) -> Result<AgentReport, AgentError> {
    let act = Act::new("agent.enable", "agent:enable");
    if let Err(f) = vault.authorize_read(caller, &act) {
        return failed("enable", id, f);
    }
    let id = match parse_id(vault, caller, &act, id)? {
        Ok(i) => i,
        Err(r) => return Ok(r),
    };
    let layout = Layout::new(vault.home().root());
    let res = vault.act(caller, &act, |tx, who| {
        let now = tx.now_unix();
        let Some(row) = tx.ops().agent_catalog_get(id.as_str())? else {
            return Err(refuse(AgentCode::NotFound, id.as_str(), format!("no agent `{id}` in the catalog")).into());
        };
        let requested: Vec<Permission> = row
            .permissions
            .iter()
            .filter_map(|p| Permission::parse(p).ok())
            .collect();
        let mut requested_set = requested.clone();
        requested_set.sort();
        requested_set.dedup();
        if row.installed_commit.is_some() {
            let inst = installed_manifest(&layout, &id)
                .map_err(|m| ActError::from(refuse(AgentCode::InstalledManifestMismatch, id.as_str(), m)))?;
            if hex(&inst.permissions_hash) != row.permissions_hash
                || inst.manifest.entrypoint.binding() != format!("{}:{}", row.entrypoint_type, row.entrypoint_value)
            {
                return Err(refuse(
                    AgentCode::InstalledManifestMismatch,
                    id.as_str(),
                    format!("the installed revision of `{id}` requests other permissions or another entrypoint than the discovered manifest\nhelp: re-run `vaultgate agent discover` or install the revision you mean to approve"),
                )
                .into());
            }
        }
        let approved: Vec<Permission> = if all {
            requested_set.clone()
        } else {
            let mut v = Vec::new();
            for a in approve {
                let p = Permission::parse(a).map_err(|m| ActError::from(refuse(AgentCode::PermissionNotRequested, id.as_str(), m)))?;
                if !requested_set.contains(&p) {
                    return Err(refuse(
                        AgentCode::PermissionNotRequested,
                        id.as_str(),
                        format!("`{}` is not among the permissions `{id}` requests", escape_for_display(a)),
                    )
                    .meta(Metadata::new().str("permission", a.clone()))
                    .into());
                }
                v.push(p);
            }
            v.sort();
            v.dedup();
            v
        };
        let approval = AgentApprovalRow {
            agent_id: id.to_string(),
            approved: approved.iter().map(ToString::to_string).collect(),
            permissions_hash: row.permissions_hash.clone(),
            manifest_hash: row.manifest_hash.clone(),
            entrypoint: format!("{}:{}", row.entrypoint_type, row.entrypoint_value),
            approved_by: who.accessor.clone(),
            approved_at: now,
            revoked_at: None,
            revoked_by: None,
        };
        tx.ops().agent_approval_put(&approval)?;
        tx.append(
            NewEvent::new("agent.enabled", who.actor())
                .subject("agent", id.to_string())
                .meta(
                    Metadata::new()
                        .list("approved", approval.approved.clone())
                        .int("requested", i64::try_from(requested_set.len()).unwrap_or(i64::MAX))
                        .str("permissions_hash", approval.permissions_hash.clone())
                        .str("manifest_hash", approval.manifest_hash.clone())
                        .str("entrypoint", approval.entrypoint.clone()),
                ),
        )?;
        Ok((approval, requested_set.len()))
    });
    let (approval, requested) = match res {
        Ok(v) => v,
        Err(f) => return failed("enable", id.as_str(), f),
    };
    let mut r = AgentReport::new("enable");
    for p in &approval.approved {
        r.lines.push(format!("approved  {p}"));
    }
    r.summary = format!(
        "`{id}` enabled with {} of {requested} requested permissions (bound to entrypoint `{}`)",
        approval.approved.len(),
        approval.entrypoint
    );
    Ok(r.with("agent_id", json!(id.as_str()))
        .with("approved", json!(approval.approved))
        .with("permissions_hash", json!(approval.permissions_hash))
        .with("manifest_hash", json!(approval.manifest_hash))
        .with("entrypoint", json!(approval.entrypoint)))
}

/// `agent revoke`.
pub fn revoke(vault: &mut Vault<'_>, caller: &Caller, id: &str) -> Result<AgentReport, AgentError> {
    let act = Act::new("agent.revoke", "agent:revoke");
    if let Err(f) = vault.authorize_read(caller, &act) {
        return failed("revoke", id, f);
    }
    let id = match parse_id(vault, caller, &act, id)? {
        Ok(i) => i,
        Err(r) => return Ok(r),
    };
    let res = vault.act(caller, &act, |tx, who| {
        let now = tx.now_unix();
        let current = tx
            .ops()
            .agent_approval_get(id.as_str())?
            .filter(|a| a.revoked_at.is_none());
        let Some(mut a) = current else {
            return Err(refuse(
                AgentCode::NotEnabled,
                id.as_str(),
                format!("`{id}` has no current approval to revoke"),
            )
            .into());
        };
        a.revoked_at = Some(now);
        a.revoked_by = Some(who.accessor.clone());
        tx.ops().agent_approval_put(&a)?;
        tx.append(
            NewEvent::new("agent.permissions_revoked", who.actor())
                .subject("agent", id.to_string())
                .meta(Metadata::new().list("approved", a.approved.clone())),
        )?;
        Ok(a)
    });
    match res {
        Ok(a) => {
            let mut r = AgentReport::new("revoke");
            r.summary = format!(
                "approval of `{id}` revoked ({} permissions); it cannot run until enabled again",
                a.approved.len()
            );
            Ok(r.with("agent_id", json!(id.as_str()))
                .with("revoked", json!(a.approved)))
        }
        Err(f) => failed("revoke", id.as_str(), f),
    }
}

/// Compare the current approval with what the catalog and the installed revision request:
/// `Err(message)` on drift.
pub fn drift(
    approval: &AgentApprovalRow,
    row: &AgentCatalogRow,
    installed: &ParsedManifest,
) -> Result<(), String> {
    let catalog_ep = format!("{}:{}", row.entrypoint_type, row.entrypoint_value);
    if row.permissions_hash != approval.permissions_hash {
        return Err("the manifest's requested permissions changed since the approval".into());
    }
    if catalog_ep != approval.entrypoint {
        return Err(format!(
            "the entrypoint changed from `{}` to `{catalog_ep}` since the approval",
            approval.entrypoint
        ));
    }
    if hex(&installed.permissions_hash) != approval.permissions_hash {
        return Err(
            "the installed revision requests other permissions than the approval covers".into(),
        );
    }
    if installed.manifest.entrypoint.binding() != approval.entrypoint {
        return Err(format!(
            "the installed revision's entrypoint `{}` is not the approved `{}`",
            installed.manifest.entrypoint.binding(),
            approval.entrypoint
        ));
    }
    Ok(())
}
