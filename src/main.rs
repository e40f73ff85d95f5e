//! The `vaultgate` binary: parse, run, map the outcome to the process exit code.

fn main() -> std::process::ExitCode {
    vaultgate::cli::run()
}
