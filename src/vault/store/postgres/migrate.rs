//! `vaultgate store migrate --to postgres://…`: copy a SQLite home's state and audit chain into
//! a fresh PostgreSQL schema, and verify the chain on arrival.
//!
//! Order: the act is authorised and audited (`store.migrate`) in the SQLite log first, so the
//! copy carries its own record; the writers' lock of the home is then held for the whole copy
//! (no local writer can add a row behind it); the target schema is created with every
//! migration; every state table is copied row by row and every audit row is appended in `seq`
//! order through the append-only trigger (which refuses any row not chained to the head), all
//! in one PostgreSQL transaction. After the commit the chain is walked on the server with the
//! audit key and compared with the source's head and row counts; only then is the anchor
//! rewritten for the new store. The caller renames `vault.db` so the old file cannot be used
//! by mistake (split brain).

use std::collections::BTreeMap;

use postgres::types::{ToSql, Type};

use super::{PgStore, map_err};
use crate::vault::audit::{self, Anchor, ChainVerifier};
use crate::vault::store::{Store, StoreError, TxMode};
use crate::vault::{Vault, VaultError};

/// What a migration copied.
#[derive(Debug, Clone)]
pub struct MigrateOutcome {
    /// Where (no password).
    pub target: String,
    /// Rows copied per table (the audit table included).
    pub tables: BTreeMap<String, u64>,
    /// The audit head on arrival.
    pub head_seq: u64,
    /// Its MAC.
    pub head_mac: String,
}

fn backend(e: impl std::fmt::Display) -> VaultError {
    VaultError::Store(StoreError::Backend(e.to_string()))
}

/// Tables the copy handles itself (not copied as state).
const SPECIAL: &[&str] = &["schema_migrations", "audit", "audit_head"];

enum Val {
    I8(Option<i64>),
    I4(Option<i32>),
    B(Option<bool>),
    T(Option<String>),
    Y(Option<Vec<u8>>),
}

impl Val {
    fn param(&self) -> (&(dyn ToSql + Sync), Type) {
        match self {
            Self::I8(v) => (v, Type::INT8),
            Self::I4(v) => (v, Type::INT4),
            Self::B(v) => (v, Type::BOOL),
            Self::T(v) => (v, Type::TEXT),
            Self::Y(v) => (v, Type::BYTEA),
        }
    }
}

fn convert(v: rusqlite::types::ValueRef<'_>, pg_type: &str, what: &str) -> Result<Val, VaultError> {
    use rusqlite::types::ValueRef as R;
    let bad = || {
        backend(format!(
            "{what}: a SQLite value does not fit the `{pg_type}` column"
        ))
    };
    Ok(match (pg_type, v) {
        ("bigint", R::Null) => Val::I8(None),
        ("bigint", R::Integer(i)) => Val::I8(Some(i)),
        ("integer", R::Null) => Val::I4(None),
        ("integer", R::Integer(i)) => Val::I4(Some(i32::try_from(i).map_err(|_| bad())?)),
        ("boolean", R::Null) => Val::B(None),
        ("boolean", R::Integer(i)) if i == 0 || i == 1 => Val::B(Some(i == 1)),
        ("text", R::Null) => Val::T(None),
        ("text", R::Text(t)) => Val::T(Some(String::from_utf8(t.to_vec()).map_err(|_| bad())?)),
        ("bytea", R::Null) => Val::Y(None),
        ("bytea", R::Blob(b)) => Val::Y(Some(b.to_vec())),
        _ => return Err(bad()),
    })
}

