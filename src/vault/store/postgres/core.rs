//! PostgreSQL implementation of [`VaultOps`] and migration 1 (the vault core).

use postgres::Client;
use postgres::types::{ToSql, Type};

use super::{PgTx, map_err};
use crate::vault::store::{
    AuditFilter, AuditHead, AuditRow, Migration, SecretRow, StoreError, TokenRow, VaultOps,
};

/// The audit table's protecting triggers (checked at boot): name → the function it runs.
pub const AUDIT_TRIGGERS: &[(&str, &str)] = &[
    ("audit_no_update", "audit_refuse_change"),
    ("audit_no_delete", "audit_refuse_change"),
    ("audit_no_truncate", "audit_refuse_change"),
    ("audit_append_in_order", "audit_append"),
];

macro_rules! refuse_src {
    () => {
        "
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % is refused', TG_OP USING ERRCODE = 'P0001';
END"
    };
}

macro_rules! append_src {
    () => {
        "
DECLARE h RECORD;
BEGIN
  SELECT seq, mac INTO h FROM audit_head WHERE id = 1 FOR UPDATE;
  IF NOT FOUND OR NEW.seq IS DISTINCT FROM h.seq + 1 OR NEW.prev_mac IS DISTINCT FROM h.mac THEN
    RAISE EXCEPTION 'the audit log is append-only: rows are added at the head, chained' USING ERRCODE = 'P0001';
  END IF;
  UPDATE audit_head SET seq = NEW.seq, mac = NEW.mac WHERE id = 1;
  RETURN NEW;
END"
    };
}

const REFUSE_SRC: &str = refuse_src!();
const APPEND_SRC: &str = append_src!();

/// Migration 1: settings, tokens, sealed secrets, the append-only audit log and its head row.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "vault-core",
    sql: concat!(
        r"
CREATE TABLE vault_meta (
    k TEXT PRIMARY KEY NOT NULL,
    v TEXT NOT NULL
);

CREATE TABLE tokens (
    accessor     TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    secret_mac   BYTEA NOT NULL CHECK (length(secret_mac) = 32),
    capabilities TEXT NOT NULL,
    role         TEXT,
    project      TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    revoked_by   TEXT,
    created_by   TEXT NOT NULL,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);

CREATE TABLE secrets (
    id          TEXT PRIMARY KEY NOT NULL,
    scope       TEXT NOT NULL,
    expires_at  BIGINT,
    key_id      TEXT NOT NULL,
    wrapped_key BYTEA NOT NULL,
    ciphertext  BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE audit (
    seq            BIGINT PRIMARY KEY NOT NULL CHECK (seq >= 1),
    event_id       TEXT NOT NULL UNIQUE,
    at             TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    actor_type     TEXT NOT NULL,
    actor_id       TEXT NOT NULL,
    subject_type   TEXT,
    subject_id     TEXT,
    correlation_id TEXT,
    causation_id   TEXT,
    severity       TEXT NOT NULL,
    metadata       TEXT NOT NULL,
    prev_mac       TEXT NOT NULL,
    mac            TEXT NOT NULL
);

CREATE INDEX audit_by_type ON audit (event_type, seq);

CREATE TABLE audit_head (
    id  INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq BIGINT NOT NULL CHECK (seq >= 0),
    mac TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, mac)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $fn$",
        refuse_src!(),
        r"$fn$;

CREATE FUNCTION audit_append() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $fn$",
        append_src!(),
        r"$fn$;

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_append_in_order BEFORE INSERT ON audit
FOR EACH ROW EXECUTE FUNCTION audit_append();
"
    ),
}];

