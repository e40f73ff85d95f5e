//! The command-line conventions every family shares: help, version, exit codes, `--json`
//! errors, colour, completions, and the generated reference in `docs/cli.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{json_of, repo_root, vg};
use predicates::prelude::*;

#[test]
fn cli_reference_is_current() {
    let want = vaultgate::cli::docs::markdown();
    let path = repo_root().join("docs/cli.md");
    if std::env::var_os("VAULTGATE_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/cli.md is stale: run `VAULTGATE_BLESS=1 cargo test --locked --test cli`"
    );
}

#[test]
fn help_teaches_exit_codes_and_version_prints() {
    vg().arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes:"));
    vg().args(["manifest", "verify", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Examples:"));
    vg().arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("vaultgate "));
}

#[test]
fn usage_errors_exit_2() {
    vg().arg("--no-such-flag").assert().code(2);
    vg().args(["manifest", "frobnicate"]).assert().code(2);
    vg().assert().code(2);
}

#[test]
fn errors_are_json_documents_with_json() {
    let out = vg()
        .args([
            "manifest",
            "verify",
            "--json",
            "-m",
            "/nonexistent/manifest.txt",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let j = json_of(&out);
    assert_eq!(j["schema"], "vaultgate/error/v1");
    assert_eq!(j["summary"]["exit_code"], 2);
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("`/nonexistent/manifest.txt`")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("vaultgate: error: cannot open `/nonexistent/manifest.txt`"),
        "{stderr}"
    );
    // Regression: the I/O cause was printed twice (once in the message, once as its source).
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn bad_clock_override_is_refused() {
    vg().env("VAULTGATE_NOW", "yesterday")
        .args(["manifest", "digest", "/nonexistent"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "invalid clock override `yesterday`",
        ));
}

#[test]
fn color_flag_and_no_color() {
    let d = tempfile::tempdir().unwrap();
    common::write(d.path(), "a", "a");
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .success();
    vg().args(["manifest", "verify", "--color", "always"])
        .arg(d.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("\x1b["));
    vg().args(["manifest", "verify", "--color", "auto"])
        .env("NO_COLOR", "1")
        .arg(d.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("\x1b[").not());
    vg().args(["manifest", "verify", "--color", "never"])
        .arg(d.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("\x1b[").not());
}

#[test]
fn quiet_prints_nothing_on_success_and_a_line_on_failure() {
    let d = tempfile::tempdir().unwrap();
    common::write(d.path(), "a", "a");
    vg().args(["manifest", "generate", "-q"])
        .arg(d.path())
        .assert()
        .success()
        .stdout("");
    common::write(d.path(), "b", "b");
    vg().args(["manifest", "verify", "-q"])
        .arg(d.path())
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("FAIL"));
}

#[test]
fn completions_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        vg().args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("vaultgate"));
    }
}

/// A report that cannot be delivered is never a pass: with stdout a pipe whose reader is gone,
/// a passing check exits 2 and a failing one keeps its 1.
#[test]
fn closed_stdout_never_turns_into_a_pass() {
    let d = tempfile::tempdir().unwrap();
    common::write(d.path(), "a", "a");
    vg().args(["manifest", "generate"])
        .arg(d.path())
        .assert()
        .success();
    let run = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let bin = assert_cmd::cargo::cargo_bin("vaultgate");
        std::process::Command::new(bin)
            .args(["manifest", "verify"])
            .arg(d.path())
            .stdout(writer)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(
        run(),
        Some(2),
        "a pass whose report was lost must not exit 0"
    );
    common::write(d.path(), "b", "b");
    assert_eq!(run(), Some(1), "a failure stays a failure");
}

/// The README opens with exactly two commands; the first (the gate on the shipped demo) must
/// pass through the real binary exactly as written, so the README cannot rot.
#[test]
fn readme_opens_with_two_commands_and_the_first_passes() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let lines: Vec<&str> = block.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "README must open with exactly two commands: {lines:?}"
    );
    assert_eq!(lines[1], "cargo test --locked");
    let args = lines[0]
        .strip_prefix("cargo run --locked -q -- ")
        .expect("first command runs the binary");
    assert!(
        args.starts_with("gate fixtures/gate/"),
        "the first command is the gate on a shipped demo"
    );
    let report = tempfile::tempdir().unwrap();
    let args = args.replace(
        "--report target/gate-demo",
        &format!("--report {}", report.path().join("r").display()),
    );
    let bin = assert_cmd::cargo::cargo_bin("vaultgate");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("\"$0\" {args}"))
        .arg(&bin)
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "README command failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASS"));
    assert!(report.path().join("r/report.json").is_file());
}

