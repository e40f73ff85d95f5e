//! The decision: judge one operation against a [`ValidEnvelope`] and the budget already spent.
//!
//! Every rule runs and every violation becomes a finding; the request is allowed only when
//! there are none. For each path, both its lexical and its physical form ([`super::resolve`])
//! are judged, and each must: lie inside the root, match an allow glob, be covered by no deny
//! glob, and — for a mutating op — be covered by no protected glob and be none of the
//! envelope's own files (the envelope, its baseline, the budget journal). For `delete` and
//! `rename` of an existing folder, everything inside it is judged against deny and protected
//! globs too. The budget holds when `spent + cost <= max_budget_usd`, exactly.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::EnvelopeError;
use super::codes::EnvelopeCode;
use super::judge::{Guarded, judge_path};
use super::policy::{Op, ValidEnvelope};
use super::protect::default_baseline_path;
use super::resolve::{self, Root};
use super::usd::Usd;
use crate::clock::{Clock, format_rfc3339};
use crate::journal::{self, NewStep, Record};
use crate::output::{Render, Style};
use crate::report::{Finding, all_clear, escape_for_display};

/// One operation to judge.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    /// What the caller wants to do.
    pub op: Op,
    /// Every path the op touches (relative to the root, or absolute); at least one.
    pub paths: Vec<PathBuf>,
    /// What the op will cost (zero when not given).
    pub cost: Usd,
    /// The folder every path must stay in.
    pub root: Root,
    /// The budget journal, which no mutating op may touch; the budget spent is the sum of
    /// its records' `outputs.cost_usd` (zero without one).
    pub journal: Option<PathBuf>,
    /// Append the decision to `journal`, under its lock ([`check_and_record`]).
    pub record: bool,
}

/// How one path was located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathVerdict {
    /// The path exactly as given.
    pub given: String,
    /// Its lexical form (relative to the root, or absolute when outside), for display.
    pub lexical: String,
    /// Its physical form, for display.
    pub physical: String,
}

/// The decision and every reason behind it.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// The op judged.
    pub op: Op,
    /// The canonical root.
    pub root: PathBuf,
    /// Each distinct path, in the order given.
    pub paths: Vec<PathVerdict>,
    /// `max_budget_usd`.
    pub max_budget: Usd,
    /// Spent before this op.
    pub spent: Usd,
    /// This op's cost.
    pub cost: Usd,
    /// Every violation; empty means allowed.
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// `true` when the op is allowed.
    pub fn allowed(&self) -> bool {
        all_clear(&self.findings)
    }

    /// `allow` or `deny`.
    pub fn decision(&self) -> &'static str {
        if self.allowed() { "allow" } else { "deny" }
    }

    /// The journal step recording this decision: its status (`allowed` or `violation`), its
    /// inputs (op, paths, cost) and outputs (decision, finding codes, and `cost_usd` only when
    /// allowed: a denied op spent nothing).
    pub fn journal_step(&self) -> Result<JournalStep, EnvelopeError> {
        let cost = super::budget::journal_amount(self.cost)?;
        let mut inputs = Map::new();
        inputs.insert("op".into(), Value::from(self.op.as_str()));
        inputs.insert(
            "paths".into(),
            Value::from(
                self.paths
                    .iter()
                    .map(|p| p.given.clone())
                    .collect::<Vec<_>>(),
            ),
        );
        inputs.insert("cost_usd".into(), cost.clone());
        let mut outputs = Map::new();
        outputs.insert("decision".into(), Value::from(self.decision()));
        outputs.insert(
            "findings".into(),
            Value::from(self.findings.iter().map(|f| f.code).collect::<Vec<_>>()),
        );
        if self.allowed() {
            outputs.insert(super::budget::COST_KEY.into(), cost);
        }
        let status = if self.allowed() {
            "allowed"
        } else {
            "violation"
        };
        Ok((status, inputs, outputs))
    }

    /// This decision as the `envelope-check` step `--record` appends.
    pub fn new_step(&self, clock: &dyn Clock) -> Result<NewStep, EnvelopeError> {
        let (status, inputs, outputs) = self.journal_step()?;
        let now = format_rfc3339(clock.now()).map_err(|e| EnvelopeError::Request(e.to_string()))?;
        Ok(NewStep {
            name: RECORD_STEP_NAME.to_owned(),
            status: status.to_owned(),
            step_id: None,
            inputs,
            outputs,
            started_at: Some(now.clone()),
            completed_at: Some(now),
        })
    }
}

