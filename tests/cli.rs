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

/// `--version` names the commit and the tree state when built from a git checkout, and is
/// exactly `vaultgate X.Y.Z` or `vaultgate X.Y.Z (<hash> <date>[-dirty])`.
#[test]
fn version_names_the_commit() {
    let out = vg().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let re = predicates::str::is_match(
        r"^vaultgate \d+\.\d+\.\d+( \([0-9a-f]{7,40} \d{4}-\d{2}-\d{2}(-dirty)?\))?\n$",
    )
    .unwrap();
    assert!(re.eval(&text), "{text:?}");
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        text.starts_with(&format!("vaultgate {version} ("))
            || text == format!("vaultgate {version}\n"),
        "{text:?}"
    );
    // When this test runs from a git checkout with git installed, the commit must be HEAD's
    // (build.rs re-runs whenever HEAD or its branch moves).
    if std::env::var_os("VAULTGATE_BUILD_COMMIT").is_none() && common::require("git") {
        let head = std::process::Command::new("git")
            .args(["log", "-1", "--format=%h %cs"])
            .current_dir(repo_root())
            .output()
            .unwrap();
        if head.status.success() {
            let head = String::from_utf8(head.stdout).unwrap();
            assert!(
                text.contains(&format!("({}", head.trim())),
                "--version {text:?} does not name HEAD {head:?}"
            );
        }
    }
    // Subcommands print the same version.
    vg().args(["manifest", "--version"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            text.trim_start_matches("vaultgate "),
        ));
}

/// The top-level help describes the tool (not one family), lists every family with a line,
/// and shows the three commands a new user wants first.
#[test]
fn top_level_help_describes_the_tool_and_starts_a_new_user() {
    let out = vg().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for family in [
        "manifest",
        "gate",
        "zip",
        "journal",
        "envelope",
        "completions",
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{family} "))),
            "family {family} missing from --help:\n{help}"
        );
    }
    assert!(help.contains("bundle ZIP") && help.contains("journal") && help.contains("envelope"));
    let start = help
        .split("Start here:\n")
        .nth(1)
        .expect("a `Start here:` section");
    let firsts: Vec<&str> = start
        .lines()
        .take_while(|l| !l.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(firsts.len(), 3, "{firsts:?}");
    for (line, cmd) in firsts.iter().zip(["manifest generate", "zip pack", "gate"]) {
        assert!(line.starts_with(&format!("vaultgate {cmd}")), "{line}");
    }
    // Every line fits a 100-column terminal.
    for l in help.lines() {
        assert!(l.chars().count() <= 100, "line too long: {l:?}");
    }
}

/// Each subcommand's help lists its own options first and the global flags under their own
/// heading after them; `-h` is the short form, `--help` the long one; the hidden `--now` never
/// shows.
#[test]
fn subcommand_help_puts_global_options_last() {
    for args in [
        &["gate"][..],
        &["manifest", "verify"],
        &["zip", "audit"],
        &["journal", "verify"],
        &["envelope", "check"],
    ] {
        let short = vg().args(args).arg("-h").output().unwrap();
        let long = vg().args(args).arg("--help").output().unwrap();
        assert!(short.status.success() && long.status.success());
        let short = String::from_utf8(short.stdout).unwrap();
        let long = String::from_utf8(long.stdout).unwrap();
        for help in [&short, &long] {
            let options = help.find("\nOptions:\n").expect("an Options heading");
            let global = help
                .find("\nGlobal options:\n")
                .expect("a Global options heading");
            assert!(options < global, "{args:?}: globals come after the options");
            let globals = &help[global..];
            let globals = globals.split("\n\n\n").next().unwrap();
            assert!(globals.contains("--json") && globals.contains("--quiet"));
            assert!(
                !help[..global]
                    .lines()
                    .any(|l| l.trim_start().starts_with("--json")),
                "{args:?}: --json among the options"
            );
            assert!(!help.contains("--now"), "{args:?}: the hidden --now shows");
        }
        assert!(
            short.lines().count() < long.lines().count(),
            "{args:?}: -h is not shorter than --help"
        );
    }
}

