//! Stages 1 and 2 against mocked S3: the semantics moto does not enforce.

use crate::common;

use aws_sdk_s3::operation::create_bucket::{CreateBucketError, CreateBucketOutput};
use aws_sdk_s3::operation::delete_bucket::{DeleteBucketError, DeleteBucketOutput};
use aws_sdk_s3::operation::delete_objects::DeleteObjectsOutput;
use aws_sdk_s3::operation::get_bucket_policy::GetBucketPolicyError;
use aws_sdk_s3::operation::get_bucket_tagging::GetBucketTaggingError;
use aws_sdk_s3::operation::list_multipart_uploads::ListMultipartUploadsOutput;
use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput;
use aws_sdk_s3::types::error::{BucketAlreadyExists, BucketAlreadyOwnedByYou};
use aws_sdk_s3::types::{DeleteMarkerEntry, ObjectVersion};
use aws_sdk_s3::Client;
use aws_smithy_mocks::{mock, Rule};
use aws_smithy_types::error::ErrorMetadata;
use cattube_stages::step::DestroyOptions;
use cattube_stages::{
    source_bucket::SourceBucket, ApplyContext, DestroyContext, Destroyed, Observation, Step,
};
use common::{context, MockClients};

/// Every write a freshly created bucket needs after CreateBucket, answered with success.
fn settings_rules() -> Vec<Rule> {
    vec![
        mock!(Client::get_bucket_tagging).then_error(|| {
            GetBucketTaggingError::generic(ErrorMetadata::builder().code("NoSuchTagSet").build())
        }),
        mock!(Client::put_bucket_tagging).then_output(|| {
            aws_sdk_s3::operation::put_bucket_tagging::PutBucketTaggingOutput::builder().build()
        }),
        mock!(Client::put_public_access_block).then_output(|| {
            aws_sdk_s3::operation::put_public_access_block::PutPublicAccessBlockOutput::builder()
                .build()
        }),
        mock!(Client::put_bucket_encryption).then_output(|| {
            aws_sdk_s3::operation::put_bucket_encryption::PutBucketEncryptionOutput::builder()
                .build()
        }),
        mock!(Client::get_bucket_policy).then_error(|| {
            GetBucketPolicyError::generic(
                ErrorMetadata::builder().code("NoSuchBucketPolicy").build(),
            )
        }),
        mock!(Client::put_bucket_policy).then_output(|| {
            aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyOutput::builder().build()
        }),
    ]
}

#[tokio::test]
async fn create_in_us_east_1_sends_no_location_constraint() {
    let create = mock!(Client::create_bucket)
        .match_requests(|req| req.create_bucket_configuration().is_none())
        .then_output(|| CreateBucketOutput::builder().build());
    let mut mocks = MockClients {
        s3: settings_rules(),
        ..Default::default()
    };
    mocks.s3.push(create.clone());
    let ctx = context("us-east-1", mocks.build());
    let applied = SourceBucket
        .apply(&ApplyContext::new(&ctx, &Observation::Missing, None))
        .await
        .expect("created");
    assert_eq!(
        create.num_calls(),
        1,
        "CreateBucket without a LocationConstraint"
    );
    assert!(!applied.adopted);
    assert!(applied.changes.iter().any(|c| c == "created bucket"));
}

#[tokio::test]
async fn create_elsewhere_names_the_region() {
    let create = mock!(Client::create_bucket)
        .match_requests(|req| {
            req.create_bucket_configuration()
                .and_then(|c| c.location_constraint())
                .is_some_and(|l| l.as_str() == "ap-southeast-2")
                && req
                    .object_ownership()
                    .is_some_and(|o| o.as_str() == "BucketOwnerEnforced")
        })
        .then_output(|| CreateBucketOutput::builder().build());
    let mut mocks = MockClients {
        s3: settings_rules(),
        ..Default::default()
    };
    mocks.s3.push(create.clone());
    let ctx = context("ap-southeast-2", mocks.build());
    SourceBucket
        .apply(&ApplyContext::new(&ctx, &Observation::Missing, None))
        .await
        .expect("created");
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn bucket_already_exists_names_the_config_key() {
    let create = mock!(Client::create_bucket).then_error(|| {
        CreateBucketError::BucketAlreadyExists(BucketAlreadyExists::builder().build())
    });
    let mocks = MockClients {
        s3: vec![create],
        ..Default::default()
    };
    let ctx = context("eu-west-1", mocks.build());
    let err = SourceBucket
        .apply(&ApplyContext::new(&ctx, &Observation::Missing, None))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("source-bucket = ") && err.contains("[names]"),
        "{err}"
    );
    assert!(
        err.contains("cattube-source-123456789012-eu-west-1"),
        "{err}"
    );
}

#[tokio::test]
async fn bucket_already_owned_by_you_is_adopted_and_not_tagged() {
    let create = mock!(Client::create_bucket).then_error(|| {
        CreateBucketError::BucketAlreadyOwnedByYou(BucketAlreadyOwnedByYou::builder().build())
    });
    let tag = mock!(Client::put_bucket_tagging).then_output(|| {
        aws_sdk_s3::operation::put_bucket_tagging::PutBucketTaggingOutput::builder().build()
    });
    let ownership = mock!(Client::put_bucket_ownership_controls).then_output(|| aws_sdk_s3::operation::put_bucket_ownership_controls::PutBucketOwnershipControlsOutput::builder().build());
    let mut mocks = MockClients {
        s3: settings_rules(),
        ..Default::default()
    };
    mocks.s3.extend([create, tag.clone(), ownership.clone()]);
    let ctx = context("eu-west-1", mocks.build());
    let applied = SourceBucket
        .apply(&ApplyContext::new(&ctx, &Observation::Missing, None))
        .await
        .expect("adopted");
    assert!(applied.adopted);
    assert_eq!(
        tag.num_calls(),
        0,
        "an adopted bucket's tags belong to its owner"
    );
    assert_eq!(
        ownership.num_calls(),
        1,
        "the create call's ownership setting did not apply"
    );
}

