//! PostgreSQL implementation of [`RegistryOps`] (its tables are in migration 2,
//! `postgres/lease.rs`).

use postgres::types::Type;

use super::lease::{list_from_sql, list_to_sql};
use super::{PgTx, map_err};
use crate::vault::store::registry::{AssetRow, ContractRow, IngestRow};
use crate::vault::store::{Migration, RegistryOps, StoreError};

/// The registry's migrations (its tables are in migration 2).
pub const MIGRATIONS: &[Migration] = &[];

const ASSET_COLS: &str = "name, owner, path, registered_at, registered_by";
const INGEST_COLS: &str =
    "id, asset, path, manifest_digest, declared, resolution, scanned_at, scanned_by";
const CONTRACT_COLS: &str = "ingest_id, asset, owner, scopes, max_ttl_secs, phase, max_active, \
    eligibility, reasons, bound_at, bound_by";

fn asset(r: &postgres::Row) -> AssetRow {
    AssetRow {
        name: r.get(0),
        owner: r.get(1),
        path: r.get(2),
        registered_at: r.get(3),
        registered_by: r.get(4),
    }
}

fn ingest(r: &postgres::Row) -> Result<IngestRow, StoreError> {
    let id: String = r.get(0);
    let res: String = r.get(5);
    Ok(IngestRow {
        resolution: list_from_sql(&format!("resolution of ingest `{id}`"), &res)?,
        id,
        asset: r.get(1),
        path: r.get(2),
        manifest_digest: r.get(3),
        declared: r.get(4),
        scanned_at: r.get(6),
        scanned_by: r.get(7),
    })
}

fn contract(r: &postgres::Row) -> Result<ContractRow, StoreError> {
    let id: String = r.get(0);
    let scopes: String = r.get(3);
    let reasons: String = r.get(8);
    Ok(ContractRow {
        scopes: list_from_sql(&format!("scopes of contract `{id}`"), &scopes)?,
        reasons: list_from_sql(&format!("reasons of contract `{id}`"), &reasons)?,
        ingest_id: id,
        asset: r.get(1),
        owner: r.get(2),
        max_ttl_secs: r.get(4),
        phase: r.get(5),
        max_active: r.get(6),
        eligibility: r.get(7),
        bound_at: r.get(9),
        bound_by: r.get(10),
    })
}

impl RegistryOps for PgTx<'_> {
    fn registry_asset_insert(&mut self, a: &AssetRow) -> Result<(), StoreError> {
        self.insert_one(
            &format!("INSERT INTO assets ({ASSET_COLS}) VALUES ($1, $2, $3, $4, $5)"),
            &[
                (&a.name, Type::TEXT),
                (&a.owner, Type::TEXT),
                (&a.path, Type::TEXT),
                (&a.registered_at, Type::INT8),
                (&a.registered_by, Type::TEXT),
            ],
            "an asset with this name or path",
        )
    }

    fn registry_asset_get(&mut self, name: &str) -> Result<Option<AssetRow>, StoreError> {
        let r = self
            .pg()
            .query_typed_opt(
                &format!("SELECT {ASSET_COLS} FROM assets WHERE name = $1"),
                &[(&name, Type::TEXT)],
            )
            .map_err(map_err)?;
        Ok(r.as_ref().map(asset))
    }

    fn registry_asset_by_path(&mut self, path: &str) -> Result<Option<AssetRow>, StoreError> {
        let r = self
            .pg()
            .query_typed_opt(
                &format!("SELECT {ASSET_COLS} FROM assets WHERE path = $1"),
                &[(&path, Type::TEXT)],
            )
            .map_err(map_err)?;
        Ok(r.as_ref().map(asset))
    }

    fn registry_asset_list(&mut self) -> Result<Vec<AssetRow>, StoreError> {
        let rows = self
            .pg()
            .query_typed(
                &format!("SELECT {ASSET_COLS} FROM assets ORDER BY name"),
                &[],
            )
            .map_err(map_err)?;
        Ok(rows.iter().map(asset).collect())
    }

    fn registry_ingest_insert(&mut self, i: &IngestRow) -> Result<(), StoreError> {
        let res = list_to_sql(&i.resolution);
        self.insert_one(
            &format!("INSERT INTO ingests ({INGEST_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            &[
                (&i.id, Type::TEXT),
                (&i.asset, Type::TEXT),
                (&i.path, Type::TEXT),
                (&i.manifest_digest, Type::TEXT),
                (&i.declared, Type::BOOL),
                (&res, Type::TEXT),
                (&i.scanned_at, Type::INT8),
                (&i.scanned_by, Type::TEXT),
            ],
            "an ingest with this id",
        )
    }

    fn registry_ingest_get(&mut self, id: &str) -> Result<Option<IngestRow>, StoreError> {
        let r = self
            .pg()
            .query_typed_opt(
                &format!("SELECT {INGEST_COLS} FROM ingests WHERE id = $1"),
                &[(&id, Type::TEXT)],
            )
            .map_err(map_err)?;
        r.as_ref().map(ingest).transpose()
    }

    fn registry_ingest_list(&mut self) -> Result<Vec<IngestRow>, StoreError> {
        let rows = self
            .pg()
            .query_typed(
                &format!("SELECT {INGEST_COLS} FROM ingests ORDER BY scanned_at, id"),
                &[],
            )
            .map_err(map_err)?;
        rows.iter().map(ingest).collect()
    }

    fn registry_contract_insert(&mut self, c: &ContractRow) -> Result<(), StoreError> {
        let scopes = list_to_sql(&c.scopes);
        let reasons = list_to_sql(&c.reasons);
        self.insert_one(
            &format!(
                "INSERT INTO contracts ({CONTRACT_COLS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ),
            &[
                (&c.ingest_id, Type::TEXT),
                (&c.asset, Type::TEXT),
                (&c.owner, Type::TEXT),
                (&scopes, Type::TEXT),
                (&c.max_ttl_secs, Type::INT8),
                (&c.phase, Type::TEXT),
                (&c.max_active, Type::INT8),
                (&c.eligibility, Type::TEXT),
                (&reasons, Type::TEXT),
                (&c.bound_at, Type::INT8),
                (&c.bound_by, Type::TEXT),
            ],
            "a contract for this ingest",
        )
    }

    fn registry_contract_get(
        &mut self,
        ingest_id: &str,
    ) -> Result<Option<ContractRow>, StoreError> {
        let r = self
            .pg()
            .query_typed_opt(
                &format!("SELECT {CONTRACT_COLS} FROM contracts WHERE ingest_id = $1"),
                &[(&ingest_id, Type::TEXT)],
            )
            .map_err(map_err)?;
        r.as_ref().map(contract).transpose()
    }
}
