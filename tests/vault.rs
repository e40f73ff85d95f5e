//! The vault end to end, through the real binary and real temporary homes: init, boot refusals
//! for every step, tokens and capabilities, lockdown, audit tampering, concurrency, key
//! rotation, and the token secret never leaving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Output;

use common::vault::{NOW, Vh, contains, failed_step};
use common::{json_of, vg};

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn chmod(p: &std::path::Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn init_creates_a_private_home_and_never_runs_twice() {
    let v = Vh::init();
    let mode = |p: &str| std::fs::metadata(v.home.join(p)).unwrap().mode() & 0o777;
    assert_eq!(std::fs::metadata(&v.home).unwrap().mode() & 0o777, 0o700);
    for f in ["master.key", "config.json", "vault.db", "audit.head"] {
        assert_eq!(mode(f), 0o600, "{f}");
    }
    assert_eq!(
        std::fs::metadata(v.home.join("master.key")).unwrap().len(),
        32
    );
    assert!(v.admin.starts_with("vgt_"));
    let key_before = std::fs::read(v.home.join("master.key")).unwrap();
    let out = vg().args(["init", "--home"]).arg(&v.home).output().unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("home-exists"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(v.home.join("master.key")).unwrap(),
        key_before
    );
    // Not over a folder holding anything either, and nothing is left behind on refusal.
    let other = v.dir.path().join("busy");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("vault.db"), b"x").unwrap();
    assert_eq!(
        code(&vg().args(["init", "--home"]).arg(&other).output().unwrap()),
        2
    );
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1);
    let leftovers: Vec<_> = std::fs::read_dir(v.dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".init-")
        })
        .collect();
    assert!(leftovers.is_empty());
    // The env variable locates the home too.
    let out = vg()
        .env("VAULTGATE_HOME", &v.home)
        .args(["status"])
        .env("VAULTGATE_NOW", NOW)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn status_prints_every_boot_step() {
    let v = Vh::init();
    let out = v.run_as(None, &["--json", "status"]);
    assert_eq!(code(&out), 0);
    let j = json_of(&out);
    let steps: Vec<&str> = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["config", "home", "database", "audit", "clock", "lockdown"]
    );
    let out = v.run_as(None, &["status", "--deep"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("quick_check ok"));
}

