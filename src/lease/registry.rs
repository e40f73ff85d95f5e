//! The registry's acts: providers (in the home's configuration), assets, ingest scans and
//! bind contracts. Each privileged act commits its state change with its audit row; a scan
//! reads and hashes the project folder *before* taking the writers' lock, so a large project
//! never holds other writers up, and runs none of its code.

use std::collections::BTreeSet;
use std::path::Path;

use crate::report::{Finding, FindingCode as _, escape_for_display as esc};
use crate::vault::audit::{Metadata, NewEvent};
use crate::vault::config::{RawProvider, ValidConfig};
use crate::vault::store::registry::{AssetRow, ContractRow, IngestRow};
use crate::vault::store::{StoreError, TxMode};
use crate::vault::{Act, ActError, ActFailure, Caller, Refusal, Vault, VaultError};

use super::codes::LeaseCode;
use super::ingest::{self, AssetFacts, EligibilityInput};
use super::report::{AssetReport, IngestReport, IngestView, ProviderReport};
use super::rules::{self, Phase};

/// Why a registry command could not run (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The scan could not run.
    #[error(transparent)]
    Ingest(#[from] ingest::IngestError),
    /// An argument is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// A refused act or one that could not run.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Refused (exit 1) and audited.
    #[error("{}", .refusal.message)]
    Refused {
        /// Why.
        refusal: Refusal,
        /// Its audit row.
        audit_seq: u64,
    },
    /// Could not run (exit 2).
    #[error(transparent)]
    Error(#[from] RegistryError),
}

impl From<ActFailure> for Failure {
    fn from(f: ActFailure) -> Self {
        match f {
            ActFailure::Refused { refusal, audit_seq } => Self::Refused { refusal, audit_seq },
            ActFailure::Error(e) => Self::Error(e.into()),
        }
    }
}

impl From<VaultError> for Failure {
    fn from(e: VaultError) -> Self {
        Self::Error(e.into())
    }
}

fn duplicate(e: ActError, what: String) -> ActError {
    match e {
        ActError::Store(StoreError::Constraint(_)) => ActError::Family(what.into()),
        other => other,
    }
}

/// A provider or owner name: what the configuration accepts for providers.
fn check_name(what: &str, s: &str) -> Result<(), RegistryError> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(RegistryError::Invalid(format!(
            "{what} `{}` must be 1-128 letters, digits, `-`, `_` or `.`, starting with a letter or digit",
            esc(s)
        )))
    }
}

/// `provider add NAME --capability C…`: add (or extend) a provider in the home's
/// configuration, audited as `PROVIDER_ADDED`.
pub fn provider_add(
    vault: &mut Vault<'_>,
    caller: &Caller,
    name: &str,
    capabilities: &[String],
) -> Result<ProviderReport, Failure> {
    check_name("provider", name).map_err(Failure::Error)?;
    if capabilities.is_empty() {
        return Err(RegistryError::Invalid("give at least one `--capability`".into()).into());
    }
    for c in capabilities {
        rules::check_scope_name(c)
            .map_err(|r| RegistryError::Invalid(format!("capability `{}`: {r}", esc(c))))?;
    }
    let mut raw = vault.config().raw().clone();
    let entry = raw.providers.entry(name.to_owned()).or_insert(RawProvider {
        capabilities: Vec::new(),
    });
    let mut all: BTreeSet<String> = entry.capabilities.iter().cloned().collect();
    all.extend(capabilities.iter().cloned());
    entry.capabilities = all.into_iter().collect();
    let caps = entry.capabilities.clone();
    let home = vault.home().root().to_path_buf();
    let config = ValidConfig::validate(raw, &home.join(crate::vault::config::FILE))
        .map_err(|e| RegistryError::Vault(VaultError::Config(e)))?;
    vault.act(
        caller,
        &Act::new("provider.add", "provider:manage"),
        |tx, who| {
            tx.append(
                NewEvent::new("PROVIDER_ADDED", who.actor())
                    .subject("provider", name)
                    .meta(Metadata::new().list("capabilities", caps.clone())),
            )?;
            // Last inside the act: if the file cannot be written, the audit row rolls back too.
            crate::vault::config::save(&home, &config).map_err(|e| ActError::Family(e.into()))?;
            Ok(())
        },
    )?;
    Ok(ProviderReport {
        name: name.to_owned(),
        capabilities: caps,
    })
}

