//! A stack context whose clients answer from `aws-smithy-mocks` rules: no network, and a
//! call no rule matches fails the test.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::{provider::SharedCredentialsProvider, Credentials};
use aws_smithy_mocks::{create_mock_http_client, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use cattube_stages::{Clients, Settings, StackContext};

pub const ACCOUNT: &str = "123456789012";

/// The rules each client answers from (none by default). A service with no field here
/// answers nothing.
#[derive(Default)]
pub struct MockClients {
    pub s3: Vec<Rule>,
    pub iam: Vec<Rule>,
    pub lambda: Vec<Rule>,
    pub mediaconvert: Vec<Rule>,
    pub cloudfront: Vec<Rule>,
    pub tagging: Vec<Rule>,
    pub logs: Vec<Rule>,
}

impl MockClients {
    /// Every client of [`Clients::new`], answering from all the rules: a rule matches only
    /// calls of its own operation, so one interceptor serves every client.
    pub fn build(&self) -> Clients {
        let mut mocks = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        let all = [
            &self.s3,
            &self.iam,
            &self.lambda,
            &self.mediaconvert,
            &self.cloudfront,
            &self.tagging,
            &self.logs,
        ];
        for rule in all.into_iter().flatten() {
            mocks = mocks.with_rule(rule);
        }
        let sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "mock", "mock", None, None, "mocks",
            )))
            // Nothing leaves the process; a local endpoint keeps S3 path-style, as under
            // the emulators.
            .http_client(create_mock_http_client())
            .endpoint_url("http://127.0.0.1")
            .build();
        Clients {
            credentials: None,
            ..Clients::intercepted(&sdk, Some(SharedInterceptor::new(mocks)))
        }
    }
}

/// The default stack `cattube` in `region`, with short retry bounds.
pub fn context(region: &str, clients: Clients) -> StackContext {
    let names = cattube_stages::Registry::standard().resolve_names(
        "cattube",
        ACCOUNT,
        region,
        &BTreeMap::new(),
    );
    let settings = Settings {
        propagation_timeout: Duration::from_secs(2),
        ..Settings::default()
    };
    StackContext::new(
        "cattube",
        ACCOUNT,
        region,
        names,
        &BTreeMap::new(),
        settings,
        clients,
    )
}
