//! The command line: clap derive structs and thin dispatch. The only module that knows argv.
//!
//! Each family has its own `<Family>Cmd` in `src/cli/<family>.rs`; an arm here builds typed
//! input, calls the core, and hands the report to the [`Printer`].

mod agent;
pub mod docs;
mod envelope;
mod gate;
mod grant;
mod journal;
mod lease;
mod manifest;
pub mod vault;
mod zip;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::clock::{self, Clock};
use crate::exit::{EXIT_CODES_HELP, ExitStatus};
use crate::output::{ColorWhen, Printer};

/// A fail-closed spine for release pipelines and build agents
///
/// vaultgate checks what a release pipeline or a build agent is about to trust: the files of a
/// tree (sha256sum-compatible manifests), the bundle ZIP that carries them (a raw-structure
/// audit, then a gate that extracts, verifies and runs checks in a clean workspace), the log of
/// what was done (a hash-chained journal) and what an agent may do (an envelope policy), and keeps
/// secrets in a local vault (tokens and capabilities, an append-only audit log). Every
/// check fails closed: any doubt is a refusal with a specific message and a non-zero exit.
#[derive(Debug, Parser)]
#[command(
    name = "vaultgate",
    version = env!("VAULTGATE_VERSION"),
    propagate_version = true,
    max_term_width = 100,
    after_help = top_help(false),
    after_long_help = top_help(true)
)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// The heading every subcommand's `--help` shows the global flags under, after its own options.
pub const GLOBAL_HEADING: &str = "Global options";

/// The three commands a new user wants first, then the exit codes.
fn top_help(long: bool) -> String {
    let more = if long {
        "\n\nEach family has its own page: `vaultgate <family> --help`, docs/<family>.md, and\n\
         `man vaultgate-<family>-<command>` when the man pages are installed."
    } else {
        ""
    };
    format!(
        "Start here:
  vaultgate manifest generate dist          # write dist/manifest.txt (sha256sum -c reads it)
  vaultgate zip pack dist -o bundle.zip     # a reproducible bundle; prints the digests to publish
  vaultgate gate bundle.zip --expect-sha256 <hex> --expect-manifest <hex> --run 'sh checks.sh'{more}

{EXIT_CODES_HELP}"
    )
}

/// Flags accepted by every command.
#[derive(Debug, Args)]
#[command(next_help_heading = GLOBAL_HEADING)]
struct GlobalArgs {
    /// Print one JSON document on stdout instead of text
    ///
    /// Every document carries `schema` (`vaultgate/<family>/v1`) and a final `summary` with
    /// `verdict` and `exit_code`. Errors, usage errors included, produce a `vaultgate/error/v1`
    /// document (exit 2).
    #[arg(long, global = true)]
    json: bool,

    /// Print nothing on success; on failure print one summary line on stderr
    #[arg(short, long, global = true)]
    quiet: bool,

    /// When to colour text output
    ///
    /// `auto` colours only when stdout is a terminal and `NO_COLOR` is unset or empty.
    #[arg(long, global = true, value_enum, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    color: ColorArg,

    /// Fix the clock to an RFC 3339 UTC instant (for tests and reproducible runs)
    #[arg(
        long,
        global = true,
        hide = true,
        env = "VAULTGATE_NOW",
        value_name = "RFC3339"
    )]
    now: Option<String>,

    /// The vault home (default `~/.vaultgate`)
    ///
    /// Used by the commands that open a vault (`init`, `status`, `token`, `audit`, …).
    #[arg(long, global = true, env = "VAULTGATE_HOME", value_name = "DIR")]
    home: Option<std::path::PathBuf>,

    /// Read the vault token from this file (0600) instead of `VAULTGATE_TOKEN`
    ///
    /// A token is never accepted as a command-line argument: argv is visible to every user.
    #[arg(long, global = true, value_name = "FILE")]
    token_file: Option<std::path::PathBuf>,
}

/// `--color`: the CLI's own enum, mapped onto [`ColorWhen`] (the core knows no clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorArg {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty.
    Auto,
    /// Always colour (overrides `NO_COLOR`).
    Always,
    /// Never colour.
    Never,
}

