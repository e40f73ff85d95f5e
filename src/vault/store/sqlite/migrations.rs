//! The ordered list of every family's migrations, and how one is applied.
//!
//! Each family keeps its own `MIGRATIONS` constant in its own file; this list concatenates them
//! and checks that versions are unique (the order of the families here does not matter, the
//! list is sorted by version).

use rusqlite::Connection;

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

/// Apply one migration on a connection that is inside a write transaction, and record it.
pub fn apply(conn: &Connection, m: &Migration, now: &str) -> Result<(), StoreError> {
    conn.execute_batch(m.sql).map_err(|e| {
        StoreError::Backend(format!("migration {} `{}` failed: {e}", m.version, m.name))
    })?;
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
        rusqlite::params![m.version, m.name, now],
    )
    .map(|_| ())
    .map_err(map_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_unique_and_start_with_the_core() {
        let all = all();
        assert_eq!(all[0].version, 1);
        for w in all.windows(2) {
            assert!(
                w[0].version < w[1].version,
                "duplicate migration version {}",
                w[1].version
            );
        }
    }
}