/// Usage errors with `--json` give the error document on stdout (exit 2) — a typo'd
/// subcommand with clap's near-match tip, a missing argument, a bad value — while `--help`
/// and `--version` keep exit 0 and their own text.
#[test]
fn json_usage_errors_are_error_documents() {
    let cases: [(&[&str], &str); 4] = [
        (&["--json", "manifest", "verfy", "dist"], "verfy"),
        (&["--json", "gate"], "<BUNDLE>"),
        (
            &["zip", "audit", "--json", "x.zip", "--max-ratio", "0"],
            "--max-ratio",
        ),
        (&["--json", "--no-such-flag"], "--no-such-flag"),
    ];
    for (args, names) in cases {
        let out = vg().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let j = json_of(&out);
        assert_eq!(j["schema"], "vaultgate/error/v1", "{args:?}");
        assert_eq!(j["kind"], "usage");
        assert_eq!(j["summary"]["exit_code"], 2);
        assert_eq!(j["summary"]["verdict"], "error");
        let msg = j["error"].as_str().unwrap();
        assert!(msg.contains(names), "{args:?}: {msg}");
        assert!(
            !msg.starts_with("error:") && !msg.contains("Usage:"),
            "{msg}"
        );
        // stderr keeps clap's own message for the human.
        assert!(String::from_utf8_lossy(&out.stderr).contains("error:"));
    }
    let typo = vg()
        .args(["--json", "manifest", "verfy", "dist"])
        .output()
        .unwrap();
    assert!(
        json_of(&typo)["help"]
            .as_str()
            .unwrap()
            .contains("'verify'")
    );
    // Without --json, stdout stays empty.
    vg().args(["manifest", "verfy"]).assert().code(2).stdout("");
    // `--` ends the flags: a `--json` after it is not a request for JSON.
    vg().args(["manifest", "verfy", "--", "--json"])
        .assert()
        .code(2)
        .stdout("");
    vg().args(["--json", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("A fail-closed spine"));
    vg().args(["--json", "--version"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("vaultgate "));
}

/// The sha256sum habit: a manifest FILE as the argument means that manifest, rooted at its
/// folder, the tree `cd dist && sha256sum -c manifest.txt` checks.
#[test]
fn manifest_verify_takes_a_manifest_file() {
    let d = tempfile::tempdir().unwrap();
    common::write(d.path(), "dist/a.txt", "a");
    common::write(d.path(), "dist/sub/b.txt", "b");
    vg().args(["manifest", "generate", "dist", "-q"])
        .current_dir(d.path())
        .assert()
        .success();
    let out = vg()
        .args(["manifest", "verify", "dist/manifest.txt", "--json"])
        .current_dir(d.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json_of(&out);
    assert_eq!(j["root"], "dist");
    assert_eq!(j["manifest"], "dist/manifest.txt");
    assert_eq!(j["summary"]["ok"], 2);
    // From inside the folder, like `sha256sum -c manifest.txt`.
    vg().args(["manifest", "verify", "manifest.txt"])
        .current_dir(d.path().join("dist"))
        .assert()
        .success();
    // A change is still caught through the FILE form.
    common::write(d.path(), "dist/a.txt", "tampered");
    vg().args(["manifest", "verify", "dist/manifest.txt"])
        .current_dir(d.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("MISMATCH"));
    // A FILE together with --manifest is ambiguous: refused, exit 2, with the fix.
    vg().args([
        "manifest",
        "verify",
        "dist/manifest.txt",
        "-m",
        "dist/manifest.txt",
    ])
    .current_dir(d.path())
    .assert()
    .code(2)
    .stderr(predicate::str::contains("is a file").and(predicate::str::contains("help:")));
    vg().args(["manifest", "verify", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("sha256sum -c FILE"));
}

/// Regression: colour dropped the column padding (`MISMATCH a.txt` vs `MISMATCH   a.txt`).
#[test]
fn colour_keeps_the_columns() {
    let d = tempfile::tempdir().unwrap();
    common::write(d.path(), "a.txt", "a");
    common::write(d.path(), "bb.txt", "b");
    vg().args(["manifest", "generate", "-q"])
        .arg(d.path())
        .assert()
        .success();
    common::write(d.path(), "a.txt", "changed");
    common::write(d.path(), "new.txt", "n");
    let strip = |s: &str| {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    let run = |color: &str| {
        let out = vg()
            .args(["manifest", "verify", "--color", color])
            .arg(d.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8(out.stdout).unwrap()
    };
    let plain = run("never");
    let colored = run("always");
    assert!(colored.contains("\x1b["), "no colour with --color always");
    assert_eq!(strip(&colored), plain, "colour changed the layout");
    assert!(plain.contains("MISMATCH   a.txt"), "{plain}");
    assert!(plain.contains("ok         bb.txt"), "{plain}");
    assert!(plain.contains("UNLISTED   new.txt"), "{plain}");
}

/// Completions for bash, zsh and fish offer the real commands and flags and leave out the
/// hidden ones (`--now`, the `man` command the release script uses).
#[test]
fn completions_leave_hidden_flags_out() {
    for shell in ["bash", "zsh", "fish"] {
        let out = vg().args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        for want in ["verify", "json", "expect-manifest", "envelope"] {
            assert!(text.contains(want), "{shell}: {want} missing");
        }
        assert!(
            !text.contains("--now")
                && !text.contains("-l now")
                && !text.contains("VAULTGATE_NOW")
                && !text.contains("-l now "),
            "{shell}: the hidden --now is offered"
        );
        assert!(
            !text.contains("man page"),
            "{shell}: the hidden man command is offered"
        );
        assert!(
            !text
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '-')
                .any(|w| w == "man"),
            "{shell}: the hidden man command is offered"
        );
    }
    // The bash script is valid bash and registers the completion.
    if common::require("bash") {
        let d = tempfile::tempdir().unwrap();
        let script = d.path().join("vg.bash");
        let out = vg().args(["completions", "bash"]).output().unwrap();
        std::fs::write(&script, out.stdout).unwrap();
        let ok = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {} && complete -p vaultgate",
                script.display()
            ))
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert!(String::from_utf8_lossy(&ok.stdout).contains("vaultgate"));
    }
}

/// `vaultgate man --out DIR` writes one roff page per visible command, and `man` can read
/// each of them; the command itself is hidden from `--help`.
#[test]
fn man_pages_one_per_command() {
    let d = tempfile::tempdir().unwrap();
    let out_dir = d.path().join("man1");
    vg().args(["man", "--out"]).arg(&out_dir).assert().success();
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for want in [
        "vaultgate.1",
        "vaultgate-gate.1",
        "vaultgate-manifest-verify.1",
        "vaultgate-zip-audit.1",
        "vaultgate-journal-append.1",
        "vaultgate-envelope-protect-snapshot.1",
        "vaultgate-completions.1",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    assert!(
        !names
            .iter()
            .any(|n| n == "vaultgate-man.1" || n.contains("help")),
        "{names:?}"
    );
    let page = std::fs::read_to_string(out_dir.join("vaultgate-gate.1")).unwrap();
    assert!(page.contains(".TH vaultgate-gate 1"), "{page}");
    assert!(
        page.contains("expect\\-manifest"),
        "the gate page documents its options"
    );
    assert!(
        !page.contains("\\-\\-now"),
        "the hidden --now is documented"
    );
    let help = vg().arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        !help.lines().any(|l| l.trim_start().starts_with("man ")),
        "the man command is listed in --help"
    );
}

/// `true` when python3 can `import yaml`; otherwise says so loudly (and fails under
/// `VAULTGATE_REQUIRE_INTEROP=1`, as CI sets it), so a missing parser never passes silently.
fn python_yaml() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let msg = "python3 with the `yaml` module (Debian: python3-yaml) is not installed; \
                   the YAML checks of action.yml and docs/examples/gitlab-ci.yml did not run";
        assert!(
            std::env::var_os("VAULTGATE_REQUIRE_INTEROP").is_none_or(|v| v != "1"),
            "{msg}"
        );
        // Straight to the stderr handle: libtest hides `eprintln!` of a passing test.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("SKIPPED: {msg}\n").as_bytes(),
        );
    }
    ok
}