/// What is wrong with the audit table's protections (boot step 3's `schema-tampered`).
pub fn protection_problems(client: &mut Client) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    let rows = client
        .query_typed(
            "SELECT t.tgname::text, t.tgenabled::text, p.proname::text
               FROM pg_trigger t
               JOIN pg_class c ON c.oid = t.tgrelid
               JOIN pg_proc p ON p.oid = t.tgfoid
              WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = 'audit'
                AND NOT t.tgisinternal",
            &[],
        )
        .map_err(map_err)?;
    let found: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    for (name, func) in AUDIT_TRIGGERS {
        match found.iter().find(|(n, _, _)| n == name) {
            None => problems.push(format!("`{name}` is missing")),
            Some((_, enabled, f)) => {
                if f != func {
                    problems.push(format!("`{name}` runs `{f}`, not `{func}`"));
                }
                if enabled != "O" {
                    problems.push(format!("`{name}` is not enabled (state `{enabled}`)"));
                }
            }
        }
    }
    if found.len() != AUDIT_TRIGGERS.len() {
        problems.push(format!(
            "the audit table has {} triggers, expected {}",
            found.len(),
            AUDIT_TRIGGERS.len()
        ));
    }
    let funcs: Vec<(String, String)> = client
        .query_typed(
            "SELECT proname::text, prosrc FROM pg_proc WHERE pronamespace = current_schema()::regnamespace \
             AND proname IN ('audit_refuse_change', 'audit_append')",
            &[],
        )
        .map_err(map_err)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (func, src) in [
        ("audit_refuse_change", REFUSE_SRC),
        ("audit_append", APPEND_SRC),
    ] {
        match funcs
            .iter()
            .filter(|(n, _)| n == func)
            .collect::<Vec<_>>()
            .as_slice()
        {
            [] => problems.push(format!("`{func}` is missing")),
            [(_, got)] if got.trim() == src.trim() => {}
            [_] => problems.push(format!("`{func}` differs from its definition")),
            _ => problems.push(format!("`{func}` is defined more than once")),
        }
    }
    // One statement, one snapshot: a writer moves the head row and appends its audit row in
    // one transaction, so both are seen together (two statements would race writers).
    let r = client
        .query_typed_opt(
            "SELECT h.seq, h.mac, a.seq, a.mac, (SELECT count(*) FROM pg_rules \
             WHERE schemaname = current_schema() AND tablename IN ('audit', 'audit_head')) \
             FROM audit_head h \
             LEFT JOIN LATERAL (SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1) a ON true \
             WHERE h.id = 1",
            &[],
        )
        .map_err(map_err)?;
    match r {
        None => problems.push("audit_head has no row".into()),
        Some(r) => {
            let rules: i64 = r.get(4);
            if rules != 0 {
                problems.push(format!("the audit tables have {rules} rewrite rule(s)"));
            }
            let head = (r.get::<_, i64>(0), r.get::<_, String>(1));
            let last = (
                r.get::<_, Option<i64>>(2).unwrap_or(0),
                r.get::<_, Option<String>>(3)
                    .unwrap_or_else(|| crate::vault::audit::GENESIS.to_owned()),
            );
            if head != last {
                problems.push(format!(
                    "audit_head (row {}) does not match the last audit row (row {})",
                    head.0, last.0
                ));
            }
        }
    }
    Ok(problems)
}

const AUDIT_COLS: &str = "seq, event_id, at, event_type, actor_type, actor_id, subject_type, \
     subject_id, correlation_id, causation_id, severity, metadata, prev_mac, mac";

fn audit_row(r: &postgres::Row) -> AuditRow {
    AuditRow {
        seq: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
        event_id: r.get(1),
        at: r.get(2),
        event_type: r.get(3),
        actor_type: r.get(4),
        actor_id: r.get(5),
        subject_type: r.get(6),
        subject_id: r.get(7),
        correlation_id: r.get(8),
        causation_id: r.get(9),
        severity: r.get(10),
        metadata: r.get(11),
        prev_mac: r.get(12),
        mac: r.get(13),
    }
}

const TOKEN_COLS: &str = "accessor, name, secret_mac, capabilities, role, project, created_at, \
     expires_at, revoked_at, revoked_by, created_by";

fn token_row(r: &postgres::Row) -> Result<TokenRow, StoreError> {
    let accessor: String = r.get(0);
    let caps: String = r.get(3);
    let capabilities = serde_json::from_str(&caps)
        .map_err(|e| StoreError::Corrupt(format!("capabilities of token `{accessor}`: {e}")))?;
    Ok(TokenRow {
        accessor,
        name: r.get(1),
        secret_mac: r.get(2),
        capabilities,
        role: r.get(4),
        project: r.get(5),
        created_at: r.get(6),
        expires_at: r.get(7),
        revoked_at: r.get(8),
        revoked_by: r.get(9),
        created_by: r.get(10),
    })
}

const SECRET_COLS: &str = "id, scope, expires_at, key_id, wrapped_key, ciphertext, created_at";

