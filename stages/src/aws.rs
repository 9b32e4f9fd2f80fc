//! The AWS client bundle: one SDK configuration from the default chain, one client per
//! service, and the account the credentials belong to.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};

use crate::error::AwsContext;
use crate::StepError;

/// The AWS services cattube calls, one line each, and what is generated from that list:
/// the [`Service`] enum, the [`Clients`] bundle and its constructor ([`Clients::new`]), each
/// service's "not found" codes ([`Service::not_found`]), what the test proxy fakes its
/// errors with ([`Service::signing_name`], [`Service::error_shape`]), and the SDK crates
/// re-exported in [`sdk`] for the tests. A macro because each service is a distinct SDK
/// crate with its own client type: no loop or trait could build the bundle, and a new
/// service was otherwise a dozen edits across both crates and their tests (issue 25).
///
/// A line: `Variant field: sdk_crate, signing "name", ErrorShape, not found [codes]`, then
/// optionally `, tuned f`, where `f(config_builder, &sdk_config)` adds the service's own
/// client settings. Doc comments go to both the variant and the field.
macro_rules! services {
    ($(
        $(#[$doc:meta])*
        $variant:ident $field:ident: $sdk:ident, signing $signing:literal, $shape:ident,
        not found [$($code:literal),*] $(, tuned $tune:expr)?;
    )+) => {
        /// An AWS service cattube calls (its client, its "not found" idiom, its protocol).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Service {
            $($(#[$doc])* $variant,)+
        }

        impl Service {
            /// Every service, in the list's order.
            pub const ALL: &[Service] = &[$(Service::$variant),+];

            /// The name its requests are signed for (the SigV4 credential scope's service).
            pub fn signing_name(self) -> &'static str {
                match self {
                    $(Service::$variant => $signing,)+
                }
            }

            /// How the service shapes its errors on the wire.
            pub fn error_shape(self) -> ErrorShape {
                match self {
                    $(Service::$variant => ErrorShape::$shape,)+
                }
            }

            /// The error codes by which it says a resource does not exist.
            pub fn not_found_codes(self) -> &'static [&'static str] {
                match self {
                    $(Service::$variant => &[$($code),*],)+
                }
            }
        }

        /// One client per AWS service cattube calls.
        #[derive(Clone, Debug)]
        pub struct Clients {
            $($(#[$doc])* pub $field: $sdk::Client,)+
            /// The credentials the clients sign with: upload grants sign with them too
            /// ([`crate::upload_grant`]). `None` in tests that mock the clients.
            pub credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
        }

        impl Clients {
            /// Every client from one SDK configuration, with its service's own settings.
            pub fn new(sdk: &SdkConfig) -> Clients {
                Clients::intercepted(sdk, None)
            }

            /// [`Clients::new`], with `interceptor` on every client (tests: mocked answers).
            pub fn intercepted(sdk: &SdkConfig, interceptor: Option<SharedInterceptor>) -> Clients {
                Clients {
                    $($field: {
                        let mut config = $sdk::config::Builder::from(sdk);
                        if let Some(interceptor) = &interceptor {
                            config.push_interceptor(interceptor.clone());
                        }
                        $(let config = tuned::<$sdk::config::Builder>($tune)(config, sdk);)?
                        $sdk::Client::from_conf(config.build())
                    },)+
                    credentials: sdk.credentials_provider(),
                }
            }
        }

        /// The SDK crates, for code that names their types without depending on them.
        pub mod sdk {
            $(pub use $sdk;)+
        }
    };
}

services! {
    S3 s3: aws_sdk_s3, signing "s3", S3Xml,
        not found ["NoSuchBucket", "NoSuchKey", "NotFound"], tuned s3_settings;
    Iam iam: aws_sdk_iam, signing "iam", QueryXml, not found ["NoSuchEntity"];
    Lambda lambda: aws_sdk_lambda, signing "lambda", RestJson,
        not found ["ResourceNotFoundException"];
    // The regional endpoint: DescribeEndpoints is deprecated.
    MediaConvert mediaconvert: aws_sdk_mediaconvert, signing "mediaconvert", RestJson,
        not found ["NotFoundException"];
    CloudFront cloudfront: aws_sdk_cloudfront, signing "cloudfront", QueryXml,
        not found [
            "NoSuchDistribution", "NoSuchOriginAccessControl", "NoSuchResource", "NoSuchPublicKey"
        ];
    EventBridge eventbridge: aws_sdk_eventbridge, signing "events", RestJson,
        not found ["ResourceNotFoundException"];
    // SNS's query protocol names its NotFoundException `NotFound`, and the
    // ResourceNotFoundException of the tagging calls `ResourceNotFound`.
    Sns sns: aws_sdk_sns, signing "sns", QueryXml, not found ["NotFound", "ResourceNotFound"];
    /// CloudWatch Logs: the function's log group.
    Logs logs: aws_sdk_cloudwatchlogs, signing "logs", RestJson,
        not found ["ResourceNotFoundException"];
    /// ACM, always in us-east-1 ([`ACM_REGION`]): the only region whose certificates
    /// CloudFront accepts.
    Acm acm: aws_sdk_acm, signing "acm", RestJson, not found ["ResourceNotFoundException"],
        tuned |config, _| config.region(Region::new(ACM_REGION));
    // Route 53 is REST-XML with the query protocol's `<ErrorResponse>`, as CloudFront.
    Route53 route53: aws_sdk_route53, signing "route53", QueryXml,
        not found ["NoSuchHostedZone"];
    /// Secrets Manager: the private key a private stack signs with.
    SecretsManager secrets: aws_sdk_secretsmanager, signing "secretsmanager", RestJson,
        not found ["ResourceNotFoundException"];
    /// STS: the account the credentials belong to ([`Clients::account_id`]).
    Sts sts: aws_sdk_sts, signing "sts", QueryXml, not found [];
    /// The Resource Groups Tagging API: every stack's resources by their tags (`stacks`).
    Tagging tagging: aws_sdk_resourcegroupstagging, signing "tagging", RestJson, not found [];
    /// Service Quotas in us-east-1, where CloudFront's (global) quotas are applied
    /// ([`crate::quota`]).
    ServiceQuotas servicequotas: aws_sdk_servicequotas, signing "servicequotas", RestJson,
        not found [], tuned |config, _| config.region(Region::new(ACM_REGION));
}

/// How a service shapes its errors: what a fake one must look like (the test proxy's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorShape {
    /// S3's REST-XML `<Error>`.
    S3Xml,
    /// The query protocol's (and CloudFront's and Route 53's REST-XML) `<ErrorResponse>`.
    QueryXml,
    /// REST-JSON and JSON 1.1: the code in `x-amzn-ErrorType`.
    RestJson,
}

/// A service's `tuned` settings, typed for its config builder (which a closure's
/// parameters could not name otherwise).
fn tuned<B>(f: impl FnOnce(B, &SdkConfig) -> B) -> impl FnOnce(B, &SdkConfig) -> B {
    f
}

/// S3 behind a local endpoint (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`) needs path-style
/// addressing: a local endpoint has no per-bucket host names. Every S3 call retries
/// [`OperationAborted`].
fn s3_settings(
    config: aws_sdk_s3::config::Builder,
    sdk: &SdkConfig,
) -> aws_sdk_s3::config::Builder {
    let endpoint_overridden = sdk.endpoint_url().is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty());
    config
        .force_path_style(endpoint_overridden)
        .retry_classifier(OperationAborted)
}

