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
    /// Refused before any write, on what the user has (their object in the way): bad
    /// input, exit 2, not a failed operation.
    refused: bool,
}

impl StepError {
    pub fn msg(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            source: None,
            refused: false,
        }
    }

    /// A refusal: `observe` found that going on would damage what someone else owns, so
    /// nothing is changed (exit 2). The message names what is in the way and the remedy.
    pub fn refused(message: impl Into<String>) -> Self {
        StepError {
            refused: true,
            ..StepError::msg(message)
        }
    }

    pub fn is_refusal(&self) -> bool {
        self.refused
    }

    /// The setup problem ([`crate::aws::SetupError`]) behind this error, if that is what it
    /// is: bad input to fix, not an operation that failed.
    pub fn setup_problem(&self) -> Option<&crate::aws::SetupError> {
        self.source.as_deref()?.downcast_ref()
    }

    /// The AWS error code behind this error, if AWS answered with one.
    pub fn code(&self) -> Option<&str> {
        self.source.as_deref()?.downcast_ref::<AwsError>()?.code()
    }

    pub fn with_source(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StepError {
            message: message.into(),
            source: Some(source.into()),
            refused: false,
        }
    }
}

/// The error AWS returned, as `Code: message` when the service said so, otherwise the
/// transport error with its whole chain (the SDK's own Display says only "service error").
/// The code is kept apart so that a retry can be decided by it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AwsError {
    message: String,
    code: Option<String>,
}

impl AwsError {
    pub fn from_sdk<E, R>(err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        let code = error_code(err).map(str::to_string);
        let message = match err.as_service_error() {
            Some(service) => match (service.code(), service.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ => chain(err),
            },
            None => chain(err),
        };
        AwsError { message, code }
    }

    /// The service's error code (`PreconditionFailed`), if it answered with one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
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

/// S3 answers a HEAD with a bare 404, and names a missing sub-resource in its code.
type HttpResponse = aws_smithy_runtime_api::http::Response;

/// "Not found" as `None`: the one form every step reads an AWS answer in, so that a
/// resource that does not exist is a value, not an error to pattern-match.
pub trait AwsFound<T> {
    /// `Ok(None)` when `service` says the resource does not exist, the answer otherwise;
    /// any other error says what cattube was `doing`.
    fn found(
        self,
        service: crate::Service,
        doing: impl FnOnce() -> String,
    ) -> Result<Option<T>, StepError>;
}

impl<T, E> AwsFound<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn found(
        self,
        service: crate::Service,
        doing: impl FnOnce() -> String,
    ) -> Result<Option<T>, StepError> {
        match self {
            Ok(answer) => Ok(Some(answer)),
            Err(e) if service.not_found(&e) => Ok(None),
            Err(e) => Err(StepError::with_source(doing(), AwsError::from_sdk(&e))),
        }
    }
}

impl crate::Service {
    /// Whether `err` says the resource asked for does not exist, in this service's idiom:
    /// one of its "not found" codes (the service list, `aws.rs`), or for S3 a bare 404 (a
    /// HEAD answer has no body). A missing S3 sub-resource (`NoSuchTagSet`) is not "not
    /// found": see [`absent`].
    pub fn not_found<E: ProvideErrorMetadata>(self, err: &SdkError<E, HttpResponse>) -> bool {
        match error_code(err) {
            Some(code) => self.not_found_codes().contains(&code),
            None => {
                self == crate::Service::S3
                    && err.raw_response().map(|r| r.status().as_u16()) == Some(404)
            }
        }
    }
}

/// An S3 "no such sub-resource" answer (`NoSuchTagSet`, `NoSuchBucketPolicy`): the bucket
/// exists without it.
pub fn absent<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>, codes: &[&str]) -> bool {
    error_code(err).is_some_and(|code| codes.contains(&code))
}

/// The service error code of an SDK error, if the service answered with one.
pub fn error_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Service;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn answer(code: Option<&str>, status: u16) -> SdkError<ErrorMetadata, HttpResponse> {
        let mut meta = ErrorMetadata::builder();
        if let Some(code) = code {
            meta = meta.code(code);
        }
        SdkError::service_error(
            meta.build(),
            HttpResponse::new(status.try_into().unwrap(), SdkBody::empty()),
        )
    }

    #[test]
    fn each_service_says_not_found_its_own_way() {
        let cases = [
            (Service::S3, Some("NoSuchBucket"), 404),
            (Service::S3, None, 404),
            (Service::Iam, Some("NoSuchEntity"), 404),
            (Service::Lambda, Some("ResourceNotFoundException"), 404),
            (Service::MediaConvert, Some("NotFoundException"), 404),
            (Service::CloudFront, Some("NoSuchDistribution"), 404),
            (Service::CloudFront, Some("NoSuchOriginAccessControl"), 404),
            (Service::EventBridge, Some("ResourceNotFoundException"), 400),
            (Service::Sns, Some("NotFound"), 404),
            (Service::Sns, Some("ResourceNotFound"), 404),
            (Service::Logs, Some("ResourceNotFoundException"), 400),
            (Service::Acm, Some("ResourceNotFoundException"), 400),
            (Service::Route53, Some("NoSuchHostedZone"), 404),
            (
                Service::SecretsManager,
                Some("ResourceNotFoundException"),
                400,
            ),
        ];
        for (service, code, status) in cases {
            assert!(
                service.not_found(&answer(code, status)),
                "{service:?} {code:?}"
            );
            // Another service's idiom is not this one's.
            assert!(!service.not_found(&answer(Some("AccessDenied"), 403)));
        }
        assert!(!Service::Lambda.not_found(&answer(Some("NoSuchEntity"), 404)));
        assert!(!Service::S3.not_found(&answer(None, 403)));
    }

    #[test]
    fn a_missing_sub_resource_is_not_a_missing_bucket() {
        let no_tags = answer(Some("NoSuchTagSet"), 404);
        assert!(!Service::S3.not_found(&no_tags));
        assert!(absent(&no_tags, &["NoSuchTagSet"]));
        assert!(!absent(
            &answer(Some("NoSuchBucket"), 404),
            &["NoSuchTagSet"]
        ));
    }
}