impl From<ColorArg> for ColorWhen {
    fn from(a: ColorArg) -> Self {
        match a {
            ColorArg::Auto => Self::Auto,
            ColorArg::Always => Self::Always,
            ColorArg::Never => Self::Never,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write and verify sha256sum-compatible manifests
    #[command(subcommand)]
    Manifest(manifest::ManifestCmd),

    /// Run the audit gate on a bundle
    #[command(after_help = crate::exit::with_exit_codes(gate::GATE_HELP))]
    Gate(gate::GateArgs),

    /// Audit and pack bundle ZIPs
    #[command(subcommand)]
    Zip(zip::ZipCmd),

    /// Append to and verify hash-chained step journals
    #[command(subcommand)]
    Journal(journal::JournalCmd),

    /// Check operations against an envelope policy
    #[command(subcommand)]
    Envelope(envelope::EnvelopeCmd),

    /// Discover, install, build, enable, run and stop OpenSentience agents
    #[command(subcommand)]
    Agent(agent::AgentCmd),

    #[command(flatten)]
    Vault(vault::VaultCmd),

    /// Add providers and their capabilities to the vault's configuration
    #[command(subcommand)]
    Provider(lease::ProviderCmd),

    /// Register project folders (assets) with their owners
    #[command(subcommand)]
    Asset(lease::AssetCmd),

    /// Scan a project's declared capabilities and bind it into a contract
    #[command(subcommand)]
    Ingest(lease::IngestCmd),

    /// Borrow a secret for a bounded time and scope, and run a command with it
    #[command(subcommand)]
    Lease(lease::LeaseCmd),

    /// Mint, consume and revoke single-use build grants (one protocol line each)
    #[command(subcommand)]
    Grant(grant::GrantCmd),

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    ///
    /// Hidden flags and commands are left out. See docs/completions.md for where each shell
    /// looks for the script.
    #[command(after_help = crate::exit::with_exit_codes(COMPLETIONS_HELP))]
    Completions {
        /// The shell to generate completions for
        shell: clap_complete::Shell,
    },

    /// Write one man page per command into DIR (used by the release script)
    #[command(
        hide = true,
        after_help = crate::exit::with_exit_codes("Example:\n  vaultgate man --out target/man1")
    )]
    Man {
        /// The folder to write `vaultgate.1`, `vaultgate-manifest-verify.1`, … into (created if absent)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

const COMPLETIONS_HELP: &str = "\
Examples:
  vaultgate completions bash > ~/.local/share/bash-completion/completions/vaultgate
  vaultgate completions zsh > ~/.zfunc/_vaultgate      # with fpath+=~/.zfunc before compinit
  vaultgate completions fish > ~/.config/fish/completions/vaultgate.fish";

/// What every dispatch arm gets: the printer and the clock.
pub struct Ctx {
    /// The one writer of output.
    pub printer: Printer,
    /// The (possibly fixed) clock.
    pub clock: Box<dyn Clock>,
    /// `--home` / `VAULTGATE_HOME`.
    pub home: Option<std::path::PathBuf>,
    /// `--token-file`.
    pub token_file: Option<std::path::PathBuf>,
    /// `VAULTGATE_DOCS_URL`: an absolute base for the documentation links in SARIF rules.
    pub docs_url: Option<String>,
}

/// `--format` of the commands whose findings CI systems read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Human text (the default)
    #[default]
    Text,
    /// The command's JSON document (the same as `--json`)
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF readers
    Sarif,
}

/// `vaultgate gate --format`: the findings formats plus JUnit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum GateFormat {
    /// Human text (the default)
    #[default]
    Text,
    /// The `vaultgate/gate/v1` document (the same as `--json`)
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF readers
    Sarif,
    /// JUnit XML: one testcase per step and per check (GitLab, Jenkins)
    Junit,
}

/// The `--format` flag, flattened into each command that offers SARIF.
#[derive(Debug, Clone, Copy, Args)]
pub struct FormatArg {
    /// Output format: text, json (as --json) or sarif (SARIF 2.1.0, see docs/ci.md)
    ///
    /// The exit code is the command's usual one whatever the format. A command that could not
    /// run (exit 2) prints its error on stderr and no SARIF.
    #[arg(long, value_enum, default_value_t = Format::Text, value_name = "FORMAT")]
    pub format: Format,
}

