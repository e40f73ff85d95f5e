//! The three exit codes, defined once.
//!
//! `0` pass · `1` a check failed or a policy denied · `2` usage, I/O, config or internal error.
//! A partial evaluation never exits `0`: when two outcomes combine, the worse one wins
//! ([`ExitStatus::worst`]), and `Error` is worse than `Fail`.

use std::process::ExitCode;

/// The outcome of one vaultgate command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExitStatus {
    /// Everything checked passed.
    Pass,
    /// A check failed or a policy denied the request.
    Fail,
    /// The check could not run: usage, I/O, configuration or internal error.
    Error,
}

impl ExitStatus {
    /// The process exit code for this status.
    pub fn code(self) -> u8 {
        match self {
            Self::Pass => 0,
            Self::Fail => 1,
            Self::Error => 2,
        }
    }

    /// The worse of two outcomes.
    #[must_use]
    pub fn worst(self, other: Self) -> Self {
        self.max(other)
    }

    /// `pass`, `fail` or `error`, as written in JSON reports.
    pub fn verdict(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Error => "error",
        }
    }

    /// `Pass` when `ok`, else `Fail`.
    pub fn pass_if(ok: bool) -> Self {
        if ok { Self::Pass } else { Self::Fail }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}

/// The text appended to every `--help`: the exit codes, so a script author never has to guess.
/// It is the only place they are written; a command adds what is particular to it (what fails,
/// what cannot run) above it through [`with_exit_codes`].
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  pass: everything checked passed
  1  check failed or policy denied (findings are reported)
  2  could not run: usage, I/O, configuration or internal error";

/// A command's `after_help`: its own text (examples, what fails), then [`EXIT_CODES_HELP`].
/// Use it as `#[command(after_help = with_exit_codes(HELP))]`; `tests/cli.rs` checks that every
/// command's help carries the shared text once.
pub fn with_exit_codes(body: &str) -> String {
    format!("{}\n\n{EXIT_CODES_HELP}", body.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_prefers_error_over_fail_over_pass() {
        assert_eq!(ExitStatus::Pass.worst(ExitStatus::Fail), ExitStatus::Fail);
        assert_eq!(ExitStatus::Error.worst(ExitStatus::Fail), ExitStatus::Error);
        assert_eq!(ExitStatus::Pass.worst(ExitStatus::Pass), ExitStatus::Pass);
        assert_eq!(
            [ExitStatus::Pass, ExitStatus::Fail, ExitStatus::Error].map(ExitStatus::code),
            [0, 1, 2]
        );
    }
}
