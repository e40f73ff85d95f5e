//! The vault on PostgreSQL, through the real binary: a SQLite home migrated with
//! `store migrate`, races of real processes over several homes sharing one database (several
//! machines), the head lock and a killed backend as faults, the runner role's privileges, and
//! checkpoints catching a rewound log. Each test has its own schema. Without
//! `VAULTGATE_TEST_DATABASE_URL` every test says SKIPPED (and fails under
//! `VAULTGATE_REQUIRE_INTEROP=1`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::json_of;
use common::lease::{T0, Vault, code, err, out};
use common::pg;

/// A lease home (tokens, provider, asset) migrated into a fresh schema; the owner URL.
fn pg_vault(test: &str) -> Option<(Vault, String, String)> {
    let base = pg::url(test)?;
    let (url, schema) = pg::fresh_schema(&base);
    let v = Vault::new();
    let o = v.run(
        Some(&v.admin),
        &["--json", "store", "migrate", "--to", &url],
    );
    assert_eq!(code(&o), 0, "migrate: {}{}", out(&o), err(&o));
    let j = json_of(&o);
    assert_eq!(j["config_written"], true);
    assert!(
        !v.home.join("vault.db").exists(),
        "the SQLite file stayed in use"
    );
    Some((v, url, schema))
}

/// `n` extra homes for the same vault (the same key, configuration and anchor, no database
/// file): what other machines of a team hold.
fn machines(v: &Vault, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let h = v.dir.path().join(format!("machine{i}"));
            std::fs::create_dir(&h).unwrap();
            for f in ["config.json", "master.key", "audit.head"] {
                std::fs::copy(v.home.join(f), h.join(f)).unwrap();
            }
            std::fs::set_permissions(&h, std::fs::Permissions::from_mode(0o700)).unwrap();
            h
        })
        .collect()
}

fn spawn(home: &Path, token: &str, args: &[String]) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("vaultgate"))
        .arg("--home")
        .arg(home)
        .env_clear()
        .env("VAULTGATE_NOW", T0)
        .env("VAULTGATE_TOKEN", token)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn race(homes: &[PathBuf], token: &str, argvs: &[Vec<String>]) -> Vec<Output> {
    let kids: Vec<_> = argvs
        .iter()
        .enumerate()
        .map(|(i, a)| spawn(&homes[i % homes.len()], token, a))
        .collect();
    kids.into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

fn count(url: &str, sql: &str) -> i64 {
    pg::client(url).query_one(sql, &[]).unwrap().get(0)
}

fn verify_ok(v: &Vault) {
    let o = v.run(Some(&v.admin), &["--json", "audit", "verify"]);
    assert_eq!(code(&o), 0, "audit verify: {}{}", out(&o), err(&o));
}

fn request(dir: &Path, i: usize) -> PathBuf {
    let fixture = common::repo_root().join("fixtures/grant/apr-c1.json");
    let mut r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    r["apr_code"] = format!("APR-RACE-{i:02}").into();
    let p = dir.join(format!("r{i}.json"));
    std::fs::write(&p, serde_json::to_vec(&r).unwrap()).unwrap();
    p
}

#[test]
fn guard_the_postgres_tests_run_when_the_url_is_set() {
    // With the URL set (CI), the server must answer and be the one the tests use; without it,
    // `pg::url` says SKIPPED (or panics under VAULTGATE_REQUIRE_INTEROP=1).
    let Some(base) = pg::url("guard_the_postgres_tests_run_when_the_url_is_set") else {
        return;
    };
    let mut c = pg::client(&base);
    let v: String = c.query_one("SHOW server_version", &[]).unwrap().get(0);
    assert!(!v.is_empty());
    let (url, _) = pg::fresh_schema(&base);
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM pg_namespace WHERE nspname = current_schema()"
        ),
        1
    );
}

