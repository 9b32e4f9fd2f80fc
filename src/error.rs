//! Errors that decide the exit code.

use std::fmt;
use std::sync::Arc;

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

/// A Ctrl-C before the command had written anything: exit code 130.
#[derive(Debug)]
pub struct StoppedEarly;

impl fmt::Display for StoppedEarly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted before anything was changed")
    }
}

impl std::error::Error for StoppedEarly {}

/// An error that several places hold (an observation's failure is reported on its resource's
/// line and returned as the run's error): the message of the shared error, and its causes
/// as sources, so that the report's `Caused by` lines and the JSON `error.causes` keep the
/// whole chain.
#[derive(Debug)]
pub struct Shared(pub Arc<anyhow::Error>);

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self.0, f)
    }
}

impl std::error::Error for Shared {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        (**self.0).source()
    }
}

impl Shared {
    pub fn error(err: &Arc<anyhow::Error>) -> anyhow::Error {
        anyhow::Error::new(Shared(err.clone()))
    }
}

/// The exit codes of the CLI contract.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_CONVERGED: u8 = 3;
    /// 128 + SIGINT: interrupted by Ctrl-C.
    pub const INTERRUPTED: u8 = 130;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_error_keeps_its_causes() {
        let inner = anyhow::anyhow!("AccessDenied: no")
            .context("creating bucket b")
            .context("source-bucket failed");
        let shared = Shared::error(&Arc::new(inner));
        let chain: Vec<String> = shared.chain().map(|c| c.to_string()).collect();
        assert_eq!(
            chain,
            [
                "source-bucket failed",
                "creating bucket b",
                "AccessDenied: no"
            ]
        );
    }
}
