//! The tests' own AWS reads and writes, through their own clients: to arrange what a user
//! or another program would have made, and to check what cattube made.

use std::collections::BTreeMap;

/// The SDK configuration of the test's own clients, for arranging drift and checking results.
pub async fn sdk_config(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

/// An S3 client of the test's own, for arranging drift and checking results.
pub async fn s3_client(endpoint: &str, region: &str) -> aws_sdk_s3::Client {
    let config = sdk_config(endpoint, region).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

/// An object put by someone other than cattube (its user, the converter, another runner).
pub async fn put_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.to_vec().into())
        .send()
        .await
        .unwrap();
}

/// The bucket's policy document, as S3 returns it.
pub async fn bucket_policy(s3: &aws_sdk_s3::Client, bucket: &str) -> String {
    let got = s3.get_bucket_policy().bucket(bucket).send().await.unwrap();
    got.policy().unwrap().to_string()
}

/// The function's configuration, as Lambda describes it.
pub async fn function_configuration(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
) -> aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput {
    let got = lambda.get_function_configuration().function_name(function);
    got.send().await.unwrap()
}

/// The function's environment variables, as Lambda holds them (none: empty).
pub async fn function_environment(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
) -> std::collections::HashMap<String, String> {
    let config = function_configuration(lambda, function).await;
    let variables = config.environment().and_then(|e| e.variables());
    variables.cloned().unwrap_or_default()
}

/// The function's resource-based policy (its invoke permissions), parsed.
pub async fn function_policy(lambda: &aws_sdk_lambda::Client, function: &str) -> serde_json::Value {
    let got = lambda
        .get_policy()
        .function_name(function)
        .send()
        .await
        .unwrap();
    serde_json::from_str(got.policy().unwrap()).unwrap()
}

/// Every inline policy of the role: its name, and its document as IAM returns it
/// (URL-encoded).
pub async fn inline_policies(iam: &aws_sdk_iam::Client, role: &str) -> BTreeMap<String, String> {
    let listed = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    let mut documents = BTreeMap::new();
    for name in listed.policy_names() {
        let got = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .unwrap();
        documents.insert(name.clone(), got.policy_document().to_string());
    }
    documents
}

/// The ARNs of the managed policies attached to the role.
pub async fn attached_policies(iam: &aws_sdk_iam::Client, role: &str) -> Vec<String> {
    let listed = iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    let arns = listed.attached_policies().iter();
    arns.map(|p| p.policy_arn().unwrap().to_string()).collect()
}

/// The bucket's event notifications to Lambda functions, as S3 returns them.
pub async fn lambda_notifications(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Vec<aws_sdk_s3::types::LambdaFunctionConfiguration> {
    let got = s3.get_bucket_notification_configuration().bucket(bucket);
    let got = got.send().await.unwrap();
    got.lambda_function_configurations().to_vec()
}

/// The bucket's tags, key to value.
pub async fn bucket_tags(s3: &aws_sdk_s3::Client, bucket: &str) -> BTreeMap<String, String> {
    let got = s3.get_bucket_tagging().bucket(bucket).send().await.unwrap();
    let tags = got.tag_set().iter();
    tags.map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// Sets the bucket's policy to `policy`, as its owner would by hand.
pub async fn put_bucket_policy(s3: &aws_sdk_s3::Client, bucket: &str, policy: &str) {
    let put = s3.put_bucket_policy().bucket(bucket).policy(policy);
    put.send().await.unwrap();
}

/// Whether `tags` (key, value), as any service's SDK returns them, hold the default stack's
/// tag `cattube:stack=cattube`.
pub fn has_stack_tag<'a, K, V>(tags: impl IntoIterator<Item = (K, V)>) -> bool
where
    K: Into<Option<&'a str>>,
    V: Into<Option<&'a str>>,
{
    tags.into_iter()
        .any(|(k, v)| k.into() == Some("cattube:stack") && v.into() == Some("cattube"))
}

/// An adopted bucket got the secure settings: public access blocked, default encryption,
/// bucket-owner ownership, and the TLS-only statement in its policy.
pub async fn assert_secure_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    let pab = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true)),
        "{bucket}"
    );
    let encryption = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert!(
        !encryption
            .server_side_encryption_configuration()
            .unwrap()
            .rules()
            .is_empty(),
        "{bucket}"
    );
    let ownership = s3
        .get_bucket_ownership_controls()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ownership.ownership_controls().unwrap().rules()[0]
            .object_ownership()
            .as_str(),
        "BucketOwnerEnforced",
        "{bucket}"
    );
    let policy = bucket_policy(s3, bucket).await;
    assert!(
        policy.contains("cattube-deny-insecure-transport"),
        "{bucket}: {policy}"
    );
}

/// Creates a bucket of someone else's (not the stack's) in `region`, as a user would.
pub async fn create_bucket(s3: &aws_sdk_s3::Client, bucket: &str, region: &str) {
    s3.create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// A job of `file_input` on the default stack's queue, from its job template and with its
/// MediaConvert role, as the converter function submits it (in moto's account): its id.
pub async fn submit_job(
    mediaconvert: &aws_sdk_mediaconvert::Client,
    region: &str,
    file_input: &str,
) -> String {
    const ACCOUNT: &str = "123456789012";
    let input = aws_sdk_mediaconvert::types::Input::builder()
        .file_input(file_input)
        .build();
    let job = mediaconvert
        .create_job()
        .queue(format!(
            "arn:aws:mediaconvert:{region}:{ACCOUNT}:queues/cattube-queue"
        ))
        .role(format!(
            "arn:aws:iam::{ACCOUNT}:role/cattube-{region}-mediaconvert"
        ))
        .job_template("cattube-job")
        .settings(
            aws_sdk_mediaconvert::types::JobSettings::builder()
                .inputs(input)
                .build(),
        )
        .send()
        .await
        .unwrap();
    job.job().and_then(|j| j.id()).unwrap().to_string()
}