/// Copy `vault`'s SQLite database into the fresh schema at `url` and verify it there.
#[allow(clippy::too_many_lines)] // one sequence of steps, each checked
pub fn migrate(vault: &mut Vault<'_>, url: &str) -> Result<MigrateOutcome, VaultError> {
    if vault.store.backend() != "sqlite" {
        return Err(backend(
            "this home already uses the PostgreSQL store; `store migrate` copies a SQLite home",
        ));
    }
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(vault.home.lock_path())
        .map_err(|e| backend(format!("cannot open the writers' lock: {e}")))?;
    lock.lock()
        .map_err(|e| backend(format!("cannot take the writers' lock: {e}")))?;

    let now = crate::clock::format_rfc3339(vault.clock.now())?;
    let src = rusqlite::Connection::open_with_flags(
        vault.home.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )
    .map_err(backend)?;
    src.execute_batch("BEGIN").map_err(backend)?;
    let src_versions: Vec<u32> = {
        let mut s = src
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .map_err(backend)?;
        s.query_map([], |r| r.get(0))
            .map_err(backend)?
            .collect::<Result<_, _>>()
            .map_err(backend)?
    };
    let known: Vec<u32> = super::migrations::all().iter().map(|m| m.version).collect();
    if src_versions != known {
        return Err(backend(format!(
            "the SQLite database has migrations {src_versions:?}, this vaultgate knows {known:?}; open the home once with this version first"
        )));
    }
    let tables: Vec<String> = {
        let mut s = src
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
            )
            .map_err(backend)?;
        s.query_map([], |r| r.get(0))
            .map_err(backend)?
            .collect::<Result<_, _>>()
            .map_err(backend)?
    };

    let mut pg = PgStore::create(url, &now)?;
    let target = pg.target().to_owned();
    let mut counts = BTreeMap::new();
    {
        let mut tx = pg.client.transaction().map_err(map_err)?;
        tx.query("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE", &[])
            .map_err(map_err)?;
        for table in tables.iter().filter(|t| !SPECIAL.contains(&t.as_str())) {
            let cols: Vec<(String, String)> = tx
                .query(
                    "SELECT column_name::text, data_type::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                    &[table],
                )
                .map_err(map_err)?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            if cols.is_empty() {
                return Err(backend(format!(
                    "the PostgreSQL schema has no table `{table}`; nothing was committed"
                )));
            }
            let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
            let list = names.join(", ");
            let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
            let insert = format!(
                "INSERT INTO {table} ({list}) VALUES ({})",
                placeholders.join(", ")
            );
            let mut s = src
                .prepare(&format!("SELECT {list} FROM {table} ORDER BY rowid"))
                .map_err(backend)?;
            let mut rows = s.query([]).map_err(backend)?;
            let mut n = 0u64;
            while let Some(r) = rows.next().map_err(backend)? {
                let mut vals = Vec::with_capacity(cols.len());
                for (i, (col, ty)) in cols.iter().enumerate() {
                    let v = r.get_ref(i).map_err(backend)?;
                    vals.push(convert(v, ty, &format!("`{table}.{col}`"))?);
                }
                let params: Vec<(&(dyn ToSql + Sync), Type)> =
                    vals.iter().map(Val::param).collect();
                tx.execute_typed(&insert, &params).map_err(map_err)?;
                n += 1;
            }
            counts.insert(table.clone(), n);
        }
        // The audit chain, in order, through the append-only trigger.
        let mut ptx = super::PgTx { tx };
        let mut s = src
            .prepare(
                "SELECT seq, event_id, at, event_type, actor_type, actor_id, subject_type, \
                 subject_id, correlation_id, causation_id, severity, metadata, prev_mac, mac \
                 FROM audit ORDER BY seq",
            )
            .map_err(backend)?;
        let mut rows = s.query([]).map_err(backend)?;
        let mut n = 0u64;
        while let Some(r) = rows.next().map_err(backend)? {
            let row = crate::vault::store::AuditRow {
                seq: u64::try_from(r.get::<_, i64>(0).map_err(backend)?).unwrap_or(0),
                event_id: r.get(1).map_err(backend)?,
                at: r.get(2).map_err(backend)?,
                event_type: r.get(3).map_err(backend)?,
                actor_type: r.get(4).map_err(backend)?,
                actor_id: r.get(5).map_err(backend)?,
                subject_type: r.get(6).map_err(backend)?,
                subject_id: r.get(7).map_err(backend)?,
                correlation_id: r.get(8).map_err(backend)?,
                causation_id: r.get(9).map_err(backend)?,
                severity: r.get(10).map_err(backend)?,
                metadata: r.get(11).map_err(backend)?,
                prev_mac: r.get(12).map_err(backend)?,
                mac: r.get(13).map_err(backend)?,
            };
            crate::vault::store::VaultOps::audit_insert(&mut ptx, &row)?;
            n += 1;
        }
        counts.insert("audit".into(), n);
        crate::vault::store::Tx::commit(Box::new(ptx))?;
    }
    drop(src);

    // Verify on arrival: the whole chain with the audit key, the head, every count.
    let src_head = {
        let mut tx = vault.store.begin(TxMode::Read)?;
        tx.audit_head()?
    };
    let mut v = ChainVerifier::new(&vault.keys.audit);
    let dst_head = {
        let mut tx = pg.begin(TxMode::Read)?;
        tx.audit_scan(1, &mut |row| {
            v.push(&row);
            true
        })?;
        tx.audit_head()?
    };
    if v.issue_total != 0 {
        return Err(backend(format!(
            "the copied chain does not verify on the server: {}",
            v.issues
                .iter()
                .map(|i| i.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    if src_head != dst_head {
        return Err(backend(
            "the copied audit head differs from the source's; the PostgreSQL copy must not be used",
        ));
    }
    for (table, n) in &counts {
        let got: i64 = pg
            .client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .map_err(map_err)?
            .get(0);
        if u64::try_from(got).ok() != Some(*n) {
            return Err(backend(format!(
                "`{table}` holds {got} rows on the server, {n} were copied"
            )));
        }
    }
    let problems = pg.schema_state()?.protection_problems;
    if !problems.is_empty() {
        return Err(backend(format!(
            "the new schema's audit protections are not intact: {}",
            problems.join("; ")
        )));
    }
    let head = dst_head.unwrap_or(crate::vault::store::AuditHead {
        seq: 0,
        mac: audit::GENESIS.to_owned(),
    });
    let cookie = pg.schema_cookie()?;
    audit::write_anchor(
        &vault.home.anchor_path(),
        &vault.keys.audit,
        &Anchor {
            seq: head.seq,
            mac: head.mac.clone(),
            cookie,
        },
    )?;
    drop(lock);
    Ok(MigrateOutcome {
        target,
        tables: counts,
        head_seq: head.seq,
        head_mac: head.mac,
    })
}