fn secret_row(r: &postgres::Row) -> SecretRow {
    SecretRow {
        id: r.get(0),
        scope: r.get(1),
        expires_at: r.get(2),
        key_id: r.get(3),
        wrapped_key: r.get(4),
        ciphertext: r.get(5),
        created_at: r.get(6),
    }
}

fn seq_i64(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("sequence number {seq} overflows")))
}

type P<'a> = (&'a (dyn ToSql + Sync), Type);

impl VaultOps for PgTx<'_> {
    fn audit_head(&mut self) -> Result<Option<AuditHead>, StoreError> {
        let r = self
            .pg()
            .query_typed_opt("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1", &[])
            .map_err(map_err)?;
        Ok(r.map(|r| AuditHead {
            seq: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
            mac: r.get(1),
        }))
    }

    fn audit_insert(&mut self, row: &AuditRow) -> Result<(), StoreError> {
        let seq = seq_i64(row.seq)?;
        let t = Type::TEXT;
        let params: [P<'_>; 14] = [
            (&seq, Type::INT8),
            (&row.event_id, t.clone()),
            (&row.at, t.clone()),
            (&row.event_type, t.clone()),
            (&row.actor_type, t.clone()),
            (&row.actor_id, t.clone()),
            (&row.subject_type, t.clone()),
            (&row.subject_id, t.clone()),
            (&row.correlation_id, t.clone()),
            (&row.causation_id, t.clone()),
            (&row.severity, t.clone()),
            (&row.metadata, t.clone()),
            (&row.prev_mac, t.clone()),
            (&row.mac, t),
        ];
        self.write_final(
                &format!(
                    "INSERT INTO audit ({AUDIT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                ),
                &params,
            )
            .map(|_| ())
    }

    fn audit_get(&mut self, seq: u64) -> Result<Option<AuditRow>, StoreError> {
        let seq = seq_i64(seq)?;
        let r = self
            .pg()
            .query_typed_opt(
                &format!("SELECT {AUDIT_COLS} FROM audit WHERE seq = $1"),
                &[(&seq, Type::INT8)],
            )
            .map_err(map_err)?;
        Ok(r.as_ref().map(audit_row))
    }

    fn audit_tail(&mut self, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        let limit = filter
            .limit
            .map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let sql = format!(
            "SELECT * FROM (SELECT {AUDIT_COLS} FROM audit \
             WHERE ($1::text IS NULL OR event_type = $1) AND ($2::text IS NULL OR at >= $2) \
             ORDER BY seq DESC LIMIT $3) t ORDER BY seq ASC"
        );
        let rows = self
            .pg()
            .query_typed(
                &sql,
                &[
                    (&filter.event_type, Type::TEXT),
                    (&filter.since, Type::TEXT),
                    (&limit, Type::INT8),
                ],
            )
            .map_err(map_err)?;
        Ok(rows.iter().map(audit_row).collect())
    }

    fn audit_scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(AuditRow) -> bool,
    ) -> Result<(), StoreError> {
        // Batches keyed by seq, so memory stays bounded for any log length.
        let mut from = seq_i64(from_seq)?;
        loop {
            let rows = self
                .pg()
                .query_typed(
                    &format!(
                        "SELECT {AUDIT_COLS} FROM audit WHERE seq >= $1 ORDER BY seq ASC LIMIT 5000"
                    ),
                    &[(&from, Type::INT8)],
                )
                .map_err(map_err)?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            from = last.get::<_, i64>(0) + 1;
            let n = rows.len();
            for r in &rows {
                if !visit(audit_row(r)) {
                    return Ok(());
                }
            }
            if n < 5000 {
                return Ok(());
            }
        }
    }

    fn meta_get(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        let r = self
            .pg()
            .query_typed_opt(
                "SELECT v FROM vault_meta WHERE k = $1",
                &[(&key, Type::TEXT)],
            )
            .map_err(map_err)?;
        Ok(r.map(|r| r.get(0)))
    }

    fn meta_set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.write(
                "INSERT INTO vault_meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                &[(&key, Type::TEXT), (&value, Type::TEXT)],
            )
            .map(|_| ())
    }

    fn token_insert(&mut self, row: &TokenRow) -> Result<(), StoreError> {
        let caps = serde_json::to_string(&row.capabilities)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let t = Type::TEXT;
        let i = Type::INT8;
        self.insert_one(
                &format!(
                    "INSERT INTO tokens ({TOKEN_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ),
                &[
                    (&row.accessor, t.clone()),
                    (&row.name, t.clone()),
                    (&row.secret_mac, Type::BYTEA),
                    (&caps, t.clone()),
                    (&row.role, t.clone()),
                    (&row.project, t.clone()),
                    (&row.created_at, i.clone()),
                    (&row.expires_at, i.clone()),
                    (&row.revoked_at, i),
                    (&row.revoked_by, t.clone()),
                    (&row.created_by, t),
                ],
                "a token with this accessor",
            )
    }

    fn token_get(&mut self, accessor: &str) -> Result<Option<TokenRow>, StoreError> {
        let r = self
            .pg()
            .query_typed_opt(
                &format!("SELECT {TOKEN_COLS} FROM tokens WHERE accessor = $1"),
                &[(&accessor, Type::TEXT)],
            )
            .map_err(map_err)?;
        r.as_ref().map(token_row).transpose()
    }

    fn token_list(&mut self) -> Result<Vec<TokenRow>, StoreError> {
        let rows = self
            .pg()
            .query_typed(
                &format!("SELECT {TOKEN_COLS} FROM tokens ORDER BY created_at, accessor"),
                &[],
            )
            .map_err(map_err)?;
        rows.iter().map(token_row).collect()
    }

    fn token_revoke(&mut self, accessor: &str, at: i64, by: &str) -> Result<bool, StoreError> {
        self.write(
                "UPDATE tokens SET revoked_at = $2, revoked_by = $3 WHERE accessor = $1 AND revoked_at IS NULL",
                &[(&accessor, Type::TEXT), (&at, Type::INT8), (&by, Type::TEXT)],
            )
            .map(|n| n == 1)
    }

    fn secret_insert(&mut self, row: &SecretRow) -> Result<(), StoreError> {
        self.insert_one(
            &format!("INSERT INTO secrets ({SECRET_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
            &[
                (&row.id, Type::TEXT),
                (&row.scope, Type::TEXT),
                (&row.expires_at, Type::INT8),
                (&row.key_id, Type::TEXT),
                (&row.wrapped_key, Type::BYTEA),
                (&row.ciphertext, Type::BYTEA),
                (&row.created_at, Type::INT8),
            ],
            "a secret with this id",
        )
    }

    fn secret_get(&mut self, id: &str) -> Result<Option<SecretRow>, StoreError> {
        let r = self
            .pg()
            .query_typed_opt(
                &format!("SELECT {SECRET_COLS} FROM secrets WHERE id = $1"),
                &[(&id, Type::TEXT)],
            )
            .map_err(map_err)?;
        Ok(r.as_ref().map(secret_row))
    }

    fn secret_delete(&mut self, id: &str) -> Result<bool, StoreError> {
        self.write("DELETE FROM secrets WHERE id = $1", &[(&id, Type::TEXT)])
            .map(|n| n == 1)
    }

    fn secret_all(&mut self) -> Result<Vec<SecretRow>, StoreError> {
        let rows = self
            .pg()
            .query_typed(
                &format!("SELECT {SECRET_COLS} FROM secrets ORDER BY id"),
                &[],
            )
            .map_err(map_err)?;
        Ok(rows.iter().map(secret_row).collect())
    }

    fn secret_rewrap(
        &mut self,
        id: &str,
        key_id: &str,
        wrapped_key: &[u8],
    ) -> Result<(), StoreError> {
        let n = self.write(
            "UPDATE secrets SET key_id = $2, wrapped_key = $3 WHERE id = $1",
            &[
                (&id, Type::TEXT),
                (&key_id, Type::TEXT),
                (&wrapped_key, Type::BYTEA),
            ],
        )?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Constraint(format!(
                "no secret `{id}` to re-wrap"
            )))
        }
    }

    fn apply_migration(&mut self, version: u32, now: &str) -> Result<(), StoreError> {
        let m = super::migrations::all()
            .into_iter()
            .find(|m| m.version == version)
            .ok_or_else(|| StoreError::Backend(format!("no migration {version} in this binary")))?;
        super::migrations::apply(self.pg(), m, now)
    }
}
