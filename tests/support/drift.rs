//! Drift behind cattube's back: changes made to a stack's resources by hand, for `status`
//! to report and `up` to repair.

use cattube_stages::Clients;

/// Drift behind cattube's back: every event notification of `bucket` removed.
pub async fn remove_notifications(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(aws_sdk_s3::types::NotificationConfiguration::builder().build())
        .send()
        .await
        .unwrap();
}

/// Drift behind cattube's back: the converter function's environment changed.
pub async fn drift_function_environment(lambda: &aws_sdk_lambda::Client, function: &str) {
    lambda
        .update_function_configuration()
        .function_name(function)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .variables("DESTINATION_BUCKET", "elsewhere")
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Drift behind cattube's back: `role` widened by an inline policy `everything` and a managed
/// policy `widening` (returned: its ARN), both allowing all of S3.
pub async fn widen_role(iam: &aws_sdk_iam::Client, role: &str) -> String {
    let everything = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    iam.put_role_policy()
        .role_name(role)
        .policy_name("everything")
        .policy_document(everything)
        .send()
        .await
        .unwrap();
    let widening = iam
        .create_policy()
        .policy_name("widening")
        .policy_document(everything)
        .send()
        .await
        .unwrap();
    let widening = widening.policy().unwrap().arn().unwrap().to_string();
    iam.attach_role_policy()
        .role_name(role)
        .policy_arn(&widening)
        .send()
        .await
        .unwrap();
    widening
}

/// Moves `stack`'s expiry into the past on each resource the tagging API lists, as if its
/// `--ttl` had run out.
pub async fn expire(clients: &Clients, region: &str, stack: &str) {
    const PAST: &str = "2020-01-01T00:00:00Z";
    let listed = cattube_stages::stacks::list(clients, region).await.unwrap();
    let arns = &listed.iter().find(|s| s.stack == stack).unwrap().resources;
    for arn in arns {
        if let Some(bucket) = arn.strip_prefix("arn:aws:s3:::") {
            let live = clients
                .s3
                .get_bucket_tagging()
                .bucket(bucket)
                .send()
                .await
                .unwrap();
            let mut tags: Vec<aws_sdk_s3::types::Tag> = live
                .tag_set()
                .iter()
                .filter(|t| t.key() != "cattube:expires-at")
                .cloned()
                .collect();
            tags.push(
                aws_sdk_s3::types::Tag::builder()
                    .key("cattube:expires-at")
                    .value(PAST)
                    .build()
                    .unwrap(),
            );
            let tagging = aws_sdk_s3::types::Tagging::builder()
                .set_tag_set(Some(tags))
                .build()
                .unwrap();
            clients
                .s3
                .put_bucket_tagging()
                .bucket(bucket)
                .tagging(tagging)
                .send()
                .await
                .unwrap();
        } else if arn.contains(":lambda:") {
            clients
                .lambda
                .tag_resource()
                .resource(arn)
                .tags("cattube:expires-at", PAST)
                .send()
                .await
                .unwrap();
        } else if arn.contains(":cloudfront:") {
            let tag = aws_sdk_cloudfront::types::Tag::builder()
                .key("cattube:expires-at")
                .value(PAST)
                .build()
                .unwrap();
            clients
                .cloudfront
                .tag_resource()
                .resource(arn)
                .tags(
                    aws_sdk_cloudfront::types::Tags::builder()
                        .items(tag)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        } else if arn.contains(":logs:") {
            clients
                .logs
                .tag_resource()
                .resource_arn(arn.trim_end_matches(":*"))
                .tags("cattube:expires-at", PAST)
                .send()
                .await
                .unwrap();
        } else {
            panic!("no way to tag {arn}");
        }
    }
}