/// Each mutation of a fresh home makes boot refuse at the named step with the named code, both
/// in `status` and in a privileged command (exit 2), and nothing is written.
#[test]
fn boot_refuses_each_step_with_its_reason() {
    type Mutate = fn(&Vh);
    let cases: Vec<(&str, &str, &str, Mutate)> = vec![
        ("config missing", "config", "config-missing", |v| {
            std::fs::remove_file(v.home.join("config.json")).unwrap();
        }),
        ("config unknown field", "config", "config-invalid", |v| {
            let p = v.home.join("config.json");
            let s = std::fs::read_to_string(&p).unwrap().replacen(
                "\"version\"",
                "\"versoin\": 1, \"version\"",
                1,
            );
            std::fs::write(&p, s).unwrap();
        }),
        ("config world-writable", "config", "config-insecure", |v| {
            chmod(&v.home.join("config.json"), 0o666);
        }),
        ("home group-readable", "home", "home-insecure", |v| {
            chmod(&v.home, 0o750);
        }),
        ("key group-readable", "home", "key-insecure-mode", |v| {
            chmod(&v.home.join("master.key"), 0o640);
        }),
        ("key symlink", "home", "key-symlink", |v| {
            let k = v.home.join("master.key");
            let real = v.dir.path().join("real.key");
            std::fs::rename(&k, &real).unwrap();
            std::os::unix::fs::symlink(&real, &k).unwrap();
        }),
        ("key short", "home", "key-wrong-length", |v| {
            let k = v.home.join("master.key");
            let b = std::fs::read(&k).unwrap();
            std::fs::write(&k, &b[..31]).unwrap();
        }),
        ("key missing", "home", "key-missing", |v| {
            std::fs::remove_file(v.home.join("master.key")).unwrap();
        }),
        ("key of another vault", "database", "key-mismatch", |v| {
            std::fs::write(v.home.join("master.key"), [7u8; 32]).unwrap();
        }),
        ("db missing", "database", "db-missing", |v| {
            std::fs::remove_file(v.db_path()).unwrap();
        }),
        ("db not sqlite", "database", "db-unreadable", |v| {
            std::fs::write(v.db_path(), vec![b'x'; 8192]).unwrap();
            let _ = std::fs::remove_file(v.home.join("vault.db-wal"));
            let _ = std::fs::remove_file(v.home.join("vault.db-shm"));
        }),
        (
            "db from a newer vaultgate",
            "database",
            "schema-too-new",
            |v| {
                v.db()
                    .execute(
                        "INSERT INTO schema_migrations VALUES (99, 'future', 'x')",
                        [],
                    )
                    .unwrap();
            },
        ),
        ("trigger dropped", "database", "schema-tampered", |v| {
            v.db()
                .execute_batch("DROP TRIGGER audit_no_delete")
                .unwrap();
        }),
        ("anchor missing", "audit", "audit-anchor-missing", |v| {
            std::fs::remove_file(v.home.join("audit.head")).unwrap();
        }),
        ("anchor edited", "audit", "audit-anchor-invalid", |v| {
            let p = v.home.join("audit.head");
            let s = std::fs::read_to_string(&p)
                .unwrap()
                .replace("\"seq\":2", "\"seq\":1");
            std::fs::write(&p, s).unwrap();
        }),
    ];
    for (what, step, want, mutate) in cases {
        let v = Vh::init();
        mutate(&v);
        let out = v.run_as(None, &["--json", "status"]);
        assert_eq!(
            code(&out),
            2,
            "{what}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(
            failed_step(&out),
            (step.to_owned(), want.to_owned()),
            "{what}"
        );
        let out = v.admin(&["token", "create", "--name", "x", "--role", "auditor"]);
        assert_eq!(code(&out), 2, "{what}");
        assert!(
            stderr(&out).contains(want) && stderr(&out).contains(&format!("`{step}`")),
            "{what}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_key_owned_by_another_user_is_refused() {
    let v = Vh::init();
    if rustix::process::geteuid().as_raw() != 0 {
        #[allow(clippy::disallowed_macros)]
        {
            eprintln!("SKIPPED: changing a file's owner needs root; key-wrong-owner not exercised");
        }
        assert!(
            std::env::var_os("VAULTGATE_REQUIRE_INTEROP").is_none(),
            "CI runs as root"
        );
        return;
    }
    rustix::fs::chown(
        v.home.join("master.key").as_path(),
        Some(rustix::fs::Uid::from_raw(12345)),
        None,
    )
    .unwrap();
    let out = v.run_as(None, &["--json", "status"]);
    assert_eq!(failed_step(&out), ("home".into(), "key-wrong-owner".into()));
}

#[test]
fn clock_regression_beyond_120_seconds_is_refused() {
    let v = Vh::init();
    assert_eq!(
        code(&v.run_at(
            Some(&v.admin),
            "2026-06-01T01:00:00Z",
            &["lockdown", "off", "--reason", "tick"]
        )),
        0
    );
    // 100 s behind: tolerated; timestamps keep the later time.
    let out = v.run_at(Some(&v.admin), "2026-06-01T00:58:20Z", &["whoami"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = v.run_at(
        Some(&v.admin),
        "2026-06-01T00:57:00Z",
        &["--json", "status"],
    );
    assert_eq!(
        failed_step(&out),
        ("clock".into(), "clock-regression".into())
    );
    let out = v.run_at(
        Some(&v.admin),
        "2026-06-01T00:57:00Z",
        &["lockdown", "on", "--reason", "x"],
    );
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("clock-regression"));
}

/// Wrong, unknown, expired, revoked and missing tokens: exit 1, one `security.denied` row each
/// with the reason, and nothing else changes.
#[test]
fn bad_tokens_are_denied_and_each_denial_is_audited() {
    let v = Vh::init();
    let short = {
        let out = v.admin(&[
            "--json", "token", "create", "--name", "short", "--role", "auditor", "--ttl", "1h",
        ]);
        json_of(&out)["token"].as_str().unwrap().to_owned()
    };
    let revoked = v.token("gone", "auditor");
    let acc = revoked[4..20].to_owned();
    assert_eq!(code(&v.admin(&["token", "revoke", &acc])), 0);
    let wrong_secret = format!("{}{}", &v.admin[..21], "0".repeat(64));
    let unknown = format!("vgt_{}_{}", "f".repeat(16), "0".repeat(64));
    let cases: Vec<(Option<String>, &str, &str)> = vec![
        (None, NOW, "token-missing"),
        (Some("vgt_nope".into()), NOW, "token-malformed"),
        (Some(unknown), NOW, "token-unknown"),
        (Some(wrong_secret), NOW, "token-invalid"),
        (Some(revoked), NOW, "token-revoked"),
        (Some(short), "2026-06-01T02:00:00Z", "token-expired"),
    ];
    for (tok, now, want) in cases {
        let before_tokens = v.tokens_snapshot();
        let before = v.audit_rows();
        let out = v.run_at(tok.as_deref(), now, &["--json", "token", "list"]);
        assert_eq!(code(&out), 1, "{want}: {}", stderr(&out));
        let j = json_of(&out);
        assert_eq!(j["reason"], want);
        let after = v.audit_rows();
        assert_eq!(after.len(), before.len() + 1, "{want}: exactly one row");
        let (seq, ty, meta) = after.last().unwrap();
        assert_eq!(ty, "security.denied");
        assert_eq!(j["audit_seq"], *seq);
        assert!(meta.contains(&format!("\"reason\":\"{want}\"")), "{meta}");
        assert_eq!(
            v.tokens_snapshot(),
            before_tokens,
            "{want}: tokens unchanged"
        );
    }
    // A token file readable by others is refused before it is read. (The expiry case moved
    // the vault's clock to 02:00; earlier would be a clock regression.)
    let later = "2026-06-01T02:00:00Z";
    let tf = v.dir.path().join("tok");
    std::fs::write(&tf, &v.admin).unwrap();
    chmod(&tf, 0o644);
    let out = v.run_at(
        None,
        later,
        &[
            "--json",
            "--token-file",
            tf.to_str().unwrap(),
            "token",
            "list",
        ],
    );
    assert_eq!(json_of(&out)["reason"], "token-file-insecure");
    chmod(&tf, 0o600);
    assert_eq!(
        code(&v.run_at(
            None,
            later,
            &["--token-file", tf.to_str().unwrap(), "token", "list"]
        )),
        0
    );
}

#[test]
fn capabilities_decide_and_roles_expand_at_creation() {
    let v = Vh::init();
    let builder = v.token("codex-builder", "3B-secret-lease");
    let out = v.run_as(Some(&builder), &["--json", "whoami"]);
    let j = json_of(&out);
    assert_eq!(j["name"], "codex-builder");
    assert!(
        j["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "lease:mint")
    );
    let before = v.tokens_snapshot();
    let out = v.run_as(
        Some(&builder),
        &[
            "--json", "token", "create", "--name", "x", "--role", "admin",
        ],
    );
    assert_eq!(code(&out), 1);
    assert_eq!(json_of(&out)["reason"], "capability-missing");
    assert_eq!(v.tokens_snapshot(), before);
    // The admin role does not hold lease:mint; unknown names are refused as violations.
    let admin_caps = json_of(&v.admin(&["--json", "whoami"]))["capabilities"].clone();
    assert!(
        !admin_caps
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "lease:mint")
    );
    let out = v.admin(&[
        "--json",
        "token",
        "create",
        "--name",
        "x",
        "--capability",
        "lease:mnit",
    ]);
    assert_eq!(json_of(&out)["reason"], "capability-unknown");
    assert_eq!(v.audit_rows().last().unwrap().1, "VIOLATION");
    let out = v.admin(&[
        "--json", "token", "create", "--name", "x", "--role", "wizard",
    ]);
    assert_eq!(json_of(&out)["reason"], "role-unknown");
    let out = v.admin(&[
        "--json",
        "token",
        "create",
        "--name",
        "two words",
        "--role",
        "auditor",
    ]);
    assert_eq!(json_of(&out)["reason"], "token-name-invalid");
    let out = v.admin(&[
        "--json",
        "token",
        "create",
        "--name",
        "w",
        "--capability",
        "agent:*",
    ]);
    assert_eq!(code(&out), 0);
}

#[test]
fn lockdown_refuses_privileged_commands_until_lifted() {
    let v = Vh::init();
    assert_eq!(
        code(&v.admin(&["lockdown", "on", "--reason", "incident 42"])),
        0
    );
    let out = v.run_as(None, &["status"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ON: incident 42"));
    let out = v.admin(&[
        "--json", "token", "create", "--name", "x", "--role", "auditor",
    ]);
    assert_eq!(code(&out), 1);
    assert_eq!(json_of(&out)["reason"], "lockdown-active");
    assert_eq!(v.audit_rows().last().unwrap().1, "security.denied");
    assert_eq!(code(&v.admin(&["key", "rotate"])), 1);
    // Reads and lifting still work.
    assert_eq!(code(&v.admin(&["audit", "verify"])), 0);
    assert_eq!(
        code(&v.admin(&["lockdown", "off", "--reason", "resolved"])),
        0
    );
    assert_eq!(
        code(&v.admin(&["token", "create", "--name", "x", "--role", "auditor"])),
        0
    );
}

fn assert_tamper_caught(v: &Vh, boot_code: &str, verify_code: &str) {
    let out = v.run_as(None, &["--json", "status"]);
    assert_eq!(code(&out), 2, "boot must refuse");
    assert_eq!(failed_step(&out).1, boot_code);
    let out = v.admin(&["--json", "audit", "verify"]);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stdout));
    let j = json_of(&out);
    let codes: Vec<&str> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&verify_code),
        "want {verify_code} in {codes:?}"
    );
}

fn vault_with_rows() -> Vh {
    let v = Vh::init();
    for i in 0..4 {
        assert_eq!(
            code(&v.admin(&[
                "token",
                "create",
                "--name",
                &format!("t{i}"),
                "--role",
                "auditor"
            ])),
            0
        );
    }
    assert_eq!(code(&v.admin(&["audit", "verify"])), 0);
    v
}

#[test]
fn an_edited_row_is_caught() {
    let v = vault_with_rows();
    v.tamper("UPDATE audit SET actor_id = 'someone-else' WHERE seq = 3");
    assert_tamper_caught(&v, "audit-schema-changed", "audit-mac-mismatch");
}

#[test]
fn a_deleted_middle_row_is_caught() {
    let v = vault_with_rows();
    v.tamper("DELETE FROM audit WHERE seq = 3");
    assert_tamper_caught(&v, "audit-schema-changed", "audit-chain-broken");
}

#[test]
fn a_reordered_row_is_caught() {
    let v = vault_with_rows();
    v.tamper(
        "UPDATE audit SET seq = 100 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = 100;",
    );
    assert_tamper_caught(&v, "audit-schema-changed", "audit-chain-broken");
}

#[test]
fn a_row_inserted_with_the_triggers_dropped_is_caught() {
    let v = vault_with_rows();
    v.tamper(
        "INSERT INTO audit SELECT seq + 1, event_id || 'x', at, 'token.revoked', actor_type, actor_id, \
         subject_type, subject_id, correlation_id, causation_id, severity, metadata, mac, mac \
         FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)",
    );
    assert_tamper_caught(&v, "audit-schema-changed", "audit-mac-mismatch");
}

#[test]
fn a_truncated_tail_or_restored_old_database_is_caught() {
    let v = vault_with_rows();
    // A backup of the database (file and WAL, taken while no vaultgate runs), restored later.
    let wal = v.home.join("vault.db-wal");
    let (old, old_wal) = (v.dir.path().join("old.db"), v.dir.path().join("old.db-wal"));
    std::fs::copy(v.db_path(), &old).unwrap();
    let had_wal = std::fs::copy(&wal, &old_wal).is_ok();
    assert_eq!(
        code(&v.admin(&["token", "create", "--name", "later", "--role", "auditor"])),
        0
    );
    std::fs::copy(&old, v.db_path()).unwrap();
    let _ = std::fs::remove_file(v.home.join("vault.db-shm"));
    if had_wal {
        std::fs::copy(&old_wal, &wal).unwrap();
    } else {
        let _ = std::fs::remove_file(&wal);
    }
    assert_tamper_caught(&v, "audit-truncated", "audit-truncated");
}

/// An audit insert that fails inside the database: the conformance suite proves the act's
/// state rolls back (`src/vault/store/conformance/core.rs`, run on a real SQLite file with a
/// trigger that RAISEs). Through the binary, the trigger itself is an alteration of the audit
/// table, so boot refuses before any act runs and nothing changes.
#[test]
fn an_injected_audit_failure_changes_nothing() {
    let v = Vh::init();
    v.db()
        .execute_batch(
            "CREATE TRIGGER injected BEFORE INSERT ON audit WHEN NEW.event_type = 'token.created' \
             BEGIN SELECT RAISE(ABORT, 'injected'); END;",
        )
        .unwrap();
    let before = v.tokens_snapshot();
    let out = v.admin(&["token", "create", "--name", "x", "--role", "auditor"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("schema-tampered"), "{}", stderr(&out));
    assert_eq!(v.tokens_snapshot(), before);
}

#[test]
fn sixteen_concurrent_writers_never_see_busy_and_leave_a_verifying_chain() {
    let v = Vh::init();
    let bin = assert_cmd::cargo::cargo_bin("vaultgate");
    let children: Vec<_> = (0..16)
        .map(|i| {
            std::process::Command::new(&bin)
                .arg("--home")
                .arg(&v.home)
                .args([
                    "token",
                    "create",
                    "--name",
                    &format!("c{i}"),
                    "--role",
                    "auditor",
                ])
                .env("VAULTGATE_TOKEN", &v.admin)
                .env("VAULTGATE_NOW", NOW)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let err = stderr(&out);
        assert_eq!(code(&out), 0, "{err}");
        assert!(
            !err.to_lowercase().contains("busy") && !err.to_lowercase().contains("locked"),
            "{err}"
        );
    }
    let out = v.admin(&["--json", "audit", "verify"]);
    assert_eq!(code(&out), 0);
    assert_eq!(json_of(&out)["rows"], 18);
    let types: Vec<String> = v.audit_rows().into_iter().map(|r| r.1).collect();
    assert_eq!(types.iter().filter(|t| *t == "token.created").count(), 17);
}

/// Store a secret through the library (as the lease family will), rotate the key through the
/// binary, decrypt again; then recreate both on-disk states an interrupted rotation can leave
/// and check boot settles them.
#[test]
fn key_rotation_keeps_secrets_readable_and_interruptions_settle() {
    use vaultgate::vault::{Act, Caller, PresentedToken, SecretBytes, SecretMeta, Vault};
    let v = Vh::init();
    let clock = vaultgate::clock::FixedClock(vaultgate::clock::parse_rfc3339(NOW).unwrap());
    let home = vaultgate::vault::Home::at(&v.home);
    let caller = Caller::Token(PresentedToken::parse(&v.admin).unwrap());
    let material = SecretBytes::new(b"0123456789abcdef0123456789abcdef".to_vec());
    let meta = SecretMeta {
        id: "lease-1".into(),
        scope: "ai.gemini.inference".into(),
        expires_at: Some(1_900_000_000),
    };
    {
        let mut vault = Vault::open(&home, &clock).unwrap();
        vault
            .act(&caller, &Act::new("test.store", "admin"), |tx, who| {
                tx.secret_put(&meta, &material)?;
                tx.append(
                    vaultgate::vault::NewEvent::new("test.stored", who.actor())
                        .subject("secret", "lease-1"),
                )?;
                Ok(())
            })
            .unwrap();
    }
    let key0 = std::fs::read(v.home.join("master.key")).unwrap();
    let before_rotation = v.dir.path().join("before");
    copy_home(&v.home, &before_rotation);
    let out = v.admin(&["--json", "key", "rotate"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_of(&out)["rewrapped"], 1);
    let key1 = std::fs::read(v.home.join("master.key")).unwrap();
    assert_ne!(key0, key1);
    {
        let mut vault = Vault::open(&home, &clock).unwrap();
        let (m, got) = vault.secret_read("lease-1").unwrap().unwrap();
        assert_eq!(got, material);
        assert_eq!(m, meta);
    }
    // Crash after the commit, before the rename: master.key is still the old key and
    // master.key.next the new one. Boot completes the rotation.
    std::fs::write(v.home.join("master.key.next"), &key1).unwrap();
    chmod(&v.home.join("master.key.next"), 0o600);
    std::fs::write(v.home.join("master.key"), &key0).unwrap();
    let out = v.run_as(None, &["status"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("completed an interrupted key rotation"));
    assert_eq!(std::fs::read(v.home.join("master.key")).unwrap(), key1);
    assert!(!v.home.join("master.key.next").exists());
    // Crash before the commit: the database still names the old key; a stray next key is
    // discarded and the old key keeps working.
    let h2 = Vh {
        dir: tempfile::tempdir().unwrap(),
        home: before_rotation,
        admin: v.admin.clone(),
        seen: std::cell::RefCell::default(),
    };
    std::fs::write(h2.home.join("master.key.next"), [9u8; 32]).unwrap();
    chmod(&h2.home.join("master.key.next"), 0o600);
    let out = h2.run_as(None, &["status"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("discarded an uncommitted key rotation"));
    let mut vault = Vault::open(&vaultgate::vault::Home::at(&h2.home), &clock).unwrap();
    assert_eq!(vault.secret_read("lease-1").unwrap().unwrap().1, material);
}

fn copy_home(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir(to).unwrap();
    chmod(to, 0o700);
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn project_bound_tokens_are_refused_for_other_projects() {
    use vaultgate::vault::{Act, Caller, NewEvent, PresentedToken, Vault};
    let v = Vh::init();
    let out = v.admin(&[
        "--json",
        "token",
        "create",
        "--name",
        "p",
        "--capability",
        "lease:mint",
        "--project",
        "alpha",
    ]);
    let tok = json_of(&out)["token"].as_str().unwrap().to_owned();
    let clock = vaultgate::clock::FixedClock(vaultgate::clock::parse_rfc3339(NOW).unwrap());
    let mut vault = Vault::open(&vaultgate::vault::Home::at(&v.home), &clock).unwrap();
    let caller = Caller::Token(PresentedToken::parse(&tok).unwrap());
    let act = |p: &str| Act::new("test.mint", "lease:mint").project(Some(p.into()));
    let r = vault.act(&caller, &act("beta"), |tx, who| {
        tx.append(NewEvent::new("test.minted", who.actor()))?;
        Ok(())
    });
    match r {
        Err(vaultgate::vault::ActFailure::Refused { refusal, .. }) => {
            assert_eq!(refusal.code, "project-mismatch");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    vault
        .act(&caller, &act("alpha"), |tx, who| {
            tx.append(NewEvent::new("test.minted", who.actor()))?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_export_reverifies_offline_with_vaultgate_and_with_python() {
    let v = vault_with_rows();
    let export = v.dir.path().join("audit.jsonl");
    let key = v.dir.path().join("audit.key");
    assert_eq!(
        code(&v.admin(&["audit", "export", "--jsonl", "-o", export.to_str().unwrap()])),
        0
    );
    assert_eq!(
        code(&v.admin(&["audit", "key", "export", "-o", key.to_str().unwrap()])),
        0
    );
    assert_eq!(std::fs::metadata(&key).unwrap().mode() & 0o777, 0o600);
    let out = vg()
        .args([
            "--json",
            "audit",
            "verify",
            "--export",
            export.to_str().unwrap(),
            "--audit-key-file",
            key.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    if common::require("python3") {
        let docs = std::fs::read_to_string(common::repo_root().join("docs/audit.md")).unwrap();
        let script = docs
            .split("```python\n")
            .nth(1)
            .unwrap()
            .split("```")
            .next()
            .unwrap();
        let py = v.dir.path().join("verify.py");
        std::fs::write(&py, script).unwrap();
        let out = std::process::Command::new("python3")
            .arg(&py)
            .arg(&export)
            .arg(&key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // One edited byte in a row fails both verifiers.
        let text =
            std::fs::read_to_string(&export)
                .unwrap()
                .replacen("\"auditor\"", "\"admin\"", 1);
        std::fs::write(&export, text).unwrap();
        let out = std::process::Command::new("python3")
            .arg(&py)
            .arg(&export)
            .arg(&key)
            .output()
            .unwrap();
        assert!(!out.status.success());
    } else {
        let text =
            std::fs::read_to_string(&export)
                .unwrap()
                .replacen("\"auditor\"", "\"admin\"", 1);
        std::fs::write(&export, text).unwrap();
    }
    let out = vg()
        .args([
            "--json",
            "audit",
            "verify",
            "--export",
            export.to_str().unwrap(),
            "--audit-key-file",
            key.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
}

/// The admin token's secret (and every other token's) appears in no output after its creation,
/// no byte of the database, its WAL or any file of the home.
#[test]
fn token_secrets_never_leave() {
    let v = Vh::init();
    // Keep a reader open so the WAL file survives for inspection.
    let hold = v.db();
    let _: i64 = hold
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap();
    let created = v.admin(&[
        "--json", "token", "create", "--name", "second", "--role", "operator",
    ]);
    let second = json_of(&created)["token"].as_str().unwrap().to_owned();
    v.seen.borrow_mut().clear(); // the creation output is the one place it is shown
    for args in [
        vec!["token", "list"],
        vec!["--json", "token", "list"],
        vec!["whoami"],
        vec!["--json", "audit", "tail", "-n", "100"],
        vec!["audit", "export", "--jsonl"],
        vec!["status", "--deep"],
        vec!["--json", "status"],
        vec!["token", "revoke", &second[4..20]],
    ] {
        assert_eq!(code(&v.admin(&args)), 0, "{args:?}");
    }
    let _ = v.run_as(Some(&second), &["whoami"]); // revoked: denied
    let _ = v.run_as(
        Some(&format!("{}{}", &second[..21], "1".repeat(64))),
        &["whoami"],
    );
    let seen = v.seen.borrow().clone();
    let files = v.home_files();
    assert!(
        files.iter().any(|(p, _)| p.ends_with("vault.db-wal")),
        "the WAL should exist while a reader holds it"
    );
    for tok in [&v.admin, &second] {
        let secret = &tok[21..];
        for needle in [
            tok.as_bytes(),
            secret.as_bytes(),
            &hex::decode(secret).unwrap()[..],
        ] {
            assert!(
                !contains(&seen, needle),
                "a token secret appeared in an output"
            );
            for (p, bytes) in &files {
                assert!(
                    !contains(bytes, needle),
                    "a token secret appeared in {}",
                    p.display()
                );
            }
        }
    }
    drop(hold);
}

/// A destroyed secret's ciphertext is gone from the database file and its WAL.
#[test]
fn destroying_a_secret_removes_its_ciphertext() {
    use vaultgate::vault::{Act, Caller, NewEvent, PresentedToken, SecretMeta, Vault};
    let v = Vh::init();
    let clock = vaultgate::clock::FixedClock(vaultgate::clock::parse_rfc3339(NOW).unwrap());
    let caller = Caller::Token(PresentedToken::parse(&v.admin).unwrap());
    let mut vault = Vault::open(&vaultgate::vault::Home::at(&v.home), &clock).unwrap();
    let meta = SecretMeta {
        id: "doomed".into(),
        scope: "s".into(),
        expires_at: None,
    };
    let material = vault
        .act(&caller, &Act::new("test.store", "admin"), |tx, who| {
            let m = tx.secret_generate(&meta, 32)?;
            tx.append(NewEvent::new("test.stored", who.actor()))?;
            Ok(m)
        })
        .unwrap();
    let ct: Vec<u8> = v
        .db()
        .query_row(
            "SELECT ciphertext FROM secrets WHERE id = 'doomed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let files = v.home_files();
    assert!(
        files.iter().any(|(_, b)| contains(b, &ct)),
        "the ciphertext is stored"
    );
    assert!(
        !files.iter().any(|(_, b)| contains(b, material.expose())),
        "never the plaintext"
    );
    vault
        .act(&caller, &Act::new("test.destroy", "admin"), |tx, who| {
            assert!(tx.secret_destroy("doomed")?);
            tx.append(NewEvent::new("test.destroyed", who.actor()))?;
            Ok(())
        })
        .unwrap();
    vault.purge_freed().unwrap();
    assert!(vault.secret_read("doomed").unwrap().is_none());
    for (p, b) in v.home_files() {
        assert!(
            !contains(&b, &ct),
            "the ciphertext survives in {}",
            p.display()
        );
        assert!(
            !contains(&b, material.expose()),
            "the material appears in {}",
            p.display()
        );
    }
}
