//! The ordered list of every family's PostgreSQL migrations, and how one is applied (the same
//! versions and names as the SQLite store's: one schema, two dialects).

use super::map_err;
use crate::vault::store::{Migration, StoreError};

/// Every migration this binary knows, ascending by version.
pub fn all() -> Vec<&'static Migration> {
    let mut v: Vec<&'static Migration> = super::core::MIGRATIONS
        .iter()
        .chain(super::registry::MIGRATIONS)
        .chain(super::lease::MIGRATIONS)
        .chain(super::grant::MIGRATIONS)
        .chain(super::agent::MIGRATIONS)
        .collect();
    v.sort_by_key(|m| m.version);
    v
}

/// Apply one migration inside a transaction, and record it.
pub fn apply(
    tx: &mut postgres::Transaction<'_>,
    m: &Migration,
    now: &str,
) -> Result<(), StoreError> {
    tx.batch_execute(m.sql).map_err(|e| {
        let inner = map_err(e);
        StoreError::Backend(format!(
            "migration {} `{}` failed: {inner}",
            m.version, m.name
        ))
    })?;
    let version = i32::try_from(m.version)
        .map_err(|_| StoreError::Backend(format!("migration version {} overflows", m.version)))?;
    tx.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        &[&version, &m.name, &now],
    )
    .map(|_| ())
    .map_err(map_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_the_sqlite_store() {
        let pg: Vec<(u32, &str)> = all().iter().map(|m| (m.version, m.name)).collect();
        let lite: Vec<(u32, &str)> = crate::vault::store::sqlite::migrations::all()
            .iter()
            .map(|m| (m.version, m.name))
            .collect();
        assert_eq!(pg, lite, "both stores must know the same migrations");
    }

    #[test]
    fn the_runner_grants_name_every_table_of_every_migration() {
        let grants = super::super::RUNNER_GRANTS;
        for m in all() {
            for table in m
                .sql
                .split("CREATE TABLE ")
                .skip(1)
                .filter_map(|rest| rest.split_whitespace().next())
            {
                assert!(
                    grants.contains(&format!("{{schema}}.{table}")),
                    "migration {} creates `{table}` but RUNNER_GRANTS does not name it",
                    m.version
                );
            }
        }
    }
}