/// `asset register NAME --owner O --path DIR`.
pub fn asset_register(
    vault: &mut Vault<'_>,
    caller: &Caller,
    name: &str,
    owner: &str,
    dir: &Path,
) -> Result<AssetReport, Failure> {
    check_name("asset", name)?;
    if owner.trim().is_empty() || owner.len() > 128 || owner.chars().any(char::is_control) {
        return Err(
            RegistryError::Invalid("`--owner` must be 1-128 printable characters".into()).into(),
        );
    }
    let path = std::fs::canonicalize(dir).map_err(|source| {
        RegistryError::Ingest(ingest::IngestError::Folder {
            path: dir.to_path_buf(),
            source,
        })
    })?;
    if !path.is_dir() {
        return Err(
            RegistryError::Ingest(ingest::IngestError::NotAFolder(dir.to_path_buf())).into(),
        );
    }
    let path = path
        .to_str()
        .ok_or_else(|| RegistryError::Invalid(format!("`{}` is not valid UTF-8", path.display())))?
        .to_owned();
    let row = vault.act(
        caller,
        &Act::new("asset.register", "asset:register").project(Some(name.to_owned())),
        |tx, who| {
            let row = AssetRow {
                name: name.to_owned(),
                owner: owner.to_owned(),
                path: path.clone(),
                registered_at: tx.now_unix(),
                registered_by: who.accessor.clone(),
            };
            tx.ops().registry_asset_insert(&row).map_err(|e| {
                duplicate(
                    e.into(),
                    format!(
                        "an asset named `{name}` or at `{}` is already registered",
                        esc(&path)
                    ),
                )
            })?;
            tx.append(
                NewEvent::new("ASSET_REGISTERED", who.actor())
                    .subject("asset", name)
                    .meta(Metadata::new().str("owner", owner).str("path", &path)),
            )?;
            Ok(row)
        },
    )?;
    Ok(AssetReport {
        command: "register",
        assets: vec![row],
    })
}

/// `asset list`.
pub fn asset_list(vault: &mut Vault<'_>, caller: &Caller) -> Result<AssetReport, Failure> {
    vault.authorize_read(caller, &Act::new("asset.list", "asset:read").in_lockdown())?;
    let mut tx = vault
        .store()
        .begin(TxMode::Read)
        .map_err(VaultError::from)?;
    let assets = tx.registry_asset_list().map_err(VaultError::from)?;
    Ok(AssetReport {
        command: "list",
        assets,
    })
}