#[test]
fn a_migrated_home_boots_on_postgres_and_keeps_its_chain() {
    let Some((v, url, _)) = pg_vault("a_migrated_home_boots_on_postgres") else {
        return;
    };
    let o = v.run(None, &["status"]);
    assert_eq!(code(&o), 0, "{}{}", out(&o), err(&o));
    let id = v.contract();
    let lease = v.mint(&id, "10m");
    assert!(lease["handle"].is_string());
    verify_ok(&v);
    assert_eq!(count(&url, "SELECT count(*) FROM leases"), 1);
    // The master key never enters the database.
    let key = std::fs::read(v.home.join("master.key")).unwrap();
    let hexkey = hex::encode(&key);
    let dump: String = pg::client(&url)
        .query_one(
            "SELECT string_agg(t::text, '') FROM (SELECT v AS t FROM vault_meta UNION ALL SELECT encode(wrapped_key, 'hex') FROM secrets UNION ALL SELECT metadata FROM audit) x",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(!dump.contains(&hexkey), "the master key is in the database");
    // A second migrate of a PostgreSQL home is refused.
    let o = v.run(Some(&v.admin), &["store", "migrate", "--to", &url]);
    assert_eq!(code(&o), 2, "{}", err(&o));
}

#[test]
fn thirty_two_racing_mints_over_four_machines_give_one_ok() {
    let Some((v, url, _)) = pg_vault("thirty_two_racing_mints_over_four_machines") else {
        return;
    };
    let homes = machines(&v, 4);
    let d = tempfile::tempdir().unwrap();
    let argvs: Vec<Vec<String>> = (0..32)
        .map(|i| {
            vec![
                "grant".into(),
                "mint".into(),
                "--request".into(),
                request(d.path(), i).to_str().unwrap().to_owned(),
            ]
        })
        .collect();
    let outs = race(&homes, &v.operator, &argvs);
    let lines: Vec<String> = outs.iter().map(|o| out(o).trim().to_owned()).collect();
    assert_eq!(lines.iter().filter(|l| *l == "OK").count(), 1, "{lines:?}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| *l == "SKIP:active_grant_exists")
            .count(),
        31,
        "{lines:?} {:?}",
        outs.iter().map(err).collect::<Vec<_>>()
    );
    assert_eq!(count(&url, "SELECT count(*) FROM grants"), 1);
    verify_ok(&v);
}

#[test]
fn thirty_two_racing_consumes_over_four_machines_give_one_winner() {
    let Some((v, url, _)) = pg_vault("thirty_two_racing_consumes") else {
        return;
    };
    let fixture = common::repo_root().join("fixtures/grant/apr-c1.json");
    let o = v.run(
        Some(&v.operator),
        &["grant", "mint", "--request", fixture.to_str().unwrap()],
    );
    assert_eq!(out(&o).trim(), "OK", "{}", err(&o));
    let homes = machines(&v, 4);
    let argvs: Vec<Vec<String>> = (0..32)
        .map(|_| {
            vec![
                "grant".into(),
                "consume".into(),
                "GBA-C1-APR-C1-0001".into(),
            ]
        })
        .collect();
    let lines: Vec<String> = race(&homes, &v.operator, &argvs)
        .iter()
        .map(|o| out(o).trim().to_owned())
        .collect();
    assert_eq!(lines.iter().filter(|l| *l == "OK").count(), 1, "{lines:?}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| *l == "FAIL:reject_auth_already_consumed")
            .count(),
        31,
        "{lines:?}"
    );
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM grants WHERE status = 'consumed'"
        ),
        1
    );
    verify_ok(&v);
}

#[test]
fn eight_writers_times_fifty_lease_mints_leave_a_contiguous_chain() {
    let Some((v, url, _)) = pg_vault("eight_writers_times_fifty_lease_mints") else {
        return;
    };
    let p = v.project.to_str().unwrap().to_owned();
    let o = v.ok_admin(&["--json", "ingest", "scan", &p]);
    let id = json_of(&o)["ingests"][0]["id"].as_str().unwrap().to_owned();
    v.ok_admin(&[
        "ingest",
        "bind",
        &id,
        "--scope",
        "ai.gemini.inference",
        "--max-ttl",
        "1h",
        "--max-active",
        "1000",
    ]);
    let before = count(&url, "SELECT count(*) FROM audit");
    let homes = machines(&v, 8);
    let script = |home: &Path| {
        let bin = assert_cmd::cargo::cargo_bin("vaultgate");
        format!(
            "for i in $(seq 50); do '{}' --home '{}' lease mint --ingest {id} --scope ai.gemini.inference --ttl 10m >/dev/null || exit 1; done",
            bin.display(),
            home.display()
        )
    };
    let kids: Vec<_> = homes
        .iter()
        .map(|h| {
            std::process::Command::new("sh")
                .args(["-c", &script(h)])
                .env_clear()
                .env("VAULTGATE_NOW", T0)
                .env("VAULTGATE_TOKEN", &v.builder)
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for k in kids {
        let o = k.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", err(&o));
    }
    let after = count(&url, "SELECT count(*) FROM audit");
    let max = count(&url, "SELECT max(seq) FROM audit");
    assert_eq!(after, max, "the audit sequence has a gap");
    assert_eq!(count(&url, "SELECT count(*) FROM leases"), 400);
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM audit WHERE event_type = 'LEASE_ISSUED'"
        ),
        400
    );
    assert!(
        after - before >= 400,
        "{} rows for 400 mints",
        after - before
    );
    verify_ok(&v);
}

