//! Errors of the steps: what cattube was doing, and the AWS error that stopped it.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A failed AWS operation: `message` says what cattube was doing, `source` what AWS said.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StepError {
    message: String,
    #[source]
    source: Option<BoxError>,
}

impl StepError {
    pub fn msg(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            source: None,
        }
    }

    /// The setup problem ([`crate::aws::SetupError`]) behind this error, if that is what it
    /// is: bad input to fix, not an operation that failed.
    pub fn setup_problem(&self) -> Option<&crate::aws::SetupError> {
        self.source.as_deref()?.downcast_ref()
    }

    pub fn with_source(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StepError {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

/// The error AWS returned, as `Code: message` when the service said so, otherwise the
/// transport error with its whole chain (the SDK's own Display says only "service error").
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AwsError(pub String);

impl AwsError {
    pub fn from_sdk<E, R>(err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        match err.as_service_error() {
            Some(service) => match (service.code(), service.message()) {
                (Some(code), Some(message)) => AwsError(format!("{code}: {message}")),
                (Some(code), None) => AwsError(code.to_string()),
                _ => AwsError(chain(err)),
            },
            None => AwsError(chain(err)),
        }
    }
}

/// Every message of an error's chain joined by ": ", each said once (the SDK's wrappers
/// often repeat their source's words). Unlike the SDK's `DisplayErrorContext`, it never
/// appends a `Debug` dump: what a person reads is what the errors say.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(err) = next {
        let text = err.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

/// Adds "what cattube was doing" to an SDK result, as cargo-lambda does with anyhow.
pub trait AwsContext<T> {
    fn context(self, doing: impl FnOnce() -> String) -> Result<T, StepError>;
}

impl<T, E, R> AwsContext<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    fn context(self, doing: impl FnOnce() -> String) -> Result<T, StepError> {
        self.map_err(|e| StepError::with_source(doing(), AwsError::from_sdk(&e)))
    }
}

/// The service error code of an SDK error, if the service answered with one.
pub fn error_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code())
}
