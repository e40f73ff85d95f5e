//! `docs/cli.md`, generated from the clap definitions.
//!
//! The test `cli_reference_is_current` (tests/cli.rs) fails when the file is stale; run it with
//! `VAULTGATE_BLESS=1` to rewrite it.

use std::fmt::Write as _;

use clap::CommandFactory;

use super::Cli;

/// The full command-line reference as Markdown: every command's long `--help`.
pub fn markdown() -> String {
    // A fixed width, so the file does not depend on the terminal of whoever regenerates it.
    let mut cmd = Cli::command().term_width(100);
    cmd.build();
    let mut out = String::from(
        "# vaultgate command-line reference\n\n\
         <!-- Generated from the clap definitions; do not edit. Regenerate with\n     \
         `VAULTGATE_BLESS=1 cargo test --locked --test cli`. -->\n",
    );
    walk(&cmd, "vaultgate", &mut out);
    out
}

fn walk(cmd: &clap::Command, path: &str, out: &mut String) {
    let help = cmd.clone().render_long_help().to_string();
    let _ = write!(out, "\n## `{path}`\n\n```text\n{}\n```\n", help.trim_end());
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        walk(sub, &format!("{path} {}", sub.get_name()), out);
    }
}
