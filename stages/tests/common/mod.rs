//! A stack context whose clients answer from `aws-smithy-mocks` rules: no network, and a
//! call no rule matches fails the test.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_smithy_mocks::{mock_client, Rule, RuleMode};
use cattube_stages::{Clients, Settings, StackContext};

pub const ACCOUNT: &str = "123456789012";

/// Clients that each answer only from their rules (none by default).
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

fn refs(rules: &[Rule]) -> Vec<&Rule> {
    rules.iter().collect()
}

impl MockClients {
    pub fn build(&self) -> Clients {
        Clients {
            credentials: None,
            s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, refs(&self.s3), |c| c
                .force_path_style(true)),
            sts: mock_client!(aws_sdk_sts, RuleMode::MatchAny, Vec::<&Rule>::new()),
            iam: mock_client!(aws_sdk_iam, RuleMode::MatchAny, refs(&self.iam)),
            lambda: mock_client!(aws_sdk_lambda, RuleMode::MatchAny, refs(&self.lambda)),
            mediaconvert: mock_client!(
                aws_sdk_mediaconvert,
                RuleMode::MatchAny,
                refs(&self.mediaconvert)
            ),
            cloudfront: mock_client!(
                aws_sdk_cloudfront,
                RuleMode::MatchAny,
                refs(&self.cloudfront)
            ),
            tagging: mock_client!(
                aws_sdk_resourcegroupstagging,
                RuleMode::MatchAny,
                refs(&self.tagging)
            ),
            // No mocked test calls these: clients that would fail any call they made.
            eventbridge: aws_sdk_eventbridge::Client::from_conf(
                aws_sdk_eventbridge::Config::builder()
                    .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
                    .region(aws_sdk_eventbridge::config::Region::new("us-east-1"))
                    .build(),
            ),
            sns: aws_sdk_sns::Client::from_conf(
                aws_sdk_sns::Config::builder()
                    .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
                    .region(aws_sdk_sns::config::Region::new("us-east-1"))
                    .build(),
            ),
            logs: mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, refs(&self.logs)),
            acm: aws_sdk_acm::Client::from_conf(
                aws_sdk_acm::Config::builder()
                    .behavior_version(aws_sdk_acm::config::BehaviorVersion::latest())
                    .region(aws_sdk_acm::config::Region::new("us-east-1"))
                    .build(),
            ),
            route53: aws_sdk_route53::Client::from_conf(
                aws_sdk_route53::Config::builder()
                    .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
                    .region(aws_sdk_route53::config::Region::new("us-east-1"))
                    .build(),
            ),
            servicequotas: aws_sdk_servicequotas::Client::from_conf(
                aws_sdk_servicequotas::Config::builder()
                    .behavior_version(aws_sdk_servicequotas::config::BehaviorVersion::latest())
                    .region(aws_sdk_servicequotas::config::Region::new("us-east-1"))
                    .build(),
            ),
            secrets: aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::Config::builder()
                    .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
                    .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
                    .build(),
            ),
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