/// Judge `req` with the budget spent so far, choosing where that comes from (the one place
/// that choice is made): zero without a journal; the sum over the fully verified journal with
/// one; and with `record`, that sum read, the decision made and appended under the journal's
/// exclusive lock ([`check_and_record`]). `record` without a journal cannot run.
pub fn decide(
    env: &ValidEnvelope,
    req: &CheckRequest,
    clock: &dyn Clock,
) -> Result<CheckReport, EnvelopeError> {
    match (&req.journal, req.record) {
        (Some(j), true) => check_and_record(env, req, j, clock).map(|(report, _)| report),
        (Some(j), false) => check(env, req, super::budget::spent_in_journal(j)?),
        (None, true) => Err(EnvelopeError::Request(
            "recording a decision needs a budget journal\nhelp: pass `--journal FILE` with `--record`"
                .to_owned(),
        )),
        (None, false) => check(env, req, Usd::ZERO),
    }
}

/// Judge `req` against `env` with the budget spent in `journal`, and append the decision to
/// that journal, all under the journal's exclusive lock: two concurrent checks cannot both
/// read the same spent total and both be allowed to spend the last of the budget. Nothing is
/// written when the journal does not verify or the cost cannot be stored exactly.
pub fn check_and_record(
    env: &ValidEnvelope,
    req: &CheckRequest,
    journal: &Path,
    clock: &dyn Clock,
) -> Result<(CheckReport, Record), EnvelopeError> {
    super::budget::require_journal(journal)?;
    let (report, record) = journal::append_decided(journal, clock, |records| {
        let spent = super::budget::spent_from_outputs(
            journal,
            records.iter().map(|r| (r.step_id.as_str(), &r.outputs)),
        )?;
        let report = check(env, req, spent)?;
        let step = report.new_step(clock)?;
        Ok::<_, EnvelopeError>((report, Some(step)))
    })?;
    let record = record.ok_or_else(|| {
        EnvelopeError::Request("the decision was not recorded (a bug in vaultgate)".into())
    })?;
    Ok((report, record))
}