/// CloudFront takes certificates from ACM in this region only.
pub const ACM_REGION: &str = "us-east-1";

/// Where and as whom to talk to AWS. `None` leaves the choice to the SDK's default chain
/// (environment, shared config and credentials files, SSO, container and instance roles).
#[derive(Clone, Debug, Default)]
pub struct Connection {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// Resolve the credentials before returning the clients ([`connect`]).
    pub check_credentials: bool,
}

/// What stops the AWS SDK from acting for this user, said in one line with the remedy.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("profile '{profile}' is not in {config} or {credentials}: check the name (`aws configure list-profiles`), or set up the profile with `aws configure --profile {profile}`")]
    NoSuchProfile {
        profile: String,
        config: String,
        credentials: String,
    },
    #[error("cannot read the AWS profiles: {0}")]
    BadProfiles(String),
    /// `hint`: why the last provider of the chain found none, when it says more than
    /// "not configured" (instance metadata refused the request, an SSO token expired…).
    #[error("no AWS credentials found: set AWS_PROFILE, run `aws sso login`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY{}", hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    NoCredentials { hint: Option<String> },
}

/// Refuses a profile (`--profile`, else `AWS_PROFILE`) that no shared config or credentials
/// file defines, before any request: the SDK would otherwise fail later with an error that
/// never names the profile. The files are found and parsed by the SDK itself
/// (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, `~/.aws/…`).
pub async fn check_profile(profile: Option<&str>) -> Result<(), SetupError> {
    use aws_types::os_shim_internal::{Env, Fs};
    let env = Env::real();
    let selected = profile
        .map(str::to_string)
        .or_else(|| env.get("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
    // A missing `default` profile is no error to the SDK: its chain goes on to the
    // environment's keys and the instance or container role, as CI runners set them.
    let Some(selected) = selected.filter(|p| p != "default") else {
        return Ok(());
    };
    // The SDK's default files (its `EnvConfigFiles`), as its own loader finds them.
    let files = Default::default();
    let profiles =
        aws_config::profile::load(&Fs::real(), &env, &files, Some(selected.clone().into()))
            .await
            .map_err(|e| SetupError::BadProfiles(crate::error::chain(&e)))?;
    if profiles.get_profile(&selected).is_some() {
        return Ok(());
    }
    let shown = |key: &str, default: &str| env.get(key).unwrap_or_else(|_| default.to_string());
    Err(SetupError::NoSuchProfile {
        profile: selected,
        config: shown("AWS_CONFIG_FILE", "~/.aws/config"),
        credentials: shown("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
    })
}

/// The credentials chain's failure in a failed call, if that is why it failed. Whatever the
/// last provider says (none configured, instance metadata refused, an expired SSO token),
/// the call had no credentials to sign with.
fn no_credentials(err: &(dyn std::error::Error + 'static)) -> Option<SetupError> {
    use aws_credential_types::provider::error::CredentialsError;
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(failure) = err.downcast_ref::<CredentialsError>() {
            return Some(SetupError::NoCredentials {
                hint: credentials_hint(failure),
            });
        }
        next = err.source();
    }
    None
}

/// Why no provider found credentials, in a few words; `None` when none is configured at
/// all (the remedy says everything). Instance metadata is the chain's last resort: off an
/// EC2 instance it refuses (403) or does not answer, which the SDK reports in its own terms.
fn credentials_hint(
    failure: &aws_credential_types::provider::error::CredentialsError,
) -> Option<String> {
    use aws_credential_types::provider::error::CredentialsError;
    if matches!(failure, CredentialsError::CredentialsNotLoaded(_)) {
        return None;
    }
    let said = crate::error::chain(failure);
    let lower = said.to_ascii_lowercase();
    Some(if !lower.contains("imds") {
        said.lines().next().unwrap_or_default().to_string()
    } else if lower.contains("forbidden") || lower.contains("403") {
        "instance metadata refused the request".to_string()
    } else if lower.contains("timeout") || lower.contains("timed out") {
        "instance metadata did not answer in time".to_string()
    } else {
        "instance metadata could not be reached".to_string()
    })
}

/// The local emulator the SDK is pointed at, if it is one: the endpoint Lambda calls go to
/// (`AWS_ENDPOINT_URL_LAMBDA`, else `AWS_ENDPOINT_URL`, as the SDK reads them) when it is a
/// loopback address. What upload triggers there differs from AWS: moto runs no Lambda
/// function, so nothing converts. The local cloud (`scripts/local-cloud`, which sets
/// `CATTUBE_CDN_ENDPOINT`) runs the function and converts: it is not such an emulator.
pub fn local_emulator() -> Option<String> {
    let set = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
    if set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || set("CATTUBE_CDN_ENDPOINT").is_some()
    {
        return None;
    }
    let url = set("AWS_ENDPOINT_URL_LAMBDA").or_else(|| set("AWS_ENDPOINT_URL"))?;
    let host = url.split("://").nth(1)?.split(['/', '?']).next()?;
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback.then_some(url)
}

/// The region the SDK's default chain resolves when cattube is given none.
pub async fn default_region(profile: Option<&str>) -> Option<String> {
    let mut chain = aws_config::default_provider::region::DefaultRegionChain::builder();
    if let Some(profile) = profile {
        chain = chain.profile_name(profile);
    }
    chain.build().region().await.map(|r| r.to_string())
}

/// Attempts per call, the first included (the SDK's default is 3).
///
/// The retry policy, chosen deliberately: the SDK's *standard* mode (not adaptive: cattube
/// makes a few dozen calls, client-side rate limiting buys nothing), with 5 attempts and the
/// SDK's exponential backoff with full jitter (1 s base, 20 s cap), so one call waits at most
/// about 1 + 2 + 4 + 8 = 15 s before its last attempt. Standard mode retries throttling
/// (`Throttling`, `SlowDown`, `TooManyRequestsException`, HTTP 429 …), transient errors (HTTP
/// 500, 502, 503, 504, `RequestTimeout`…) and I/O errors, within its retry quota; it never
/// retries an error the caller must act on (`AccessDenied`, validation, not found), which
/// fails the step at once and is reported with the AWS error code. What AWS has not yet
/// propagated (a fresh role, an invoke permission) is a different matter, retried by the
/// steps themselves with a bound (see `retry.rs`). Proved end to end by the `throttling_*`
/// test in `tests/reliability.rs`, which answers every write once with 429/503/500.
pub const MAX_ATTEMPTS: u32 = 5;

/// Builds the clients. `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` are honoured by
/// the SDK itself; S3 then needs path-style addressing, since a local endpoint has no
/// per-bucket host names.
///
/// With `check_credentials`, the credentials are resolved first, without any AWS request (the keys in the
/// environment or the profile's files; a role or SSO profile asks its own service), so
/// that no credentials is said before anything is written, even a lock file.
pub async fn connect(connection: &Connection) -> Result<Clients, SetupError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
    if let Some(region) = &connection.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &connection.profile {
        loader = loader.profile_name(profile);
    }
    let sdk = loader.load().await;
    if connection.check_credentials {
        check_credentials(&sdk).await?;
    }
    Ok(Clients::new(&sdk))
}

/// Every CloudFront distribution of the account, whoever made it (CloudFront is global).
pub async fn all_distributions(
    cf: &aws_sdk_cloudfront::Client,
) -> Result<Vec<aws_sdk_cloudfront::types::DistributionSummary>, StepError> {
    let mut all = Vec::new();
    let mut pages = cf.list_distributions().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.context(|| "listing CloudFront distributions".to_string())?;
        all.extend(
            page.distribution_list()
                .map(|l| l.items().to_vec())
                .unwrap_or_default(),
        );
    }
    Ok(all)
}

async fn check_credentials(sdk: &aws_config::SdkConfig) -> Result<(), SetupError> {
    use aws_credential_types::provider::ProvideCredentials;
    let Some(provider) = sdk.credentials_provider() else {
        return Err(SetupError::NoCredentials { hint: None });
    };
    match provider.provide_credentials().await {
        Ok(_) => Ok(()),
        Err(failure) => Err(SetupError::NoCredentials {
            hint: credentials_hint(&failure),
        }),
    }
}

/// S3 answers a write that overlaps another write to the same bucket's configuration with
/// 409 `OperationAborted` ("A conflicting conditional operation is currently in progress
/// against this resource. Please try again."). `up` sends a new bucket's tagging, public
/// access block, encryption and policy together, which real S3 may refuse so (Terraform's
/// provider met it: hashicorp/terraform-provider-aws#7628), and the SDK's standard mode does
/// not retry it. This classifier makes it a transient error of every S3 call, so it gets the
/// same bounded retries as throttling (`MAX_ATTEMPTS`, backoff with jitter) while the writes
/// still go out together: no round is lost when S3 does not object.
///
/// The S3 client's errors are typed per operation, so a client-wide classifier reads the
/// code from the raw answer (S3's REST-XML `<Error><Code>`), which the SDK has buffered by
/// the time it classifies.
#[derive(Debug)]
pub struct OperationAborted;

impl ClassifyRetry for OperationAborted {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let failed = matches!(ctx.output_or_error(), Some(Err(_)));
        let aborted = ctx.response().is_some_and(|response| {
            response.status().as_u16() == 409
                && response
                    .body()
                    .bytes()
                    .is_some_and(|body| s3_error_code(body) == Some("OperationAborted"))
        });
        if failed && aborted {
            RetryAction::transient_error()
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "S3 OperationAborted"
    }
}

/// The `<Code>` of an S3 REST-XML error body.
fn s3_error_code(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    Some(text[start..start + len].trim())
}

impl Clients {
    /// The account the credentials belong to (STS GetCallerIdentity).
    pub async fn account_id(&self) -> Result<String, StepError> {
        let identity = match self.sts.get_caller_identity().send().await {
            Err(e) => match no_credentials(&e) {
                Some(problem) => return Err(StepError::with_source(problem.to_string(), problem)),
                None => Err(e)
                    .context(|| "finding the AWS account (sts:GetCallerIdentity)".to_string())?,
            },
            Ok(identity) => identity,
        };
        identity
            .account
            .ok_or_else(|| StepError::msg("sts:GetCallerIdentity returned no account"))
    }
}

/// The bytes at `url`, with a plain GET (a presigned URL AWS hands out, such as the code of
/// a Lambda function version): through the SDK's own HTTPS client, so no second one.
pub async fn download(url: &str) -> Result<Vec<u8>, crate::StepError> {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    use aws_smithy_runtime_api::client::http::HttpConnector;
    let fail = |e: Box<dyn std::error::Error + Send + Sync>| {
        crate::StepError::with_source("downloading the code of a Lambda function version", e)
    };
    let connector = aws_smithy_http_client::Connector::builder()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .build();
    let request = aws_smithy_runtime_api::http::Request::get(url).map_err(|e| fail(e.into()))?;
    let response = connector.call(request).await.map_err(|e| fail(e.into()))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(crate::StepError::msg(format!(
            "downloading the code of a Lambda function version: HTTP {status}"
        )));
    }
    let bytes = aws_smithy_types::byte_stream::ByteStream::new(response.into_body())
        .collect()
        .await
        .map_err(|e| fail(e.into()))?;
    Ok(bytes.to_vec())
}