#[test]
fn a_held_head_lock_makes_the_cli_exit_2_after_the_lock_timeout_with_no_new_rows() {
    let Some((v, url, _)) = pg_vault("a_held_head_lock") else {
        return;
    };
    let short = format!("{url}%20-c%20lock_timeout%3D300");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.home.join("config.json")).unwrap()).unwrap();
    cfg["database_url"] = short.clone().into();
    std::fs::write(
        v.home.join("config.json"),
        serde_json::to_vec_pretty(&cfg).unwrap(),
    )
    .unwrap();
    let before = count(&url, "SELECT count(*) FROM audit");
    let mut holder = pg::client(&url);
    let mut tx = holder.transaction().unwrap();
    tx.execute("SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE", &[])
        .unwrap();
    let o = v.run(
        Some(&v.admin),
        &["token", "create", "--name", "late", "--role", "auditor"],
    );
    assert_eq!(code(&o), 2, "{}{}", out(&o), err(&o));
    assert!(err(&o).contains("lock"), "{}", err(&o));
    tx.rollback().unwrap();
    assert_eq!(count(&url, "SELECT count(*) FROM audit"), before);
    assert_eq!(
        count(&url, "SELECT count(*) FROM tokens WHERE name = 'late'"),
        0
    );
    verify_ok(&v);
}

#[test]
fn a_terminated_backend_mid_transaction_leaves_no_partial_rows() {
    let Some((v, url, _)) = pg_vault("a_terminated_backend") else {
        return;
    };
    let before = count(&url, "SELECT count(*) FROM audit");
    // Hold the head so the CLI's transaction is open and waiting, then kill its backend.
    let mut holder = pg::client(&url);
    let mut tx = holder.transaction().unwrap();
    tx.execute("SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE", &[])
        .unwrap();
    let child = spawn(
        &v.home,
        &v.admin,
        &["token", "create", "--name", "doomed", "--role", "auditor"].map(String::from),
    );
    let mut watcher = pg::client(&url);
    let mut killed = 0;
    for _ in 0..2000 {
        killed = watcher
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE application_name = 'vaultgate' AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap()
            .get::<_, i64>(0);
        if killed > 0 {
            break;
        }
        std::thread::yield_now();
    }
    assert_eq!(killed, 1, "the CLI's backend was never seen waiting");
    let o = child.wait_with_output().unwrap();
    tx.rollback().unwrap();
    assert_eq!(code(&o), 2, "{}{}", out(&o), err(&o));
    assert!(err(&o).contains("connection"), "{}", err(&o));
    assert_eq!(count(&url, "SELECT count(*) FROM audit"), before);
    assert_eq!(
        count(&url, "SELECT count(*) FROM tokens WHERE name = 'doomed'"),
        0
    );
    verify_ok(&v);
}

