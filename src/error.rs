//! Errors that decide the exit code.

use std::fmt;
use std::sync::Arc;

/// Bad usage, configuration or input: exit code 2, and nothing was changed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(String);

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        UsageError(message.into())
    }
}

/// The user interrupted a command that writes (Ctrl-C): the steps in flight finished and
/// were recorded, the rest were not started. Exit code 130, as a shell reports SIGINT.
#[derive(Debug, thiserror::Error)]
#[error("interrupted: state saved; run the command again to continue")]
pub struct Interrupted;

/// A Ctrl-C before the command had written anything: exit code 130.
#[derive(Debug, thiserror::Error)]
#[error("interrupted before anything was changed")]
pub struct StoppedEarly;

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

/// How a command ended: the exit codes of the CLI contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success = 0,
    /// An AWS operation failed, or another cattube holds the state lock.
    Failure = 1,
    /// Bad usage, configuration or input: nothing was changed.
    Usage = 2,
    /// `status` found something missing or drifted; `plan` found changes.
    Drift = 3,
    /// 128 + SIGINT: interrupted by Ctrl-C.
    Interrupted = 130,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// [`ExitStatus::Drift`] when `drifted`, else success.
    pub fn drift_if(drifted: bool) -> ExitStatus {
        if drifted {
            ExitStatus::Drift
        } else {
            ExitStatus::Success
        }
    }

    /// The status of a failed command: what its chain of causes says it was.
    pub fn of_error(err: &anyhow::Error) -> ExitStatus {
        if err.chain().any(|cause| cause.is::<UsageError>()) {
            ExitStatus::Usage
        } else if err
            .chain()
            .any(|cause| cause.is::<Interrupted>() || cause.is::<StoppedEarly>())
        {
            ExitStatus::Interrupted
        } else {
            ExitStatus::Failure
        }
    }

    /// Ends the process now (a second Ctrl-C).
    pub fn exit_now(self) -> ! {
        std::process::exit(self.code().into())
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_contract() {
        let codes = [
            ExitStatus::Success,
            ExitStatus::Failure,
            ExitStatus::Usage,
            ExitStatus::Drift,
            ExitStatus::Interrupted,
        ]
        .map(ExitStatus::code);
        assert_eq!(codes, [0, 1, 2, 3, 130]);
        let usage = anyhow::Error::new(UsageError::new("bad")).context("while reading");
        assert_eq!(ExitStatus::of_error(&usage), ExitStatus::Usage);
        let stopped = anyhow::Error::new(StoppedEarly);
        assert_eq!(ExitStatus::of_error(&stopped), ExitStatus::Interrupted);
        assert_eq!(
            ExitStatus::of_error(&anyhow::anyhow!("AccessDenied")),
            ExitStatus::Failure
        );
    }

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