impl Ctx {
    /// Print `report` in `format`: text and JSON through the printer, SARIF from the run that
    /// `sarif` builds (over the same report's findings). `--json` with `--format sarif` is a
    /// contradiction and refused.
    pub fn emit_as<'a>(
        &self,
        format: Format,
        report: &'a dyn crate::output::Render,
        sarif: impl FnOnce() -> crate::sarif::Run<'a>,
    ) -> anyhow::Result<ExitStatus> {
        match format {
            Format::Text => Ok(self.printer.emit(report)),
            Format::Json => Ok(Printer::new(true, false, ColorWhen::Never).emit(report)),
            Format::Sarif => {
                let mut run = sarif();
                run.status = report.status();
                run.docs_base.clone_from(&self.docs_url);
                self.product_for(&crate::sarif::render(&run), report.status(), "sarif")
            }
        }
    }

    /// Print a CI document (SARIF, JUnit) on stdout; the exit status stays the report's, and a
    /// document that could not be delivered is never a pass.
    pub fn product_for(
        &self,
        text: &str,
        status: ExitStatus,
        what: &str,
    ) -> anyhow::Result<ExitStatus> {
        if self.printer.is_json() {
            anyhow::bail!(
                "`--json` and `--format {what}` ask for two documents on one stdout\n\
                 help: pass one of them"
            );
        }
        let written = Printer::new(false, false, ColorWhen::Never).product(text);
        Ok(if written == ExitStatus::Error {
            ExitStatus::Error.worst(status)
        } else {
            status
        })
    }
}

/// `VAULTGATE_DOCS_URL`, when set: it must be an absolute http(s) URL (SARIF's `helpUri`
/// requires one), else the command refuses to run.
fn docs_url() -> anyhow::Result<Option<String>> {
    let Some(raw) = std::env::var_os("VAULTGATE_DOCS_URL") else {
        return Ok(None);
    };
    let url = raw
        .into_string()
        .map_err(|_| anyhow::anyhow!("`VAULTGATE_DOCS_URL` is not UTF-8"))?;
    if url.is_empty() {
        return Ok(None);
    }
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() > "https://".len()
        && url
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '<' | '>' | '\\' | '`'));
    if !ok {
        anyhow::bail!(
            "invalid `VAULTGATE_DOCS_URL` `{}`: expected an absolute http(s) URL such as \
             https://example.org/vaultgate/blob/v0.1.0",
            crate::report::escape_for_display(&url)
        );
    }
    Ok(Some(url))
}

/// Parse argv, run the command, return the process exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let printer = Printer::new(cli.global.json, cli.global.quiet, cli.global.color.into());
    let clock = match clock::from_override(cli.global.now.as_deref()) {
        Ok(c) => c,
        Err(e) => return printer.error(&e.to_string()).into(),
    };
    let docs_url = match docs_url() {
        Ok(u) => u,
        Err(e) => return printer.error(&e.to_string()).into(),
    };
    let ctx = Ctx {
        printer,
        clock,
        home: cli.global.home,
        token_file: cli.global.token_file,
        docs_url,
    };
    match dispatch(cli.command, &ctx) {
        Ok(status) => status.into(),
        Err(e) => ctx.printer.error(&error_message(&e)).into(),
    }
}

/// The error and its causes on one line, each cause once: vaultgate's own errors already carry
/// their cause in their text (`cannot open `x`: No such file…`), so a cause is appended only when
/// the message does not contain it yet.
fn error_message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