#[test]
fn the_runner_role_cannot_update_or_delete_audit_rows_but_can_work() {
    let Some((v, url, schema)) = pg_vault("the_runner_role") else {
        return;
    };
    let Ok(runner_base) = std::env::var("VAULTGATE_TEST_RUNNER_URL") else {
        assert!(
            std::env::var("VAULTGATE_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "VAULTGATE_TEST_RUNNER_URL is unset"
        );
        #[allow(clippy::disallowed_macros)]
        {
            eprintln!("SKIPPED: the_runner_role needs VAULTGATE_TEST_RUNNER_URL");
        }
        return;
    };
    let grants = vaultgate::vault::store::postgres::RUNNER_GRANTS
        .replace("{schema}", &schema)
        .replace("{role}", "vaultgate_runner");
    pg::client(&url).batch_execute(&grants).unwrap();
    let runner = pg::with_schema(&runner_base, &schema);
    let mut c = pg::client(&runner);
    for sql in [
        "UPDATE audit SET event_type = 'x' WHERE seq = 1",
        "DELETE FROM audit WHERE seq = 1",
        "TRUNCATE audit",
        "DROP TRIGGER audit_no_update ON audit",
        "ALTER TABLE audit DISABLE TRIGGER USER",
    ] {
        let e = c.batch_execute(sql).unwrap_err();
        let code = e.code().map(|c| c.code().to_owned());
        assert_eq!(code.as_deref(), Some("42501"), "{sql}: {e}");
    }
    // The runner still does its work through the CLI (a machine configured with its URL).
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.home.join("config.json")).unwrap()).unwrap();
    cfg["database_url"] = runner.clone().into();
    std::fs::write(
        v.home.join("config.json"),
        serde_json::to_vec_pretty(&cfg).unwrap(),
    )
    .unwrap();
    let id = v.contract();
    v.mint(&id, "10m");
    verify_ok(&v);
}

#[test]
fn a_checkpoint_catches_a_rewound_log() {
    let Some((v, url, _)) = pg_vault("a_checkpoint_catches_a_rewound_log") else {
        return;
    };
    // An older, consistent state: the anchor as it was, and the head row then.
    let old_anchor = std::fs::read(v.home.join("audit.head")).unwrap();
    let old_head = count(&url, "SELECT max(seq) FROM audit");
    for n in ["a1", "a2"] {
        v.ok_admin(&["token", "create", "--name", n, "--role", "auditor"]);
    }
    let o = v.run(Some(&v.admin), &["audit", "checkpoint"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let cp = out(&o).trim().to_owned();
    let parts: Vec<&str> = cp.splitn(3, ':').collect();
    assert_eq!(parts.len(), 3, "{cp}");
    let o = v.run(Some(&v.admin), &["audit", "verify", "--checkpoint", &cp]);
    assert_eq!(code(&o), 0, "{}{}", out(&o), err(&o));
    // The database is rewound to the older state (as a restore from an old backup would) and
    // the home's anchor of that time comes back with it: boot and a plain verify see a
    // consistent log; only the checkpoint, kept elsewhere, still knows.
    pg::client(&url)
        .batch_execute(&format!(
            "DELETE FROM tokens WHERE name IN ('a1', 'a2'); \
             ALTER TABLE audit DISABLE TRIGGER USER; DELETE FROM audit WHERE seq > {old_head}; \
             UPDATE audit_head SET (seq, mac) = (SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1); \
             ALTER TABLE audit ENABLE TRIGGER USER;"
        ))
        .unwrap();
    std::fs::write(v.home.join("audit.head"), old_anchor).unwrap();
    let o = v.run(Some(&v.admin), &["--json", "audit", "verify"]);
    assert_eq!(
        code(&o),
        0,
        "the rewound log is self-consistent: {}",
        out(&o)
    );
    let o = v.run(
        Some(&v.admin),
        &["--json", "audit", "verify", "--checkpoint", &cp],
    );
    assert_eq!(code(&o), 1, "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("checkpointed row"), "{}", out(&o));
    // A malformed checkpoint is a usage error, not a pass.
    let o = v.run(
        Some(&v.admin),
        &["audit", "verify", "--checkpoint", "12:zz:t"],
    );
    assert_eq!(code(&o), 2, "{}", err(&o));
}

#[test]
fn init_with_the_url_set_is_refused_with_the_way_forward() {
    let d = tempfile::tempdir().unwrap();
    let o = common::vg()
        .args(["init", "--home"])
        .arg(d.path().join("h"))
        .env(
            "VAULTGATE_DATABASE_URL",
            "postgres://u:pw-never-shown@127.0.0.1:1/x",
        )
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("store migrate") && !e.contains("pw-never-shown"),
        "{e}"
    );
    assert!(!d.path().join("h").exists());
}