/// Parse a YAML file with PyYAML's safe loader and return it as JSON.
fn yaml_as_json(path: &std::path::Path) -> serde_json::Value {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1], encoding='utf-8'))))",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} is not well-formed YAML: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Replace `${{ inputs.NAME }}` with `inputs[NAME]` (or the declared default); any other
/// expression is returned as an error naming it.
fn expand_inputs(
    text: &str,
    declared: &serde_json::Map<String, serde_json::Value>,
    given: &[(&str, &str)],
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").ok_or("unclosed ${{")? + start;
        let expr = rest[start + 3..end].trim();
        let name = expr.strip_prefix("inputs.").ok_or(expr.to_owned())?;
        let decl = declared
            .get(name)
            .ok_or(format!("`inputs.{name}` is used but not declared"))?;
        let value = given
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| decl["default"].as_str().map(str::to_owned))
            .unwrap_or_default();
        out.push_str(&value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The composite action (and the GitLab example) are well-formed YAML with the promised shape:
/// composite, pinned `uses:`, every `inputs.X` it reads declared, inputs reaching the shell only
/// through `env:`.
#[test]
fn github_action_is_well_formed_needs_python3_yaml() {
    if !python_yaml() {
        return;
    }
    let root = repo_root();
    let gitlab = yaml_as_json(&root.join("docs/examples/gitlab-ci.yml"));
    assert!(gitlab["gate"]["artifacts"]["reports"]["junit"].is_string());
    let action = yaml_as_json(&root.join("action.yml"));
    assert_eq!(action["runs"]["using"], "composite");
    let declared = action["inputs"].as_object().unwrap();
    for want in [
        "bundle",
        "expect-sha256",
        "expect-manifest",
        "run",
        "require",
        "report",
        "format",
        "version",
    ] {
        assert!(declared.contains_key(want), "input {want} missing");
    }
    let raw = std::fs::read_to_string(root.join("action.yml")).unwrap();
    for (i, _) in raw.match_indices("inputs.") {
        let name: String = raw[i + 7..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        assert!(
            declared.contains_key(&name),
            "`inputs.{name}` is not declared"
        );
    }
    let steps = action["runs"]["steps"].as_array().unwrap();
    for step in steps {
        if let Some(uses) = step["uses"].as_str() {
            let (_, tag) = uses.split_once('@').expect("every `uses:` is pinned");
            assert!(tag.starts_with('v'), "{uses}");
        }
        if let Some(run) = step["run"].as_str() {
            assert_eq!(step["shell"], "bash", "{}", step["name"]);
            assert!(
                !run.contains("${{"),
                "{}: an expression pasted into the script",
                step["name"]
            );
        }
    }
    assert!(raw.contains("cargo install --locked --git"));
    assert!(raw.contains("actions/cache@") && raw.contains("actions/upload-artifact@"));
}

/// The action's gate step, run for real by bash with the environment GitHub would give it:
/// on the shipped demo bundle with the manifest pinned it records exit 0 (text and json), with
/// a wrong pin exit 1, and an unknown format is refused.
#[test]
#[allow(clippy::too_many_lines)] // one step, run once per input shape it promises to handle
fn github_action_gate_step_runs_the_gate_needs_python3_yaml() {
    if !python_yaml() {
        return;
    }
    let root = repo_root();
    let action = yaml_as_json(&root.join("action.yml"));
    let declared = action["inputs"].as_object().unwrap();
    let steps = action["runs"]["steps"].as_array().unwrap();
    let gate_step = steps
        .iter()
        .find(|s| s["id"] == "gate")
        .expect("a step with id gate");
    let script = gate_step["run"].as_str().unwrap();
    let bin_dir = assert_cmd::cargo::cargo_bin("vaultgate")
        .parent()
        .unwrap()
        .to_path_buf();
    let run_step = |given: &[(&str, &str)]| {
        let work = tempfile::tempdir().unwrap();
        let gh_out = work.path().join("github_output");
        std::fs::write(&gh_out, "").unwrap();
        let mut cmd = std::process::Command::new("bash");
        cmd.arg("-c").arg(script).current_dir(&root).env_clear();
        cmd.env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()));
        cmd.env("GITHUB_OUTPUT", &gh_out)
            .env("RUNNER_TEMP", work.path())
            .env("HOME", work.path());
        let report = work.path().join("report");
        for (k, v) in gate_step["env"].as_object().unwrap() {
            // The one value from an earlier step: the docs base `where` computes.
            let v = v.as_str().unwrap().replace(
                "${{ steps.where.outputs.docs }}",
                "https://example.org/vaultgate/blob/v0.1.0",
            );
            let v = expand_inputs(&v, declared, given).unwrap();
            let v = if k == "VG_REPORT" {
                report.display().to_string()
            } else {
                v
            };
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let outputs = std::fs::read_to_string(&gh_out).unwrap();
        (out, outputs, work)
    };
    let demo = [
        ("bundle", "fixtures/gate/demo.zip"),
        (
            "expect-manifest",
            "b17eea588fbfef77c9a7ae9d7bd8f3fe73f8bb96ef20e7881d882c37596d800a",
        ),
        ("run", "sh checks.sh\n\n"),
        ("require", "  checks.sh  \nmanifest.txt"),
    ];
    let (out, outputs, _work) = run_step(&demo);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        outputs.contains("exit-code=0\n"),
        "{outputs}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASS"));

    let mut json = demo.to_vec();
    json.push(("format", "json"));
    let (out, outputs, _work) = run_step(&json);
    assert!(out.status.success());
    assert!(outputs.contains("exit-code=0\n"), "{outputs}");
    let file = outputs
        .lines()
        .find_map(|l| l.strip_prefix("output-file="))
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    assert_eq!(doc["summary"]["verdict"], "pass");

    let zeros = "0".repeat(64);
    let mut wrong = demo.to_vec();
    wrong[1] = ("expect-manifest", &zeros);
    let (_, outputs, _work) = run_step(&wrong);
    assert!(outputs.contains("exit-code=1\n"), "{outputs}");

    for (format, marker) in [
        ("sarif", "\"version\": \"2.1.0\""),
        ("junit", "<testsuites "),
    ] {
        let mut ci = demo.to_vec();
        ci.push(("format", format));
        let (out, outputs, _work) = run_step(&ci);
        assert!(out.status.success());
        assert!(outputs.contains("exit-code=0\n"), "{format}: {outputs}");
        let file = outputs
            .lines()
            .find_map(|l| l.strip_prefix("output-file="))
            .unwrap();
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.contains(marker), "{format}: {text}");
        if format == "sarif" {
            assert!(
                text.contains("\"helpUri\": \"https://example.org/vaultgate/blob/v0.1.0/docs/")
            );
        }
    }

    let mut bad = demo.to_vec();
    bad.push(("format", "yaml"));
    let (out, _, _work) = run_step(&bad);
    assert_eq!(out.status.code(), Some(2), "an unknown format is refused");
}