/// A clap outcome that is not a parsed command line. `--help` and `--version` print their text
/// and exit 0. A usage error prints clap's message (with its near-match tip) on stderr and exits
/// 2; with `--json` anywhere before `--`, stdout also gets the `vaultgate/error/v1` document,
/// so a machine reader never parses an empty stream.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let _ = e.print();
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return ExitCode::SUCCESS;
    }
    let json = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    if json {
        // clap's text: `error: …` (with the offending names on the next lines), blank, `tip: …`
        // lines, then `Usage: …`. The message is everything before the first tip or usage line.
        let text = e.render().to_string();
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let body: Vec<&str> = lines
            .iter()
            .take_while(|l| {
                !l.starts_with("tip: ")
                    && !l.starts_with("Usage: ")
                    && !l.starts_with("For more information")
            })
            .copied()
            .collect();
        let joined = body.join(" ");
        let message = joined.strip_prefix("error: ").unwrap_or(&joined);
        let tips: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("tip: "))
            .collect();
        let mut doc = serde_json::json!({
            "schema": "vaultgate/error/v1",
            "error": message,
            "kind": "usage",
            "summary": {"verdict": "error", "exit_code": ExitStatus::Error.code()},
        });
        if !tips.is_empty() {
            doc["help"] = serde_json::Value::from(tips.join("; "));
        }
        let printer = Printer::new(true, false, ColorWhen::Never);
        let _ = printer.product(&serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    ExitStatus::Error.into()
}

/// Every command's man page, rendered from the clap definition (hidden commands left out), as
/// `(file name, roff)` pairs: `vaultgate.1`, `vaultgate-manifest.1`, `vaultgate-manifest-verify.1`…
pub fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    fn walk(cmd: &clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
        let man = clap_mangen::Man::new(cmd.clone());
        let mut buf = Vec::new();
        man.render(&mut buf)?;
        out.push((man.get_filename(), buf));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, out)?;
        }
        Ok(())
    }
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, &mut out)?;
    Ok(out)
}

fn write_man_pages(dir: &Path, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    use anyhow::Context as _;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let pages = man_pages().context("cannot render the man pages")?;
    let mut written = String::new();
    for (name, roff) in &pages {
        let path = dir.join(name);
        crate::fsutil::write_atomic_bytes(&path, roff)?;
        written.push_str(&format!("{}\n", path.display()));
    }
    Ok(ctx.printer.product(&written))
}

/// A copy of a built command without its hidden flags and subcommands (`--now`, `man`):
/// clap_complete's bash and zsh generators would offer them otherwise.
fn visible(cmd: &clap::Command) -> clap::Command {
    let mut out = clap::Command::new(cmd.get_name().to_owned())
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true);
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        out = out.version(version.to_owned());
    }
    out.args(cmd.get_arguments().filter(|a| !a.is_hide_set()).map(|a| {
        // Conflicts may name a hidden flag (`--structure-only` against the hidden `--deep`):
        // keep only those with visible flags, or clap refuses the copy.
        let keep: Vec<clap::Id> = cmd
            .get_arg_conflicts_with(a)
            .into_iter()
            .filter(|c| !c.is_hide_set())
            .map(|c| c.get_id().clone())
            .collect();
        a.clone()
            .global(false)
            .conflicts_with(clap::builder::Resettable::<clap::Id>::Reset)
            .conflicts_with_all(keep)
    }))
    .subcommands(
        cmd.get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(visible),
    )
}

fn dispatch(command: Command, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Manifest(cmd) => manifest::dispatch(cmd, ctx),
        Command::Gate(a) => gate::dispatch(a, ctx),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            cmd.build();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut visible(&cmd), "vaultgate", &mut out);
            Ok(ctx.printer.product(&String::from_utf8_lossy(&out)))
        }
        Command::Zip(cmd) => zip::dispatch(cmd, ctx),
        Command::Journal(cmd) => journal::run(cmd, ctx),
        Command::Envelope(cmd) => envelope::dispatch(cmd, ctx),
        Command::Agent(cmd) => agent::dispatch(cmd, ctx),
        Command::Man { out } => write_man_pages(&out, ctx),
        Command::Vault(cmd) => vault::dispatch(cmd, ctx),
        Command::Provider(cmd) => lease::provider(cmd, ctx),
        Command::Asset(cmd) => lease::asset(cmd, ctx),
        Command::Ingest(cmd) => lease::ingest(cmd, ctx),
        Command::Lease(cmd) => lease::lease(cmd, ctx),
        Command::Grant(cmd) => grant::dispatch(cmd, ctx),
    }
}
