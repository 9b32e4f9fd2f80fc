//! Errors that decide the exit code.

use std::fmt;

/// Bad usage, configuration or input: exit code 2, and nothing was changed.
#[derive(Debug)]
pub struct UsageError(String);

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        UsageError(message.into())
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The user interrupted a command that writes (Ctrl-C): the steps in flight finished and
/// were recorded, the rest were not started. Exit code 130, as a shell reports SIGINT.
#[derive(Debug)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted: state saved; run the command again to continue")
    }
}

impl std::error::Error for Interrupted {}

/// The exit codes of the CLI contract.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_CONVERGED: u8 = 3;
    /// 128 + SIGINT: interrupted by Ctrl-C.
    pub const INTERRUPTED: u8 = 130;
}
