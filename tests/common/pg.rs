//! The PostgreSQL test server (`VAULTGATE_TEST_DATABASE_URL`, started by
//! `scripts/pg-test-cluster.sh`): one fresh schema per test, chosen through `search_path`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

/// The owner URL; `None` after a loud SKIPPED when unset, a panic instead under
/// `VAULTGATE_REQUIRE_INTEROP=1` (CI), so the PostgreSQL tests never silently not run.
pub fn url(test: &str) -> Option<String> {
    match std::env::var("VAULTGATE_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("VAULTGATE_REQUIRE_INTEROP").as_deref() != Ok("1"),
                "{test} needs PostgreSQL: VAULTGATE_TEST_DATABASE_URL is unset and VAULTGATE_REQUIRE_INTEROP=1 forbids skipping (scripts/pg-test-cluster.sh starts one)"
            );
            #[allow(clippy::disallowed_macros)]
            {
                eprintln!(
                    "SKIPPED: {test} needs PostgreSQL (set VAULTGATE_TEST_DATABASE_URL; scripts/pg-test-cluster.sh starts one); it did not run"
                );
            }
            None
        }
    }
}

/// `base` with its `search_path` set to `schema`.
pub fn with_schema(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

/// A client on `url`.
pub fn client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

/// A new empty schema: `(url with search_path, schema name)`.
pub fn fresh_schema(base: &str) -> (String, String) {
    let schema = format!("vgt_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    client(base)
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    (with_schema(base, &schema), schema)
}
