//! Store operations for the registry (issue 10: the lease helper owns this file): assets,
//! ingests (what a scan found) and bind contracts.
//!
//! Lists are plain `Vec<String>`; how they are stored is the implementation's business.

use super::StoreError;

/// A registered asset: a project folder with an owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRow {
    /// Unique name.
    pub name: String,
    /// Its owner (a person or team).
    pub owner: String,
    /// The folder, canonicalised (unique).
    pub path: String,
    /// Unix seconds.
    pub registered_at: i64,
    /// The accessor that registered it.
    pub registered_by: String,
}

/// What one `ingest scan` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestRow {
    /// `ing_<32 hex>`.
    pub id: String,
    /// The asset owning the folder when scanned, if one was registered.
    pub asset: Option<String>,
    /// The folder, canonicalised.
    pub path: String,
    /// SHA-256 (hex) of the folder's manifest.
    pub manifest_digest: String,
    /// Whether the folder had a declaration.
    pub declared: bool,
    /// Each declared capability as `capability=provider,provider` (empty after `=` when none).
    pub resolution: Vec<String>,
    /// Unix seconds.
    pub scanned_at: i64,
    /// The accessor that scanned.
    pub scanned_by: String,
}

/// A bind contract (one per ingest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractRow {
    /// The ingest it binds.
    pub ingest_id: String,
    /// The asset (may be absent: then eligibility is FAIL).
    pub asset: Option<String>,
    /// The asset's owner when bound.
    pub owner: Option<String>,
    /// Approved scopes, sorted.
    pub scopes: Vec<String>,
    /// Maximum lease TTL in seconds (60 … 86,400).
    pub max_ttl_secs: i64,
    /// `build`, `release`, `review`, `retired`.
    pub phase: String,
    /// Active leases allowed at once.
    pub max_active: i64,
    /// `PASS` or `FAIL`.
    pub eligibility: String,
    /// The reason codes of a FAIL (empty on PASS).
    pub reasons: Vec<String>,
    /// Unix seconds.
    pub bound_at: i64,
    /// The accessor that bound it.
    pub bound_by: String,
}

/// The registry's operations on a transaction.
pub trait RegistryOps {
    /// Insert an asset (name and path are unique: a duplicate is [`StoreError::Constraint`]).
    fn registry_asset_insert(&mut self, row: &AssetRow) -> Result<(), StoreError>;
    /// An asset by name.
    fn registry_asset_get(&mut self, name: &str) -> Result<Option<AssetRow>, StoreError>;
    /// The asset registered for a folder.
    fn registry_asset_by_path(&mut self, path: &str) -> Result<Option<AssetRow>, StoreError>;
    /// Every asset, by name.
    fn registry_asset_list(&mut self) -> Result<Vec<AssetRow>, StoreError>;
    /// Insert an ingest.
    fn registry_ingest_insert(&mut self, row: &IngestRow) -> Result<(), StoreError>;
    /// An ingest by id.
    fn registry_ingest_get(&mut self, id: &str) -> Result<Option<IngestRow>, StoreError>;
    /// Every ingest, oldest first.
    fn registry_ingest_list(&mut self) -> Result<Vec<IngestRow>, StoreError>;
    /// Insert a contract (one per ingest: a second is [`StoreError::Constraint`]).
    fn registry_contract_insert(&mut self, row: &ContractRow) -> Result<(), StoreError>;
    /// The contract of an ingest.
    fn registry_contract_get(&mut self, ingest_id: &str)
    -> Result<Option<ContractRow>, StoreError>;
}
