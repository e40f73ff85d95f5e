//! The command line: clap derive structs and thin dispatch. The only module that knows argv.
//!
//! Each family has its own `<Family>Cmd` in `src/cli/<family>.rs`; an arm here builds typed
//! input, calls the core, and hands the report to the [`Printer`].

pub mod docs;
mod envelope;
mod gate;
mod grant;
mod journal;
mod lease;
mod manifest;
pub mod vault;
mod zip;

use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::clock::{self, Clock};
use crate::exit::{EXIT_CODES_HELP, ExitStatus};
use crate::output::{ColorWhen, Printer};

/// A fail-closed spine for release pipelines and build agents.
///
/// vaultgate writes and verifies sha256sum-compatible manifests. Every check fails closed: any
/// doubt is a refusal with a specific message and a non-zero exit.
#[derive(Debug, Parser)]
#[command(name = "vaultgate", version, propagate_version = true, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags accepted by every command.
#[derive(Debug, Args)]
struct GlobalArgs {
    /// Print one JSON document on stdout instead of text
    ///
    /// Every document carries `schema` (`vaultgate/<family>/v1`) and a final `summary` with
    /// `verdict` and `exit_code`. Errors also produce a `vaultgate/error/v1` document.
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

    /// Print a shell completion script
    ///
    /// Example: `vaultgate completions bash > /etc/bash_completion.d/vaultgate`
    #[command(after_help = EXIT_CODES_HELP)]
    Completions {
        /// The shell to generate completions for
        shell: clap_complete::Shell,
    },
    /// Audit and pack bundle ZIPs
    #[command(subcommand)]
    Zip(zip::ZipCmd),

    /// Append to and verify hash-chained step journals
    #[command(subcommand)]
    Journal(journal::JournalCmd),

    /// Check operations against an envelope policy
    #[command(subcommand)]
    Envelope(envelope::EnvelopeCmd),

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
}

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
}

/// Parse argv, run the command, return the process exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` exit 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let printer = Printer::new(cli.global.json, cli.global.quiet, cli.global.color.into());
    let clock = match clock::from_override(cli.global.now.as_deref()) {
        Ok(c) => c,
        Err(e) => return printer.error(&e.to_string()).into(),
    };
    let ctx = Ctx {
        printer,
        clock,
        home: cli.global.home,
        token_file: cli.global.token_file,
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

fn dispatch(command: Command, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Manifest(cmd) => manifest::dispatch(cmd, ctx),
        Command::Gate(a) => gate::dispatch(a, ctx),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "vaultgate", &mut out);
            Ok(ctx.printer.product(&String::from_utf8_lossy(&out)))
        }
        Command::Zip(cmd) => zip::dispatch(cmd, ctx),
        Command::Journal(cmd) => journal::run(cmd, ctx),
        Command::Envelope(cmd) => envelope::dispatch(cmd, ctx),
        Command::Vault(cmd) => vault::dispatch(cmd, ctx),
        Command::Provider(cmd) => lease::provider(cmd, ctx),
        Command::Asset(cmd) => lease::asset(cmd, ctx),
        Command::Ingest(cmd) => lease::ingest(cmd, ctx),
        Command::Lease(cmd) => lease::lease(cmd, ctx),
        Command::Grant(cmd) => grant::dispatch(cmd, ctx),
    }
}
