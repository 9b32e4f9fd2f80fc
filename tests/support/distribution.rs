//! The stack's CloudFront distribution as a test reads it, and changes it behind cattube's
//! back (drift), with a client of the test's own.

use aws_sdk_cloudfront::types::DistributionConfig;
use aws_sdk_cloudfront::Client;

/// A CloudFront client of the test's own (CloudFront's API lives in us-east-1).
pub async fn cloudfront_client(endpoint: &str) -> Client {
    Client::new(&super::sdk_config(endpoint, "us-east-1").await)
}

/// The distribution's live configuration.
pub async fn distribution_config(cf: &Client, id: &str) -> DistributionConfig {
    let got = cf.get_distribution_config().id(id).send().await.unwrap();
    got.distribution_config().cloned().unwrap()
}

/// Drift by hand: the distribution's configuration changed by `edit`, as someone in the
/// console would (sent with the ETag CloudFront wants).
pub async fn edit_distribution(cf: &Client, id: &str, edit: impl FnOnce(&mut DistributionConfig)) {
    let got = cf.get_distribution_config().id(id).send().await.unwrap();
    let mut config = got.distribution_config().cloned().unwrap();
    edit(&mut config);
    cf.update_distribution()
        .id(id)
        .if_match(got.e_tag().unwrap())
        .distribution_config(config)
        .send()
        .await
        .unwrap();
}
