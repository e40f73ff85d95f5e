//! Conformance of the registry: unique assets (by name and by folder), one contract per
//! ingest, and the contract's bounds enforced by the database.

use super::{Harness, ensure};
use crate::vault::store::TxMode;
use crate::vault::store::registry::{AssetRow, ContractRow, IngestRow};

fn e(x: impl std::fmt::Display) -> String {
    x.to_string()
}

/// An asset row for tests.
pub fn asset(name: &str, path: &str) -> AssetRow {
    AssetRow {
        name: name.into(),
        owner: "team".into(),
        path: path.into(),
        registered_at: 1_000,
        registered_by: "acc".into(),
    }
}

/// An ingest row for tests.
pub fn ingest(id: &str, asset: Option<&str>) -> IngestRow {
    IngestRow {
        id: id.into(),
        asset: asset.map(str::to_owned),
        path: "/p".into(),
        manifest_digest: "0".repeat(64),
        declared: true,
        resolution: vec!["ai.x=prov".into()],
        scanned_at: 1_000,
        scanned_by: "acc".into(),
    }
}

/// A PASS contract row for tests.
pub fn contract(ingest_id: &str) -> ContractRow {
    ContractRow {
        ingest_id: ingest_id.into(),
        asset: Some("a".into()),
        owner: Some("team".into()),
        scopes: vec!["ai.x".into()],
        max_ttl_secs: 3_600,
        phase: "build".into(),
        max_active: 8,
        eligibility: "PASS".into(),
        reasons: Vec::new(),
        bound_at: 1_000,
        bound_by: "acc".into(),
    }
}

/// Assets are unique by name and by folder; rows round-trip.
pub fn assets_are_unique(h: &mut dyn Harness) -> Result<(), String> {
    let mut s = h.fresh();
    let mut tx = s.begin(TxMode::Write).map_err(e)?;
    tx.registry_asset_insert(&asset("a", "/p")).map_err(e)?;
    ensure(
        tx.registry_asset_insert(&asset("a", "/q")).is_err(),
        "a second asset named `a` was accepted",
    )?;
    ensure(
        tx.registry_asset_insert(&asset("b", "/p")).is_err(),
        "a second asset at `/p` was accepted",
    )?;
    tx.registry_asset_insert(&asset("b", "/q")).map_err(e)?;
    ensure(
        tx.registry_asset_get("a").map_err(e)? == Some(asset("a", "/p")),
        "asset `a` did not round-trip",
    )?;
    ensure(
        tx.registry_asset_by_path("/q").map_err(e)?.map(|a| a.name) == Some("b".into()),
        "lookup by path failed",
    )?;
    ensure(
        tx.registry_asset_list().map_err(e)?.len() == 2,
        "asset list is wrong",
    )?;
    tx.commit().map_err(e)
}

/// One contract per ingest; out-of-bounds contracts are refused by the database.
pub fn one_contract_per_ingest(h: &mut dyn Harness) -> Result<(), String> {
    let mut s = h.fresh();
    let mut tx = s.begin(TxMode::Write).map_err(e)?;
    tx.registry_asset_insert(&asset("a", "/p")).map_err(e)?;
    tx.registry_ingest_insert(&ingest("i1", Some("a")))
        .map_err(e)?;
    ensure(
        tx.registry_ingest_get("i1").map_err(e)? == Some(ingest("i1", Some("a"))),
        "ingest did not round-trip",
    )?;
    tx.registry_contract_insert(&contract("i1")).map_err(e)?;
    ensure(
        tx.registry_contract_insert(&contract("i1")).is_err(),
        "a second contract for one ingest was accepted",
    )?;
    ensure(
        tx.registry_contract_get("i1").map_err(e)? == Some(contract("i1")),
        "contract did not round-trip",
    )?;
    tx.registry_ingest_insert(&ingest("i2", None)).map_err(e)?;
    let mut long = contract("i2");
    long.max_ttl_secs = 86_401;
    ensure(
        tx.registry_contract_insert(&long).is_err(),
        "a contract above 86,400 s was accepted",
    )?;
    let mut phase = contract("i2");
    phase.phase = "whenever".into();
    ensure(
        tx.registry_contract_insert(&phase).is_err(),
        "an unknown phase was accepted",
    )?;
    ensure(
        tx.registry_contract_insert(&contract("nope")).is_err(),
        "a contract for no ingest was accepted",
    )?;
    tx.commit().map_err(e)
}

/// Run every registry conformance check.
pub fn run_all(h: &mut dyn Harness) -> Result<(), String> {
    assets_are_unique(h)?;
    one_contract_per_ingest(h)
}
