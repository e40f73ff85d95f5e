//! End-to-end tests of `vaultgate grant …`: the one-line protocol, the ordered gates, and the
//! single-use guarantees under 32 real concurrent processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Scenario tests read top to bottom; short names (`v` vault, `o` output, `g` grant) keep the
// assertions on one line.
#![allow(clippy::too_many_lines, clippy::many_single_char_names)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::json_of;
use common::lease::{T0, Vault, at, code, err, out};
use serde_json::{Value, json};

/// The protocol, checked by hand (see `src/grant/codes.rs` on the digit in the C1 code).
fn assert_protocol(o: &Output) -> String {
    let text = out(o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "exactly one line, got {text:?} (stderr {})",
        err(o)
    );
    let l = lines[0];
    let reason_ok = |r: &str| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    assert!(
        l == "OK"
            || l.strip_prefix("SKIP:").is_some_and(reason_ok)
            || l.strip_prefix("FAIL:").is_some_and(reason_ok),
        "not a protocol line: {l:?}"
    );
    if l != "FAIL:reject_scope_not_c1_dryrun" {
        // Everything else also fits the issue's narrower `^(OK|SKIP:[a-z_]+|FAIL:[a-z_]+)$`.
        assert!(!l.bytes().any(|b| b.is_ascii_digit()), "{l}");
    }
    let expect = match l {
        "FAIL:vault_unavailable" => 2,
        _ if l.starts_with("FAIL:") => 1,
        _ => 0,
    };
    assert_eq!(code(o), expect, "{l}");
    l.to_owned()
}

fn c1() -> Value {
    serde_json::from_slice(
        &std::fs::read(common::repo_root().join("fixtures/grant/apr-c1.json")).unwrap(),
    )
    .unwrap()
}

fn request(dir: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v = c1();
    edit(&mut v);
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    p
}

fn mint(v: &Vault, token: Option<&str>, req: &Path) -> Output {
    v.run(
        token,
        &["grant", "mint", "--request", req.to_str().unwrap()],
    )
}

fn show(v: &Vault, code: &str) -> Value {
    let o = v.run(Some(&v.operator), &["--json", "grant", "show", code]);
    assert_eq!(common::lease::code(&o), 0, "{}", err(&o));
    json_of(&o)["grants"][0].clone()
}

