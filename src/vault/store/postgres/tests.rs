//! The conformance suite on a real PostgreSQL server (`VAULTGATE_TEST_DATABASE_URL`, the
//! owner role of a throwaway database: `scripts/pg-test-cluster.sh`). Each store gets its own
//! schema, chosen through `search_path` in the connection options.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::vault::store::conformance::{self, Harness};

/// The test server's URL; `None` (after a loud SKIPPED) when unset, and a panic instead when
/// `VAULTGATE_REQUIRE_INTEROP=1` (CI), so the PostgreSQL tests can never silently not run.
pub fn test_url(test: &str) -> Option<String> {
    match std::env::var("VAULTGATE_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("VAULTGATE_REQUIRE_INTEROP").as_deref() != Ok("1"),
                "{test} needs PostgreSQL: VAULTGATE_TEST_DATABASE_URL is unset and VAULTGATE_REQUIRE_INTEROP=1 forbids skipping (scripts/pg-test-cluster.sh starts one)"
            );
            // Written to the stderr handle itself, not through `eprintln!`, which libtest
            // captures and hides for a test that passes: the skip must show in the output.
            let line = format!(
                "SKIPPED: {test} needs PostgreSQL (set VAULTGATE_TEST_DATABASE_URL; scripts/pg-test-cluster.sh starts one); it did not run\n"
            );
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            None
        }
    }
}

/// `base` with its `search_path` set to `schema`.
pub fn with_schema(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

/// Create a fresh schema and return its URL.
pub fn fresh_schema(base: &str) -> (String, String) {
    let schema = format!(
        "vgt_{}",
        uuid::Uuid::new_v4().simple().to_string().get(..16).unwrap()
    );
    let mut c = Client::connect(base, NoTls).unwrap();
    c.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
    (with_schema(base, &schema), schema)
}

struct PgHarness {
    base: String,
    last: Option<String>,
}

impl Harness for PgHarness {
    fn fresh(&mut self) -> Box<dyn Store> {
        let (url, _) = fresh_schema(&self.base);
        let s = PgStore::create(&url, "2026-01-01T00:00:00Z").unwrap();
        self.last = Some(url);
        Box::new(s)
    }
    fn reopen(&mut self) -> Box<dyn Store> {
        Box::new(PgStore::open(self.last.as_ref().unwrap()).unwrap())
    }
    fn fail_audit_inserts_of(&mut self, event_type: &str) {
        let mut c = Client::connect(self.last.as_ref().unwrap(), NoTls).unwrap();
        c.batch_execute(&format!(
            "CREATE FUNCTION injected_failure() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'injected audit failure'; END $$; \
             CREATE TRIGGER injected_failure BEFORE INSERT ON audit FOR EACH ROW \
             WHEN (NEW.event_type = '{event_type}') EXECUTE FUNCTION injected_failure();"
        ))
        .unwrap();
    }
}

fn harness(test: &str) -> Option<PgHarness> {
    test_url(test).map(|base| PgHarness { base, last: None })
}

#[test]
fn postgres_passes_the_core_conformance_suite() {
    let Some(mut h) = harness("postgres_passes_the_core_conformance_suite") else {
        return;
    };
    conformance::core::run_all(&mut h).unwrap();
}

#[test]
fn postgres_passes_the_family_conformance_suites() {
    let Some(mut h) = harness("postgres_passes_the_family_conformance_suites") else {
        return;
    };
    conformance::registry::run_all(&mut h).unwrap();
    conformance::lease::run_all(&mut h).unwrap();
    conformance::grant::run_all(&mut h).unwrap();
    conformance::agent::run_all(&mut h).unwrap();
}

#[test]
fn a_fresh_schema_has_intact_protections_and_a_stable_cookie() {
    let Some(mut h) = harness("a_fresh_schema_has_intact_protections") else {
        return;
    };
    let mut s = h.fresh();
    let st = s.schema_state().unwrap();
    assert_eq!(st.protection_problems, Vec::<String>::new());
    assert!(st.pending.is_empty() && st.unknown.is_empty());
    assert_eq!(s.schema_cookie().unwrap(), st.cookie);
    assert_eq!(s.integrity_check().unwrap(), Vec::<String>::new());
    // Dropping and re-creating a trigger identically changes the cookie.
    let mut c = Client::connect(h.last.as_ref().unwrap(), NoTls).unwrap();
    c.batch_execute(
        "DROP TRIGGER audit_no_update ON audit; \
         CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit \
         FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();",
    )
    .unwrap();
    let after = s.schema_state().unwrap();
    assert_eq!(after.protection_problems, Vec::<String>::new());
    assert_ne!(after.cookie, st.cookie, "re-created trigger went unnoticed");
    // A disabled trigger and a missing one are protection problems.
    c.batch_execute("ALTER TABLE audit DISABLE TRIGGER audit_no_delete; DROP TRIGGER audit_no_truncate ON audit;")
        .unwrap();
    let p = s.schema_state().unwrap().protection_problems;
    assert!(p.iter().any(|m| m.contains("audit_no_delete")), "{p:?}");
    assert!(p.iter().any(|m| m.contains("audit_no_truncate")), "{p:?}");
    // Creating over an existing vault is refused.
    assert!(PgStore::create(h.last.as_ref().unwrap(), "t").is_err());
}

#[test]
fn urls_are_checked_and_never_echo_a_password() {
    let e = PgStore::open("sqlite:///tmp/x").unwrap_err().to_string();
    assert!(e.contains("not a postgres://"), "{e}");
    let e = PgStore::open("postgres://u:hunter2pw@127.0.0.1:1/db?sslmode=require")
        .unwrap_err()
        .to_string();
    assert!(e.contains("TLS") && !e.contains("hunter2pw"), "{e}");
    let e = PgStore::open("postgres://u:hunter2pw@127.0.0.1:1/db?connect_timeout=2")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot connect") && !e.contains("hunter2pw"),
        "{e}"
    );
    assert_eq!(
        describe("postgres://u:hunter2pw@db.example:6432/v"),
        "postgres://u@db.example:6432/v"
    );
}