/// Every finding code of every family, as the library defines it (`FindingCode::all`).
fn defined_codes() -> Vec<(&'static str, Vec<&'static str>)> {
    use vaultgate::report::FindingCode;
    fn names<C: FindingCode>() -> Vec<&'static str> {
        C::all().iter().map(|c| c.as_str()).collect()
    }
    let mut zip = names::<vaultgate::bundle::ZipCode>();
    // The gate's extract step reports these; they are documented in docs/gate.md.
    let extract = names::<vaultgate::bundle::ExtractCode>();
    zip.retain(|c| !c.starts_with("zip-extract-"));
    let mut gate = names::<vaultgate::gate::GateCode>();
    gate.extend(extract);
    vec![
        ("manifest", names::<vaultgate::manifest::ManifestCode>()),
        ("zip", zip),
        ("gate", gate),
        ("journal", names::<vaultgate::journal::JournalCode>()),
        ("envelope", names::<vaultgate::envelope::EnvelopeCode>()),
    ]
}

/// Backticked words in `text` that look like a finding code of any family (`zip-gap`).
fn code_like_words(text: &str) -> std::collections::BTreeSet<String> {
    const PREFIXES: [&str; 5] = ["manifest-", "zip-", "gate-", "journal-", "envelope-"];
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| {
            PREFIXES.iter().any(|p| w.starts_with(p))
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        .map(str::to_owned)
        .collect()
}

/// Backticked words in the docs that look like codes but are not (so are not defined).
const DOCUMENTED_NON_CODES: &[(&str, &str)] = &[
    ("gate-report", "docs/gate.md: the default report folder"),
    (
        "envelope-check",
        "docs/envelope.md: the journal step name of a check",
    ),
];

/// Codes that no end-to-end test (tests/*.rs) or snapshot (tests/snapshots/) names, so none is
/// known to be emitted through the binary. Most have unit tests beside the rule that emits them;
/// each one covered end to end comes off this list (the test below says so).
const NOT_NAMED_BY_AN_END_TO_END_TEST: &[&str] = &[
    "journal-bad-hash-format",
    "journal-bad-timestamp",
    "journal-checkpoint-mismatch",
    "journal-count-mismatch",
    "journal-empty-value",
    "journal-head-mismatch",
    "journal-missing-key",
    "journal-step-not-found",
    "journal-unknown-key",
    "journal-wrong-type",
    "zip-bad-extra-field",
    "zip-bad-local-header",
    "zip-central-directory-mismatch",
    "zip-data-corrupt",
    "zip-data-descriptor-mismatch",
    "zip-data-out-of-bounds",
    "zip-data-size-mismatch",
    "zip-dir-with-data",
    "zip-duplicate-normalized",
    "zip-entry-count-mismatch",
    "zip-eocd-in-comment",
    "zip-extract-collision",
    "zip-extract-data-invalid",
    "zip-extract-link",
    "zip-extract-over-limit",
    "zip-extract-special-file",
    "zip-extract-unsafe-name",
    "zip-file-is-parent",
    "zip-gap",
    "zip-hidden-local-header",
    "zip-multi-disk",
    "zip-multiple-eocd",
    "zip-name-dot-component",
    "zip-name-empty",
    "zip-name-encoding",
    "zip-name-too-long",
    "zip-overlapping-entries",
    "zip-second-opinion",
    "zip-stored-size-mismatch",
    "zip-type-mismatch",
    "zip-unknown-flags",
    "zip-zip64-mismatch",
    "zip-zip64-unneeded",
];

/// Codes against the docs in both directions: every code a family defines is documented in its
/// `docs/<family>.md`, and every code-like word a doc names is a code that family defines.
#[test]
fn every_finding_code_is_documented_and_every_documented_code_is_defined() {
    let mut problems = Vec::new();
    for (family, codes) in defined_codes() {
        let page = format!("docs/{family}.md");
        let text = std::fs::read_to_string(repo_root().join(&page)).unwrap();
        let documented = code_like_words(&text);
        for c in &codes {
            if !documented.contains(*c) {
                problems.push(format!("`{c}` is defined but {page} does not name it"));
            }
        }
        for w in &documented {
            let own = codes.contains(&w.as_str());
            let other = defined_codes()
                .iter()
                .any(|(_, cs)| cs.contains(&w.as_str()));
            let excused = DOCUMENTED_NON_CODES.iter().any(|(n, _)| n == w);
            if !own && !other && !excused {
                problems.push(format!("{page} names `{w}`, which no family defines"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Which codes an end-to-end test names, against the pinned list of those none does.
#[test]
fn codes_not_named_by_any_end_to_end_test_are_pinned() {
    let mut tests = String::new();
    for dir in ["tests", "tests/snapshots"] {
        for e in std::fs::read_dir(repo_root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            let ext = p.extension().and_then(|x| x.to_str());
            // This file names every code in the list above; it does not emit them.
            if matches!(ext, Some("rs" | "snap")) && !p.ends_with("tests/cli.rs") {
                tests.push_str(&std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut problems = Vec::new();
    for (_, codes) in defined_codes() {
        for c in codes {
            let named = tests.contains(&format!("\"{c}\"")) || tests.contains(&format!("`{c}`"));
            let pinned = NOT_NAMED_BY_AN_END_TO_END_TEST.contains(&c);
            if !named && !pinned {
                problems.push(format!(
                    "`{c}` is named by no end-to-end test: add one (or, knowingly, add it to NOT_NAMED_BY_AN_END_TO_END_TEST)"
                ));
            }
            if named && pinned {
                problems.push(format!(
                    "`{c}` is now named by an end-to-end test: remove it from NOT_NAMED_BY_AN_END_TO_END_TEST"
                ));
            }
        }
    }
    let all: Vec<&str> = defined_codes().into_iter().flat_map(|(_, c)| c).collect();
    for c in NOT_NAMED_BY_AN_END_TO_END_TEST {
        if !all.contains(c) {
            problems.push(format!("`{c}` is pinned but no family defines it"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Commands whose `after_help` still writes its own exit-code list instead of the shared
/// `EXIT_CODES_HELP` (through `exit::with_exit_codes`); each owner takes its command off.
const OWN_EXIT_CODE_TEXT: &[&str] = &[
    "vaultgate gate",
    "vaultgate zip audit",
    "vaultgate zip pack",
];

/// One exit-code text for every command: each leaf command's `--help` carries the shared
/// `EXIT_CODES_HELP` exactly once and no other `Exit codes:` list.
#[test]
fn every_command_help_carries_the_one_exit_code_text() {
    use clap::CommandFactory;
    fn leaves(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String)>) {
        let subs: Vec<&clap::Command> = cmd
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .collect();
        if subs.is_empty() || path == "vaultgate" {
            out.push((path.to_owned(), cmd.clone().render_long_help().to_string()));
        }
        for s in subs {
            leaves(s, &format!("{path} {}", s.get_name()), out);
        }
    }
    let mut cmd = vaultgate::cli::Cli::command();
    cmd.build();
    let mut all = Vec::new();
    leaves(&cmd, "vaultgate", &mut all);
    let mut problems = Vec::new();
    for (path, help) in &all {
        if OWN_EXIT_CODE_TEXT.contains(&path.as_str()) {
            continue;
        }
        let shared = help.matches(vaultgate::exit::EXIT_CODES_HELP).count();
        let lists = help.matches("Exit codes:").count();
        if shared != 1 || lists != 1 {
            problems.push(format!(
                "`{path} --help`: shared exit-code text {shared} time(s), `Exit codes:` {lists} time(s)"
            ));
        }
    }
    for p in OWN_EXIT_CODE_TEXT {
        assert!(all.iter().any(|(path, _)| path == p), "`{p}` is no command");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