#[tokio::test]
async fn destroy_empties_versions_and_markers_across_pages_then_retries_not_empty() {
    let first_page = mock!(Client::list_object_versions)
        .match_requests(|req| req.key_marker().is_none())
        .then_output(|| {
            ListObjectVersionsOutput::builder()
                .versions(
                    ObjectVersion::builder()
                        .key("cat.mp4")
                        .version_id("v1")
                        .build(),
                )
                .versions(
                    ObjectVersion::builder()
                        .key("cat.mp4")
                        .version_id("v2")
                        .build(),
                )
                .delete_markers(
                    DeleteMarkerEntry::builder()
                        .key("cat.mp4")
                        .version_id("m1")
                        .build(),
                )
                .is_truncated(true)
                .next_key_marker("cat.mp4")
                .next_version_id_marker("m1")
                .build()
        });
    let second_page = mock!(Client::list_object_versions)
        .match_requests(|req| {
            req.key_marker() == Some("cat.mp4") && req.version_id_marker() == Some("m1")
        })
        .then_output(|| {
            ListObjectVersionsOutput::builder()
                .versions(
                    ObjectVersion::builder()
                        .key("dog.mp4")
                        .version_id("v9")
                        .build(),
                )
                .is_truncated(false)
                .build()
        });
    let deletes = mock!(Client::delete_objects)
        .match_requests(|req| {
            let objects = req.delete().map(|d| d.objects().len()).unwrap_or(0);
            objects == 3 || objects == 1
        })
        .then_output(|| DeleteObjectsOutput::builder().build());
    let uploads = mock!(Client::list_multipart_uploads)
        .then_output(|| ListMultipartUploadsOutput::builder().build());
    // A late upload makes the first delete fail; the bucket is emptied again.
    let delete_bucket = mock!(Client::delete_bucket)
        .sequence()
        .error(|| {
            DeleteBucketError::generic(ErrorMetadata::builder().code("BucketNotEmpty").build())
        })
        .output(|| DeleteBucketOutput::builder().build())
        .build();
    let mocks = MockClients {
        s3: vec![
            first_page.clone(),
            second_page.clone(),
            deletes.clone(),
            uploads,
            delete_bucket.clone(),
        ],
        ..Default::default()
    };
    let ctx = context("eu-west-1", mocks.build());
    let destroyed = SourceBucket
        .destroy(&DestroyContext::new(&ctx, None, &DestroyOptions::default()))
        .await
        .expect("deleted");
    assert_eq!(destroyed, Destroyed::Deleted);
    assert_eq!(delete_bucket.num_calls(), 2);
    assert_eq!(first_page.num_calls(), 2, "emptied twice");
    assert_eq!(second_page.num_calls(), 2);
    assert_eq!(
        deletes.num_calls(),
        4,
        "versions, markers and the second page, each time"
    );
}

#[tokio::test]
async fn destroy_keeps_buckets_when_asked() {
    let ctx = context("eu-west-1", MockClients::default().build());
    let options = DestroyOptions {
        keep_buckets: true,
        ..Default::default()
    };
    let destroyed = SourceBucket
        .destroy(&DestroyContext::new(&ctx, None, &options))
        .await
        .unwrap();
    assert!(matches!(destroyed, Destroyed::Kept(_)));
}

/// An adopted bucket whose policy cattube cannot parse: `up` refuses, naming the bucket,
/// and never writes a policy (a merge would have replaced the owner's statements).
#[tokio::test]
async fn an_adopted_bucket_with_an_unparsable_policy_is_refused() {
    let create = mock!(Client::create_bucket).then_error(|| {
        CreateBucketError::BucketAlreadyOwnedByYou(BucketAlreadyOwnedByYou::builder().build())
    });
    let unparsable = mock!(Client::get_bucket_policy).then_output(|| {
        aws_sdk_s3::operation::get_bucket_policy::GetBucketPolicyOutput::builder()
            .policy("{\"Statement\": [ {\"Sid\": \"owners\", ")
            .build()
    });
    let put_policy = mock!(Client::put_bucket_policy).then_output(|| {
        aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyOutput::builder().build()
    });
    let ownership = mock!(Client::put_bucket_ownership_controls).then_output(|| aws_sdk_s3::operation::put_bucket_ownership_controls::PutBucketOwnershipControlsOutput::builder().build());
    // The unparsable policy comes first, so that it wins over settings_rules' "no policy".
    let mut s3 = vec![create, unparsable, put_policy.clone(), ownership];
    s3.extend(settings_rules());
    let ctx = context(
        "eu-west-1",
        MockClients {
            s3,
            ..Default::default()
        }
        .build(),
    );
    let err = SourceBucket
        .apply(&ApplyContext::new(&ctx, &Observation::Missing, None))
        .await
        .expect_err("an owner's policy that cannot be read must not be replaced");
    let err = err.to_string();
    assert!(
        err.contains("the policy of bucket cattube-source-123456789012-eu-west-1")
            && err.contains("will not replace it"),
        "{err}"
    );
    assert_eq!(put_policy.num_calls(), 0, "the owner's policy was replaced");
}