#[test]
fn the_runner_grants_suffice_for_the_agent_family() {
    use crate::vault::store::TxMode;
    use crate::vault::store::agent::{AgentApprovalRow, AgentCatalogRow, AgentRunRow};
    let Some(base) = test_url("the_runner_grants_suffice_for_the_agent_family") else {
        return;
    };
    let Ok(runner_base) = std::env::var("VAULTGATE_TEST_RUNNER_URL") else {
        assert!(
            std::env::var("VAULTGATE_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "VAULTGATE_TEST_RUNNER_URL is unset"
        );
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"SKIPPED: the_runner_grants_suffice_for_the_agent_family needs VAULTGATE_TEST_RUNNER_URL; it did not run\n",
        );
        return;
    };
    let (url, schema) = fresh_schema(&base);
    PgStore::create(&url, "2026-01-01T00:00:00Z").unwrap();
    let grants = RUNNER_GRANTS
        .replace("{schema}", &schema)
        .replace("{role}", "vaultgate_runner");
    Client::connect(&url, NoTls)
        .unwrap()
        .batch_execute(&grants)
        .unwrap();
    let mut s = PgStore::open(&with_schema(&runner_base, &schema)).unwrap();
    let mut cat = AgentCatalogRow {
        agent_id: "a".into(),
        name: "n".into(),
        version: "1".into(),
        description: "d".into(),
        manifest_path: "/p/opensentience.agent.json".into(),
        manifest_hash: "a".repeat(64),
        permissions_hash: "b".repeat(64),
        permissions: vec!["fs:read:/x".into()],
        entrypoint_type: "command".into(),
        entrypoint_value: "bin/agent.sh".into(),
        git_url: "https://example.com/a.git".into(),
        git_ref: None,
        capabilities: vec![],
        discovered_at: 1,
        updated_at: 2,
        installed_commit: None,
        installed_ref: None,
        installed_at: None,
        build_status: "none".into(),
        build_commit: None,
        build_started_at: None,
        build_finished_at: None,
        build_message: None,
    };
    let approval = AgentApprovalRow {
        agent_id: "a".into(),
        approved: vec!["fs:read:/x".into()],
        permissions_hash: "b".repeat(64),
        manifest_hash: "a".repeat(64),
        entrypoint: "command:bin/agent.sh".into(),
        approved_by: "acc".into(),
        approved_at: 3,
        revoked_at: None,
        revoked_by: None,
    };
    let mut run = AgentRunRow {
        run_id: "r1".into(),
        agent_id: "a".into(),
        status: "running".into(),
        requested_by: "acc".into(),
        commit: "c".repeat(40),
        created_ms: 10,
        started_ms: None,
        ended_ms: None,
        pid: Some(42),
        start_time: Some(7),
        boot_id: Some("b".into()),
        monitor_pid: None,
        monitor_start_time: None,
        session_id: None,
        last_heartbeat_ms: None,
        heartbeat_interval_ms: 5000,
        stop_requested_ms: None,
        exit_code: None,
        signal: None,
        reason: None,
    };
    let mut tx = s.begin(TxMode::Write).unwrap();
    tx.agent_catalog_put(&cat).unwrap();
    tx.agent_approval_put(&approval).unwrap();
    tx.agent_run_put(&run).unwrap();
    // The upserts' UPDATE path, as the runner.
    cat.build_status = "built".into();
    run.status = "stopped".into();
    tx.agent_catalog_put(&cat).unwrap();
    tx.agent_approval_put(&approval).unwrap();
    tx.agent_run_put(&run).unwrap();
    tx.commit().unwrap();
    let mut tx = s.begin(TxMode::Read).unwrap();
    assert_eq!(tx.agent_catalog_get("a").unwrap(), Some(cat));
    assert_eq!(tx.agent_run_get("r1").unwrap(), Some(run));
    assert_eq!(tx.agent_run_live("a").unwrap(), None);
}