/// A journal step's status, inputs and outputs.
pub type JournalStep = (&'static str, Map<String, Value>, Map<String, Value>);

/// The `name` of the journal step `--record` appends.
pub const RECORD_STEP_NAME: &str = "envelope-check";

/// Judge `req` against `env`, given the budget already `spent`.
pub fn check(
    env: &ValidEnvelope,
    req: &CheckRequest,
    spent: Usd,
) -> Result<CheckReport, EnvelopeError> {
    if req.paths.is_empty() {
        return Err(EnvelopeError::Request(format!(
            "no path given for op `{}`\nhelp: name every file the operation touches with `--path`",
            req.op
        )));
    }
    if req.cost.is_negative() {
        return Err(EnvelopeError::Amount {
            what: "--cost",
            value: req.cost.to_string(),
            reason: "a cost cannot be negative".to_owned(),
        });
    }
    let mut guarded = vec![
        Guarded::new(
            resolve::physical_from_cwd(env.source())?,
            "the envelope itself",
        ),
        Guarded::new(
            resolve::physical_from_cwd(&default_baseline_path(env.source()))?,
            "the envelope's protected-file baseline",
        ),
    ];
    if let Some(j) = &req.journal {
        guarded.push(Guarded::new(
            resolve::physical_from_cwd(j)?,
            "the budget journal",
        ));
    }

    let mut findings = Vec::new();
    if !env.allows_op(req.op) {
        findings.push(Finding::error(
            EnvelopeCode::OpNotAllowed,
            req.op.as_str(),
            format!("op `{}` is not listed in `allow_ops`", req.op),
        ));
    }
    let mut seen = HashSet::new();
    let mut paths = Vec::new();
    for p in &req.paths {
        if !seen.insert(p.clone()) {
            continue;
        }
        let located = resolve::locate(&req.root, p)?;
        judge_path(env, req, &guarded, &located, &mut findings)?;
        paths.push(PathVerdict {
            given: p.to_string_lossy().into_owned(),
            lexical: located.lexical.display(),
            physical: located.physical.display(),
        });
    }
    let total = spent
        .checked_add(req.cost)
        .ok_or(EnvelopeError::Overflow { what: "this cost" })?;
    if total > env.max_budget() {
        findings.push(Finding::error(
            EnvelopeCode::BudgetExceeded,
            "max_budget_usd",
            format!(
                "spent `{spent}` + cost `{}` = `{total}` USD exceeds `max_budget_usd` `{}`",
                req.cost,
                env.max_budget()
            ),
        ));
    }
    let mut unique = HashSet::new();
    findings.retain(|f| unique.insert((f.code, f.subject.clone(), f.message.clone())));
    Ok(CheckReport {
        op: req.op,
        root: req.root.canonical().to_path_buf(),
        paths,
        max_budget: env.max_budget(),
        spent,
        cost: req.cost,
        findings,
    })
}

impl Render for CheckReport {
    crate::render_head!(super::SCHEMA, |r: &Self| crate::output::verdict(
        &r.findings,
        false
    ));

    fn to_json(&self) -> Map<String, Value> {
        let paths: Vec<Value> = self
            .paths
            .iter()
            .map(|p| json!({"path": p.given, "lexical": p.lexical, "physical": p.physical}))
            .collect();
        let mut m = Map::new();
        m.insert("command".into(), json!("check"));
        m.insert("decision".into(), json!(self.decision()));
        m.insert("op".into(), json!(self.op.as_str()));
        m.insert("root".into(), json!(self.root.to_string_lossy()));
        m.insert("paths".into(), Value::Array(paths));
        m.insert(
            "budget".into(),
            json!({
                "max_usd": self.max_budget.to_json(),
                "spent_usd": self.spent.to_json(),
                "cost_usd": self.cost.to_json(),
            }),
        );
        m.insert("findings".into(), json!(self.findings));
        m.insert("summary".into(), json!({"findings": self.findings.len()}));
        m
    }

    fn render_text(&self, style: &Style) -> String {
        let mut s = String::new();
        for f in &self.findings {
            let _ = writeln!(s, "{}[{}] {}", style.bad("error"), f.code, f.message);
        }
        for p in &self.paths {
            let _ = writeln!(
                s,
                "path `{}`: lexical `{}`, physical `{}`",
                escape_for_display(&p.given),
                p.lexical,
                p.physical
            );
        }
        let _ = writeln!(
            s,
            "budget: spent `{}` + cost `{}` of `{}` USD",
            self.spent, self.cost, self.max_budget
        );
        let _ = writeln!(s, "{}", self.summary_line_styled(*style));
        s
    }

    fn summary_line(&self) -> String {
        self.summary_line_styled(Style::plain())
    }
}

impl CheckReport {
    fn summary_line_styled(&self, style: Style) -> String {
        if self.allowed() {
            format!(
                "{}: envelope allows `{}` on {} path(s)",
                style.good("ALLOW"),
                self.op,
                self.paths.len()
            )
        } else {
            format!(
                "{}: envelope denies `{}`: {} finding(s)",
                style.bad("DENY"),
                self.op,
                self.findings.len()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct World {
        _dir: tempfile::TempDir,
        root: PathBuf,
        env: ValidEnvelope,
    }

    const ENVELOPE: &str = r#"{
        "allow_ops": ["read", "list", "exec", "write", "create", "delete", "rename", "chmod"],
        "allow_paths": ["src/**", "docs/*.md", "secrets/**", "ci/**", "envelope.json", "."],
        "deny_paths": ["secrets", "**/*.pem"],
        "protected_paths": ["ci/**", "docs/policy.md"],
        "max_budget_usd": 1.001
    }"#;

    fn world() -> World {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        for (p, c) in [
            ("src/a.rs", "a"),
            ("src/lib/b.rs", "b"),
            ("secrets/key", "k"),
            ("ci/pipeline.yml", "ci"),
            ("docs/guide.md", "g"),
            ("docs/policy.md", "p"),
        ] {
            let f = root.join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, c).unwrap();
        }
        std::fs::write(root.join("envelope.json"), ENVELOPE).unwrap();
        let env = ValidEnvelope::load(&root.join("envelope.json")).unwrap();
        World {
            _dir: dir,
            root,
            env,
        }
    }

    impl World {
        fn run(&self, op: Op, paths: &[&str], cost: &str, spent: &str) -> CheckReport {
            let req = CheckRequest {
                op,
                paths: paths.iter().map(PathBuf::from).collect(),
                cost: Usd::parse(cost).unwrap(),
                root: Root::open(&self.root).unwrap(),
                journal: None,
                record: false,
            };
            check(&self.env, &req, Usd::parse(spent).unwrap()).unwrap()
        }
        fn codes(&self, op: Op, paths: &[&str]) -> Vec<&'static str> {
            self.run(op, paths, "0", "0")
                .findings
                .iter()
                .map(|f| f.code)
                .collect()
        }
    }

    #[test]
    fn an_allowed_op_on_an_allowed_path_passes() {
        let w = world();
        let r = w.run(Op::Write, &["src/a.rs", "src/new.rs"], "0.5", "0.5");
        assert!(r.allowed(), "{:?}", r.findings);
        assert_eq!(r.status(), crate::exit::ExitStatus::Pass);
    }

    #[test]
    fn an_op_not_in_allow_ops_is_denied() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("e.json");
        std::fs::write(&f, ENVELOPE.replace(r#""read", "list", "exec", "#, "")).unwrap();
        let env = ValidEnvelope::load(&f).unwrap();
        let req = CheckRequest {
            op: Op::Read,
            paths: vec![PathBuf::from("src/a.rs")],
            cost: Usd::ZERO,
            root: Root::open(dir.path()).unwrap(),
            journal: None,
            record: false,
        };
        let r = check(&env, &req, Usd::ZERO).unwrap();
        assert!(
            r.findings
                .iter()
                .any(|f| f.code == "envelope-op-not-allowed")
        );
    }

    #[test]
    fn a_path_matching_no_allow_glob_is_denied() {
        let w = world();
        assert_eq!(
            w.codes(Op::Read, &["README.md"]),
            ["envelope-path-not-allowed"]
        );
        assert_eq!(
            w.codes(Op::Read, &["docs/sub/x.md"]),
            ["envelope-path-not-allowed"]
        );
    }

    #[test]
    fn deny_wins_over_allow_and_covers_folders() {
        let w = world();
        // `secrets/**` is allowed, but the deny glob `secrets` covers everything beneath it.
        assert_eq!(
            w.codes(Op::Read, &["secrets/key"]),
            ["envelope-path-denied"]
        );
        assert_eq!(
            w.codes(Op::Read, &["src/lib/cert.pem"]),
            ["envelope-path-denied"]
        );
    }

    #[test]
    fn case_and_unicode_variants_do_not_dodge_deny() {
        let w = world();
        for variant in ["SECRETS/key", "Secrets/new", "src/KEY.PEM"] {
            assert!(
                w.codes(Op::Read, &[variant])
                    .contains(&"envelope-path-denied"),
                "{variant}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("e.json");
        std::fs::write(
            &f,
            r#"{"allow_ops": ["read"], "allow_paths": ["**"], "deny_paths": ["caf\u00e9/**"],
               "protected_paths": [], "max_budget_usd": 0}"#,
        )
        .unwrap();
        let env = ValidEnvelope::load(&f).unwrap();
        let req = CheckRequest {
            op: Op::Read,
            paths: vec![
                PathBuf::from("cafe\u{301}/menu"),
                PathBuf::from("CAFÉ/menu"),
            ],
            cost: Usd::ZERO,
            root: Root::open(dir.path()).unwrap(),
            journal: None,
            record: false,
        };
        let r = check(&env, &req, Usd::ZERO).unwrap();
        let denied = r
            .findings
            .iter()
            .filter(|f| f.code == "envelope-path-denied");
        assert_eq!(denied.count(), 2, "{:?}", r.findings);
    }

    #[test]
    fn dot_dot_escapes_are_outside_the_root() {
        let w = world();
        let codes = w.codes(Op::Read, &["src/../../etc/passwd"]);
        assert!(codes.contains(&"envelope-path-outside-root"), "{codes:?}");
        assert!(
            w.codes(Op::Read, &["src/lib/../a.rs"]).is_empty(),
            "`..` that stays inside is fine"
        );
    }

    #[test]
    fn symlinks_into_denied_or_outside_are_denied() {
        let w = world();
        symlink("../secrets/key", w.root.join("src/innocent.rs")).unwrap();
        symlink("/etc", w.root.join("src/etc")).unwrap();
        let r = w.run(Op::Read, &["src/innocent.rs"], "0", "0");
        assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
        assert_eq!(r.findings[0].code, "envelope-path-denied");
        assert!(r.findings[0].message.contains("resolves to `secrets/key`"));
        let codes = w.codes(Op::Read, &["src/etc/passwd"]);
        assert_eq!(codes, ["envelope-path-outside-root"]);
    }

    #[test]
    fn protected_paths_refuse_every_mutating_op_only() {
        let w = world();
        for op in Op::ALL {
            let codes = w.codes(op, &["ci/pipeline.yml"]);
            if op.is_mutating() {
                assert_eq!(codes, ["envelope-path-protected"], "{op}");
            } else {
                assert!(codes.is_empty(), "{op}: {codes:?}");
            }
        }
    }

    #[test]
    fn the_envelope_itself_is_always_protected() {
        let w = world();
        let r = w.run(Op::Write, &["envelope.json"], "0", "0");
        assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
        assert!(r.findings[0].message.contains("the envelope itself"));
        assert!(w.codes(Op::Read, &["envelope.json"]).is_empty());
        // Deleting the root would delete the envelope and the protected files inside it.
        let codes = w.codes(Op::Delete, &["."]);
        assert!(codes.contains(&"envelope-path-protected"), "{codes:?}");
        assert!(codes.contains(&"envelope-path-denied"), "{codes:?}");
    }

    #[test]
    fn deleting_a_folder_judges_its_contents() {
        let w = world();
        std::fs::write(w.root.join("src/lib/server.pem"), "x").unwrap();
        let r = w.run(Op::Delete, &["src/lib"], "0", "0");
        assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
        assert!(
            r.findings[0]
                .message
                .contains("contains `src/lib/server.pem`")
        );
        assert!(w.codes(Op::Delete, &["src/a.rs"]).is_empty());
        assert!(w.codes(Op::List, &["src/lib"]).is_empty());
    }

    #[test]
    fn budget_arithmetic_is_exact() {
        let w = world();
        // 1000 × 0.001 spent, + 0.001 against a maximum of 1.001: exactly at the limit.
        assert!(w.run(Op::Read, &["src/a.rs"], "0.001", "1").allowed());
        let r = w.run(Op::Read, &["src/a.rs"], "0.001", "1.000000001");
        assert_eq!(r.findings[0].code, "envelope-budget-exceeded");
        assert!(
            r.findings[0]
                .message
                .contains("= `1.001000001` USD exceeds")
        );
    }

    #[test]
    fn every_reason_is_listed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("e.json");
        std::fs::write(
            &f,
            r#"{"allow_ops": [], "allow_paths": [], "deny_paths": ["**"],
               "protected_paths": ["**"], "max_budget_usd": 0}"#,
        )
        .unwrap();
        let env = ValidEnvelope::load(&f).unwrap();
        let req = CheckRequest {
            op: Op::Write,
            paths: vec![PathBuf::from("x"), PathBuf::from("../y")],
            cost: Usd::parse("0.01").unwrap(),
            root: Root::open(&dir.path().join(".")).unwrap(),
            journal: None,
            record: false,
        };
        let r = check(&env, &req, Usd::ZERO).unwrap();
        let codes: Vec<_> = r.findings.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [
                "envelope-op-not-allowed",
                "envelope-path-not-allowed",
                "envelope-path-denied",
                "envelope-path-protected",
                "envelope-path-outside-root",
                "envelope-budget-exceeded",
            ]
        );
    }

    #[test]
    fn a_request_without_paths_or_with_a_negative_cost_cannot_run() {
        let w = world();
        let mut req = CheckRequest {
            op: Op::Read,
            paths: Vec::new(),
            cost: Usd::ZERO,
            root: Root::open(&w.root).unwrap(),
            journal: None,
            record: false,
        };
        assert!(check(&w.env, &req, Usd::ZERO).is_err());
        req.paths.push(PathBuf::from("src/a.rs"));
        req.cost = Usd::parse("-1").unwrap();
        assert!(check(&w.env, &req, Usd::ZERO).is_err());
    }

    #[test]
    fn decide_takes_the_budget_from_the_journal_or_refuses_to_guess() {
        let w = world();
        let mut req = CheckRequest {
            op: Op::Read,
            paths: vec![PathBuf::from("src/a.rs")],
            cost: Usd::parse("0.5").unwrap(),
            root: Root::open(&w.root).unwrap(),
            journal: None,
            record: false,
        };
        let clock = crate::clock::FixedClock(std::time::UNIX_EPOCH);
        assert_eq!(decide(&w.env, &req, &clock).unwrap().spent, Usd::ZERO);
        req.record = true;
        let err = decide(&w.env, &req, &clock).unwrap_err().to_string();
        assert!(err.contains("needs a budget journal"), "{err}");
        // A journal that does not exist: the spent budget is unknown, not zero.
        req.journal = Some(w.root.join("missing.jsonl"));
        req.record = false;
        assert!(matches!(
            decide(&w.env, &req, &clock),
            Err(EnvelopeError::JournalMissing { .. })
        ));
    }

    #[test]
    fn journal_step_records_cost_only_when_allowed() {
        let w = world();
        let (status, inputs, outputs) = w
            .run(Op::Read, &["src/a.rs"], "0.25", "0")
            .journal_step()
            .unwrap();
        assert_eq!(status, "allowed");
        assert_eq!(inputs["cost_usd"].to_string(), "0.25");
        assert_eq!(outputs["cost_usd"].to_string(), "0.25");
        let (status, inputs, outputs) = w
            .run(Op::Read, &["secrets/key"], "0.25", "0")
            .journal_step()
            .unwrap();
        assert_eq!(status, "violation");
        assert_eq!(inputs["paths"], json!(["secrets/key"]));
        assert!(!outputs.contains_key("cost_usd"));
        assert_eq!(outputs["findings"], json!(["envelope-path-denied"]));
    }
}
