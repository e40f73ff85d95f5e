//! SQLite implementation of [`RegistryOps`] (its tables are in migration 2, `sqlite/lease.rs`).

use rusqlite::{OptionalExtension as _, params};

use super::lease::{list_from_sql, list_to_sql};
use super::{SqliteTx, map_err};
use crate::vault::store::registry::{AssetRow, ContractRow, IngestRow};
use crate::vault::store::{Migration, RegistryOps, StoreError};

/// The registry's tables come with migration 2 of the lease family (`sqlite/lease.rs`).
pub const MIGRATIONS: &[Migration] = &[];

fn asset(r: &rusqlite::Row<'_>) -> rusqlite::Result<AssetRow> {
    Ok(AssetRow {
        name: r.get(0)?,
        owner: r.get(1)?,
        path: r.get(2)?,
        registered_at: r.get(3)?,
        registered_by: r.get(4)?,
    })
}

const ASSET_COLS: &str = "name, owner, path, registered_at, registered_by";
const INGEST_COLS: &str =
    "id, asset, path, manifest_digest, declared, resolution, scanned_at, scanned_by";
const CONTRACT_COLS: &str = "ingest_id, asset, owner, scopes, max_ttl_secs, phase, max_active, \
    eligibility, reasons, bound_at, bound_by";

fn ingest(r: &rusqlite::Row<'_>) -> rusqlite::Result<IngestRow> {
    let res: String = r.get(5)?;
    let declared: i64 = r.get(4)?;
    Ok(IngestRow {
        id: r.get(0)?,
        asset: r.get(1)?,
        path: r.get(2)?,
        manifest_digest: r.get(3)?,
        declared: declared == 1,
        resolution: list_from_sql(5, &res)?,
        scanned_at: r.get(6)?,
        scanned_by: r.get(7)?,
    })
}

fn contract(r: &rusqlite::Row<'_>) -> rusqlite::Result<ContractRow> {
    let scopes: String = r.get(3)?;
    let reasons: String = r.get(8)?;
    Ok(ContractRow {
        ingest_id: r.get(0)?,
        asset: r.get(1)?,
        owner: r.get(2)?,
        scopes: list_from_sql(3, &scopes)?,
        max_ttl_secs: r.get(4)?,
        phase: r.get(5)?,
        max_active: r.get(6)?,
        eligibility: r.get(7)?,
        reasons: list_from_sql(8, &reasons)?,
        bound_at: r.get(9)?,
        bound_by: r.get(10)?,
    })
}

impl RegistryOps for SqliteTx<'_> {
    fn registry_asset_insert(&mut self, a: &AssetRow) -> Result<(), StoreError> {
        self.conn()
            .execute(
                &format!("INSERT INTO assets ({ASSET_COLS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
                params![a.name, a.owner, a.path, a.registered_at, a.registered_by],
            )
            .map(|_| ())
            .map_err(map_err)
    }

    fn registry_asset_get(&mut self, name: &str) -> Result<Option<AssetRow>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {ASSET_COLS} FROM assets WHERE name = ?1"),
                [name],
                asset,
            )
            .optional()
            .map_err(map_err)
    }

    fn registry_asset_by_path(&mut self, path: &str) -> Result<Option<AssetRow>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {ASSET_COLS} FROM assets WHERE path = ?1"),
                [path],
                asset,
            )
            .optional()
            .map_err(map_err)
    }

    fn registry_asset_list(&mut self) -> Result<Vec<AssetRow>, StoreError> {
        let mut s = self
            .conn()
            .prepare(&format!("SELECT {ASSET_COLS} FROM assets ORDER BY name"))
            .map_err(map_err)?;
        let rows = s.query_map([], asset).map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)
    }

    fn registry_ingest_insert(&mut self, i: &IngestRow) -> Result<(), StoreError> {
        self.conn()
            .execute(
                &format!(
                    "INSERT INTO ingests ({INGEST_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    i.id,
                    i.asset,
                    i.path,
                    i.manifest_digest,
                    i64::from(i.declared),
                    list_to_sql(&i.resolution),
                    i.scanned_at,
                    i.scanned_by
                ],
            )
            .map(|_| ())
            .map_err(map_err)
    }

    fn registry_ingest_get(&mut self, id: &str) -> Result<Option<IngestRow>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {INGEST_COLS} FROM ingests WHERE id = ?1"),
                [id],
                ingest,
            )
            .optional()
            .map_err(map_err)
    }

    fn registry_ingest_list(&mut self) -> Result<Vec<IngestRow>, StoreError> {
        let mut s = self
            .conn()
            .prepare(&format!(
                "SELECT {INGEST_COLS} FROM ingests ORDER BY scanned_at, id"
            ))
            .map_err(map_err)?;
        let rows = s.query_map([], ingest).map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)
    }

    fn registry_contract_insert(&mut self, c: &ContractRow) -> Result<(), StoreError> {
        self.conn()
            .execute(
                &format!(
                    "INSERT INTO contracts ({CONTRACT_COLS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ),
                params![
                    c.ingest_id,
                    c.asset,
                    c.owner,
                    list_to_sql(&c.scopes),
                    c.max_ttl_secs,
                    c.phase,
                    c.max_active,
                    c.eligibility,
                    list_to_sql(&c.reasons),
                    c.bound_at,
                    c.bound_by
                ],
            )
            .map(|_| ())
            .map_err(map_err)
    }

    fn registry_contract_get(
        &mut self,
        ingest_id: &str,
    ) -> Result<Option<ContractRow>, StoreError> {
        self.conn()
            .prepare_cached(&format!(
                "SELECT {CONTRACT_COLS} FROM contracts WHERE ingest_id = ?1"
            ))
            .and_then(|mut s| s.query_row([ingest_id], contract).optional())
            .map_err(map_err)
    }
}