fn grant_rows(v: &Vault) -> i64 {
    let c = rusqlite::Connection::open(v.db()).unwrap();
    c.query_row("SELECT count(*) FROM grants", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn the_c1_request_mints_one_grant_idempotently() {
    let v = Vault::new();
    let fixture = common::repo_root().join("fixtures/grant/apr-c1.json");
    let o = mint(&v, Some(&v.operator), &fixture);
    assert_eq!(assert_protocol(&o), "OK");
    let g = show(&v, "GBA-C1-APR-C1-0001");
    assert_eq!(g["status"], "active");
    assert_eq!(g["target"], "DOT_C1_VOCAB_BUILD");
    assert_eq!(g["commit_allowed"], false);
    assert_eq!(g["requires_sovereign_esign"], false);
    assert_eq!(g["granted_at"], T0);
    assert_eq!(g["expires_at"], at(7200));
    assert_eq!(g["request_ref"], "REQ-C1-VOCAB-0001");
    assert_eq!(g["rollback_plan_ref"], "plans/c1-vocab-rollback.md");
    let mh = c1()["manifest_hash"].clone();
    assert_eq!(
        g["approval_ref"],
        json!({"apr_code": "APR-C1-0001", "quorum": "2/2", "manifest_hash": mh})
    );
    assert_eq!(
        g["evidence"],
        json!({"plan_ref": "plans/c1-vocab-build.md", "manifest_hash": mh, "step_name": "build-vocab", "mode": "dry-run"})
    );
    assert!(g["granted_by"].is_string());
    // Again: OK, and still one row.
    assert_eq!(
        assert_protocol(&mint(&v, Some(&v.operator), &fixture)),
        "OK"
    );
    assert_eq!(grant_rows(&v), 1);
}

#[test]
fn each_gate_answers_with_its_line_in_order() {
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let v = Vault::new();
    let d = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "superset",
            Box::new(|r| r["action"] = "authorize_everything".into()),
            "SKIP:reject_action_superset",
        ),
        (
            "commit",
            Box::new(|r| r["commit"] = true.into()),
            "FAIL:reject_real_run_commit_not_allowed",
        ),
        (
            "sovereign",
            Box::new(|r| r["risk"] = "sovereign".into()),
            "FAIL:reject_sovereign_risk",
        ),
        (
            "ns",
            Box::new(|r| r["namespace"] = "PROD-NS".into()),
            "FAIL:reject_scope_not_c1_dryrun",
        ),
        (
            "axis",
            Box::new(|r| r["axis"] = "dot:c2:vocab".into()),
            "FAIL:reject_scope_not_c1_dryrun",
        ),
        (
            "target",
            Box::new(|r| r["target"] = "PROD_BUILD".into()),
            "FAIL:reject_scope_not_c1_dryrun",
        ),
        (
            "quorum",
            Box::new(|r| r["quorum"]["passed"] = false.into()),
            "FAIL:reject_quorum_not_passed",
        ),
        (
            "quorum-count",
            Box::new(|r| r["quorum"]["approvals"] = json!(["a", "a"])),
            "FAIL:reject_quorum_not_passed",
        ),
        (
            "rollback",
            Box::new(|r| {
                r.as_object_mut().unwrap().remove("rollback_plan_ref");
            }),
            "FAIL:reject_rollback_plan_missing",
        ),
        (
            "unknown-field",
            Box::new(|r| r["comit"] = false.into()),
            "FAIL:reject_request_malformed",
        ),
        (
            "bad-risk",
            Box::new(|r| r["risk"] = "SUPER-SECRET-VALUE".into()),
            "FAIL:reject_request_malformed",
        ),
        // Everything wrong at once: the first gate in order speaks.
        (
            "all",
            Box::new(|r| {
                r["commit"] = true.into();
                r["risk"] = "sovereign".into();
                r["target"] = "X".into();
            }),
            "FAIL:reject_real_run_commit_not_allowed",
        ),
    ];
    for (name, edit, line) in cases {
        let p = request(d.path(), name, edit);
        let o = mint(&v, Some(&v.operator), &p);
        assert_eq!(assert_protocol(&o), line, "{name}");
        assert!(
            !out(&o).contains("SUPER-SECRET") && !err(&o).contains("SUPER-SECRET"),
            "input echoed"
        );
    }
    assert_eq!(grant_rows(&v), 0);
    // A commit_allowed: true in the request is ignored: the grant still says false.
    let p = request(d.path(), "commit-allowed", |r| {
        r["commit_allowed"] = true.into();
        r["requires_sovereign_esign"] = true.into();
    });
    assert_eq!(assert_protocol(&mint(&v, Some(&v.operator), &p)), "OK");
    let g = show(&v, "GBA-C1-APR-C1-0001");
    assert_eq!(
        (
            g["commit_allowed"].clone(),
            g["requires_sovereign_esign"].clone()
        ),
        (json!(false), json!(false))
    );
    // Unreadable request, invalid policy.
    let o = v.run(
        Some(&v.operator),
        &["grant", "mint", "--request", "/nonexistent/apr.json"],
    );
    assert_eq!(assert_protocol(&o), "FAIL:reject_request_unreadable");
    let pol = d.path().join("policy.json");
    std::fs::write(&pol, r#"{"schema":"vaultgate/grant-policy/v1","allow":[]}"#).unwrap();
    let o = v.run(
        Some(&v.operator),
        &[
            "grant",
            "mint",
            "--request",
            p.to_str().unwrap(),
            "--policy",
            pol.to_str().unwrap(),
        ],
    );
    assert_eq!(assert_protocol(&o), "FAIL:reject_policy_invalid");
    // A policy allowing another target.
    std::fs::write(&pol, r#"{"schema":"vaultgate/grant-policy/v1","allow":[{"namespace":"DRYRUN-NS","axis":"dot:c1:vocab","target":"OTHER"}]}"#).unwrap();
    let p2 = request(d.path(), "other", |r| {
        r["target"] = "OTHER".into();
        r["apr_code"] = "APR-OTHER".into();
    });
    let o = v.run(
        Some(&v.operator),
        &[
            "grant",
            "mint",
            "--request",
            p2.to_str().unwrap(),
            "--policy",
            pol.to_str().unwrap(),
        ],
    );
    assert_eq!(assert_protocol(&o), "OK");
}

#[test]
fn ttl_is_clamped_into_the_grant() {
    let v = Vault::new();
    let d = tempfile::tempdir().unwrap();
    let p = request(d.path(), "short", |r| r["ttl_seconds"] = 1.into());
    assert_eq!(assert_protocol(&mint(&v, Some(&v.operator), &p)), "OK");
    assert_eq!(show(&v, "GBA-C1-APR-C1-0001")["expires_at"], at(60));
}

#[test]
fn authority_and_lockdown_refusals_keep_the_protocol() {
    let v = Vault::new();
    let fixture = common::repo_root().join("fixtures/grant/apr-c1.json");
    assert_eq!(
        assert_protocol(&mint(&v, None, &fixture)),
        "FAIL:reject_unauthorized"
    );
    assert_eq!(
        assert_protocol(&mint(&v, Some(&v.builder), &fixture)),
        "FAIL:reject_unauthorized"
    );
    v.ok_admin(&["lockdown", "on", "--reason", "drill"]);
    assert_eq!(
        assert_protocol(&mint(&v, Some(&v.operator), &fixture)),
        "FAIL:reject_lockdown"
    );
    v.ok_admin(&["lockdown", "off", "--reason", "drill over"]);
    assert_eq!(grant_rows(&v), 0);
    let types = v.audit_types();
    assert!(types.iter().filter(|t| *t == "security.denied").count() >= 3);
    // No home at all: could not run.
    let o = common::lease::run_at(
        &v.dir.path().join("nohome"),
        Some(&v.operator),
        T0,
        &["grant", "mint", "--request", fixture.to_str().unwrap()],
    );
    assert_eq!(assert_protocol(&o), "FAIL:vault_unavailable");
}

#[test]
fn consume_is_once_revoke_sets_the_triple_and_expiry_refuses() {
    let v = Vault::new();
    let fixture = common::repo_root().join("fixtures/grant/apr-c1.json");
    mint(&v, Some(&v.operator), &fixture);
    let c = "GBA-C1-APR-C1-0001";
    assert_eq!(
        assert_protocol(&v.run(Some(&v.operator), &["grant", "consume", c])),
        "OK"
    );
    let g = show(&v, c);
    assert_eq!(g["status"], "consumed");
    assert!(g["consumed_at"].is_string() && g["consumed_by"].is_string());
    assert_eq!(
        assert_protocol(&v.run(Some(&v.operator), &["grant", "consume", c])),
        "FAIL:reject_auth_already_consumed"
    );
    assert_eq!(
        assert_protocol(&v.run(Some(&v.operator), &["grant", "consume", "GBA-C1-NOPE"])),
        "FAIL:reject_auth_unknown"
    );
    // A consumed grant frees the target for the next request.
    let d = tempfile::tempdir().unwrap();
    let p = request(d.path(), "next", |r| r["apr_code"] = "APR-C1-0002".into());
    assert_eq!(assert_protocol(&mint(&v, Some(&v.operator), &p)), "OK");
    let c2 = "GBA-C1-APR-C1-0002";
    assert_eq!(
        assert_protocol(&v.run(
            Some(&v.operator),
            &["grant", "revoke", c2, "--reason", "withdrawn"]
        )),
        "OK"
    );
    let g = show(&v, c2);
    assert_eq!(
        (g["status"].as_str(), g["revoked_reason"].as_str()),
        (Some("revoked"), Some("withdrawn"))
    );
    let first = g["revoked_by"].clone();
    assert_eq!(
        assert_protocol(&v.run(
            Some(&v.admin),
            &["grant", "revoke", c2, "--reason", "again"]
        )),
        "OK"
    );
    assert_eq!(show(&v, c2)["revoked_by"], first);
    assert_eq!(
        assert_protocol(&v.run(Some(&v.operator), &["grant", "consume", c2])),
        "FAIL:reject_auth_revoked"
    );
    // Expiry: a third grant, consumed after its TTL.
    let p = request(d.path(), "third", |r| r["apr_code"] = "APR-C1-0003".into());
    assert_eq!(assert_protocol(&mint(&v, Some(&v.operator), &p)), "OK");
    let o = v.run_at(
        Some(&v.operator),
        &at(7200),
        &["grant", "consume", "GBA-C1-APR-C1-0003"],
    );
    assert_eq!(assert_protocol(&o), "FAIL:reject_auth_expired");
    let o = v.run_at(
        Some(&v.operator),
        &at(7200),
        &["--json", "grant", "show", "GBA-C1-APR-C1-0003"],
    );
    assert_eq!(json_of(&o)["grants"][0]["status"], "expired");
    assert_eq!(
        v.audit_types()
            .iter()
            .filter(|t| *t == "GRANT_EXPIRED")
            .count(),
        1
    );
    // The database refuses a partial triple or a consumed grant without its consumer.
    let db = rusqlite::Connection::open(v.db()).unwrap();
    assert!(
        db.execute(
            "UPDATE grants SET revoked_by = NULL WHERE auth_code = ?1",
            [c2]
        )
        .is_err()
    );
    assert!(
        db.execute(
            "UPDATE grants SET consumed_by = NULL WHERE auth_code = ?1",
            [c]
        )
        .is_err()
    );
    assert!(
        db.execute(
            "UPDATE grants SET commit_allowed = 1 WHERE auth_code = ?1",
            [c]
        )
        .is_err()
    );
}

fn race(v: &Vault, argvs: Vec<Vec<String>>) -> Vec<Output> {
    let children: Vec<std::process::Child> = argvs
        .into_iter()
        .map(|a| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("vaultgate"))
                .arg("--home")
                .arg(&v.home)
                .env_clear()
                .env("VAULTGATE_NOW", T0)
                .env("VAULTGATE_TOKEN", &v.operator)
                .args(a)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

#[test]
fn thirty_two_racing_mints_for_one_target_give_one_ok() {
    let v = Vault::new();
    let d = tempfile::tempdir().unwrap();
    let argvs = (0..32)
        .map(|i| {
            let p = request(d.path(), &format!("r{i}"), |r| {
                r["apr_code"] = format!("APR-RACE-{i:02}").into();
            });
            vec![
                "grant".into(),
                "mint".into(),
                "--request".into(),
                p.to_str().unwrap().to_owned(),
            ]
        })
        .collect();
    let lines: Vec<String> = race(&v, argvs).iter().map(assert_protocol).collect();
    assert_eq!(lines.iter().filter(|l| *l == "OK").count(), 1, "{lines:?}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| *l == "SKIP:active_grant_exists")
            .count(),
        31,
        "{lines:?}"
    );
    assert_eq!(grant_rows(&v), 1);
    let o = v.run(Some(&v.admin), &["--json", "audit", "verify"]);
    assert_eq!(
        code(&o),
        0,
        "the chain verifies after the race: {}",
        out(&o)
    );
}

#[test]
fn the_same_code_thirty_two_times_is_one_row_and_all_ok() {
    let v = Vault::new();
    let fixture = common::repo_root().join("fixtures/grant/apr-c1.json");
    let argvs = (0..32)
        .map(|_| {
            vec![
                "grant".into(),
                "mint".into(),
                "--request".into(),
                fixture.to_str().unwrap().to_owned(),
            ]
        })
        .collect();
    let lines: Vec<String> = race(&v, argvs).iter().map(assert_protocol).collect();
    assert!(lines.iter().all(|l| l == "OK"), "{lines:?}");
    assert_eq!(grant_rows(&v), 1);
}

#[test]
fn thirty_two_racing_consumes_give_one_success() {
    let v = Vault::new();
    let fixture = common::repo_root().join("fixtures/grant/apr-c1.json");
    assert_eq!(
        assert_protocol(&mint(&v, Some(&v.operator), &fixture)),
        "OK"
    );
    let argvs = (0..32)
        .map(|_| {
            vec![
                "grant".into(),
                "consume".into(),
                "GBA-C1-APR-C1-0001".into(),
            ]
        })
        .collect();
    let lines: Vec<String> = race(&v, argvs).iter().map(assert_protocol).collect();
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
        v.audit_types()
            .iter()
            .filter(|t| *t == "GRANT_CONSUMED")
            .count(),
        1
    );
}

#[test]
fn list_and_show_report_every_grant() {
    let v = Vault::new();
    let fixture = common::repo_root().join("fixtures/grant/apr-c1.json");
    mint(&v, Some(&v.operator), &fixture);
    let o = v.run(Some(&v.operator), &["--json", "grant", "list"]);
    assert_eq!(json_of(&o)["summary"]["grants"], 1);
    let o = v.run(Some(&v.operator), &["grant", "list"]);
    assert!(out(&o).contains("GBA-C1-APR-C1-0001"));
    let o = v.run(Some(&v.operator), &["grant", "show", "GBA-C1-NOPE"]);
    assert_eq!(code(&o), 1);
}