fn resolution_strings(declared: &[String], config: &ValidConfig) -> Vec<String> {
    let index = ingest::index_providers(
        config
            .providers()
            .iter()
            .map(|(n, p)| {
                (
                    n.as_str(),
                    p.capabilities.iter().cloned().collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>()
            .iter()
            .map(|(n, c)| (*n, c.as_slice())),
    );
    ingest::resolve(declared, &index)
        .into_iter()
        .map(|(c, p)| format!("{c}={}", p.join(",")))
        .collect()
}

fn parse_resolution(r: &[String]) -> Vec<(String, Vec<String>)> {
    r.iter()
        .map(|s| {
            let (c, p) = s.split_once('=').unwrap_or((s.as_str(), ""));
            (
                c.to_owned(),
                p.split(',')
                    .filter(|x| !x.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )
        })
        .collect()
}

/// `ingest scan DIR`: read the declaration, resolve it against the providers, record the
/// manifest digest; audited as `INGEST_SCANNED`.
pub fn ingest_scan(
    vault: &mut Vault<'_>,
    caller: &Caller,
    dir: &Path,
) -> Result<IngestReport, Failure> {
    let scan = ingest::scan(dir).map_err(RegistryError::from)?;
    let path = scan
        .root
        .to_str()
        .ok_or_else(|| {
            RegistryError::Invalid(format!("`{}` is not valid UTF-8", scan.root.display()))
        })?
        .to_owned();
    let declared: Vec<String> = scan
        .declaration
        .as_ref()
        .map(|d| d.capabilities.clone())
        .unwrap_or_default();
    let resolution = resolution_strings(&declared, vault.config());
    let asset = {
        let mut tx = vault
            .store()
            .begin(TxMode::Read)
            .map_err(VaultError::from)?;
        tx.registry_asset_by_path(&path).map_err(VaultError::from)?
    };
    let project = asset.as_ref().map(|a| a.name.clone());
    let row = vault.act(
        caller,
        &Act::new("ingest.scan", "ingest:scan").project(project),
        |tx, who| {
            // Re-read under the lock: the asset may have been registered meanwhile.
            let asset = tx.ops().registry_asset_by_path(&path)?;
            let row = IngestRow {
                id: format!("ing_{}", uuid::Uuid::new_v4().simple()),
                asset: asset.map(|a| a.name),
                path: path.clone(),
                manifest_digest: scan.manifest_digest.to_hex(),
                declared: scan.declaration.is_some(),
                resolution: resolution.clone(),
                scanned_at: tx.now_unix(),
                scanned_by: who.accessor.clone(),
            };
            tx.ops().registry_ingest_insert(&row)?;
            tx.append(
                NewEvent::new("INGEST_SCANNED", who.actor())
                    .subject("ingest", &row.id)
                    .meta(
                        Metadata::new()
                            .opt_str("asset", row.asset.clone())
                            .str("path", &path)
                            .str("manifest_digest", &row.manifest_digest)
                            .list("capabilities", declared.clone()),
                    ),
            )?;
            Ok(row)
        },
    )?;
    Ok(IngestReport {
        command: "scan",
        ingests: vec![IngestView {
            ingest: row,
            contract: None,
        }],
        findings: Vec::new(),
    })
}

/// What `ingest bind` asks for.
#[derive(Debug, Clone)]
pub struct BindRequest {
    /// The ingest id.
    pub ingest: String,
    /// Approved scopes.
    pub scopes: Vec<String>,
    /// Maximum lease TTL in seconds.
    pub max_ttl_secs: u64,
    /// The phase.
    pub phase: Phase,
    /// Active leases allowed at once.
    pub max_active: u32,
}

#[allow(clippy::too_many_lines)] // every eligibility input gathered under the lock, then one row
/// `ingest bind`: create the bind contract with its eligibility verdict; audited as
/// `INGEST_BOUND`.
pub fn ingest_bind(
    vault: &mut Vault<'_>,
    caller: &Caller,
    req: &BindRequest,
) -> Result<IngestReport, Failure> {
    rules::check_max_ttl(req.max_ttl_secs).map_err(RegistryError::Invalid)?;
    if req.scopes.is_empty() {
        return Err(RegistryError::Invalid("give at least one `--scope`".into()).into());
    }
    if req.max_active == 0 {
        return Err(RegistryError::Invalid("`--max-active` must be at least 1".into()).into());
    }
    let mut scopes = req.scopes.clone();
    for s in &scopes {
        rules::check_scope_name(s)
            .map_err(|r| RegistryError::Invalid(format!("scope `{}`: {r}", esc(s))))?;
    }
    scopes.sort();
    scopes.dedup();
    let pre = {
        let mut tx = vault
            .store()
            .begin(TxMode::Read)
            .map_err(VaultError::from)?;
        tx.registry_ingest_get(&req.ingest)
            .map_err(VaultError::from)?
    };
    let project = pre.as_ref().and_then(|i| i.asset.clone());
    // Re-hash the folder now, before the writers' lock: a project that changed since its scan
    // is not the one the contract would stand on.
    let current_digest = match &pre {
        Some(i) => ingest::scan(Path::new(&i.path))
            .map_err(RegistryError::from)?
            .manifest_digest
            .to_hex(),
        None => String::new(),
    };
    let config = vault.config().clone();
    let max_ttl = i64::try_from(req.max_ttl_secs).unwrap_or(i64::MAX);
    let (view, findings) = vault.act(
        caller,
        &Act::new("ingest.bind", "ingest:bind").project(project),
        |tx, who| {
            let Some(ing) = tx.ops().registry_ingest_get(&req.ingest)? else {
                return Err(Refusal::violation(
                    LeaseCode::LeaseContractUnknown,
                    format!("no ingest `{}`", esc(&req.ingest)),
                )
                .into());
            };
            if tx.ops().registry_contract_get(&ing.id)?.is_some() {
                return Err(ActError::Family(
                    format!(
                        "ingest `{}` is already bound; scan again to bind anew",
                        ing.id
                    )
                    .into(),
                ));
            }
            let asset = tx.ops().registry_asset_by_path(&ing.path)?;
            let facts = asset.as_ref().map(|a| AssetFacts {
                name: a.name.clone(),
                owner: a.owner.clone(),
            });
            // Providers may have been added since the scan: resolve against the current ones.
            let declared: Vec<String> = parse_resolution(&ing.resolution)
                .into_iter()
                .map(|(c, _)| c)
                .collect();
            let resolution = parse_resolution(&resolution_strings(&declared, &config));
            let findings: Vec<Finding> = ingest::eligibility(&EligibilityInput {
                asset: facts.as_ref(),
                declared: ing.declared,
                resolution: &resolution,
                scopes: &scopes,
                digests: (&ing.manifest_digest, &current_digest),
            });
            let reasons: Vec<String> = findings.iter().map(|f| f.code.to_owned()).collect();
            let contract = ContractRow {
                ingest_id: ing.id.clone(),
                asset: asset.as_ref().map(|a| a.name.clone()),
                owner: asset.as_ref().map(|a| a.owner.clone()),
                scopes: scopes.clone(),
                max_ttl_secs: max_ttl,
                phase: req.phase.as_str().to_owned(),
                max_active: i64::from(req.max_active),
                eligibility: if reasons.is_empty() { "PASS" } else { "FAIL" }.to_owned(),
                reasons: reasons.clone(),
                bound_at: tx.now_unix(),
                bound_by: who.accessor.clone(),
            };
            tx.ops().registry_contract_insert(&contract)?;
            tx.append(
                NewEvent::new("INGEST_BOUND", who.actor())
                    .subject("ingest", &ing.id)
                    .meta(
                        Metadata::new()
                            .opt_str("asset", contract.asset.clone())
                            .list("scopes", scopes.clone())
                            .int("max_ttl_secs", max_ttl)
                            .str("phase", req.phase.as_str())
                            .int("max_active", i64::from(req.max_active))
                            .str("eligibility", &contract.eligibility)
                            .list("reasons", reasons),
                    ),
            )?;
            Ok((
                IngestView {
                    ingest: ing,
                    contract: Some(contract),
                },
                findings,
            ))
        },
    )?;
    Ok(IngestReport {
        command: "bind",
        ingests: vec![view],
        findings,
    })
}

/// `ingest show ID` / `ingest list`.
pub fn ingest_read(
    vault: &mut Vault<'_>,
    caller: &Caller,
    id: Option<&str>,
) -> Result<IngestReport, Failure> {
    vault.authorize_read(
        caller,
        &Act::new("ingest.read", "ingest:read").in_lockdown(),
    )?;
    let mut tx = vault
        .store()
        .begin(TxMode::Read)
        .map_err(VaultError::from)?;
    let rows = match id {
        Some(id) => match tx.registry_ingest_get(id).map_err(VaultError::from)? {
            Some(r) => vec![r],
            None => {
                return Err(RegistryError::Invalid(format!(
                    "no ingest `{}` ({})",
                    esc(id),
                    LeaseCode::LeaseContractUnknown.as_str()
                ))
                .into());
            }
        },
        None => tx.registry_ingest_list().map_err(VaultError::from)?,
    };
    let mut ingests = Vec::with_capacity(rows.len());
    for r in rows {
        let contract = tx.registry_contract_get(&r.id).map_err(VaultError::from)?;
        ingests.push(IngestView {
            ingest: r,
            contract,
        });
    }
    Ok(IngestReport {
        command: if id.is_some() { "show" } else { "list" },
        ingests,
        findings: Vec::new(),
    })
}