/// `scripts/release.sh` refuses before building anything when the VERSION is not Cargo.toml's
/// or not a version, or when OUTDIR already holds something (which it leaves untouched). The
/// full run (build, tarball, zip pack, the self-gate with both digests pinned) is `.ci/run`'s
/// release step.
#[test]
fn release_script_refuses_before_it_builds() {
    let d = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("vaultgate");
    let run = |args: &[&str]| {
        std::process::Command::new("bash")
            .arg(repo_root().join("scripts/release.sh"))
            .args(args)
            .env("VAULTGATE", &bin)
            .env("VAULTGATE_RELEASE_PROFILE", "dev")
            .output()
            .unwrap()
    };
    let out_dir = d.path().join("dist");
    let out_str = out_dir.to_str().unwrap();
    let wrong = run(&["99.0.0", out_str]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("is not Cargo.toml's version"));
    let bad = run(&["1.0; rm -rf /", out_str]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a version"));
    assert!(!out_dir.exists(), "a refused release created OUTDIR");
    let keep = common::write(&out_dir, "precious.txt", "keep me");
    let full = run(&[env!("CARGO_PKG_VERSION"), out_str]);
    assert_eq!(full.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&full.stderr).contains("is not empty"));
    assert_eq!(std::fs::read_to_string(keep).unwrap(), "keep me");
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 1);
    let usage = run(&[]);
    assert_eq!(usage.status.code(), Some(2));
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
        let shared = help.matches(vaultgate::exit::EXIT_CODES_HELP).count();
        let lists = help.matches("Exit codes:").count();
        if shared != 1 || lists != 1 {
            problems.push(format!(
                "`{path} --help`: shared exit-code text {shared} time(s), `Exit codes:` {lists} time(s)"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
